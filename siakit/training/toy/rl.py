"""RL-style reinforcement of a toy model: REINFORCE with reward 1[correct] and a KL penalty.

The objective is the KL-regularised one whose optimum is p*(c|q) ∝ p_ref(c|q) exp(r(q, c) / beta)
(the RL tilt of the theory chapter, our formalisation): per episode the shaped reward is
`r - beta * (log p(c|q) - log p_ref(c|q))`, summed over the tokens the model wrote (slots 1 and 2),
with a leave-one-out baseline over the `samples` episodes of each question (RLOO). The world's
tokens (looked-up values, the forced `answer`) are not actions, so they carry no gradient.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from siakit.models.objectives import kl_shaped_update
from siakit.training.toy.rollout import constrained_logits, rollout
from siakit.training.toy.text import Codec
from siakit.training.toy.world import sample_problem
from siakit.progress import progress_bar


@dataclass
class RLConfig:
    steps: int = 50             # policy-gradient updates
    questions: int = 16         # fresh problems per update
    samples: int = 8            # episodes per problem (the leave-one-out baseline needs >= 2)
    lr: float = 2e-4            # AdamW learning rate: small, the start model is already good
    beta: float = 0.05          # KL penalty weight: larger keeps the policy closer to the MLE model


def action_logprob(model, codec: Codec, ids: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
    """Sum of log p(token) over the model's own tokens under the episode constraints: [n] (nats)."""
    logits = constrained_logits(model(ids[:, :-1]).logits, slots[:, 1:], codec)
    lp = torch.log_softmax(logits.float(), -1).gather(-1, ids[:, 1:, None])[..., 0]
    return (lp * (slots[:, 1:] > 0)).sum(1)


def reinforce(model, codec: Codec, cfg: RLConfig, seed: int, progress: bool = True) -> list[dict]:
    """Train `model` in place; returns per-update stats (mean reward = accuracy, KL to start, loss)."""
    if cfg.samples < 2:
        raise ValueError(f"RLConfig.samples: the leave-one-out baseline needs >= 2, got {cfg.samples}")
    ref = copy.deepcopy(model).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    rng = np.random.default_rng(seed)
    gen = torch.Generator(device=model.device).manual_seed(seed)
    history = []
    for step in progress_bar(range(cfg.steps), desc="RL (REINFORCE)", enabled=progress, mininterval=2):
        problems = [sample_problem(codec.world, rng) for _ in range(cfg.questions)]
        episodes = rollout(model, codec, [p for p in problems for _ in range(cfg.samples)], generator=gen)
        reward = torch.tensor(episodes.correct(codec.world.n_answers), dtype=torch.float, device=model.device)
        model.train()
        logp = action_logprob(model, codec, episodes.ids, episodes.slots)
        with torch.no_grad():
            ref_logp = action_logprob(ref, codec, episodes.ids, episodes.slots)
        stats = kl_shaped_update(model, opt, logp, ref_logp, reward, cfg.beta, cfg.questions, cfg.samples)
        history.append({"step": step + 1, **stats})
    model.eval()
    return history
