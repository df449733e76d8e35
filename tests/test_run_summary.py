"""One set of numbers: "Across runs" reads each stored run with the run page's own rule for cut traces."""
import json
import re
from pathlib import Path

import pytest

from siakit.analysis.run_summary import summarize_kept
from siakit.experiment.summaries import stored_run_summary
from siakit.analysis.summary import summarize_run
from siakit.data.traces import Trace
from siakit.experiment.store import ResultsStore
from test_signatures import FALLING, FLAT, UNIFORM, make_scores

ROOT = Path(__file__).resolve().parents[1]
RISE = ([UNIFORM, [0.2, 0.6, 0.2], [0.1, 0.8, 0.1], [0.05, 0.9, 0.05]], 0, False)


def _stored_run(path: Path) -> tuple[list, object]:
    curves = {"a": FALLING["fall"], "b": FALLING["fall"], "c": FLAT["flat"], "d": RISE}
    scores = make_scores(curves)
    cut = {"b", "d"}  # one correct and one incorrect trace ran into the 64-token cap
    traces = [Trace(id=i, prompt="Q", steps=["x\n", "y\n", "z"], dataset="arc-easy", model="m", gold="A",
                    answer="A" if c else "B", correct=c, meta={"n_new_tokens": 64 if i in cut else 20})
              for i, (_, _, c) in curves.items()]
    store = ResultsStore(path)
    store.append_traces(traces)
    store.append_scores(scores)
    store.write_manifest({"model": "m", "dataset": "arc-easy", "status": "done", "parameters": {"max_new_tokens": 64}})
    return traces, scores


def test_stored_summary_leaves_cut_traces_out_and_counts_them(tmp_path):
    traces, scores = _stored_run(tmp_path / "m" / "arc-easy")
    across = stored_run_summary(tmp_path / "m" / "arc-easy")
    page = summarize_kept(scores, traces, 64)  # what the run page computes
    assert across == page
    assert across["n_cut_left_out"] == 2 and across["n_traces"] == 4 and across["accuracy"] == 0.5
    kept = summarize_run(scores[scores["id"].isin(["a", "c"])], traces)
    assert across["h_final_incorrect"] == kept["h_final_incorrect"]  # the flat trace only, not the cut rise
    everything = summarize_run(scores, traces)  # the old "Across runs" rule: cut traces included
    assert everything["h_final_incorrect"] != across["h_final_incorrect"]
    assert stored_run_summary(tmp_path / "m" / "arc-easy", include_cut=True)["n_cut_left_out"] == 0
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        stored_run_summary(tmp_path / "nothing")


def test_across_runs_page_uses_the_stored_summary():
    text = (ROOT / "notebooks" / "20_figures.md").read_text()
    assert "stored_run_summary(" in text and "summarize_run(" not in text
    page = (ROOT / "notebooks" / "10_experiment.md").read_text()
    assert re.search(r"summarize_kept\(all_scores, traces, max_new_tokens, include_cut\)", page)


STORED = sorted((ROOT / "results").glob("*/*/summary.json"))


@pytest.mark.skipif(not STORED, reason="no stored run pages under results/ (run make book)")
@pytest.mark.parametrize("summary_file", STORED, ids=[p.parent.relative_to(ROOT / "results").as_posix() for p in STORED])
def test_built_run_pages_equal_the_across_runs_numbers(summary_file):
    page = json.loads(summary_file.read_text())
    across = stored_run_summary(summary_file.parent, page.get("estimator", "readout"))
    for key in ("n_traces", "accuracy", "h_final_correct", "h_final_incorrect", "auroc_h_u1", "lock_in_rate"):
        a, b = across.get(key), page.get(key)
        assert (a is None and b is None) or a == pytest.approx(b, nan_ok=True), key


def test_cross_run_pages_drop_the_cut_traces_of_each_run(tmp_path):
    from siakit.experiment.summaries import drop_cut

    _, scores = _stored_run(tmp_path / "m" / "arc-easy")
    both = scores.assign(model="m", dataset="arc-easy")
    kept = drop_cut(both, tmp_path)
    assert sorted(kept["id"].unique()) == ["a", "c"]  # b and d were cut at the 64-token cap
    assert len(drop_cut(both, tmp_path, include_cut=True)) == len(both)
    other = both.assign(model="unstored")  # no run folder: rows kept as they are
    assert len(drop_cut(other, tmp_path)) == len(both)
    for page in ("20_figures.md", "30_early_exit.md"):
        assert "scores = drop_cut(scores, results_dir)" in (ROOT / "notebooks" / page).read_text()
