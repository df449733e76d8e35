"""A tiny GPT in pure torch (nanoGPT-style), speaking the scorer's model protocol.

`forward(input_ids [b, q], attention_mask=None, position_ids=None [b, q], logits_to_keep=None)`
returns an object with `.logits [b, q', vocab]`. `attention_mask` may be None (causal), a 2-D
padding mask `[b, k]` (1 = real token, combined with causality), or a 4-D mask `[b, 1, q, k]`
(bool: True = may attend; float: added to the scores) used as given, which is how the scorer reads
every prefix of a trace in one pass. `logits_to_keep` is an int (last n positions; 0 = all) or a
1-D LongTensor of positions. A key/value cache (`past_key_values`, `use_cache`) serves sampling.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from types import SimpleNamespace

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    vocab_size: int = 21         # set from the world's vocabulary
    block_size: int = 96         # most positions the model can read (a toy trace is < 60 tokens)
    n_layer: int = 4             # transformer blocks: several, so a running sum can be carried along
    n_head: int = 4              # attention heads per block
    n_embd: int = 128            # width; 4 layers x 128 is ~0.8 M parameters
    dropout: float = 0.0         # the data are fresh samples of a law, overfitting is not the issue
    model_type: str = "siakit-toy-gpt"  # recorded with results, like a transformers config

    @property
    def max_position_embeddings(self) -> int:  # the name transformers code looks for
        return self.block_size


class SelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head, self.dropout = cfg.n_head, cfg.dropout
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)

    def forward(self, x, mask, past=None):
        """x [b, q, d], mask None (causal) or additive float [b|1, 1, q, k]; past (k, v) [b, h, t, d/h]."""
        b, q, d = x.shape
        qh, kh, vh = (t.view(b, q, self.n_head, d // self.n_head).transpose(1, 2)
                      for t in self.qkv(x).split(d, dim=2))
        if past is not None:
            kh, vh = torch.cat([past[0], kh], dim=2), torch.cat([past[1], vh], dim=2)
        causal = mask is None and q > 1
        if mask is None and past is not None and q > 1:  # extending a cache by several tokens
            t = kh.shape[2]
            mask = _additive(torch.ones(q, t, dtype=torch.bool, device=x.device).tril(t - q), x.dtype)
            causal = False
        y = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask, is_causal=causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(b, q, d)), (kh, vh)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(cfg.n_embd), SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd), nn.Dropout(cfg.dropout))

    def forward(self, x, mask, past=None):
        a, kv = self.attn(self.ln1(x), mask, past)
        x = x + a
        return x + self.mlp(self.ln2(x)), kv


def _additive(allowed: torch.Tensor, dtype) -> torch.Tensor:
    """Bool mask (True = may attend) -> additive float mask; a large finite negative avoids NaN rows."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, torch.finfo(dtype).min)


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.config = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.head.weight = self.wte.weight  # weight tying, as in GPT-2
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2's scaled init of residual projections
            if name.endswith(("proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)

    @property
    def device(self):
        return self.wte.weight.device

    @property
    def dtype(self):
        return self.wte.weight.dtype

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, input_ids, attention_mask=None, position_ids=None, logits_to_keep=None,
                past_key_values=None, use_cache=False, **unused):
        b, q = input_ids.shape
        start = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        if position_ids is None:
            position_ids = torch.arange(start, start + q, device=input_ids.device).expand(b, q)
        if int(position_ids.max()) >= self.config.block_size:
            raise ValueError(f"sequence position {int(position_ids.max())} >= block_size {self.config.block_size}")
        mask = attention_mask
        if mask is not None and mask.dim() == 2:  # [b, k] padding mask (1 = token): add causality
            k = mask.shape[1]
            causal = torch.ones(q, k, dtype=torch.bool, device=mask.device).tril(k - q)
            mask = causal[None, None] & mask.bool()[:, None, None, :]
        if mask is not None and mask.dtype == torch.bool:
            mask = _additive(mask, self.dtype)
        x = self.wte(input_ids) + self.wpe(position_ids)
        cache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, mask, None if past_key_values is None else past_key_values[i])
            cache.append(kv)
        x = self.ln_f(x)
        if isinstance(logits_to_keep, torch.Tensor):
            x = x[:, logits_to_keep.to(x.device)]
        elif logits_to_keep:
            x = x[:, -int(logits_to_keep):]
        return SimpleNamespace(logits=self.head(x), past_key_values=cache if use_cache else None)


def save_gpt(model: GPT, path, **extra) -> None:
    torch.save({"config": asdict(model.config), "state_dict": model.state_dict(), **extra}, path)

