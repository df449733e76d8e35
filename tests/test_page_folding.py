"""Run and experiment pages fold their code: hide-input on every code cell, the injected parameters too."""
import re
from pathlib import Path

import nbformat

from siakit.report.pages import fold_injected_parameters, fold_signatures

ROOT = Path(__file__).resolve().parents[1]


def test_injected_parameters_fold_like_the_parameters_cell():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("n = 8", metadata={"tags": ["parameters", "hide-input"]}),
        nbformat.v4.new_code_cell("n = 32", metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("print(n)")])
    assert fold_injected_parameters(nb)
    assert nb.cells[1].metadata["tags"] == ["injected-parameters", "hide-input"]
    assert "tags" not in nb.cells[2].metadata  # other cells untouched
    assert not fold_injected_parameters(nb)  # already folded: nothing changes


def test_run_and_experiment_pages_fold_every_code_cell():
    for name in ("10_experiment.md", "20_figures.md", "30_early_exit.md"):
        text = (ROOT / "notebooks" / name).read_text()
        cells = re.findall(r"```\{code-cell\} ipython3\n(:tags: \[[^\]]*\])?", text)
        assert cells, name
        unfolded = [i for i, tags in enumerate(cells) if not re.search(r"hide-(input|cell)|remove-", tags)]
        assert unfolded == [], f"{name}: code cells {unfolded} are not folded"


def test_a_closed_gate_folds_the_signature_outputs():
    gate = nbformat.v4.new_output("display_data", data={"text/html": "<div>cannot be read</div>"},
                                  metadata={"siakit_gate": "closed"})
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("gate", metadata={"tags": ["hide-input"]}, outputs=[gate]),
        nbformat.v4.new_code_cell("curves", metadata={"tags": ["hide-input", "signature"]}),
        nbformat.v4.new_code_cell("viewer", metadata={"tags": ["hide-input"]})])
    assert fold_signatures(nb)
    assert [c.metadata["tags"] for c in nb.cells] == [["hide-input"], ["hide-input", "signature", "hide-output"],
                                                     ["hide-input"]]
    nb.cells[0].outputs = []  # an open gate folds nothing
    nb.cells[1].metadata["tags"] = ["hide-input", "signature"]
    assert not fold_signatures(nb) and nb.cells[1].metadata["tags"] == ["hide-input", "signature"]


def test_runs_index_marks_a_run_whose_signatures_cannot_be_read(tmp_path):
    import json

    from siakit.report.jobs import load_runs
    from siakit.report.pages import write_runs_index, write_summary

    runs = tmp_path / "runs.yml"
    runs.write_text("runs:\n  - {model: smollm2-135m-instruct, datasets: [arc-easy, gsm8k]}\n")
    jobs = [j for j in load_runs(runs, tmp_path) if j.kind == "run"]
    write_summary(tmp_path, [{"kind": "run", "name": j.name, "status": "ok", "seconds": 1.0} for j in jobs], jobs)
    for job, readable in zip(jobs, (False, True)):
        path = tmp_path / job.parameters["summary_path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"n_traces": 32, "accuracy": 0.3, "signatures_readable": readable,
                                    "timings": {"generate_s": 12.3, "score_s": 4.0},
                                    "gate_failed": [] if readable else ["both classes", "few traces cut"]}))
    index = write_runs_index(tmp_path, jobs).read_text().splitlines()
    arc = next(line for line in index if line.startswith("|") and "arc" in line)
    gsm = next(line for line in index if line.startswith("|") and "gsm8k" in line)
    assert arc.split("|")[1].rstrip().endswith("⚠") and "⚠" not in gsm
    assert "- smollm2-135m-instruct on arc-easy: both classes, few traces cut" in index
    assert arc.count("|") == 10  # nine columns: the times moved to the execution-times table
    assert f"| `{jobs[0].name}` | run | ok | 1.0 | 12 / 4 |" in index
