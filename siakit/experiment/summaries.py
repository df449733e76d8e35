"""The run page's summary of a stored run (`results/<model>/<dataset>/`), for the pages that compare runs.

    >>> stored_run_summary("results/smollm2-135m-instruct/gsm8k")["n_cut_left_out"]
    12
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
