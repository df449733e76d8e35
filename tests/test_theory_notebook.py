"""The theory chapter executes end to end under papermill with small parameters.

Every check cell of the chapter ends in asserts, so execution failing is the main signal; the
strings below pin the outcomes that the text of the chapter quotes.
"""
from pathlib import Path

from conftest import execute_chapter

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_sia_theory.md"


def test_theory_chapter_executes(tmp_path):
    cells, text = execute_chapter(NOTEBOOK, tmp_path, cwd=NOTEBOOK.parent,
                                  parameters={"n_worlds": 50, "n_questions": 2, "n_answers": 3,
                                              "n_symbols": 2, "n_steps": 3, "n_sampled": 120})
    assert "own-law entropy curve non-increasing in 100.0% of 50" in text
    assert "transfer bound violated in 0;" in text
    assert "accuracy non-decreasing as beta falls: tilt A in 100.0%, tilt B in 100.0% of 25 worlds" in text
    # the Fano counterexample: a readout (0.4, 0.2, 0.2, 0.2) that is always right
    assert "'Fano bound' at h_k: 0.60 (exact), 0.58 (weak form); the model's actual error: 0" in text
    # the worked example's hand values
    assert "H_k: [0.693 0.562 0.463] | I_k: [0.131 0.099] | P_e(k): [0.5  0.25 0.25]" in text
    tags = [c["metadata"].get("tags", []) for c in cells if c["cell_type"] == "code"]
    checks = [t for t in tags if "parameters" not in t and "injected-parameters" not in t]
    assert len(checks) >= 15 and all("hide-input" in t for t in checks)  # check code is folded
