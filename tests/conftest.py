"""Shared pytest fixtures. Keep this file minimal; append fixtures below, one idea each."""
from __future__ import annotations

from pathlib import Path

import pytest

from siakit.data.problems import data_roots

_REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The first local benchmark folder (holding gsm8k/test.jsonl) or a skip saying where we looked.

    Searched: $SIAKIT_DATA, ./data, ../shared/data (relative to the working directory), then the same
    two folders relative to the repository, so tests find the data from any working directory.
    """
    candidates = data_roots() + [_REPO / "data", _REPO.parent / "shared" / "data"]
    for root in candidates:
        if (root / "gsm8k" / "test.jsonl").is_file():
            return root
    pytest.skip("no benchmark data found (set SIAKIT_DATA); looked in: " + ", ".join(map(str, candidates)))


@pytest.fixture()
def one_thread():
    """Tiny models gain nothing from threads, and spinning OpenMP threads crawl on a shared CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def execute_chapter(notebook: Path, workdir: Path, parameters: dict, cwd: Path | None = None):
    """Convert a MyST chapter with jupytext and execute it with papermill (kernel python3).

    Checks that exactly one cell is tagged `parameters` and that there is one `# ` title; returns the
    executed cells and all their text output joined.
    """
    import json
    import subprocess
    import sys

    jupytext = pytest.importorskip("jupytext", reason="jupytext is needed to convert the MyST chapter")
    papermill = pytest.importorskip("papermill", reason="papermill is needed to execute the chapter")
    nb = jupytext.read(notebook)
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{notebook.name} needs exactly one cell tagged `parameters`"
    fence, titles = False, 0
    for line in notebook.read_text().splitlines():  # one "# " title, outside code cells
        fence = not fence if line.startswith("```") else fence
        titles += line.startswith("# ") and not fence
    assert titles == 1, f"{notebook.name} needs exactly one '# ' title"
    ipynb, out = workdir / f"{notebook.stem}.ipynb", workdir / f"{notebook.stem}_out.ipynb"
    subprocess.run([sys.executable, "-m", "jupytext", "--to", "ipynb", "-o", str(ipynb), str(notebook)],
                   check=True, capture_output=True)
    papermill.execute_notebook(str(ipynb), str(out), kernel_name="python3", cwd=str(cwd or workdir),
                               parameters=parameters, progress_bar=False)
    cells = json.loads(out.read_text())["cells"]
    text = "".join("".join(o.get("text", "")) for c in cells for o in c.get("outputs", []))
    return cells, text


