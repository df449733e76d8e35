"""Progress bars: tqdm, switched off by the caller (`enabled=False`) or by `TQDM_DISABLE=1`.

The book runner sets `TQDM_DISABLE=1` for the notebooks it executes, so rendered pages do not carry
hundreds of bar updates; a terminal run of the same code keeps its bars.
"""
from __future__ import annotations

import os


def progress_bar(iterable=None, enabled: bool = True, **kwargs):
    """`tqdm.auto.tqdm(iterable, **kwargs)`, disabled when `enabled` is false or TQDM_DISABLE is set.

    progress_bar(range(3), enabled=False) -> a silent iterator over 0, 1, 2
    """
    from tqdm.auto import tqdm

    quiet = os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes")
    return tqdm(iterable, disable=(not enabled) or quiet, **kwargs)
