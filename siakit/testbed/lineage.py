"""The training lineage on a real LM: fine-tune on the testbed, evaluate every checkpoint the same way.

`run_lineage(cfg)`:
  1. training problems of `cfg.task` (train split, the whole ladder) and our templated solutions, a
     seeded share `slip_rate` of them wrong (`siakit.testbed.solutions`);
  2. a full fine-tune of `cfg.model`, saving checkpoints at the fractions `cfg.checkpoints` of
     `cfg.steps` (0 = before training); optionally REINFORCE with a KL penalty from the end point
     (`cfg.rl_steps > 0`, `siakit.testbed.rl`), saved as the checkpoint "rl";
  3. for every checkpoint, traces on the SAME held-out problems (test split, `n_eval` spread over the
     ladder), greedy (and sampled at `sample_temperature` if > 0), graded by reasoning-gym, scored by
     `siakit.scorer.score_traces` (readout, the scorer's numeric candidate set), and summarised by
     `siakit.testbed.metrics.checkpoint_metrics`;
  4. the model's own law of the answer from its prefixes (`siakit.testbed.rollouts`): rollouts from
     the mid-trace prefix of every trace (`rollout_m` each) and from every prefix of a subset
     (`rollout_subset` traces, `rollout_subset_m` each), summarised by `rollout_metrics`.

Everything is cached under `cache_root/<key>/` (default `~/.cache/siakit/testbed`, or $SIAKIT_CACHE):
the key hashes every training setting, so a rebuild with the same settings skips finished training,
and each evaluation is stored per (checkpoint, evaluation settings: the full readout ScoreConfig,
SCORER_VERSION and the testbed's GRADING_VERSION included), so changing n_eval re-scores without
retraining; the rollouts are stored beside it under their own key, so changing their sizes neither
retrains nor regenerates. Returns a dict with the config, timings, train log and per-checkpoint results.

    result = run_lineage(LineageConfig())                         # CPU default (see the chapter for timings)
    result["checkpoints"][-1]["greedy"]["metrics"]["accuracy"]    # accuracy at the end of SFT
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from siakit.data.prompts import CUE
from siakit.scorer.score import SCORER_VERSION
from siakit.testbed.generate import GRADING_VERSION

CACHE_VERSION = 3  # bump when cached outputs change meaning: old caches are then ignored


@dataclass
class LineageConfig:
    model: str = "smollm2-135m-instruct"  # any load_model spec; the embedded one works offline
    task: str = "rg:chain_sum"   # testbed spec (siakit.testbed.tasks); solutions exist for chain_sum
    steps: int = 32              # optimizer steps of the fine-tune (32 x 16 = 512 rows of ~67 tokens)
    batch_size: int = 16         # rows per step
    lr: float = 1e-4             # AdamW peak, linear decay to 0 (a full fine-tune of 135M params)
    slip_rate: float = 0.1       # share of training solutions with one wrong line (human-like slips)
    checkpoints: tuple = (0.0, 0.5, 1.0)  # fractions of `steps` kept and evaluated (0 = before)
    n_eval: int = 200            # held-out problems per checkpoint, spread over the ladder (40 per rung)
    rungs: tuple | None = None   # evaluation rung labels (None: the task's default ladder); training
                                 # always uses the default ladder. Only ~40 2-term chains are test
                                 # questions, so large n_eval needs rungs without "t2"
    max_new_tokens: int = 64     # a 6-term solution is ~50 tokens; longer output is a runaway
    sample_temperature: float = 0.0  # > 0: also evaluate one sampled trace per problem at this temperature
    rl_steps: int = 0            # REINFORCE-with-KL updates from the SFT end point (0 = skip; GPU-sized)
    rl_questions: int = 8        # training problems per RL update
    rl_samples: int = 4          # sampled traces per problem (leave-one-out baseline needs >= 2)
    rl_lr: float = 1e-5          # RL learning rate (small: the SFT model is the reference)
    rl_beta: float = 0.05        # KL penalty weight towards the SFT end point
    seed: int = 0                # training problems, slips, shuffling, sampling
    device: str = "cpu"          # "cuda" to scale up
    threads: int | None = None   # torch CPU threads (None: torch's default, i.e. OMP_NUM_THREADS). On an
                                 # idle 2-core machine 2 threads fine-tune ~1.8x faster than 1; on a busy
                                 # one, 1 thread is faster (2 ran 5x slower in our measurements)
    eval_batch_size: int = 64    # rows decoded at once (generation and rollouts; continuous batching keeps them full)
    rollout_m: int = 4           # rollouts from the mid-trace prefix of every evaluated trace (0 = none);
                                 # 4 keeps the AUROC at u = 0.5 within +-0.07 at n_eval = 200
    rollout_at: tuple = (0.5,)   # the fractions u of each trace that get those rollouts (k = round(u K))
    rollout_subset: int = 10     # traces (evenly spaced over the evaluated ones) with rollouts at
                                 # every prefix, for the whole rollout curve (0 = none)
    rollout_subset_m: int = 8    # rollouts per prefix on that subset
    cache_root: str | None = None  # None: $SIAKIT_CACHE/testbed or ~/.cache/siakit/testbed

    def train_key(self) -> str:
        """Hash of everything that changes the trained checkpoints."""
        keep = ("model", "task", "steps", "batch_size", "lr", "slip_rate", "checkpoints", "rl_steps",
                "rl_questions", "rl_samples", "rl_lr", "rl_beta", "seed")
        blob = json.dumps({k: getattr(self, k) for k in keep} | {"v": CACHE_VERSION}, sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]

    def eval_key(self, temperature: float) -> str:
        key = {"task": self.task, "n_eval": self.n_eval, "max_new_tokens": self.max_new_tokens,
               "temperature": temperature, "seed": self.seed, "v": CACHE_VERSION}
        if self.rungs is not None:  # absent for the default ladder, so older caches stay valid
            key["rungs"] = list(self.rungs)
        key["scorer"] = SCORER_VERSION  # scores made by an older scorer are not reused
        key["score_config"] = self.score_config().cache_fields()  # every readout setting
        key["grading"] = GRADING_VERSION
        blob = json.dumps(key, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]

    def score_config(self):
        """The readout's ScoreConfig (the scorer's defaults; hashed into `eval_key`)."""
        from siakit.scorer.score import ScoreConfig

        return ScoreConfig()

    def rollout_key(self) -> str:
        """Hash of everything that changes the rollouts of an evaluation (not the training's key)."""
        from siakit.testbed.rollouts import rollout_score_config

        key = {"mid": rollout_score_config(self, self.rollout_m, self.rollout_at).cache_fields(),
               "all": rollout_score_config(self, self.rollout_subset_m, None).cache_fields(),
               "subset": self.rollout_subset, "scorer": SCORER_VERSION, "grading": GRADING_VERSION}
        return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]

    def checkpoint_steps(self) -> list[int]:
        """The steps kept: [0, 16, 32] for the defaults (duplicates removed, sorted)."""
        bad = [f for f in self.checkpoints if not 0.0 <= float(f) <= 1.0]
        if bad:
            raise ValueError(f"LineageConfig.checkpoints: fractions must lie in [0, 1], got {bad}")
        return sorted({round(float(f) * self.steps) for f in self.checkpoints})


@dataclass
class Checkpoint:
    name: str        # "step0", "step10", ..., "rl"
    stage: str       # "base", "sft" or "rl"
    step: int        # SFT steps taken (RL: steps + rl_steps)
    path: Path       # saved model directory
    extra: dict = field(default_factory=dict)


def cache_root(cfg: LineageConfig) -> Path:
    from siakit.models.loading import cache_dir

    return Path(cfg.cache_root) if cfg.cache_root else cache_dir() / "testbed"


def _json_write(path: Path, value) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, indent=1, default=str))
    tmp.rename(path)


def train_lineage(cfg: LineageConfig, lm=None, progress: bool = True) -> tuple[list[Checkpoint], dict]:
    """Checkpoints of the lineage (trained now, or found in the cache) and the training log."""
    from siakit.models.loading import load_model
    from siakit.testbed.tasks import load_testbed
    from siakit.testbed.train import testbed_examples, train_with_checkpoints

    root = cache_root(cfg) / cfg.train_key()
    root.mkdir(parents=True, exist_ok=True)
    steps = cfg.checkpoint_steps()
    ckpts = [Checkpoint(f"step{s}", "base" if s == 0 else "sft", s, root / f"step{s}") for s in steps]
    if cfg.rl_steps > 0:
        ckpts.append(Checkpoint("rl", "rl", cfg.steps + cfg.rl_steps, root / "rl"))
    log_path = root / "train_log.json"
    if log_path.exists() and all((c.path / "config.json").exists() for c in ckpts):
        return ckpts, json.loads(log_path.read_text())
    _json_write(root / "config.json", asdict(cfg))
    lm = lm or load_model(cfg.model, device=cfg.device)
    problems = load_testbed(cfg.task, "train", n=cfg.steps * cfg.batch_size, seed=cfg.seed)
    examples, slipped = testbed_examples(lm.tokenizer, problems, cfg.slip_rate, cfg.seed, lm.chat)
    started = time.perf_counter()
    losses = train_with_checkpoints(lm, examples, cfg.steps, cfg.batch_size, cfg.lr,
                                    {c.step: c.path for c in ckpts if c.stage != "rl"}, cfg.seed, progress)
    log = {"losses": losses, "n_rows": len(examples), "n_slipped": slipped,
           "tokens": sum(len(e.input_ids) for e in examples), "train_s": round(time.perf_counter() - started, 1)}
    if cfg.rl_steps > 0:
        from siakit.testbed.rl import RLConfig, reinforce_lm
        from siakit.testbed.train import save_checkpoint

        rl_problems = load_testbed(cfg.task, "train", n=cfg.rl_steps * cfg.rl_questions, seed=cfg.seed + 1)
        started = time.perf_counter()
        log["rl"] = reinforce_lm(lm, rl_problems, RLConfig(cfg.rl_steps, cfg.rl_questions, cfg.rl_samples,
                                                           cfg.rl_lr, cfg.rl_beta, cfg.max_new_tokens),
                                 seed=cfg.seed, progress=progress)
        log["rl_s"] = round(time.perf_counter() - started, 1)
        save_checkpoint(lm, ckpts[-1].path)
    _json_write(log_path, log)
    return ckpts, log


def evaluate_checkpoint(cfg: LineageConfig, ckpt: Checkpoint, problems, temperature: float,
                        progress: bool = True) -> dict:
    """Traces, scores, rollouts and metrics of one checkpoint (cached per checkpoint and evaluation
    settings; the rollouts under `cfg.rollout_key()`): keys traces, scores, metrics, rungs, timing,
    rollouts_mid, rollouts_all (score_traces frames of the rollout estimator) and rollout_metrics
    ({"mid": ..., "all": ...}, `siakit.testbed.rollouts.rollout_metrics`)."""
    import pandas as pd

    from siakit.models.loading import load_model
    from siakit.scorer.score import score_traces
    from siakit.testbed.generate import generate_testbed
    from siakit.testbed.metrics import checkpoint_metrics, rung_accuracy
    from siakit.testbed.rollouts import rollout_metrics
    from siakit.data.traces import read_traces, write_traces

    folder = ckpt.path.parent / "eval" / cfg.eval_key(temperature)
    folder.mkdir(parents=True, exist_ok=True)
    tpath, spath, mpath = (folder / f"{ckpt.name}.{ext}" for ext in ("traces.jsonl", "scores.parquet", "timing.json"))
    timing = json.loads(mpath.read_text()) if mpath.exists() else {}
    name = f"{Path(cfg.model).name}@{ckpt.name}"
    lm = None
    if tpath.exists() and spath.exists():
        traces, scores = read_traces(tpath), pd.read_parquet(spath)
    else:
        lm = load_model(str(ckpt.path), device=cfg.device)
        t = time.perf_counter()
        traces = generate_testbed(lm, problems, cfg.max_new_tokens, temperature, cfg.seed,
                                  cfg.eval_batch_size, progress, model_name=name)
        timing["generate_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        lm.name = name
        scores = score_traces(lm, traces, progress=progress)
        timing["score_s"] = round(time.perf_counter() - t, 1)
        write_traces(tpath, traces)
        scores.to_parquet(spath, index=False)
        _json_write(mpath, timing)
    rollouts = _checkpoint_rollouts(cfg, ckpt, folder, traces, lm, name, progress)
    return {"traces": traces, "scores": scores, "metrics": checkpoint_metrics(scores, traces),
            "rungs": rung_accuracy(traces), "timing": {**timing, **rollouts["timing"]},
            "rollouts_mid": rollouts["mid"], "rollouts_all": rollouts["all"],
            "rollout_metrics": {k: rollout_metrics(rollouts[k]) for k in ("mid", "all")}}


def _checkpoint_rollouts(cfg: LineageConfig, ckpt: Checkpoint, folder: Path, traces, lm, name: str,
                         progress: bool) -> dict:
    """The checkpoint's rollout sets ({"mid", "all", "timing"}), computed once per `rollout_key`."""
    import pandas as pd

    from siakit.models.loading import load_model
    from siakit.testbed.rollouts import lineage_rollouts

    stem = folder / f"{ckpt.name}.rollouts-{cfg.rollout_key()}"
    paths = {k: stem.with_name(stem.name + f".{k}.parquet") for k in ("mid", "all")}
    tpath = stem.with_name(stem.name + ".timing.json")
    if all(p.exists() for p in paths.values()) and tpath.exists():
        return {**{k: pd.read_parquet(p) for k, p in paths.items()}, "timing": json.loads(tpath.read_text())}
    lm = lm or load_model(str(ckpt.path), device=cfg.device)
    lm.name = name
    sets = lineage_rollouts(lm, traces, cfg, progress)
    for k, p in paths.items():
        sets[k].to_parquet(p, index=False)
    _json_write(tpath, sets["timing"])
    return sets


def run_lineage(cfg: LineageConfig, lm=None, progress: bool = True) -> dict:
    """Train (or reuse) the lineage and evaluate every checkpoint; see the module docstring.

    `lm`: an already loaded `LoadedModel` to train instead of loading `cfg.model` (tests pass a tiny one).
    """
    import torch

    from siakit.experiment.store import versions
    from siakit.testbed.tasks import load_testbed

    if cfg.device == "cpu" and cfg.threads:
        torch.set_num_threads(cfg.threads)
    started = time.perf_counter()
    ckpts, log = train_lineage(cfg, lm, progress)
    problems = load_testbed(cfg.task, "test", n=cfg.n_eval, seed=cfg.seed,
                            rungs=list(cfg.rungs) if cfg.rungs is not None else None)
    decodes = [("greedy", 0.0)] + ([("sampled", cfg.sample_temperature)] if cfg.sample_temperature > 0 else [])
    results = []
    for ckpt in ckpts:
        entry = {"name": ckpt.name, "stage": ckpt.stage, "step": ckpt.step,
                 "fraction": ckpt.step / cfg.steps if ckpt.stage != "rl" else None}
        for decode, temperature in decodes:
            entry[decode] = evaluate_checkpoint(cfg, ckpt, problems, temperature, progress)
        results.append(entry)
    return {"config": asdict(cfg), "key": cfg.train_key(), "root": str(cache_root(cfg) / cfg.train_key()),
            "train_log": log, "checkpoints": results, "n_eval": len(problems), "estimator": "readout",
            "cue": CUE, "units": "nats", "versions": versions(),
            "seconds": round(time.perf_counter() - started, 1)}
