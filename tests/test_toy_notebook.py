"""The toy-world chapter executes end to end under papermill with the tiny preset."""
from pathlib import Path

import json

import numpy as np
from conftest import execute_chapter

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02_toy_world.md"


def test_toy_chapter_executes(tmp_path):
    cells, text = execute_chapter(NOTEBOOK, tmp_path, {"preset": "tiny", "out": str(tmp_path / "toy")})
    errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    summary = json.loads((tmp_path / "toy" / "summary.json").read_text())
    bayes = np.array(summary["bayes_curve"])  # exact H(A | Q, C_1:k) of the world, nats
    assert np.all(np.diff(bayes) <= 1e-12) and bayes[0] > bayes[-1] >= 0
    assert summary["params"]["name"] == "tiny" and len(summary["checkpoints"]) >= 2
