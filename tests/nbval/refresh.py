"""Re-record the stored outputs of the chapter cells marked `# NBVAL_CHECK_OUTPUT`.

    python tests/nbval/refresh.py notebooks/01_sia_theory.md     # writes tests/nbval/01_sia_theory.json

Run it only when a changed number is intended; `tests/test_nbval.py` then checks that a fresh
execution prints exactly these outputs (nbval, `--nbval-lax`: only the marked cells are compared).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARK = "# NBVAL_CHECK_OUTPUT"  # alone on its line: nbval matches the whole comment


def marked_cells(nb) -> list[int]:
    """Indices of the code cells whose source carries the nbval marker."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and MARK in c.source.splitlines()]


def first_line(source: str) -> str:
    """The cell's first line after the marker: how a stored output finds its cell again."""
    return next((line for line in source.splitlines() if line.strip() and not line.startswith("#")), "")


def refresh(source: Path) -> Path:
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(source.parent)}}).execute()
    stored = [{"first_line": first_line(nb.cells[i].source), "outputs": nb.cells[i].outputs}
              for i in marked_cells(nb)]
    out = HERE / f"{source.stem}.json"
    out.write_text(json.dumps(stored, indent=1, default=dict) + "\n")
    return out


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print("wrote", refresh(Path(arg).resolve()))
