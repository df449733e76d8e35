"""The theory chapter executes end to end under papermill with small parameters."""
from pathlib import Path

from conftest import execute_chapter

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_sia_theory.md"


def test_theory_chapter_executes(tmp_path):
    cells, text = execute_chapter(NOTEBOOK, tmp_path, cwd=NOTEBOOK.parent,
                                  parameters={"n_worlds": 50, "n_questions": 2, "n_answers": 3,
                                              "n_symbols": 2, "n_steps": 3})
    # the theorems' checks print their outcome; a failed theorem would show here
    assert "own entropy curve non-increasing in 100.0% of 50" in text
    assert "transfer bound violated in 0;" in text
    assert "accuracy non-decreasing as beta falls in 100.0% of worlds" in text
