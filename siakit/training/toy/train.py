"""Maximum-likelihood training of the tiny GPT on human traces, and its held-out fit to the data law.

`train_mle` runs AdamW on a fixed corpus of human traces (training stops included) and calls
`on_checkpoint(step, model)` at the requested steps (step 0 = the random initialisation).
`heldout_fit` gives the held-out NLL per token and KL(P_data || p_model) per trace, exact up to the
Monte-Carlo error of the held-out sample, because every human trace carries its data log-probability.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from siakit.training.toy.text import Codec
from siakit.training.toy.world import HumanTrace
from siakit.progress import progress_bar


@dataclass
class TrainConfig:
    n_train: int = 20000        # human traces in the training corpus (each is seen ~2 times)
    n_heldout: int = 1000       # held-out human traces for NLL and KL
    steps: int = 600            # optimizer steps
    batch_size: int = 64        # traces per step
    lr: float = 2e-3            # peak AdamW learning rate (tiny models tolerate a large one)
    warmup: int = 30            # linear warm-up steps, then cosine decay to lr / 10
    weight_decay: float = 0.01  # mild: the corpus is large relative to the model
    n_checkpoints: int = 6      # checkpoints at step 0 and then roughly log-spaced up to `steps`


def checkpoint_steps(steps: int, n: int) -> list[int]:
    """Step 0 plus n-1 roughly log-spaced steps ending at `steps`: checkpoint_steps(600, 5) -> [0, 25, 75, 210, 600]."""
    if n < 2 or steps < 1:
        return [0, steps] if steps else [0]
    grid = np.geomspace(max(steps / 24, 1), steps, n - 1)
    return sorted({0, *(int(round(g)) for g in grid)})


def encode_batch(codec: Codec, traces: list[HumanTrace]) -> torch.Tensor:
    """Token ids [n, L] of full human traces, right-padded with [PAD]."""
    seqs = [codec.encode(t.tokens()) for t in traces]
    ids = torch.full((len(seqs), max(map(len, seqs))), codec.pad)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
    return ids


def sequence_logprob(model, ids: torch.Tensor, pad: int) -> torch.Tensor:
    """log p(x_{2:L} | x_1) of each row of ids [n, L] (padding ignored) -> [n], nats."""
    logits = model(ids[:, :-1]).logits
    target = ids[:, 1:]
    lp = -F.cross_entropy(logits.transpose(1, 2), target, reduction="none")
    return (lp * (target != pad)).sum(1)


@torch.no_grad()
def heldout_fit(model, codec: Codec, heldout: list[HumanTrace], batch_size: int = 500) -> dict:
    """{"nll": model NLL per token, "nll_data": the data law's, "kl": KL(P_data || p) per trace} in nats."""
    model.eval()
    lp_model, n_tokens = [], 0
    for s in range(0, len(heldout), batch_size):
        ids = encode_batch(codec, heldout[s:s + batch_size]).to(model.device)
        lp_model.append(sequence_logprob(model, ids, codec.pad))
        n_tokens += int((ids[:, 1:] != codec.pad).sum())
    lp_model = torch.cat(lp_model).double().cpu().numpy()
    lp_data = np.array([t.logprob for t in heldout])
    return {"nll": float(-lp_model.sum() / n_tokens), "nll_data": float(-lp_data.sum() / n_tokens),
            "kl": float((lp_data - lp_model).mean())}


def lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(cfg.steps - cfg.warmup, 1)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


def train_mle(model, codec: Codec, corpus: list[HumanTrace], cfg: TrainConfig, seed: int,
              on_checkpoint: Callable[[int, torch.nn.Module], None] | None = None,
              progress: bool = True) -> list[float]:
    """Train `model` in place by MLE on `corpus`; returns the training loss of every step (nats/token)."""
    gen = torch.Generator().manual_seed(seed)
    ids = encode_batch(codec, corpus)
    ckpts = set(checkpoint_steps(cfg.steps, cfg.n_checkpoints))
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98))
    losses = []
    if on_checkpoint and 0 in ckpts:
        on_checkpoint(0, model)
    for step in progress_bar(range(1, cfg.steps + 1), desc="MLE training", enabled=progress, mininterval=2):
        model.train()
        batch = ids[torch.randint(0, len(ids), (cfg.batch_size,), generator=gen)]
        batch = batch[:, :int((batch != codec.pad).sum(1).max())].to(model.device)  # trim shared padding
        logits = model(batch[:, :-1]).logits
        loss = F.cross_entropy(logits.transpose(1, 2), batch[:, 1:], ignore_index=codec.pad)
        for g in opt.param_groups:
            g["lr"] = lr_at(step - 1, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        if on_checkpoint and step in ckpts:
            on_checkpoint(step, model)
    return losses
