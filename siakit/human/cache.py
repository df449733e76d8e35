"""Scoring the human-trace variants once, in resumable shards, cached by configuration.

    run = load_or_score(HumanRunConfig(n=300))  # 300 problems x (intact, corrupted), the first 100 also
                                                # x (shuffled, foreign): scored, or read from the cache
    run.scores        # the scorer's rows (siakit.scorer.score_traces) + variant, problem_id columns
    run.n, run.source # problems used; "cache" or "scored"

The cache lives in `<cache_dir>/human_traces/<key>/` (`siakit.models.loading.cache_dir()`: `$SIAKIT_CACHE` or
`~/.cache/siakit`). The key hashes everything that changes a score except n: the config below, every
field of the `ScoreConfig` the scores are made with (all but progress, estimator and method: the
estimator is in the config, and every method gives the same numbers), the scorer's version
`SCORER_VERSION` (bumped whenever the scorer's numbers change meaning) and `FORMAT`; so a changed
setting or scorer gets a fresh key and never reads old scores. Problems come in a seeded order that does not depend on n (`siakit.human.variants`), so shard
`part-00040` holds the same problems for every n; a run with a larger n extends the shards of a
smaller one, and `prefer_larger=True` reads every contiguous finished shard (a larger n scored
earlier, for example by `python -m siakit.human.cache --n 300`). A killed run keeps its finished
shards and resumes from them.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from siakit.human.variants import CONTROLS, VARIANTS, human_traces, select_problems
from siakit.data.traces import read_traces, write_traces

FORMAT = 1  # bump when the trace construction or the corruption changes what is scored


@dataclass
class HumanRunConfig:
    model: str = "smollm2-135m-instruct"  # the reader (siakit.models.loading.load_model spec)
    n: int = 300                 # GSM8K test problems, 4 traces each (AUROC half-widths well under 0.07)
    seed: int = 0                # problem order, corruptions and shuffles
    split: str = "test"          # GSM8K split whose human solutions are read
    variants: tuple = VARIANTS   # which variants to score
    controls_n: int = 100        # problems (from the first, in whole shards) whose control variants
                                 # (shuffled, foreign) are scored too; later ones only intact and
                                 # corrupted. The controls differ from intact by far more than the
                                 # corruption does, so fewer problems pin them down: a third less scoring
    estimator: str = "readout"   # siakit's readout estimator (numeric candidate set built by the scorer)
    method: str = "tree"         # the scorer's forward method (every method gives the same numbers up to
                                 # float rounding): one trace per pass beat packing by ~15% on these
                                 # ~300-token traces on one CPU thread; "auto" packs, better on a GPU
    device: str = "cpu"          # where to score; does not enter the cache key
    threads: int | None = None   # torch CPU threads (None: torch's default); not in the key
    shard: int = 10              # problems per saved shard: a kill loses at most one shard


@dataclass
class HumanRun:
    config: HumanRunConfig
    traces: list                 # every scored trace (siakit.data.traces.Trace), problem by problem
    scores: object               # pandas DataFrame of the scorer's rows + variant, problem_id
    manifest: dict               # key, config, score config, versions, selection counts, timings
    source: str                  # "cache" (all shards found) or "scored" (some scored now)
    n: int = 0                   # problems actually used (>= config.n with prefer_larger)
    seconds: dict = field(default_factory=dict)  # shard name -> scoring seconds (this or an earlier run)


def _score_defaults() -> dict:
    """Every field of the `ScoreConfig` the scores are made with, but progress, estimator, method."""
    from siakit.scorer.score import ScoreConfig

    return {k: v for k, v in asdict(ScoreConfig()).items() if k not in ("progress", "estimator", "method")}


def _scorer_digest() -> str:
    """The scorer's version (`siakit.scorer.score.SCORER_VERSION`): scores cached by an older scorer,
    whose numbers meant something else, are never read."""
    from siakit.scorer.score import SCORER_VERSION

    return f"scorer-v{SCORER_VERSION}"


def cache_key(cfg: HumanRunConfig) -> str:
    """Hash of what changes the scores (not n, device, threads, shard size)."""
    keyed = {k: v for k, v in asdict(cfg).items() if k not in ("n", "device", "threads", "shard")}
    blob = json.dumps({"config": keyed, "score": _score_defaults(), "scorer": _scorer_digest(),
                       "format": FORMAT}, sort_keys=True, default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_path(cfg: HumanRunConfig, root: str | Path | None = None) -> Path:
    from siakit.models.loading import cache_dir

    return Path(root if root is not None else cache_dir()) / "human_traces" / cache_key(cfg)


def _finished(path: Path, shard: int) -> int:
    """Problems covered by contiguous finished shards from the start."""
    n = 0
    while (path / f"part-{n:05d}.parquet").exists() and (path / f"part-{n:05d}.jsonl").exists():
        n += shard
    return n


def _with_labels(scores, traces):
    by_id = {t.id: t for t in traces}
    return scores.assign(variant=scores["id"].map(lambda i: by_id[i].meta["variant"]),
                         problem_id=scores["id"].map(lambda i: by_id[i].meta["problem_id"]))


def load_or_score(cfg: HumanRunConfig, root: str | Path | None = None, prefer_larger: bool = True,
                  lm=None, progress: bool = True, records=None) -> HumanRun:
    """Scores of `cfg.n` problems x variants: read from the cache, scoring only missing shards.

    `lm` skips loading `cfg.model` (its name must match); `records` replaces the GSM8K files (tests).
    """
    import pandas as pd

    if cfg.n < 1 or cfg.shard < 1 or cfg.controls_n < 0:
        raise ValueError(f"HumanRunConfig: n and shard must be >= 1 and controls_n >= 0, got n={cfg.n}, "
                         f"shard={cfg.shard}, controls_n={cfg.controls_n}")
    path = run_path(cfg, root)
    path.mkdir(parents=True, exist_ok=True)
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    if manifest and manifest.get("shard") != cfg.shard:
        raise ValueError(f"{path}: cached with shard={manifest.get('shard')}; use the same shard size "
                         f"(got {cfg.shard}) or another cache root")
    done = _finished(path, cfg.shard)
    n_goal = -(-cfg.n // cfg.shard) * cfg.shard  # whole shards
    n_used = max(n_goal, done) if prefer_larger else n_goal
    if lm is not None and lm.name != cfg.model:
        raise ValueError(f"load_or_score: lm is {lm.name!r} but the config names {cfg.model!r}")
    selection = select_problems(n_used, cfg.seed, cfg.split, records)
    seconds = dict(manifest.get("seconds", {}))
    source = "cache"
    if done < n_goal:
        source = "scored"
        lm = lm or _load(cfg)
        from siakit.progress import progress_bar

        starts = list(range(done, n_goal, cfg.shard))
        bar = progress_bar(starts, enabled=progress, desc=f"human traces ({cfg.shard} problems/shard)", unit="shard")
        for start in bar:
            manifest = _score_shard(cfg, lm, selection, start, path, seconds)
    names = [f"part-{s:05d}" for s in range(0, n_used, cfg.shard)]
    traces = [t for name in names for t in read_traces(path / f"{name}.jsonl")]
    scores = pd.concat([pd.read_parquet(path / f"{name}.parquet") for name in names], ignore_index=True)
    manifest = {**manifest, "examined": selection.examined, "skipped": dict(selection.skipped), "n_used": n_used}
    return HumanRun(cfg, traces, _with_labels(scores, traces), manifest, source, n_used,
                    {k: v for k, v in seconds.items() if k in names})


def _score_shard(cfg: HumanRunConfig, lm, selection, start: int, path: Path, seconds: dict) -> dict:
    """Build and score the traces of problems start .. start + shard, write the shard (traces, then
    scores) and the manifest; record its scoring time in `seconds`. Returns the manifest written."""
    from siakit.experiment.store import versions
    from siakit.files import atomic_write_bytes
    from siakit.scorer.score import score_traces

    part = type(selection)(selection.problems[start:start + cfg.shard],
                           selection.partners[start:start + cfg.shard], 0)
    variants = cfg.variants if start < cfg.controls_n else tuple(v for v in cfg.variants if v not in CONTROLS)
    traces = human_traces(part, lm.tokenizer, chat=lm.chat, seed=cfg.seed, variants=variants)
    began = time.perf_counter()
    scores = score_traces(lm, traces, estimator=cfg.estimator, method=cfg.method, progress=False)
    name = f"part-{start:05d}"
    seconds[name] = round(time.perf_counter() - began, 2)
    write_traces(path / f"{name}.jsonl", traces)  # traces first: a shard counts once both exist
    atomic_write_bytes(path / f"{name}.parquet", scores.to_parquet(index=False))
    manifest = {"key": cache_key(cfg), "scorer_digest": _scorer_digest(), "config": {**asdict(cfg), "n": start + cfg.shard},
                "score_config": _score_defaults(), "format": FORMAT, "shard": cfg.shard,
                "model": lm.name, "versions": versions(), "seconds": seconds,
                "updated": datetime.now(timezone.utc).isoformat()}
    atomic_write_bytes(path / "manifest.json", json.dumps(manifest, indent=2, default=list).encode())
    return manifest


def _load(cfg: HumanRunConfig):
    from siakit.models.loading import load_model

    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    return load_model(cfg.model, device=cfg.device)


def main(argv=None) -> int:
    """`python -m siakit.human.cache --n 300`: score (or extend) the cached run the chapter reads."""
    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--n", type=int, default=HumanRunConfig.n, help="problems (2 or 4 traces each)")
    p.add_argument("--controls-n", type=int, default=HumanRunConfig.controls_n,
                   help="problems that also get the shuffled and foreign controls")
    p.add_argument("--seed", type=int, default=HumanRunConfig.seed)
    p.add_argument("--model", default=HumanRunConfig.model)
    p.add_argument("--device", default=HumanRunConfig.device)
    p.add_argument("--threads", type=int, default=HumanRunConfig.threads)
    p.add_argument("--root", default=None, help="cache root (default: $SIAKIT_CACHE or ~/.cache/siakit)")
    args = p.parse_args(argv)
    cfg = HumanRunConfig(model=args.model, n=args.n, seed=args.seed, device=args.device, threads=args.threads,
                         controls_n=args.controls_n)
    run = load_or_score(cfg, args.root, prefer_larger=False)
    print(f"{run.n} problems, {len(run.traces)} traces, {len(run.scores)} rows in {run_path(cfg, args.root)} "
          f"({run.source}); scoring {sum(run.seconds.values()):.0f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
