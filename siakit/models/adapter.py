"""The one model adapter: what kind of model this is, resolved once, and how to call it.

    >>> import torch
    >>> from siakit.models.tiny import tiny_model
    >>> adapter = adapt(tiny_model("gemma3").model)
    >>> adapter.family, adapter.mask_form, adapter.window
    ('gemma3_text', 'bool', 16)
    >>> ids = torch.tensor([[1, 2, 3, 4, 5, 6]])             # [batch, seq]
    >>> adapter.call(ids, keep=torch.tensor([5])).shape     # [batch, 1, vocab]: the logits of position 5 only
    torch.Size([1, 1, 384])

Nothing else in siakit asks whether a model is a transformers model: the rest of siakit asks the
adapter what the model can do. The adapter knows:

- `is_hf`: a transformers `PreTrainedModel` (config, `generate`, KV cache, 2-D padding masks); any
  other torch module follows the protocol in `siakit.scorer.score` (4-D bool masks, `logits_to_keep`).
  Only this package reads it; the others ask the capabilities it implies: `supports_kv_cache`
  (`new_cache`, `call(cache=...)`), `padding_mask` (the mask of a right-padded causal batch),
  `attention_implementation` and `set_attention_implementation`; likewise `takes_block_mask` and
  `additive_dense_mask` answer for `mask_form` below;
- `mask_form`: the form a custom 4-D attention mask must take: `bool` (sdpa, protocol modules; True =
  may attend), `additive` (eager, e.g. Gemma-2's default because of soft-capping: 0 / -inf floats),
  `flex` (a FlexAttention `BlockMask`), or `none` (flash-attention kernels, protocol modules without
  mask arguments: the tree methods cannot run and the scorer falls back);
- `window` / `mixed_window`: the sliding window, and whether sliding and full layers mix (then masks go
  in as a dict, because transformers passes a 4-D mask through untouched and would drop the window);
- `fp32_head`: whether the lm_head is applied in float32 at the read positions (half-precision models
  of known families: bf16 logits alone move entropies by ~1e-2 nats between equal methods);
- `context`: the longest sequence its positions support.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

# Architectures whose logits are exactly lm_head(final hidden state), up to Gemma's final soft-cap.
_PLAIN_HEAD = {"llama", "qwen2", "qwen3", "mistral", "gemma", "gemma2", "gemma3_text", "olmo", "olmo2",
               "olmo3", "gpt2", "phi3", "smollm3"}


@dataclass(frozen=True)
class ModelAdapter:
    model: Any = field(repr=False)  # the torch module itself
    is_hf: bool                     # transformers PreTrainedModel (KV cache, generate, config)
    family: str | None              # config.model_type ("llama", "gemma3_text", ...); None for protocol modules
    mask_form: str                  # bool | additive | flex | none (see the module docstring)
    window: int | None              # sliding window of any layer (None: no layer slides)
    mixed_window: bool              # sliding and full layers mixed: masks go in as a dict
    context: int | None             # longest sequence the positions support (None: unknown)
    fp32_head: bool                 # lm_head in float32 at the read positions
    cache_arg: str | None           # name of the KV-cache argument (None: no cache)
    native_keep: bool               # forward takes `logits_to_keep`
    vocab_size: int | None          # size of the output distribution

    @property
    def accepts_custom_mask(self) -> bool:
        """Whether the tree methods (any 4-D mask with explicit position ids) can run."""
        return self.mask_form != "none"

    @property
    def takes_block_mask(self) -> bool:
        """Whether the model takes a FlexAttention `BlockMask` (a flex_attention transformers model)."""
        return self.mask_form == "flex"

    @property
    def additive_dense_mask(self) -> bool:
        """Whether a dense mask goes in as additive floats (0 / the dtype's min) rather than bool:
        eager attention, and flex_attention (which adds a dense tensor to the scores)."""
        return self.mask_form in ("additive", "flex")

    @property
    def supports_kv_cache(self) -> bool:
        """Whether `new_cache` and `call(..., cache=)` work (transformers models; protocol modules do not)."""
        return self.is_hf

    @property
    def attention_implementation(self) -> str | None:
        """The attention kernel a transformers model runs ("sdpa", "eager", "flex_attention", ...);
        None for a protocol module."""
        return self.model.config._attn_implementation if self.is_hf else None

    def set_attention_implementation(self, name: str) -> "ModelAdapter":
        """Switch the model's attention kernel to `name` in place; returns the adapter resolved anew
        (its `mask_form` follows the kernel). Transformers models only."""
        if not self.is_hf:
            raise ValueError(f"set_attention_implementation({name!r}): only a transformers model has one")
        if hasattr(self.model, "set_attn_implementation"):
            self.model.set_attn_implementation(name)
        else:  # older transformers
            self.model.config._attn_implementation = name
        return adapt(self.model)

    def padding_mask(self, valid):
        """The attention mask of a right-padded batch under plain causal attention; `valid` [batch, q]
        bool (True = a real token). A transformers model takes the 2-D padding mask [batch, q] (long)
        and builds causal & padding itself; a protocol module takes a 4-D bool mask [batch, 1, q, q].

            valid [[True, True, False]] -> transformers: [[1, 1, 0]]; protocol: causal & key valid
        """
        import torch

        if self.is_hf:
            return valid.long()
        width = valid.shape[1]
        causal = torch.ones(width, width, dtype=torch.bool, device=valid.device).tril()
        return (causal[None] & valid[:, None, :])[:, None]

    @property
    def device(self):
        return next(self.model.parameters()).device

    @property
    def dtype(self):
        return next(self.model.parameters()).dtype

    def call(self, ids, pos=None, mask=None, keep=None, cache=None):
        """One forward pass on `ids` [batch, q]; returns logits [batch, q', vocab] at the sequence
        indices `keep` (1-D long tensor; None = all). `mask`: None (plain causal), a 2-D padding mask
        [batch, q] (transformers only), or a mask in `mask_form` from `siakit.scorer.masks`."""
        kwargs = {"input_ids": ids}
        if pos is not None:
            kwargs["position_ids"] = pos
        if mask is not None:
            kwargs["attention_mask"] = mask
        if cache is not None:
            kwargs[self.cache_arg] = cache
            kwargs["use_cache"] = True
        elif self.supports_kv_cache:
            kwargs["use_cache"] = False
        if self.fp32_head:
            return self._fp32_head_logits(kwargs, keep)
        if keep is not None and self.native_keep:
            kwargs["logits_to_keep"] = keep
        logits = self.model(**kwargs).logits
        if keep is not None and not self.native_keep:
            logits = logits[:, keep]
        return logits

    def _fp32_head_logits(self, kwargs, keep):
        import torch.nn.functional as F

        hidden = self.model.base_model(**kwargs).last_hidden_state  # [batch, q, d], after the final norm
        if keep is not None:
            hidden = hidden[:, keep]
        head = self.model.get_output_embeddings()
        bias = None if getattr(head, "bias", None) is None else head.bias.float()
        logits = F.linear(hidden.float(), head.weight.float(), bias)  # [batch, q', vocab]
        cap = getattr(self.model.config, "final_logit_softcapping", None)
        return (logits / cap).tanh() * cap if cap else logits

    def new_cache(self):
        """An empty KV cache (transformers models only). Config-less: every layer keeps all keys, and
        the masks apply any window."""
        if not self.supports_kv_cache:
            raise ValueError("a KV cache needs a transformers model; use method tree or naive")
        from transformers import DynamicCache

        return DynamicCache()

    @staticmethod
    def can_stack_caches(cache) -> bool:
        """Whether `stack_caches` can add rows to `cache`: every layer a plain (full) DynamicLayer."""
        layers = getattr(cache, "layers", None)
        return bool(layers) and all(type(layer).__name__ == "DynamicLayer" and getattr(layer, "is_initialized", False)
                                    for layer in layers)

    @staticmethod
    def stack_caches(a, b):
        """Rows of cache `b` appended to cache `a` (both `can_stack_caches`), each left-padded with zero keys
        and values to the longer length: per layer [Ba, H, Ta, D] + [Bb, H, Tb, D] -> [Ba + Bb, H, max, D].
        The caller's 2-D padding mask must mark the padded slots 0 (`siakit.models.shared_prefill`)."""
        import torch

        if len(a.layers) != len(b.layers):
            raise ValueError(f"stack_caches: {len(a.layers)} layers against {len(b.layers)}")
        for la, lb in zip(a.layers, b.layers):
            width = max(la.keys.shape[-2], lb.keys.shape[-2])
            for name in ("keys", "values"):
                x, y = getattr(la, name), getattr(lb, name)
                setattr(la, name, torch.cat([_pad_time(x, width), _pad_time(y, width)], dim=0))
        return a

    @staticmethod
    def drop_leading(cache, n: int) -> None:
        """Drop the first `n` time slots of every layer of a stackable cache (slots that are padding in
        every row, once the rows that needed them have left): [B, H, T, D] -> [B, H, T - n, D]."""
        for layer in cache.layers:
            layer.keys, layer.values = layer.keys[:, :, n:], layer.values[:, :, n:]

    @staticmethod
    def crop(cache, length: int) -> None:
        """Cut a DynamicCache back to its first `length` tokens (a negative argument means 'remove that
        many' in both the old and the new transformers crop APIs)."""
        current = cache.get_seq_length()
        if current > length:
            cache.crop(length - current)


def _pad_time(x, width: int):
    """Zeros on the left of the time axis: [B, H, T, D] -> [B, H, width, D]."""
    import torch.nn.functional as F

    return x if x.shape[-2] == width else F.pad(x, (0, 0, width - x.shape[-2], 0))


def _is_hf(model) -> bool:
    try:
        from transformers import PreTrainedModel
    except ImportError:  # pragma: no cover - transformers is a dependency
        return False
    return isinstance(model, PreTrainedModel)


def _sliding(cfg) -> tuple[int | None, bool]:
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


def _context(model) -> int | None:
    cfg = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions", "max_seq_len", "block_size"):
        value = getattr(cfg, name, None) if cfg is not None else getattr(model, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def adapt(model) -> ModelAdapter:
    """Resolve everything the scorer needs to know about `model`, once."""
    import torch

    forward = getattr(model, "forward", None)  # None: a generate-only stand-in (it cannot be scored)
    params = set(inspect.signature(forward).parameters) if forward is not None else set()
    hf = _is_hf(model)
    if hf:
        cfg = model.config
        text_cfg = cfg.get_text_config(decoder=True) if hasattr(cfg, "get_text_config") else cfg
        impl = cfg._attn_implementation
        form = {"eager": "additive", "sdpa": "bool", "flex_attention": "flex"}.get(impl, "none")
        window, mixed = _sliding(text_cfg)
        family = getattr(cfg, "model_type", None)
        dtype = next(model.parameters()).dtype
        fp32 = dtype in (torch.bfloat16, torch.float16) and family in _PLAIN_HEAD
        cache_arg = "cache" if "cache" in params else "past_key_values"
        vocab = getattr(text_cfg, "vocab_size", None)
    else:
        custom = getattr(model, "accepts_custom_mask", True) is not False
        form = "bool" if custom and {"attention_mask", "position_ids"} <= params else "none"
        window, mixed, family, fp32, cache_arg = None, False, None, False, None
        vocab = getattr(getattr(model, "config", None), "vocab_size", None)
    return ModelAdapter(model=model, is_hf=hf, family=family, mask_form=form, window=window,
                        mixed_window=mixed, context=_context(model), fp32_head=fp32, cache_arg=cache_arg,
                        native_keep="logits_to_keep" in params, vocab_size=vocab)
