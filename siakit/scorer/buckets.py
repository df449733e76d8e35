"""Fixed shapes for compiled kernels: packs padded to length buckets, and no dynamic-shape recompiles.

FlexAttention (and `torch.compile` of the model forward) compile one kernel per sequence length; every
new length recompiles (seconds on a GPU, tens of seconds on a CPU). Padding each pack to one of a few
bucket lengths (multiples of 128, the FlexAttention block) bounds the number of compiles, and
`static_shapes()` keeps the compiler from switching to dynamic-shape kernels on the second length
(on CPU, the FlexAttention C++ template fails to build for dynamic shapes in torch 2.13).

    >>> bucket_length(300)                     # the next multiple of 128
    384
    >>> from siakit.scorer.layout import TraceLayout
    >>> from siakit.scorer.packing import build_pack, pack_tensors
    >>> meta = pack_tensors([build_pack([TraceLayout("a", ids=[5, 6, 7], bounds=[2, 3], cue=[9], options=[[4]])])], "cpu")
    >>> padded = pad_columns(meta, 8)          # PackTensors [batch, 8] (384 in a real pass)
    >>> meta.ids.tolist(), padded.ids.tolist(), padded.pos.tolist()
    ([[5, 6, 7, 9, 9]], [[5, 6, 7, 9, 9, 0, 0, 0]], [[0, 1, 2, 2, 3, 0, 0, 0]])
    >>> # the pads attend only to themselves: each pad's order and subtree end hold its own column
    >>> (padded.order[0, 5:] - PAD_ORDER).tolist(), (padded.subtree_end[0, 5:] - PAD_ORDER).tolist()
    ([5, 6, 7], [6, 7, 8])
"""
from __future__ import annotations

import contextlib

from siakit.scorer.packing import PAD_ORDER, PackTensors

BLOCK = 128  # FlexAttention's block size: a bucket is a whole number of blocks


def bucket_length(n: int, block: int = BLOCK) -> int:
    """The bucket for a sequence of `n` tokens: the next multiple of max(`block`, 2^floor(log2 n) / 16),
    i.e. of 128 up to 4095 tokens, then 16 buckets per doubling (at most ~6% padding beyond 2048).

    bucket_length(1) -> 128; bucket_length(300) -> 384; bucket_length(1156) -> 1280; bucket_length(16640) -> 17408
    """
    if n <= 0:
        raise ValueError(f"bucket_length: a pack needs at least one token, got {n}")
    step = max(block, (1 << (n.bit_length() - 1)) // 16)
    return -(-n // step) * step


def pad_columns(meta: PackTensors, length: int) -> PackTensors:
    """`meta` [batch, L] with pad columns appended up to `length` (>= L). A pad is its own trace (a
    number after every real token, PAD_ORDER + column), seeing only itself: no real token sees it, and it produces
    no NaN row. Reads keep their indices (the pads come after every real token).

    pad_columns(<meta [1, 300]>, 384) -> meta [1, 384] with columns 300..383 pads
    """
    import torch

    n_batch, n = meta.ids.shape
    if length < n:
        raise ValueError(f"pad_columns: cannot pad {n} columns down to {length}")
    if length == n:
        return meta
    dev = meta.ids.device
    idx = torch.arange(n, length, device=dev).expand(n_batch, -1)  # [batch, pads]
    zeros = torch.zeros_like(idx)

    def cat(t, pads):
        return torch.cat([t, pads], dim=1)

    return PackTensors(ids=cat(meta.ids, zeros), pos=cat(meta.pos, zeros), order=cat(meta.order, PAD_ORDER + idx),
                       subtree_end=cat(meta.subtree_end, PAD_ORDER + idx + 1), n_trunk=meta.n_trunk)


RECOMPILES = 64  # compiled shapes kept per function: every bucket of a long run (the default 8 would
                 # silently fall back to eager after the 8th bucket)


@contextlib.contextmanager
def static_shapes():
    """Compile each new shape as its own static kernel (no automatic dynamic shapes) inside the block,
    keeping up to RECOMPILES of them per compiled function."""
    import torch._dynamo

    config = torch._dynamo.config
    name = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    with config.patch(automatic_dynamic_shapes=False, **{name: max(RECOMPILES, getattr(config, name))}):
        yield
