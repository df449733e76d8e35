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
    import warnings

    quiet = os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes")
    if quiet or not enabled:  # the plain class: tqdm.auto would warn in a kernel without ipywidgets
        from tqdm.std import tqdm

        return tqdm(iterable, disable=True, **kwargs)
    from tqdm import TqdmWarning

    with warnings.catch_warnings():  # "IProgress not found": a text bar is fine, say nothing
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm

        return tqdm(iterable, **kwargs)
