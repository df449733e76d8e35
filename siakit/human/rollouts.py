"""The reader's own continuations of human solutions: rollouts from their middle, beside the cue.

The cue readout asks the reader for an answer *now*; what the model would conclude if it went on
writing is its own law of the answer, which only its continuations show (`siakit.scorer.rollout`).
On the first `n` intact solutions of a human run, M continuations are sampled from the mid-solution
prefix (k = round(K / 2), u = 0.5) at temperature 1, graded like `siakit generate` grades, and kept
beside the cue readout of the same prefixes (`siakit.testbed.evidence.cue_vs_rollouts` compares them:
leader agreement, Jensen-Shannon divergence, Spearman of h, and how often each leader is the last
number written). Cached beside the human run, keyed by everything that changes a rollout.

    frame = human_rollouts("smollm2-135m-instruct", traces, HumanRolloutConfig(n=40, m=4), folder)
    frame[["id", "k", "entropy", "gold_share", "own_answer_share"]]            # nats; shares in [0, 1]
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass
class HumanRolloutConfig:
    n: int = 40                  # intact solutions (the first n of the run): the book's CPU budget
    m: int = 4                   # continuations per prefix (the lineage's headline M)
    at: float = 0.5              # where in the solution: k = round(at * K)
    max_new_tokens: int = 128    # cap per continuation (a GSM8K solution's rest and its answer line)
    batch: int = 64              # rows decoded at once (continuous batching)
    seed: int = 0                # seeds each prefix's rows (with the trace id and k)

    def score_config(self):
        """The rollout estimator's ScoreConfig (also hashed into the cache key)."""
        from siakit.scorer.score import ScoreConfig

        return ScoreConfig(estimator="rollout", rollout_m=self.m, rollout_at=(self.at,),
                           max_new_tokens=self.max_new_tokens, rollout_batch=self.batch, seed=self.seed,
                           progress=False)

    def key(self, model: str, ids: list[str]) -> str:
        """Hash of the settings, the scorer's version, the reader and the traces read."""
        from siakit.scorer.score import SCORER_VERSION

        blob = json.dumps({"config": self.score_config().cache_fields(), "scorer": SCORER_VERSION, "model": model, "ids": ids},
                          sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def intact_subset(traces, n: int) -> list:
    """The first `n` intact traces, in run order: [intact p1, corrupted p1, intact p2, ...] -> [p1, p2][:n]."""
    return [t for t in traces if t.meta.get("variant") == "intact"][:n]


def human_rollouts(model, traces, cfg: HumanRolloutConfig, folder: str | Path, device: str = "cpu",
                   progress: bool = True):
    """Rollout rows (`siakit.scorer.score.score_traces`, estimator `rollout`) of the first `cfg.n`
    intact traces at u = `cfg.at`, read from `folder` when made before with the same key. `model`: a
    `load_model` spec (loaded only when the rollouts are not cached) or a loaded model."""
    import pandas as pd

    from siakit.files import atomic_write
    from siakit.models.loading import load_model
    from siakit.scorer.score import score_traces

    chosen = intact_subset(traces, cfg.n)
    if not chosen:
        raise ValueError("human_rollouts: the run has no intact traces")
    name = model if isinstance(model, str) else model.name
    path = Path(folder) / f"rollouts-{cfg.key(name, [t.id for t in chosen])}.parquet"
    if path.exists():
        return pd.read_parquet(path)
    lm = load_model(model, device=device) if isinstance(model, str) else model
    frame = score_traces(lm, chosen, config=replace(cfg.score_config(), progress=progress))
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))  # a killed run leaves no half file
    return frame
