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
    from siakit.data.sources import source_for

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
    # a bad file fails here, before any write. A generated dataset (the testbed's rg:TASK) spreads n over
    # its ladder and has no "all", so it is asked for this run's n; a file is read whole (n is a prefix of it)
    generated = source_for(config.dataset) is not None and isinstance(config.n, int)
    everything = load_problems(config.dataset, split=config.split, fields=config.fields(),
                               n=config.n if generated else None)
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


class _RunWriter:
    """What the phases of one run share: its config, store, manifest, model and share of the work.

    The manifest goes to disk (rank 0's) with the first shard, so a failed start leaves nothing; the
    model is loaded when a phase first needs it (a finished run never loads it)."""

    def __init__(self, cfg: RunConfig, store: ResultsStore, manifest: dict, lm, ranks):
        self.cfg, self.store, self.manifest, self.lm, self.ranks = cfg, store, manifest, lm, ranks
        self.unsaved = ranks.is_main

    def saving(self, append):
        """`append` (a store's append_traces / append_scores) writing the manifest first, once."""
        def save(rows):
            if self.unsaved:
                self.store.write_manifest(self.manifest)
                self.unsaved = False
            append(rows)
        return save

    def model(self):
        if self.lm is None:
            from siakit.models.loading import load_model

            self.lm = load_model(self.cfg.model, device=self.ranks.device(self.cfg.device), dtype=self.cfg.dtype)
        return self.lm


def _run(cfg: RunConfig, store: ResultsStore, everything: list, *, force: bool, lm, progress: bool,
         ranks) -> dict:
    """The run itself, under the run folder's lock (see run_experiment); `ranks`: this process's share."""
    if force and ranks.is_main:
        store.clear()  # inside the run folder only
    ranks.barrier()
    problems = everything[:cfg.n]  # the first n, in file order
    run = _RunWriter(cfg, store, _manifest(cfg, store, everything, lm, ranks.world_size), lm, ranks)
    order = {p.id: i for i, p in enumerate(problems)}
    traces = _generate_missing(run, problems, order, progress)
    scores = _score_missing(run, traces, order, progress)

    from siakit.data.answers import grade_summary

    manifest = run.manifest
    multiple_choice = bool(problems[0].choices)
    manifest["summary"] = grade_summary([t.answer for t in traces], [t.gold for t in traces], multiple_choice)
    manifest["model_meta"] = getattr(run.lm, "meta", None) or manifest.get("model_meta")
    manifest["status"] = "done"
    if ranks.is_main:
        store.write_manifest(manifest)
    return {"traces": traces, "scores": scores, "store": store, "manifest": manifest, "config": cfg}


def _manifest(cfg: RunConfig, store: ResultsStore, everything: list, lm, world_size: int) -> dict:
    """Check what is stored against `cfg` and return the run's manifest (the stored one, brought up to
    date, or a new one), not yet written."""
    parameters = cfg.result_parameters()
    # n may change between calls: problems are the first n in file order, so a larger n extends the
    # stored run and a smaller one reads a prefix of it. Any other change would mix incompatible rows.
    store.check_parameters({k: v for k, v in parameters.items() if k != "n"})
    identity = run_identity(cfg, store, everything, lm)
    # The data is the truth: stored traces and scores must have been made as requested, whatever the
    # manifest (present, edited or deleted) says (siakit.experiment.adopt).
    from siakit.experiment.adopt import check_stored_scores, check_stored_traces, model_name

    name = lm.name if lm is not None else model_name(cfg.model)
    check_stored_traces(store.read_traces(everything=True), cfg, name, store.path)
    check_stored_scores(store.read_scores(everything=True), cfg.estimators(), name, store.path)
    manifest = store.read_manifest() or {
        "model": cfg.model, "dataset": cfg.dataset, "estimator": cfg.estimators(), "parameters": parameters,
        "seed": cfg.seed, "versions": versions(), "created": datetime.now(timezone.utc).isoformat(),
        "timings": {}}
    manifest["parameters"]["n"] = cfg.n
    manifest["ids"] = [p.id for p in everything[:cfg.n]]  # what the manifest, summary and readers report
    manifest["identity"] = identity
    manifest["status"] = "running"
    manifest["world_size"] = world_size
    return manifest


def _generate_missing(run: _RunWriter, problems: list, order: dict, progress: bool) -> list:
    """Generate this rank's problems not yet stored; return the reported traces (every rank's, in
    problem order) once all are stored."""
    from siakit.experiment.generate import GenerateConfig, generate_traces

    cfg, store, ranks = run.cfg, run.store, run.ranks
    done = store.done_ids("traces")
    todo = [p for p in ranks.share(problems, cfg.batch_size) if p.id not in done]  # whole batches, round-robin
    if todo:
        started = time.perf_counter()
        gen = GenerateConfig(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, seed=cfg.seed,
                             batch_size=cfg.batch_size)
        generate_traces(run.model(), todo, gen, on_batch=run.saving(store.append_traces), progress=progress)
        run.manifest["timings"]["generate_s"] = round(time.perf_counter() - started, 2)
    ranks.barrier()  # every rank's traces are stored
    stored = store.read_traces(everything=True)
    traces = sorted((t for t in stored if t.id in order), key=lambda t: order[t.id])
    run.manifest["stored"] = {"traces": len(stored), "reported": len(traces)}  # a lower n keeps the rest
    if ranks.is_main:
        store.export_traces(traces)  # traces.jsonl holds exactly the reported traces
    return traces


def _score_missing(run: _RunWriter, traces: list, order: dict, progress: bool):
    """Score this rank's traces not yet scored; return the reported scores (every rank's, in problem
    order) once all are stored."""
    from siakit.scorer.score import score_traces

    cfg, store, ranks = run.cfg, run.store, run.ranks
    scored = store.done_ids("scores")
    pending = [t for t in ranks.share(traces, cfg.score_batch) if t.id not in scored]
    if pending:
        started = time.perf_counter()
        bar = progress_bar(total=len(pending), desc=f"score {cfg.estimators()}", unit="trace", enabled=progress)
        score_config = replace(cfg.score_config(), progress=False)
        for i in range(0, len(pending), cfg.score_batch):
            chunk = pending[i:i + cfg.score_batch]
            frame = score_traces(run.model(), chunk, config=score_config)
            run.saving(store.append_scores)(frame)
            bar.update(len(chunk))
        bar.close()
        run.manifest["timings"]["score_s"] = round(time.perf_counter() - started, 2)
    ranks.barrier()  # every rank's scores are stored
    scores = store.read_scores(everything=True)
    scores = scores[scores["id"].isin(order)] if len(scores) else scores
    if len(scores):  # problem order, whichever rank wrote which shard
        scores = scores.sort_values("id", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)
    return scores
