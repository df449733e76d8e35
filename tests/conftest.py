"""Shared pytest fixtures. Keep this file minimal; append fixtures below, one idea each."""
from __future__ import annotations

from pathlib import Path

import pytest

from siakit.data import data_roots

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
