"""Model calls for the scorer: how a tree mask reaches each kind of model, and the readout reduction.

Only this module (with `siakit.probes`) knows about attention masks. A transformers model gets the tree
mask in the form its attention implementation expects: a bool tensor for `sdpa` (True = attend), an
additive float tensor for `eager` (Gemma-2's default, because of soft-capping), a FlexAttention
`BlockMask` for `flex_attention`; models with sliding-window layers (Gemma-2/3) get a dict
`{"full_attention": m, "sliding_attention": m_window}`, because transformers passes a 4-D mask through
untouched and would otherwise drop the window. Any other torch module gets the bool tensor.
"""
from __future__ import annotations

import inspect

import numpy as np

from siakit.probes import dense_mask, flex_block_mask

MASK_IMPLEMENTATIONS = ("eager", "sdpa", "flex_attention")  # transformers attention that takes 4-D masks


def is_transformers(model) -> bool:
    """True for a transformers `PreTrainedModel` (config + cache machinery available)."""
    try:
        from transformers import PreTrainedModel
    except ImportError:  # pragma: no cover - transformers is a dependency
        return False
    return isinstance(model, PreTrainedModel)


def _params(model) -> set[str]:
    return set(inspect.signature(model.forward).parameters)


def accepts_custom_mask(model) -> bool:
    """Whether `model` can take an arbitrary 4-D attention mask plus explicit position ids.

    transformers models: when their attention implementation is eager, sdpa or flex_attention
    (flash-attention kernels cannot take one). Other modules: when `forward` has `attention_mask` and
    `position_ids` parameters, unless the module sets `accepts_custom_mask = False`.
    """
    if is_transformers(model):
        return model.config._attn_implementation in MASK_IMPLEMENTATIONS
    if getattr(model, "accepts_custom_mask", True) is False:
        return False
    return {"attention_mask", "position_ids"} <= _params(model)


def sliding_window(model) -> tuple[int | None, bool]:
    """(window, mixed): the sliding window of a transformers model if any layer uses one, and whether
    the model mixes sliding and full layers (then masks go in as a dict)."""
    if not is_transformers(model):
        return None, False
    cfg = model.config.get_text_config(decoder=True) if hasattr(model.config, "get_text_config") else model.config
    window = getattr(cfg, "sliding_window", None)
    types = getattr(cfg, "layer_types", None)
    if types is not None:
        sliding = [t == "sliding_attention" for t in types]
        if not any(sliding) or not window:
            return None, False
        return int(window), not all(sliding)
    if window and getattr(cfg, "use_sliding_window", True):  # e.g. Mistral: every layer slides
        return int(window), False
    return None, False


def max_context(model) -> int | None:
    """The longest sequence the model's positions support (None: unknown / unlimited)."""
    cfg = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions", "max_seq_len", "block_size"):
        value = getattr(cfg, name, None) if cfg is not None else getattr(model, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def cache_kwarg(model) -> str:
    """Name of the KV-cache argument (`cache` in transformers >= 5.2x, `past_key_values` before)."""
    return "cache" if "cache" in _params(model) else "past_key_values"


def model_mask(model, meta, rows=None, mask: str = "dense"):
    """The tree mask for query `rows` (default all) over every key, in the form `model` takes."""
    import torch

    window, mixed = sliding_window(model)
    if window is not None and int(meta["pos"].max()) < window:
        window = None  # the window never bites: one mask serves every layer
    if mask == "flex":
        full = flex_block_mask(meta, None, rows)
        slide = flex_block_mask(meta, window, rows) if window is not None else None
    else:
        full = dense_mask(meta, rows)
        slide = dense_mask(meta, rows, window) if window is not None else None
        if is_transformers(model) and model.config._attn_implementation == "eager":
            dtype = model.dtype
            def additive(m):
                return torch.zeros(m.shape, dtype=dtype, device=m.device).masked_fill_(~m, torch.finfo(dtype).min)
            full = additive(full)
            slide = additive(slide) if slide is not None else None
    if slide is None:
        return full
    return {"full_attention": full, "sliding_attention": slide} if mixed else slide


def call(model, ids, pos=None, mask=None, keep=None, cache=None):
    """One forward pass on `ids` [b, q]; returns logits [b, q', vocab] at the sequence indices `keep`
    (1-D long tensor; None = all). Uses `logits_to_keep` when the model has it."""
    kwargs = {"input_ids": ids}
    if pos is not None:
        kwargs["position_ids"] = pos
    if mask is not None:
        kwargs["attention_mask"] = mask
    if cache is not None:
        kwargs[cache_kwarg(model)] = cache
        kwargs["use_cache"] = True
    elif is_transformers(model):
        kwargs["use_cache"] = False
    if fp32_head_applies(model):
        return _fp32_head_logits(model, kwargs, keep)
    native_keep = keep is not None and "logits_to_keep" in _params(model)
    if native_keep:
        kwargs["logits_to_keep"] = keep
    logits = model(**kwargs).logits
    if keep is not None and not native_keep:
        logits = logits[:, keep]
    return logits


# Architectures whose logits are exactly lm_head(final hidden state), up to Gemma's final soft-cap.
_PLAIN_HEAD = {"llama", "qwen2", "qwen3", "mistral", "gemma", "gemma2", "gemma3_text", "olmo", "olmo2",
               "olmo3", "gpt2", "phi3", "smollm3"}


def fp32_head_applies(model) -> bool:
    """A half-precision transformers model of a known family: its lm_head is applied in float32 at the
    read positions (bf16 logits are quantised to ~0.06 at magnitude 10, which alone moves entropies
    by ~1e-2 nats between mathematically equal methods)."""
    import torch

    return (is_transformers(model) and model.dtype in (torch.bfloat16, torch.float16)
            and getattr(model.config, "model_type", None) in _PLAIN_HEAD)


def _fp32_head_logits(model, kwargs, keep):
    import torch.nn.functional as F

    hidden = model.base_model(**kwargs).last_hidden_state  # after the final norm
    if keep is not None:
        hidden = hidden[:, keep]
    head = model.get_output_embeddings()
    bias = None if getattr(head, "bias", None) is None else head.bias.float()
    logits = F.linear(hidden.float(), head.weight.float(), bias)
    cap = getattr(model.config, "final_logit_softcapping", None)
    return (logits / cap).tanh() * cap if cap else logits


def crop_cache(cache, length: int) -> None:
    """Cut a DynamicCache back to its first `length` tokens (a negative argument means 'remove that many'
    in both the old and the new transformers crop APIs)."""
    current = cache.get_seq_length()
    if current > length:
        cache.crop(length - current)


class NonFiniteLogits(FloatingPointError):
    """NaN or inf logits; the message names the trace(s)."""


def reduce_reads(logits, reads, n_docs, shapes, ids_of_docs):
    """Turn kept logits into per-trace results.

    `logits` [n_rows, vocab] (any dtype; log-softmax is done in float32); `reads` rows of
    (row, target, doc, k, option) with option -1 for the anchor. `shapes[d] = (K + 1, n_options)`.
    Returns (option_logprob: list of [K+1, n_options] float64 arrays, vocab_entropy: list of [K+1]).
    """
    import torch

    logp = logits.float().log_softmax(-1)
    bad = ~torch.isfinite(logp).all(-1)
    if bool(bad.any()):
        docs = sorted({ids_of_docs[r[2]] for r in reads if bool(bad[r[0]])})
        raise NonFiniteLogits(f"non-finite logits (NaN/inf) while scoring trace {', '.join(docs)}")
    r = torch.tensor([[x for x in read] for read in reads], dtype=torch.long, device=logp.device)
    opt = [np.zeros(s) for s in shapes]
    ent = [np.full(s[0], np.nan) for s in shapes]
    is_anchor = r[:, 4] < 0
    if bool(is_anchor.any()):
        a = r[is_anchor]
        rows = logp[a[:, 0]]
        h = -(rows.exp() * rows).sum(-1).double().cpu().numpy()
        for (d, k), value in zip(a[:, 2:4].tolist(), h):
            ent[d][k] = value
    o = r[~is_anchor]
    if o.shape[0]:
        values = logp[o[:, 0], o[:, 1]].double().cpu().numpy()
        for (d, k, j), value in zip(o[:, 2:5].tolist(), values):
            opt[d][k, j] += value
    return opt, ent
