"""Scoring a trace with thousands of prefixes in memory bounded by a chunk of prefixes.

A tree or kvtree pass keeps one logits row per read: K + 1 anchors plus every option token after
every prefix, each a [vocab] float32 row, and a [P, L] mask over all probes. At K = 2000 one-token
steps that is ~20,000 rows x 49,152 (SmolLM2) x 4 bytes, about 4 GB, before the softmax copies: memory
grows with K. Here a trace is cut into slices of at most `chunk` consecutive prefixes; each slice is
an ordinary TraceLayout (the same ids, cut after its last prefix; the bounds and active options of its
prefixes only), scored by the same method, and the per-prefix results are stacked again. Prefixes are
independent (each probe block sees only its own context), so the numbers are those of the whole pass.
Memory is then bounded by `chunk` whatever K is; the cost is re-reading the trunk once per slice
(plain causal attention, cheap beside the probes).

    >>> import numpy as np
    >>> from siakit.scorer.methods import METHODS, MethodOptions
    >>> lay = layouts[0]                           # K = 2: three prefixes (2001 -> 8 slices at chunk 256)
    >>> [s.bounds for s in split_prefixes(lay, chunk=2)]   # each slice's prefix ends
    [[16, 23], [29]]
    >>> opt, ent = run_chunked(METHODS["kvtree"].run, adapter, [lay], MethodOptions(), chunk=2)
    >>> whole_opt, whole_ent = METHODS["kvtree"].run(adapter, [lay], MethodOptions())
    >>> opt[0].shape, np.allclose(opt[0], whole_opt[0], atol=1e-5), np.allclose(ent[0], whole_ent[0], atol=1e-5)
    ((3, 2), True, True)
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from siakit.scorer.layout import TraceLayout

CHUNK_PREFIXES = 256  # prefixes per slice: ~2,600 logits rows (0.5 GB at SmolLM2's vocab) with 3 options


def split_prefixes(lay: TraceLayout, chunk: int) -> list[TraceLayout]:
    """`lay` as slices of at most `chunk` consecutive prefixes, each cut after its last prefix.

        split_prefixes(TraceLayout("t", [1, 2, 3, 4], [1, 2, 3, 4], [9], []), chunk=2)
        -> [TraceLayout(ids=[1, 2], bounds=[1, 2]), TraceLayout(ids=[1, 2, 3, 4], bounds=[3, 4])]
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1 prefix, got {chunk}")
    slices = []
    for start in range(0, len(lay.bounds), chunk):
        bounds = lay.bounds[start:start + chunk]
        active = None if lay.active is None else lay.active[start:start + chunk]
        slices.append(replace(lay, ids=lay.ids[:bounds[-1]], bounds=list(bounds), active=active))
    return slices


def run_chunked(run: Callable, adapter, layouts: list[TraceLayout], opts, chunk: int = CHUNK_PREFIXES):
    """`run(adapter, layouts, opts)` (a method of `siakit.scorer.methods`) with every layout of more
    than `chunk` prefixes scored slice by slice; layouts within the chunk go through `run` unchanged
    (together). Returns `(option_logprob [K+1, n_options] per trace, vocab_entropy [K+1] per trace)`."""
    small = [i for i, lay in enumerate(layouts) if len(lay.bounds) <= chunk]
    out_opt: list = [None] * len(layouts)
    out_ent: list = [None] * len(layouts)
    if small:
        opt, ent = run(adapter, [layouts[i] for i in small], opts)
        for j, i in enumerate(small):
            out_opt[i], out_ent[i] = opt[j], ent[j]
    for i, lay in enumerate(layouts):
        if out_opt[i] is not None:
            continue
        parts = [run(adapter, [piece], opts) for piece in split_prefixes(lay, chunk)]
        out_opt[i] = np.concatenate([p[0][0] for p in parts], axis=0)
        out_ent[i] = np.concatenate([p[1][0] for p in parts], axis=0)
    return out_opt, out_ent
