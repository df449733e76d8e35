"""One experiment run = generate traces for (model, dataset), score every prefix, store both.

Resumable: traces and scores go to the results store in shards as they finish; started again, a run
reuses what is stored and computes only what is missing. This is what `siakit run` and the book's
experiment notebook call. Under torchrun each process takes its share (siakit.experiment.distributed):
rank 0 holds the run folder's lock and writes the manifest; every rank writes its own shards.

Before anything is written, every field, the model spec and the problems file are checked; the run
folder is then locked (one writer), and the manifest is written only with the first shard, so a start
that fails leaves nothing behind. A resume is refused when the model's files, the problems used or
the device kind changed (the manifest's `identity`), or, in bfloat16 or float16, the generation
batch size; in float32 the batch size does not change a trace (padding is masked;
tests/test_reliability.py shows a re-batched resume equal to a fresh run).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import replace
from datetime import datetime, timezone

from siakit.experiment.config import RunConfig
from siakit.experiment.store import ResultsStore, run_dir, versions
from siakit.progress import progress_bar


def run_experiment(config: RunConfig | None = None, *, force: bool = False, lm=None, progress: bool = True,
                   **values) -> dict:
    """Generate + score `config.n` problems of `config.dataset` with `config.model` into
    `<results_dir>/<model>/<dataset>/`. Give a RunConfig, or its fields as keywords.

    Returns `dict(traces, scores, store, manifest, config)`; `scores` has one row per (trace id, k).
    `lm`: an already loaded model to use instead of loading `config.model`.
    """

    from siakit.data.problems import load_problems

    if config is None:
        config = RunConfig.from_dict(values, where="run_experiment")
    elif values:
        raise TypeError("run_experiment: give a RunConfig or keyword fields, not both")
    config.validate()  # every field, before anything is loaded or written
    if lm is None:
        from siakit.models.loading import check_model_spec

        check_model_spec(config.model)
    from siakit.experiment.distributed import setup

    ranks = setup(config.device)  # a world of one, or this process's rank under torchrun (distributed.py)
    store = ranks.store(run_dir(config.results_dir, config.model, config.dataset))
    everything = load_problems(config.dataset, split=config.split, fields=config.fields())  # a bad file fails here, before any write
    n = resolve_n(config.n, len(everything), config.dataset, config.split)
    # One writer per run folder: rank 0 holds the lock; the ranks of the same torchrun job write under it.
    with store.locked() if ranks.is_main else contextlib.nullcontext(store):
        ranks.barrier()
        return _run(replace(config, n=n), store, everything, force=force, lm=lm, progress=progress, ranks=ranks)


def resolve_n(n: int | str, size: int, dataset: str, split: str) -> int:
    """`n` as a number of problems: 'all' is the split's size; more than the split has is an error.

        resolve_n("all", 1319, "gsm8k", "test") -> 1319;  resolve_n(5000, 1319, ...) -> ValueError
    """
    if n == "all":
        return size
    if n > size:
        raise ValueError(f"n = {n} is more than the {size} problems of {dataset} ({split}); "
                         f"give n <= {size}, or n = all")
    return n


def problems_fingerprint(problems) -> str:
    """sha256 of the problems' ids, questions, gold answers and choices, in order (what a run used).

        problems_fingerprint([Problem("p1", "jsonl:x", "1+1?", "2")]) -> "9c0f..." (16 hex digits)
    """
    blob = json.dumps([[p.id, p.question, p.gold, p.choices] for p in problems], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_identity(cfg: RunConfig, store: ResultsStore, everything: list, lm=None) -> dict:
    """What must not change when a stored run is resumed: the model's files, the problems already used
    (checked on the first n of the stored count, so raising n still extends a run), the device kind,
    and in half precision the batch size. Raises naming the field."""
    import torch

    from siakit.models.loading import model_fingerprint

    manifest = store.read_manifest()
    if manifest and cfg.temperature > 0 and (manifest.get("identity") or {}).get("seeds") != "per-problem":
        raise ValueError(f"{store.path}: this sampled run was made before traces were seeded by (seed, problem "
                         "id); resuming it would mix two seedings. Use --force to start it again")
    stored = ((manifest or {}).get("identity") or {}).get("problems") or {}
    used = max(cfg.n, stored.get("n", 0))
    if stored and stored.get("n", 0) > len(everything):
        raise ValueError(f"{store.path}: the existing run used {stored['n']} problems, but {cfg.dataset} now has "
                         f"{len(everything)}; the problems changed (use --force to start again)")
    if stored and problems_fingerprint(everything[:stored["n"]]) != stored.get("sha256"):
        raise ValueError(f"{store.path}: the problems of {cfg.dataset} changed since this run was made "
                         "(identity field 'problems': questions, gold answers or ids differ); use another "
                         "results folder, or --force to delete it and start again")
    model = model_fingerprint(cfg.model)
    if lm is not None and "files" not in model and "package" not in model:
        model["in_memory"] = getattr(lm, "name", None)
    identity = {"model": model, "device": torch.device(cfg.device).type,
                "seeds": "per-problem"}  # how sampled traces are seeded (siakit.experiment.generate)
    if cfg.dtype not in (None, "float32", "fp32"):  # half precision: batch padding changes the numbers
        identity["batch_size"] = cfg.batch_size
    identity = store.check_identity(identity)  # the problems were checked above: n may grow
    identity["problems"] = {"n": used, "sha256": problems_fingerprint(everything[:used])}
    return identity


def _run(cfg: RunConfig, store: ResultsStore, everything: list, *, force: bool, lm, progress: bool,
         ranks) -> dict:
    """The run itself, under the run folder's lock (see run_experiment); `ranks`: this process's share."""
    from siakit.experiment.generate import GenerateConfig, generate_traces
    from siakit.scorer.score import score_traces

    model, dataset, n, seed = cfg.model, cfg.dataset, cfg.n, cfg.seed
    estimator = cfg.estimators()
    if force and ranks.is_main:
        store.clear()  # inside the run folder only
    ranks.barrier()
    parameters = cfg.result_parameters()
    # n may change between calls: problems are the first n in file order, so a larger n extends the
    # stored run and a smaller one reads a prefix of it. Any other change would mix incompatible rows.
    store.check_parameters({k: v for k, v in parameters.items() if k != "n"})
    identity = run_identity(cfg, store, everything, lm)
    # The data is the truth: stored traces and scores must have been made as requested, whatever the
    # manifest (present, edited or deleted) says (siakit.experiment.adopt).
    from siakit.experiment.adopt import check_stored_scores, check_stored_traces, model_name

    name = lm.name if lm is not None else model_name(model)
    check_stored_traces(store.read_traces(everything=True), cfg, name, store.path)
    check_stored_scores(store.read_scores(everything=True), estimator, name, store.path)
    problems = everything[:n]  # the first n, in file order
    manifest = store.read_manifest() or {
        "model": model, "dataset": dataset, "estimator": estimator, "parameters": parameters,
        "seed": seed, "versions": versions(), "created": datetime.now(timezone.utc).isoformat(),
        "timings": {}}
    manifest["parameters"]["n"] = n
    manifest["ids"] = [p.id for p in problems]  # what the manifest, summary and readers report
    manifest["identity"] = identity
    manifest["status"] = "running"
    manifest["world_size"] = ranks.world_size
    # the manifest goes to disk (rank 0's) with the first shard: a failed start leaves nothing
    unsaved = [ranks.is_main]

    def with_manifest(append):
        def save(rows):
            if unsaved[0]:
                store.write_manifest(manifest)
                unsaved[0] = False
            append(rows)
        return save

    def need_model():
        nonlocal lm
        if lm is None:
            from siakit.models.loading import load_model
            lm = load_model(model, device=ranks.device(cfg.device), dtype=cfg.dtype)
        return lm

    done = store.done_ids("traces")
    todo = [p for p in ranks.share(problems, cfg.batch_size) if p.id not in done]  # whole batches, round-robin
    if todo:
        started = time.perf_counter()
        gen = GenerateConfig(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, seed=seed,
                             batch_size=cfg.batch_size)
        generate_traces(need_model(), todo, gen, on_batch=with_manifest(store.append_traces), progress=progress)
        manifest["timings"]["generate_s"] = round(time.perf_counter() - started, 2)
    ranks.barrier()  # every rank's traces are stored
    order = {p.id: i for i, p in enumerate(problems)}
    stored = store.read_traces(everything=True)
    traces = sorted((t for t in stored if t.id in order), key=lambda t: order[t.id])
    manifest["stored"] = {"traces": len(stored), "reported": len(traces)}  # a lower n keeps the rest
    if ranks.is_main:
        store.export_traces(traces)  # traces.jsonl holds exactly the reported traces

    scored = store.done_ids("scores")
    pending = [t for t in ranks.share(traces, cfg.score_batch) if t.id not in scored]
    if pending:
        started = time.perf_counter()
        bar = progress_bar(total=len(pending), desc=f"score {estimator}", unit="trace", enabled=progress)
        score_config = replace(cfg.score_config(), progress=False)
        for i in range(0, len(pending), cfg.score_batch):
            chunk = pending[i:i + cfg.score_batch]
            frame = score_traces(need_model(), chunk, config=score_config)
            with_manifest(store.append_scores)(frame)
            bar.update(len(chunk))
        bar.close()
        manifest["timings"]["score_s"] = round(time.perf_counter() - started, 2)
    ranks.barrier()  # every rank's scores are stored
    scores = store.read_scores(everything=True)
    scores = scores[scores["id"].isin(order)] if len(scores) else scores
    if len(scores):  # problem order, whichever rank wrote which shard
        scores = scores.sort_values("id", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)

    from siakit.data.answers import grade_summary

    multiple_choice = bool(problems[0].choices)
    manifest["summary"] = grade_summary([t.answer for t in traces], [t.gold for t in traces], multiple_choice)
    manifest["model_meta"] = getattr(lm, "meta", None) or manifest.get("model_meta")
    manifest["status"] = "done"
    if ranks.is_main:
        store.write_manifest(manifest)
    return {"traces": traces, "scores": scores, "store": store, "manifest": manifest, "config": cfg}
