"""The toy-world chapter executes end to end under papermill with the tiny preset."""
from pathlib import Path

from conftest import count_figures, execute_chapter

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02_toy_world.md"


def test_toy_chapter_executes(tmp_path):
    cells, text = execute_chapter(NOTEBOOK, tmp_path, {"preset": "tiny", "out": str(tmp_path / "toy")})
    figures = count_figures(cells)
    assert "Bayes curve non-increasing: True" in text
    assert "mean over prefixes of |model h_k - Bayes entropy of the same prefix|" in text  # per prefix
    assert figures == 4
    assert (tmp_path / "toy" / "summary.json").exists()
