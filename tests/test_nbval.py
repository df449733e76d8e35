"""The theory chapter under nbval: its deterministic check cells must print exactly the stored outputs.

The cells marked `# NBVAL_CHECK_OUTPUT` print the numbers of the derivations' numerical checks
(seeded). Their outputs are stored beside this test (`tests/nbval/<chapter>.json`, recorded by
`tests/nbval/refresh.py`); the chapter is converted with jupytext, the stored outputs are put back
into the marked cells, and `pytest --nbval-lax` re-executes the whole notebook and compares those
cells only. A changed number fails the suite.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "nbval"))
from refresh import first_line, marked_cells  # noqa: E402

CHAPTERS = ["01_sia_theory"]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_prints_the_stored_numbers(chapter, tmp_path):
    jupytext = pytest.importorskip("jupytext")
    pytest.importorskip("nbval")
    import nbformat

    nb = jupytext.read(ROOT / "notebooks" / f"{chapter}.md")
    stored = json.loads((ROOT / "tests" / "nbval" / f"{chapter}.json").read_text())
    marked = marked_cells(nb)
    assert len(marked) == len(stored) >= 3, "marked cells and stored outputs must correspond"
    for index, record in zip(marked, stored):
        assert first_line(nb.cells[index].source) == record["first_line"]
        nb.cells[index].outputs = [nbformat.from_dict(o) for o in record["outputs"]]
        nb.cells[index].execution_count = 1
    for cell in nb.cells:
        if cell.cell_type == "code" and "outputs" not in cell:
            cell.outputs, cell.execution_count = [], None
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = ROOT / "notebooks" / f".nbval_{chapter}.ipynb"  # beside the source: relative paths hold
    nbformat.write(nb, path)
    try:
        out = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider",
                              "--rootdir", str(tmp_path), str(path)], capture_output=True, text=True, cwd=tmp_path)
    finally:
        path.unlink(missing_ok=True)
    assert out.returncode == 0, out.stdout[-3000:]
