"""Attention masks of the tree pass: the only place in siakit that builds one.

    >>> m = dense_mask(meta)                     # [batch, 1, L, L] bool, True = may attend
    >>> tree_mask(adapter, meta, mask="dense")  # in the form the model takes (bool, additive, dict)

The rule (`allowed`) is written once and evaluated either densely or as a FlexAttention BlockMask.
A transformers model gets the mask in the form its attention implementation expects (the adapter's
`mask_form`): a bool tensor for `sdpa`, an additive float tensor for `eager`, a `BlockMask` for
`flex_attention`; models with sliding-window layers (Gemma-2/3) get a dict `{"full_attention": m,
"sliding_attention": m_window}`, because transformers passes a 4-D mask through untouched and would
otherwise drop the window.
"""
from __future__ import annotations

from siakit.scorer.packing import PackTensors


def allowed(meta: PackTensors, b, q, kv, window: int | None = None):
    """The tree rule, elementwise on index tensors `b` (batch row), `q`, `kv` (broadcastable): may
    query q see key kv?

    Same trace, and either kv is a trunk token before q's trunk limit, or kv is in q's own probe
    block, not after q, and on the shared cue or q's own option branch. With `window`, also
    position(q) - position(kv) < window (sliding-window layers).
    """
    doc, block, branch = meta.doc, meta.block, meta.branch
    bq, bkv = block[b, q], block[b, kv]
    trunk = (bkv < 0) & (kv < meta.trunk_end[b, q])
    probe = (bq >= 0) & (bkv == bq) & (kv <= q) & ((branch[b, kv] == 0) | (branch[b, kv] == branch[b, q]))
    ok = (doc[b, q] == doc[b, kv]) & (trunk | probe)
    if window is not None:
        ok = ok & (meta.pos[b, q] - meta.pos[b, kv] < window)
    return ok


def dense_mask(meta: PackTensors, rows=None, window: int | None = None):
    """Boolean mask [batch, 1, q, L] (True = may attend) for query rows `rows` (default: all L tokens)."""
    import torch

    n_batch, n = meta.ids.shape
    device = meta.ids.device
    kv = torch.arange(n, device=device)
    q = kv if rows is None else rows
    b = torch.arange(n_batch, device=device)
    return allowed(meta, b[:, None, None], q[None, :, None], kv[None, None, :], window)[:, None]


def flex_block_mask(meta: PackTensors, window: int | None = None, rows=None):
    """The same rule as a FlexAttention `BlockMask` (memory O(L^2 / 128^2), no dense L x L tensor)."""
    from torch.nn.attention.flex_attention import create_block_mask

    n_batch, n = meta.ids.shape
    offset = 0 if rows is None else int(rows[0])
    n_q = n if rows is None else rows.shape[0]

    def mask_mod(b, h, q_idx, kv_idx):
        return allowed(meta, b, q_idx + offset, kv_idx, window)

    return create_block_mask(mask_mod, B=n_batch, H=None, Q_LEN=n_q, KV_LEN=n, device=meta.ids.device)


def tree_mask(adapter, meta: PackTensors, rows=None, mask: str = "dense"):
    """The tree mask for query `rows` (default all) over every key, in the form `adapter` takes."""
    import torch

    window, mixed = adapter.window, adapter.mixed_window
    if window is not None and int(meta.pos.max()) < window:
        window = None  # the window never bites: one mask serves every layer
    if mask == "flex":
        full = flex_block_mask(meta, None, rows)
        slide = flex_block_mask(meta, window, rows) if window is not None else None
    else:
        full = dense_mask(meta, rows)
        slide = dense_mask(meta, rows, window) if window is not None else None
        if adapter.mask_form == "additive":
            dtype = adapter.dtype

            def additive(m):
                return torch.zeros(m.shape, dtype=dtype, device=m.device).masked_fill_(~m, torch.finfo(dtype).min)
            full = additive(full)
            slide = additive(slide) if slide is not None else None
    if slide is None:
        return full
    return {"full_attention": full, "sliding_attention": slide} if mixed else slide
