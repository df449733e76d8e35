"""The toy-world chapter executes end to end under papermill with the tiny preset."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02_toy_world.md"


def test_toy_chapter_executes(tmp_path):
    jupytext = pytest.importorskip("jupytext", reason="jupytext is needed to convert the MyST chapter")
    papermill = pytest.importorskip("papermill", reason="papermill is needed to execute the chapter")
    nb = jupytext.read(NOTEBOOK)
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "the chapter needs exactly one cell tagged `parameters`"
    assert sum(line.startswith("# ") for line in NOTEBOOK.read_text().splitlines()) == 1
    ipynb, out = tmp_path / "toy.ipynb", tmp_path / "toy_out.ipynb"
    subprocess.run([sys.executable, "-m", "jupytext", "--to", "ipynb", "-o", str(ipynb), str(NOTEBOOK)],
                   check=True, capture_output=True)
    papermill.execute_notebook(str(ipynb), str(out), kernel_name="python3", cwd=str(tmp_path),
                               parameters={"preset": "tiny", "out": str(tmp_path / "toy")}, progress_bar=False)
    cells = json.loads(out.read_text())["cells"]
    text = "".join("".join(o.get("text", "")) for c in cells for o in c.get("outputs", []))
    figures = sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", []))
    assert "Bayes curve non-increasing: True" in text
    assert figures == 4
    assert (tmp_path / "toy" / "summary.json").exists()
