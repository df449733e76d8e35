"""`siakit score` (a traces file -> a scores parquet, resumable) and `siakit run` (generate + score).

`siakit score` writes finished shards of traces to `<out>.parts/` (the results store's atomic
parquet shards, with the parameters in its manifest); killed and started again, it skips the trace ids
already scored, and at the end it concatenates the shards into `<out>` (atomically) and removes the
parts. Starting again with other parameters is refused rather than mixing results. Both commands run
data-parallel under torchrun (siakit.experiment.distributed).

The parameters include fingerprints of the model's files and of the traces file, so an edited traces
file or another model of the same name is refused too; they are also stored in the finished parquet's
metadata, so an existing `--out` made with other parameters is refused instead of "nothing to do".
`--out` is checked before anything runs: never the input, a directory, a special file or a link.
"""
from __future__ import annotations

import argparse
import contextlib
import json
from dataclasses import fields
from pathlib import Path

from siakit.experiment.config import add_flags, add_run_flags, from_flags
from siakit.scorer.score import METHOD_CHOICES, ScoreConfig
from siakit.files import atomic_write
from siakit.progress import progress_bar


def _estimators(text: str):
    names = tuple(x.strip() for x in text.split(",") if x.strip())
    return names[0] if len(names) == 1 else names


# `siakit score` has one flag per ScoreConfig field (add_flags, as `siakit run` has per RunConfig field),
# with the dataclass's default. Two keep their older spelling: --samples sets rollout_m, and
# --sample-max-new-tokens caps the candidate samples' continuations too.
SCORE_SPELLINGS = {"rollout_m": "--samples", "max_new_tokens": "--sample-max-new-tokens"}
SCORE_ALIASES = {"rollout_m": ["--rollout-m"]}
# ScoreConfig fields set through another field's flag (samples is the old name of rollout_m).
SCORE_SHARED = {"samples": "rollout_m", "candidate_max_new_tokens": "max_new_tokens"}
# ScoreConfig fields without a flag, and why.
SCORE_NO_FLAG = {"progress": "the command draws its own bar over traces"}
# Always in an output's recorded parameters (as outputs have recorded them from the start); any other
# field only when set away from its default, so an output made before its flag existed still resumes.
SCORE_RECORDED = ("method", "cue", "candidate_samples", "candidate_mentions", "samples", "max_new_tokens",
                  "candidate_max_new_tokens", "temperature", "miller_madow", "seed", "pack_tokens", "truncate",
                  "enumerate_epsilon", "enumerate_max_nodes")
SCORE_HELP = {
    "estimator": "readout, vocab, sampling, enumerate, or several comma-separated (default %(default)s)",
    "method": "forward method (default %(default)s)",
    "cue": "answer cue (default: each trace's own cue)",
    "candidate_samples": "numeric readout without options: answers of M continuations sampled from the "
                         "question alone join every S_k",
    "candidate_mentions": "numeric readout without options: the N most recently mentioned distinct numbers of "
                          "the question and steps C_1..C_k join S_k (0 = off)",
    "terminated": "readout: score options with their end of answer (--no-terminated: the old form, where "
                  "p(' 2') holds p(' 24'))",
    "rollout_m": "rollout (sampling) estimator: continuations M per prefix",
    "rollout_at": "rollout estimator: only the prefixes at these fractions u of the trace, comma-separated "
                  "(e.g. 0.5); default every prefix",
    "rollout_bootstrap": "rollout: bootstrap draws over the M rollouts for entropy_low/high",
    "rollout_batch": "rollout: rows per decode batch",
    "rollout_total_tokens": "rollout: the traces' own generation budget; prefix k's rollouts get that many "
                            "tokens less the reasoning tokens of C_1..C_k (default: max-new-tokens each)",
    "max_new_tokens": "rollout estimator and candidate samples: length cap of a continuation",
    "temperature": "sampling temperature",
    "miller_madow": "sampling: Miller-Madow correction",
    "seed": "every sample is seeded from (seed, trace id, k)",
    "enumerate_epsilon": "enumerate: stop a prefix once its unexplored mass is below this",
    "enumerate_max_nodes": "enumerate: trie nodes expanded per prefix at most (one token each)",
    "enumerate_width": "enumerate: nodes per prefix in one level's pass at most",
    "enumerate_max_digits": "enumerate: longer numbers stay unexplored",
    "enumerate_leads": "enumerate: strings allowed between the cue and the answer, comma-separated",
    "enumerate_prefetch": "enumerate: feed S_k's numbers and the gold with the cues in the first pass",
    "pack_tokens": "tokens per packed pass",
    "dense_max_tokens": "auto: a longer trace goes through kvtree (no L x L mask)",
    "mask": "auto | dense | flex (siakit.scorer.masks)",
    "compile": "inductor: torch.compile the model forward for the tree pass; empty = eager",
    "pack_layout": "packed: rows (a batch row per trace) or diag (one sequence, block-diagonal mask)",
    "truncate": "drop trailing steps of traces longer than the model's context (default: error)",
    "chunk_prefixes": "a trace of more prefixes is scored in slices of this many (same numbers)",
}


def _add_score_options(parser) -> None:
    add_flags(parser, ScoreConfig, spellings=SCORE_SPELLINGS, aliases=SCORE_ALIASES, helps=SCORE_HELP,
              types={"estimator": str, "rollout_at": _fractions, "enumerate_leads": _strings},
              choices={"method": METHOD_CHOICES}, skip=(*SCORE_SHARED, *SCORE_NO_FLAG))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, help="float32 (default), bfloat16 or float16")
    parser.add_argument("--attn-implementation", default=None, help="e.g. sdpa, eager, flex_attention")


def _score_kwargs(args) -> dict:
    """score_traces' keyword arguments from the flags, in the form outputs record (SCORE_RECORDED, plus
    every other field set away from its default)."""
    defaults = ScoreConfig()
    values = {f.name: getattr(args, f.name) for f in fields(ScoreConfig)
              if f.name not in (*SCORE_SHARED, *SCORE_NO_FLAG, "estimator")}
    values["samples"] = values.pop("rollout_m")
    values["candidate_max_new_tokens"] = values["max_new_tokens"]
    default = {"samples": defaults.rollout_m}
    return {k: v for k, v in values.items()
            if k in SCORE_RECORDED or v != default.get(k, getattr(defaults, k))}


def _strings(text: str) -> tuple:
    """--enumerate-leads ":,-" -> (":", "-"); "" -> ()."""
    return tuple(x for x in text.split(",") if x)


def _fractions(text: str) -> tuple:
    """--rollout-at "0.25,0.5" -> (0.25, 0.5); each in [0, 1]."""
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rollout-at: expected comma-separated fractions, got {text!r}") from None
    if not values or any(not 0 <= v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"--rollout-at: fractions must lie in [0, 1], got {text!r}")
    return values


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


PARQUET_KEY = b"siakit.score"  # parquet metadata key holding the parameters of a finished --out


def stored_parameters(out: Path) -> dict | None:
    """The parameters a finished `siakit score` output records, or None if it records none (not ours)."""
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(out).metadata or {}
    except Exception:  # noqa: BLE001 - not a parquet file: it records nothing
        return None
    return json.loads(metadata[PARQUET_KEY]) if PARQUET_KEY in metadata else None


def _write_parquet(frame, tmp: Path, parameters: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {**(table.schema.metadata or {}), PARQUET_KEY: json.dumps(parameters, sort_keys=True).encode()}
    pq.write_table(table.replace_schema_metadata(metadata), tmp)


def _score_parameters(args, estimator, kwargs) -> dict:
    """Everything that changes a score row, fingerprints of the model and traces files included."""
    import torch

    from siakit.models.loading import file_fingerprint, model_fingerprint

    return {"model": args.model, "traces": str(Path(args.traces).resolve()), "dtype": args.dtype,
            "estimator": list(estimator) if isinstance(estimator, tuple) else estimator, **kwargs,
            "device": torch.device(args.device).type, "attn_implementation": args.attn_implementation,
            "model_files": model_fingerprint(args.model), "traces_file": file_fingerprint(Path(args.traces))}


def _score_main(args: argparse.Namespace) -> int:
    from siakit.data.traces import read_traces
    from siakit.experiment.config import check_device_dtype, check_score_options
    from siakit.experiment.distributed import setup
    from siakit.files import check_output
    from siakit.models.loading import check_model_spec

    # Everything is checked before anything is written or loaded.
    out = Path(args.out)
    check_output(out, inputs=[args.traces])
    if args.shard_traces < 1:
        raise ValueError(f"--shard-traces must be >= 1, got {args.shard_traces}")
    estimator = _estimators(args.estimator)
    check_score_options(estimator, args.method)
    for dest, flag in (("rollout_m", "samples"), ("pack_tokens", "pack_tokens"),
                       ("max_new_tokens", "sample_max_new_tokens")):
        if getattr(args, dest) < 1:
            raise ValueError(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, dest)}")
    for flag in ("candidate_samples", "candidate_mentions"):
        if getattr(args, flag) < 0:
            raise ValueError(f"--{flag.replace('_', '-')} must be >= 0, got {getattr(args, flag)}")
    sampled = bool({"rollout", "sampling"} & set([estimator] if isinstance(estimator, str) else estimator)) \
        or args.candidate_samples
    if not 0 <= args.temperature < float("inf") or (sampled and args.temperature == 0):
        raise ValueError(f"--temperature must be a finite number > 0, got {args.temperature}")
    check_device_dtype(args.device, args.dtype)
    check_model_spec(args.model)
    traces = read_traces(args.traces)
    parameters = _score_parameters(args, estimator, _score_kwargs(args))
    ranks = setup(args.device)  # a world of one, or this process's rank under torchrun (distributed.py)
    parts = ranks.store(out.with_name(out.name + ".parts"))
    if out.exists() and not args.force and not parts.path.exists():
        stored = stored_parameters(out)
        if stored == json.loads(json.dumps(parameters)):
            print(f"nothing to do: {out} exists with these parameters (pass --force to score again)")
            return 0
        from siakit.files import refuse_existing

        if stored is None:
            refuse_existing(out, False, "score", detail="not written by siakit score")
        changed = ", ".join(k for k in parameters if stored.get(k) != json.loads(json.dumps(parameters[k])))
        refuse_existing(out, False, "score", detail=f"scored with other parameters: {changed}")
    # One writer per output: rank 0 holds the lock (and clears a killed writer's half-written files)
    # before any rank writes; the other ranks of the same torchrun job write under its lock.
    with parts.locked() if ranks.is_main else contextlib.nullcontext(parts):
        ranks.barrier()
        try:
            return _score_locked(args, out, parts, traces, estimator, parameters, ranks)
        finally:
            ranks.close()


def _score_locked(args, out: Path, parts, traces, estimator, parameters: dict, ranks) -> int:
    import pandas as pd

    from siakit.experiment.store import versions
    from siakit.scorer.score import score_traces

    if args.force and ranks.is_main:
        parts.clear()
    ranks.barrier()
    kwargs = _score_kwargs(args)
    parts.check_parameters(parameters)
    # written by rank 0 with its first shard: a failed start leaves nothing
    unsaved = ranks.is_main and parts.read_manifest() is None
    done = parts.done_ids("scores")
    mine = ranks.share(traces, args.shard_traces)  # whole shards, round-robin: stable under resume
    todo = [t for t in mine if t.id not in done]
    if todo:
        from siakit.models.loading import load_model

        lm = load_model(args.model, device=ranks.device(args.device), dtype=args.dtype,
                        attn_implementation=args.attn_implementation)
        bar = progress_bar(total=len(mine), initial=len(mine) - len(todo), desc=f"score {lm.name}", unit="trace")
        for i in range(0, len(todo), args.shard_traces):
            chunk = todo[i: i + args.shard_traces]
            frame = score_traces(lm, chunk, estimator=estimator, progress=False, **kwargs)
            if unsaved:
                parts.write_manifest({"parameters": parameters, "versions": versions()})
                unsaved = False
            parts.append_scores(frame)
            bar.update(len(chunk))
        bar.close()
    ranks.barrier()  # every rank's shards are written; rank 0 alone assembles the output
    if not ranks.is_main:
        return 0
    if unsaved:
        parts.write_manifest({"parameters": parameters, "versions": versions()})
    frame = parts.read_scores()
    order = {t.id: i for i, t in enumerate(traces)}
    frame = frame[frame["id"].isin(order)]
    frame = frame.sort_values(["id", "estimator", "k"], key=lambda c: c.map(order) if c.name == "id" else c,
                              kind="stable").reset_index(drop=True)
    atomic_write(out, lambda tmp: _write_parquet(pd.DataFrame(frame), tmp, parameters))
    parts.clear(keep=(".lock",))  # the lock file and folder go when the lock is released
    print(f"wrote {len(frame)} rows ({frame['id'].nunique()} traces) to {out}")
    return 0


def _run_main(args: argparse.Namespace) -> int:
    from siakit.experiment.distributed import setup
    from siakit.experiment.pipeline import run_experiment

    ranks = setup(args.device)  # under torchrun: join the group once for the whole command
    try:
        result = run_experiment(from_flags(args), force=args.force)
    finally:
        ranks.close()
    scores = result["scores"]
    if ranks.is_main:
        print(f"{result['store'].path}: {len(result['traces'])} traces, {len(scores)} score rows; "
              f"{result['manifest'].get('summary')}")
    return 0
