"""One experiment run = generate traces for (model, dataset), score every prefix, store both.

Resumable: traces and scores go to the results store in shards as they finish; started again, a run
reuses what is stored and computes only what is missing. This is what `siakit run` and the book's
experiment notebook call. Under torchrun each process takes its share (siakit.experiment.distributed).
"""
from __future__ import annotations

import shutil
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
    from siakit.experiment.distributed import setup
    from siakit.experiment.generate import GenerateConfig, generate_traces
    from siakit.scorer.score import score_traces

    if config is None:
        config = RunConfig.from_dict(values, where="run_experiment")
    elif values:
        raise TypeError("run_experiment: give a RunConfig or keyword fields, not both")
    cfg = config
    model, dataset, n, seed = cfg.model, cfg.dataset, cfg.n, cfg.seed
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    estimator = cfg.estimators()
    ranks = setup(cfg.device)  # a world of one, or this process's rank under torchrun (distributed.py)
    store = ranks.store(run_dir(cfg.results_dir, model, dataset))
    if force and store.path.exists() and ranks.is_main:
        shutil.rmtree(store.path)
    ranks.barrier()
    parameters = cfg.result_parameters()
    # n may change between calls: problems are the first n in file order, so a larger n extends the
    # stored run and a smaller one reads a prefix of it. Any other change would mix incompatible rows.
    store.check_parameters({k: v for k, v in parameters.items() if k != "n"})
    problems = load_problems(dataset, split=cfg.split, n=n)  # the first n, in file order
    manifest = store.read_manifest() or {
        "model": model, "dataset": dataset, "estimator": estimator, "parameters": parameters,
        "seed": seed, "versions": versions(), "created": datetime.now(timezone.utc).isoformat(),
        "timings": {}}
    manifest["parameters"]["n"] = n
    manifest["status"] = "running"
    manifest["world_size"] = ranks.world_size
    if ranks.is_main:
        store.write_manifest(manifest)

    def need_model():
        nonlocal lm
        if lm is None:
            from siakit.models.loading import load_model
            lm = load_model(model, device=ranks.device(cfg.device), dtype=cfg.dtype)
        return lm

    done = store.done_ids("traces")
    todo = [p for p in ranks.share(problems, cfg.batch_size) if p.id not in done]
    if todo:
        started = time.perf_counter()
        gen = GenerateConfig(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, seed=seed,
                             batch_size=cfg.batch_size)
        generate_traces(need_model(), todo, gen, on_batch=store.append_traces, progress=progress)
        manifest["timings"]["generate_s"] = round(time.perf_counter() - started, 2)
    ranks.barrier()  # every rank's traces are stored
    order = {p.id: i for i, p in enumerate(problems)}
    traces = sorted((t for t in store.read_traces() if t.id in order), key=lambda t: order[t.id])
    if ranks.is_main:
        store.export_traces()

    scored = store.done_ids("scores")
    pending = [t for t in ranks.share(traces, cfg.score_batch) if t.id not in scored]
    if pending:
        started = time.perf_counter()
        bar = progress_bar(total=len(pending), desc=f"score {estimator}", unit="trace", enabled=progress)
        score_config = replace(cfg.score_config(), progress=False)
        for i in range(0, len(pending), cfg.score_batch):
            chunk = pending[i:i + cfg.score_batch]
            frame = score_traces(need_model(), chunk, config=score_config)
            store.append_scores(frame)
            bar.update(len(chunk))
        bar.close()
        manifest["timings"]["score_s"] = round(time.perf_counter() - started, 2)
    ranks.barrier()  # every rank's scores are stored
    scores = store.read_scores()
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
