"""The run page's summary of a stored run (`results/<model>/<dataset>/`), for the pages that compare runs.

    >>> getfixture("monkeypatch").chdir(getfixture("tmp_path"))     # (the example writes into a fresh folder)
    >>> store = ResultsStore("results/m/gsm8k")  # a stored run: its manifest, traces and scores
    >>> store.write_manifest({"parameters": {"max_new_tokens": 160}})
    >>> store.append_traces(traces); store.append_scores(scores)      # four traces; t3 cut at 160 tokens
    >>> s = stored_run_summary("results/m/gsm8k")
    >>> s["n_cut_left_out"], s["n_scored"], s["accuracy"]
    (1, 3, 0.5)
"""
from __future__ import annotations

from pathlib import Path

from siakit.analysis.run_summary import summarize_kept
from siakit.experiment.store import ResultsStore


def stored_run_summary(run_dir: str | Path, estimator: str = "readout", include_cut: bool = False) -> dict:
    """`summarize_kept` of one stored run (`results/<model>/<dataset>/`), with `max_new_tokens` from
    its manifest; a folder without a manifest is an error naming it."""
    store = ResultsStore(run_dir)
    manifest = store.read_manifest()
    if manifest is None:
        raise FileNotFoundError(f"{run_dir}: no manifest.json (not a stored run)")
    scores = store.read_scores()
    scores = scores[scores["estimator"] == estimator].reset_index(drop=True) if len(scores) else scores
    max_new_tokens = (manifest.get("parameters") or {}).get("max_new_tokens")
    return summarize_kept(scores, store.read_traces(), max_new_tokens, include_cut)


def drop_cut(scores, results_dir: str | Path, include_cut: bool = False):
    """`scores` of several stored runs (`collect_runs`: columns model, dataset, id, ...) without the
    traces cut at each run's token cap, the rule of the run pages (`usable_ids`); `include_cut` keeps
    them. Rows of a run whose folder has no manifest are kept as they are.

        drop_cut(scores of 16 gsm8k traces, 12 of them cut, "results") -> the rows of the 4 uncut traces
    """
    import pandas as pd

    from siakit.analysis.diagnostics import usable_ids
    from siakit.experiment.store import run_dir

    if include_cut or not len(scores):
        return scores
    parts = []
    for (model, dataset), part in scores.groupby(["model", "dataset"], sort=False):
        store = ResultsStore(run_dir(results_dir, model, dataset))
        manifest = store.read_manifest()
        if manifest is not None:
            keep = usable_ids(store.read_traces(), (manifest.get("parameters") or {}).get("max_new_tokens"))
            part = part[part["id"].astype(str).isin(keep)]
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else scores
