"""The theory chapter executes end to end under papermill with small parameters.

Every check cell of the chapter ends in asserts on the proved results, so execution without an error
is the signal here; the printed numbers at the default parameters are pinned by tests/test_nbval.py.
"""
from pathlib import Path

from conftest import execute_chapter

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_sia_theory.md"


def test_theory_chapter_executes(tmp_path):
    cells, text = execute_chapter(NOTEBOOK, tmp_path, cwd=NOTEBOOK.parent,
                                  parameters={"n_worlds": 50, "n_questions": 2, "n_answers": 3,
                                              "n_symbols": 2, "n_steps": 3, "n_sampled": 120})
    errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors and text
    tags = [c["metadata"].get("tags", []) for c in cells if c["cell_type"] == "code"]
    checks = [t for t in tags if "parameters" not in t and "injected-parameters" not in t
              and "remove-cell" not in t]  # the hidden Colab/Binder setup cell (siakit.report.launch)
    assert len(checks) >= 15 and all("hide-input" in t for t in checks)  # check code is folded
