"""The theory chapter executes end to end under papermill with small parameters."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_sia_theory.md"


def test_theory_chapter_executes(tmp_path):
    jupytext = pytest.importorskip("jupytext", reason="jupytext is needed to convert the MyST chapter")
    papermill = pytest.importorskip("papermill", reason="papermill is needed to execute the chapter")
    nb = jupytext.read(NOTEBOOK)
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "the chapter needs exactly one cell tagged `parameters`"
    ipynb, out = tmp_path / "theory.ipynb", tmp_path / "theory_out.ipynb"
    subprocess.run([sys.executable, "-m", "jupytext", "--to", "ipynb", "-o", str(ipynb), str(NOTEBOOK)],
                   check=True, capture_output=True)
    papermill.execute_notebook(str(ipynb), str(out), kernel_name="python3", cwd=str(NOTEBOOK.parent),
                               parameters={"n_worlds": 50, "n_questions": 2, "n_answers": 3,
                                           "n_symbols": 2, "n_steps": 3}, progress_bar=False)
    text = "".join("".join(o.get("text", "")) for c in json.loads(out.read_text())["cells"]
                   for o in c.get("outputs", []))
    # the theorems' checks print their outcome; a failed theorem would show here
    assert "own entropy curve non-increasing in 100.0% of 50" in text
    assert "transfer bound violated in 0;" in text
    assert "accuracy non-decreasing as beta falls in 100.0% of worlds" in text
