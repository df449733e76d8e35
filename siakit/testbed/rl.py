"""RL on the testbed: REINFORCE with a KL penalty, reward = reasoning-gym's verifier.

As in the toy world (`siakit.training.toy.rl`), the objective is the KL-regularised one whose optimum is
p*(c|q) ∝ p_ref(c|q) exp(r(q, c) / beta) (the theory chapter's tilt B, `def-tilts`), here with the
SFT end point as p_ref. Per sampled trace the shaped reward is r - beta * (log p(c|q) - log p_ref(c|q))
(the sequence-level KL estimate), with a leave-one-out baseline over the `samples` traces of each
problem (RLOO). Costly on a CPU (every update samples questions x samples traces), so the book's CPU
default skips it and the runs file carries a GPU parameter set.

    history = reinforce_lm(lm, problems, RLConfig(steps=100), seed=0)   # lm trained in place
    history[-1]  -> {"step": 100, "reward": 0.71, "kl": 0.8, "loss": ...}
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from siakit.progress import progress_bar
from siakit.models.objectives import Example, collate, kl_shaped_update
from siakit.testbed.generate import generate_testbed
from siakit.testbed.prompt import end_of_turn


@dataclass
class RLConfig:
    steps: int = 100            # policy-gradient updates
    questions: int = 8          # problems per update
    samples: int = 4            # sampled traces per problem (the leave-one-out baseline needs >= 2)
    lr: float = 1e-5            # AdamW learning rate: small, the SFT model is already good
    beta: float = 0.05          # KL penalty weight: larger keeps the policy closer to the SFT model
    max_new_tokens: int = 64    # sampling cap per trace
    temperature: float = 1.0    # sampling temperature (1 = the model's own law)


def sequence_logprob(model, examples: list[Example], pad_id: int) -> torch.Tensor:
    """Sum of log p(token) over each row's labelled (completion) tokens: shape [rows], nats."""
    ids, mask, labels = collate(examples, pad_id, model.device)
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]  # [b, L-1, vocab]
    target = labels[:, 1:]
    keep = target != -100
    lp = torch.log_softmax(logits.float(), -1).gather(-1, target.clamp(min=0)[..., None])[..., 0]
    return (lp * keep).sum(1)


def _rows(tokenizer, traces, chat: bool) -> list[Example]:
    end = end_of_turn(tokenizer, chat)
    rows = []
    for t in traces:
        text = t.text + ("" if t.meta.get("hit_cap") else end)
        enc = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
        labels = [i if a >= len(t.prompt) else -100 for i, (a, _) in zip(enc.input_ids, enc.offset_mapping)]
        rows.append(Example(t.id, enc.input_ids, labels))
    return rows


def reinforce_lm(lm, problems, cfg: RLConfig, seed: int = 0, progress: bool = True) -> list[dict]:
    """Train `lm.model` in place on `problems` (cfg.questions per update, cycled); per-update stats."""
    if cfg.samples < 2:
        raise ValueError(f"RLConfig.samples: the leave-one-out baseline needs >= 2, got {cfg.samples}")
    if len(problems) < cfg.questions:
        raise ValueError(f"reinforce_lm: {len(problems)} problems, fewer than questions={cfg.questions}")
    model, pad = lm.model, lm.tokenizer.pad_token_id
    ref = copy.deepcopy(model).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    history = []
    for step in progress_bar(range(cfg.steps), desc="RL (REINFORCE-KL)", enabled=progress):
        start = (step * cfg.questions) % len(problems)
        batch = (problems[start:] + problems[:start])[:cfg.questions]
        model.eval()
        traces = generate_testbed(lm, [p for p in batch for _ in range(cfg.samples)], cfg.max_new_tokens,
                                  cfg.temperature, seed + 1000 * step, batch_size=len(batch) * cfg.samples,
                                  progress=False)
        reward = torch.tensor([float(t.correct) for t in traces], device=model.device)
        rows = _rows(lm.tokenizer, traces, lm.chat)
        model.train()
        logp = sequence_logprob(model, rows, pad)
        with torch.no_grad():
            ref_logp = sequence_logprob(ref, rows, pad)
        stats = kl_shaped_update(model, opt, logp, ref_logp, reward, cfg.beta, cfg.questions, cfg.samples)
        history.append({"step": step + 1, **stats})
    model.eval()
    return history
