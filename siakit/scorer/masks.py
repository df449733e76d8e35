"""Attention masks of the tree pass: the only place in siakit that builds one.

    >>> from siakit.scorer.layout import TraceLayout
    >>> from siakit.scorer.packing import build_pack, pack_tensors
    >>> lays = [TraceLayout(i, ids=[5, 6, t], bounds=[2, 3], cue=[9], options=[[4]]) for i, t in (("a", 7), ("b", 8))]
    >>> meta = pack_tensors([build_pack(lays)], "cpu")   # tokens 5 6 7 8 | 9 9 9 (the cue after 6, 7 and 8)
    >>> m = dense_mask(meta)                     # [batch, 1, L, L] bool, True = may attend
    >>> m.shape, m[0, 0].int()                   # row q: the keys q sees (its ancestors and itself)
    (torch.Size([1, 1, 7, 7]), tensor([[1, 0, 0, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0, 0],
            [1, 1, 1, 0, 0, 0, 0],
            [1, 1, 0, 1, 0, 0, 0],
            [1, 1, 0, 0, 1, 0, 0],
            [1, 1, 1, 0, 0, 1, 0],
            [1, 1, 0, 1, 0, 0, 1]], dtype=torch.int32))
    >>> adapter.mask_form, tree_mask(adapter, meta, mask="dense").dtype   # in the form the model takes
    ('bool', torch.bool)

The rule (`allowed`: a key is visible when it is the query or one of its ancestors in the pack's
token forest, `order[kv] <= order[q] < subtree_end[kv]`, see `siakit.scorer.packing`) is written once
and evaluated either densely or as a FlexAttention BlockMask (cached and clocked: `mask_cost`).
A transformers model gets the mask in the form its attention implementation expects (the adapter's
`mask_form`): a bool tensor for `sdpa`, an additive float tensor for `eager`, a `BlockMask` for
`flex_attention`; models with sliding-window layers (Gemma-2/3) get a dict `{"full_attention": m,
"sliding_attention": m_window}`, because transformers passes a 4-D mask through untouched and would
otherwise drop the window. A dense mask for a `flex_attention` model is additive: transformers turns a
dense tensor on that path into a `score_mod` that *adds* it to the scores (a bool would add 0 / 1).

`resolve_mask(adapter, "auto")` picks the form per device: the FlexAttention `BlockMask` only where it
wins (`FLEX_WINS`: CUDA, for models loaded with `flex_attention`), the dense mask elsewhere.
"""
from __future__ import annotations

from siakit.scorer.mask_cost import BLOCK_MASKS, MASK_CLOCK, meta_key
from siakit.scorer.packing import PackTensors


def allowed(meta: PackTensors, b, q, kv, window: int | None = None):
    """The tree rule, elementwise on index tensors `b` (batch row), `q`, `kv` (broadcastable): may
    query q see key kv? Exactly when kv is q or one of its ancestors in the token forest
    (`siakit.scorer.packing`): order[kv] <= order[q] < subtree_end[kv]. With `window`, also
    position(q) - position(kv) < window (sliding-window layers; position = depth).
    """
    oq = meta.order[b, q]
    ok = (meta.order[b, kv] <= oq) & (oq < meta.subtree_end[b, kv])
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


# Device types where the FlexAttention BlockMask beats the dense mask for the tree pass. CUDA: the
# H100 run of 2026-11-26 had tree-flex at 213 ms against 270 ms for the dense-mask tree (T=16k, K=64),
# and FlexAttention skips whole 128 x 128 blocks. CPU: FlexAttention compiles a C++ kernel per shape
# (tens of seconds) and runs slower than SDPA with a dense mask, so CPU stays dense.
FLEX_WINS = ("cuda",)
MASKS = ("auto", "dense", "flex")


def resolve_mask(adapter, mask: str = "auto") -> str:
    """The mask form actually used: `auto` -> flex where it wins (`FLEX_WINS`, a `flex_attention`
    model), else dense. A BlockMask needs the `flex_attention` implementation.

    resolve_mask(<sdpa model on cuda>, "auto") -> "dense"; resolve_mask(<flex model on cpu>, "auto") -> "dense"
    """
    if mask not in MASKS:
        raise ValueError(f"unknown mask '{mask}'; use one of {MASKS}")
    if mask == "auto":
        return "flex" if adapter.takes_block_mask and adapter.device.type in FLEX_WINS else "dense"
    if mask == "flex" and not adapter.takes_block_mask:
        raise ValueError(f"mask='flex' needs a model loaded with attn_implementation='flex_attention' "
                         f"(this one takes '{adapter.mask_form}' masks); use mask='dense' or 'auto'")
    return mask


def _block_mask_builder(device):
    """(create_block_mask, extra kwargs) for `device`. On CUDA the mask is built compiled, so no dense
    L x L tensor exists even while building it: `_compile=True` where this torch takes it (2.5-2.13),
    else `torch.compile(create_block_mask)` (the form newer torch recommends). On CPU the eager
    builder (it evaluates the rule densely, which is cheap at CPU sizes and needs no C++ compile)."""
    import inspect

    import torch
    from torch.nn.attention.flex_attention import create_block_mask

    if device.type != "cuda":
        return create_block_mask, {}
    if "_compile" in inspect.signature(create_block_mask).parameters:
        return create_block_mask, {"_compile": True}
    global _COMPILED_BUILDER
    if _COMPILED_BUILDER is None:
        _COMPILED_BUILDER = torch.compile(create_block_mask)
    return _COMPILED_BUILDER, {}


_COMPILED_BUILDER = None  # torch.compile(create_block_mask), made once on first use


def flex_block_mask(meta: PackTensors, window: int | None = None, rows=None):
    """The same rule as a FlexAttention `BlockMask` (memory O(L^2 / 128^2); built compiled on CUDA, so
    no dense L x L tensor exists even while building it). Kept in `mask_cost.BLOCK_MASKS`: a pack with
    the same forest numbering (and positions, under a window) reuses it."""
    n_batch, n = meta.ids.shape
    offset = 0 if rows is None else int(rows[0])
    n_q = n if rows is None else rows.shape[0]

    def mask_mod(b, h, q_idx, kv_idx):
        return allowed(meta, b, q_idx + offset, kv_idx, window)

    device = meta.ids.device

    def build():
        make, extra = _block_mask_builder(device)
        return make(mask_mod, B=n_batch, H=None, Q_LEN=n_q, KV_LEN=n, device=device, **extra)
    return BLOCK_MASKS.get(meta_key(meta, rows, window), build)


def tree_mask(adapter, meta: PackTensors, rows=None, mask: str = "dense"):
    """The tree mask for query `rows` (default all) over every key, in the form `adapter` takes."""
    import torch

    window, mixed = adapter.window, adapter.mixed_window
    if window is not None and int(meta.pos.max()) < window:
        window = None  # the window never bites: one mask serves every layer
    if mask == "flex":  # cached and clocked in mask_cost
        full = flex_block_mask(meta, None, rows)
        slide = flex_block_mask(meta, window, rows) if window is not None else None
    else:
        with MASK_CLOCK.timing():
            full = dense_mask(meta, rows)
            slide = dense_mask(meta, rows, window) if window is not None else None
            if adapter.additive_dense_mask:  # flex: a dense tensor is added to the scores
                dtype = adapter.dtype

                def additive(m):
                    return torch.zeros(m.shape, dtype=dtype, device=m.device).masked_fill_(~m, torch.finfo(dtype).min)
                full = additive(full)
                slide = additive(slide) if slide is not None else None
        MASK_CLOCK.built += 1
    if slide is None:
        return full
    return {"full_attention": full, "sliding_attention": slide} if mixed else slide
