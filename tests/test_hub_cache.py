"""Hugging Face ids from the local hub cache, offline: what a user with a pre-downloaded model has.

A tiny model is written into the hub cache layout under a temporary HF_HOME
(`hub/models--org--tiny/{refs/main, snapshots/<commit>/...}`); with HF_HUB_OFFLINE=1,
`siakit score --model org/tiny` resolves it there and scores end to end. An id that is neither cached
nor reachable fails with one line naming both ways out.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from siakit.data.traces import Trace, write_traces

REPO = Path(__file__).resolve().parents[1]
COMMIT = "0123456789abcdef0123456789abcdef01234567"  # any 40-hex snapshot name, as the hub writes


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory) -> Path:
    from siakit.models.tiny import tiny_model

    home = tmp_path_factory.mktemp("hf-home")
    repo = home / "hub" / "models--org--tiny"
    snapshot = repo / "snapshots" / COMMIT
    lm = tiny_model("llama")
    lm.model.save_pretrained(snapshot)
    lm.tokenizer.save_pretrained(snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    return home


def _siakit(args: list[str], hf_home: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1",
           "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    env.pop("HF_HUB_CACHE", None)
    env.pop("HUGGINGFACE_HUB_CACHE", None)
    return subprocess.run([sys.executable, "-m", "siakit", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_score_a_hub_id_from_the_local_cache_offline(hf_home, tmp_path):
    write_traces(tmp_path / "t.jsonl", [Trace(id=f"q{i}", prompt=f"Question {i}: 3 + 5?", dataset="mine",
                                              steps=[f"\nStep {j}: 3 + 5 = 8." for j in range(i + 1)],
                                              options=[" 8", " 9", " 7"], gold="8") for i in range(2)])
    done = _siakit(["score", "--model", "org/tiny", "--traces", "t.jsonl", "--out", "s.parquet"], hf_home, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    scores = pd.read_parquet(tmp_path / "s.parquet")
    assert scores.id.tolist() == ["q0"] * 2 + ["q1"] * 3 and scores.n_options.eq(3).all()
    assert set(scores.model) == {"org__tiny"} and scores.entropy.between(0, 1.0987).all()
    from siakit.experiment.commands import stored_parameters

    recorded = stored_parameters(tmp_path / "s.parquet")["model_files"]  # a resume with other weights is refused
    assert recorded["snapshot"] == COMMIT and "model.safetensors" in recorded["files"]
    # the same numbers as the same weights loaded from the snapshot folder directly
    direct = _siakit(["score", "--model", str(hf_home / "hub" / "models--org--tiny" / "snapshots" / COMMIT),
                      "--traces", "t.jsonl", "--out", "d.parquet"], hf_home, tmp_path)
    assert direct.returncode == 0, direct.stderr[-3000:]
    assert pd.read_parquet(tmp_path / "d.parquet").entropy.round(6).tolist() == scores.entropy.round(6).tolist()


def test_an_id_neither_cached_nor_reachable_names_both_ways_out(hf_home, tmp_path):
    write_traces(tmp_path / "t.jsonl", [Trace(id="q0", prompt="Q?", steps=["a"], options=[" 1", " 2"], gold="1")])
    done = _siakit(["score", "--model", "org/absent", "--traces", "t.jsonl", "--out", "s.parquet"], hf_home, tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("siakit score: error: Hugging Face model 'org/absent' is not in the local hub cache")
    assert str(hf_home / "hub") in line                      # where it looked
    assert "hf download org/absent" in line                  # way out 1: download it once where the hub is reachable
    assert "a local model folder" in line                    # way out 2: give a folder, .gguf file or embedded name
