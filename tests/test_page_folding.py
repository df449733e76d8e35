"""Run and experiment pages fold their code: hide-input on every code cell, the injected parameters too."""
import re
from pathlib import Path

import nbformat

from siakit.report.pages import fold_injected_parameters

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
