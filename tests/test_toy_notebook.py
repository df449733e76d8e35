"""The toy-world chapter executes end to end under papermill with the tiny preset."""
from pathlib import Path

import json

import numpy as np
from conftest import execute_chapter

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02_toy_world.md"


def test_toy_chapter_executes(tmp_path):
    import pandas as pd
    import pytest

    from siakit.training.toy.experiment import preset
    from siakit.training.toy.world import bayes_curve

    execute_chapter(NOTEBOOK, tmp_path, {"preset": "tiny", "out": str(tmp_path / "toy")})  # raises on a failing cell
    summary = json.loads((tmp_path / "toy" / "summary.json").read_text())
    bayes = np.array(summary["bayes_curve"])  # exact H(A | Q, C_1:k) of the world, nats
    assert np.all(np.diff(bayes) <= 1e-12) and bayes[0] > bayes[-1] >= 0
    assert bayes == pytest.approx(bayes_curve(preset("tiny").world))  # the chapter's world is the preset's
    # the summary's checkpoints are the ones whose scores were written, and its accuracies are theirs
    scores = pd.read_parquet(tmp_path / "toy" / "scores.parquet")
    mle = scores[scores.stage == "mle"]
    assert sorted(set(mle["checkpoint"])) == summary["checkpoints"] and len(summary["checkpoints"]) >= 2
    assert set(scores["stage"]) == {"mle", "rl"}
