"""What the tree masks cost: a cache of FlexAttention block masks per shape bucket, and a clock on
every mask built (dense or block-sparse), which `siakit bench` reports next to the forward time.

Building a FlexAttention `BlockMask` costs 0.15-0.30 s at long lengths in PyTorch's own reports; the
same mask is asked for again whenever a pack with the same forest shape recurs (a bench's repeats,
another cue or option set over the same traces: the mask depends on positions and the forest's
numbering, never on token ids). `BLOCK_MASKS` keeps the last `MaskCache.size` of them, keyed by the
shape bucket (batch, query rows, keys, window) and a digest of the metadata they read.

    >>> from siakit.scorer.layout import TraceLayout
    >>> from siakit.scorer.masks import flex_block_mask
    >>> from siakit.scorer.packing import build_pack, pack_tensors
    >>> meta = pack_tensors([build_pack([TraceLayout("a", ids=[5, 6, 7], bounds=[2, 3], cue=[9], options=[[4]])])], "cpu")
    >>> BLOCK_MASKS.clear(); MASK_CLOCK.reset()
    >>> flex_block_mask(meta) is flex_block_mask(meta)    # the second is the kept one
    True
    >>> MASK_CLOCK.built, MASK_CLOCK.reused               # MASK_CLOCK.snapshot() adds the seconds
    (1, 1)
    >>> cache = MaskCache(size=1)                         # BLOCK_MASKS.get(key, build): build() on a miss only
    >>> cache.get("a", lambda: 1), cache.get("a", lambda: 2), cache.get("b", lambda: 3), cache.get("a", lambda: 4)
    (1, 1, 3, 4)
"""
from __future__ import annotations

import contextlib
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class MaskClock:
    """Seconds spent building masks, and how many were built or taken from the cache."""
    seconds: float = 0.0
    built: int = 0
    reused: int = 0

    def reset(self) -> None:
        self.seconds, self.built, self.reused = 0.0, 0, 0

    def snapshot(self) -> dict:
        return {"seconds": round(self.seconds, 6), "built": self.built, "reused": self.reused}

    @contextlib.contextmanager
    def timing(self):
        """Time the block (mask building); on CUDA the clock waits for the GPU at both ends."""
        _sync()
        began = time.perf_counter()
        try:
            yield
        finally:
            _sync()
            self.seconds += time.perf_counter() - began


def _sync() -> None:
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


MASK_CLOCK = MaskClock()


def meta_key(meta, rows, window) -> tuple:
    """The cache key of a mask over `meta`: shape bucket (batch, query rows, keys), window, and a
    digest of what the mask rule reads (positions only when a window applies; never token ids).

    meta_key(<meta [2, 384]>, None, None) -> (2, 0, 384, 384, None, '3f1c...')
    """
    n_batch, n = meta.ids.shape
    first = 0 if rows is None else int(rows[0])
    n_q = n if rows is None else int(rows.shape[0])
    digest = hashlib.blake2b(digest_size=16)
    for t in (meta.order, meta.subtree_end) + ((meta.pos,) if window is not None else ()):
        digest.update(t.detach().cpu().numpy().tobytes())
    return (n_batch, first, n_q, n, window, str(meta.ids.device), digest.hexdigest())


@dataclass
class MaskCache:
    """A least-recently-used cache of block masks (`size` kept)."""
    size: int = 32                    # block masks kept (each O(L^2 / 128^2) ints: small)
    entries: OrderedDict = field(default_factory=OrderedDict)

    def get(self, key, build):
        """The mask under `key`, built (and timed on `MASK_CLOCK`) with `build()` on a miss."""
        if key in self.entries:
            self.entries.move_to_end(key)
            MASK_CLOCK.reused += 1
            return self.entries[key]
        with MASK_CLOCK.timing():
            value = build()
        MASK_CLOCK.built += 1
        self.entries[key] = value
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return value

    def clear(self) -> None:
        self.entries.clear()


BLOCK_MASKS = MaskCache()
