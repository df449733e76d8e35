"""`siakit score` (a traces file -> a scores parquet, resumable) and `siakit run` (generate + score).

`siakit score` writes finished shards of traces to `<out>.parts/` (the results store's atomic
parquet shards, with the parameters in its manifest); killed and started again, it skips the trace ids
already scored, and at the end it concatenates the shards into `<out>` (atomically) and removes the
parts. Starting again with other parameters is refused rather than mixing results. Both commands run
data-parallel under torchrun (siakit.experiment.distributed).
"""
from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from siakit.experiment.config import add_run_flags, from_flags
from siakit.scorer.score import METHODS, ScoreConfig
from siakit.files import atomic_write
from siakit.progress import progress_bar


def _estimators(text: str):
    names = tuple(x.strip() for x in text.split(",") if x.strip())
    return names[0] if len(names) == 1 else names


def _add_score_options(parser) -> None:
    d = ScoreConfig()
    parser.add_argument("--estimator", default="readout",
                        help="readout, vocab, sampling, or several comma-separated (default readout)")
    parser.add_argument("--method", default=d.method, choices=METHODS, help="forward method (default auto)")
    parser.add_argument("--cue", default=None, help="answer cue (default: each trace's own cue)")
    parser.add_argument("--candidate-samples", type=int, default=d.candidate_samples,
                        help="numeric readout without options: sampled answers added to gold + own answer")
    parser.add_argument("--candidate-mentions", type=int, default=d.candidate_mentions,
                        help="numeric readout without options: numbers written in the question and trace "
                             "join the candidates, up to this many in all (0 = off)")
    parser.add_argument("--samples", type=int, default=d.samples, help="sampling estimator: M per prefix")
    parser.add_argument("--sample-max-new-tokens", type=int, default=d.max_new_tokens,
                        help="sampling estimator and candidate samples: length cap of a continuation")
    parser.add_argument("--temperature", type=float, default=d.temperature, help="sampling temperature")
    parser.add_argument("--miller-madow", action="store_true", help="sampling: Miller-Madow correction")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--pack-tokens", type=int, default=d.pack_tokens, help="tokens per packed pass")
    parser.add_argument("--truncate", action="store_true",
                        help="drop trailing steps of traces longer than the model's context (default: error)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, help="float32 (default), bfloat16 or float16")
    parser.add_argument("--attn-implementation", default=None, help="e.g. sdpa, eager, flex_attention")


def _score_kwargs(args) -> dict:
    return {"method": args.method, "cue": args.cue, "candidate_samples": args.candidate_samples,
            "candidate_mentions": args.candidate_mentions, "samples": args.samples, "max_new_tokens": args.sample_max_new_tokens,
            "candidate_max_new_tokens": args.sample_max_new_tokens, "temperature": args.temperature,
            "miller_madow": args.miller_madow, "seed": args.seed, "pack_tokens": args.pack_tokens,
            "truncate": args.truncate}


def register(subparsers) -> None:
    score = subparsers.add_parser("score", help="score every prefix of every trace (conditional answer entropy)",
                                  description="Score every prefix k = 0..K of every trace in a JSONL file "
                                              "into a parquet file, one row per (trace, k, estimator).")
    score.add_argument("--model", required=True, help="embedded name, .gguf file, local dir or HF id")
    score.add_argument("--traces", required=True, help="traces JSONL file")
    score.add_argument("--out", required=True, help="output parquet file")
    score.add_argument("--shard-traces", type=int, default=16,
                       help="traces per saved shard: a killed run loses at most one shard of work")
    score.add_argument("--force", action="store_true", help="recompute even if --out or its parts exist")
    _add_score_options(score)
    score.set_defaults(func=_score_main)

    run = subparsers.add_parser("run", help="generate traces for a dataset and score them",
                                description="Generate + score N problems into <results-dir>/<model>/<dataset>/ "
                                            "(resumable). One flag per field of siakit.experiment.RunConfig.")
    add_run_flags(run)
    run.add_argument("--force", action="store_true", help="delete and redo an existing run")
    run.set_defaults(func=_run_main)


def _score_main(args: argparse.Namespace) -> int:
    import pandas as pd

    from siakit.scorer.score import score_traces
    from siakit.experiment.store import ResultsStore
    from siakit.data.traces import read_traces
    from siakit.experiment.distributed import setup

    out = Path(args.out)
    ranks = setup(args.device)  # a world of one, or this process's rank under torchrun (distributed.py)
    parts = ranks.store(out.with_name(out.name + ".parts"))
    if args.shard_traces < 1:
        raise ValueError(f"--shard-traces must be >= 1, got {args.shard_traces}")
    if args.force:
        if ranks.is_main:
            shutil.rmtree(parts.path, ignore_errors=True)
    elif out.exists() and not parts.path.exists():
        print(f"nothing to do: {out} exists (pass --force to score again)")
        return 0
    ranks.barrier()
    traces = read_traces(args.traces)
    estimator = _estimators(args.estimator)
    kwargs = _score_kwargs(args)
    parameters = {"model": args.model, "traces": str(Path(args.traces).resolve()), "dtype": args.dtype,
                  "estimator": list(estimator) if isinstance(estimator, tuple) else estimator, **kwargs}
    parts.check_parameters(parameters)
    if parts.read_manifest() is None and ranks.is_main:
        from siakit.experiment.store import versions

        parts.write_manifest({"parameters": parameters, "versions": versions()})
    done = parts.done_ids("scores")
    mine = ranks.share(traces, args.shard_traces)
    todo = [t for t in mine if t.id not in done]
    if todo:
        from siakit.models.loading import load_model

        lm = load_model(args.model, device=ranks.device(args.device), dtype=args.dtype,
                        attn_implementation=args.attn_implementation)
        bar = progress_bar(total=len(mine), initial=len(mine) - len(todo), desc=f"score {lm.name}", unit="trace")
        for i in range(0, len(todo), args.shard_traces):
            chunk = todo[i: i + args.shard_traces]
            parts.append_scores(score_traces(lm, chunk, estimator=estimator, progress=False, **kwargs))
            bar.update(len(chunk))
        bar.close()
    ranks.barrier()  # every rank's shards are written; rank 0 alone assembles the output
    if not ranks.is_main:
        ranks.close()
        return 0
    frame = parts.read_scores()
    order = {t.id: i for i, t in enumerate(traces)}
    frame = frame[frame["id"].isin(order)]
    frame = frame.sort_values(["id", "estimator", "k"], key=lambda c: c.map(order) if c.name == "id" else c,
                              kind="stable").reset_index(drop=True)
    atomic_write(out, lambda tmp: pd.DataFrame(frame).to_parquet(tmp, index=False))
    shutil.rmtree(parts.path, ignore_errors=True)
    print(f"wrote {len(frame)} rows ({frame['id'].nunique()} traces) to {out}")
    ranks.close()
    return 0


def _run_main(args: argparse.Namespace) -> int:
    from siakit.experiment.pipeline import run_experiment

    from siakit.experiment.distributed import setup

    ranks = setup(args.device)  # under torchrun: join the group once for the whole command
    result = run_experiment(from_flags(args), force=args.force)
    scores = result["scores"]
    if ranks.is_main:
        print(f"{result['store'].path}: {len(result['traces'])} traces, {len(scores)} score rows; "
              f"{result['manifest'].get('summary')}")
    ranks.close()
    return 0
