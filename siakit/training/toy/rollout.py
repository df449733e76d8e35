"""A toy model's own traces: sampling with the world in the loop (batched, key/value cache).

The episode protocol (ours): the model writes K steps; when it writes `look`, the WORLD writes the
true value of the current term (a look-up cannot be wrong; the model chooses whether to look, and does
the arithmetic); after the K-th `;` (or when `max_new_tokens` runs out) the world writes `answer`
and the model picks its answer among the digits. Before K steps `answer` is banned, so every trace is
complete, like a human trace that did not stop early. Slots record who wrote each token:
0 = prompt / world / padding, 1 = the model (free), 2 = the model (answer digit).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from siakit.training.toy.text import Codec, split_steps
from siakit.training.toy.world import Problem


@dataclass
class Rollouts:
    problems: list[Problem]
    ids: torch.Tensor            # [n, L] prompt + generated tokens, right-padded with [PAD]
    slots: torch.Tensor          # [n, L] who wrote each token (see module docstring)
    steps: list[list[list[str]]]  # reasoning tokens of each trace, split at `;`
    answers: list[int | None]    # the chosen digit (None only if generation broke off)

    def correct(self, n_answers: int) -> list[bool]:
        return [a is not None and a == p.truth(n_answers) for a, p in zip(self.answers, self.problems)]


def constrained_logits(logits: torch.Tensor, slots: torch.Tensor, codec: Codec) -> torch.Tensor:
    """Apply the episode's constraints to logits [n, L, V] given the slot of the token each predicts."""
    neg = torch.finfo(logits.dtype).min
    banned = torch.zeros(logits.shape[-1], dtype=torch.bool, device=logits.device)
    banned[[codec.pad, codec.stoi["[UNK]"], codec.answer]] = True
    not_digit = torch.ones_like(banned)
    not_digit[codec.digits] = False
    out = logits.masked_fill((slots == 1).unsqueeze(-1) & banned, neg)
    return out.masked_fill((slots == 2).unsqueeze(-1) & not_digit, neg)


@torch.no_grad()
def rollout(model, codec: Codec, problems: list[Problem], max_new_tokens: int | None = None,
            temperature: float = 1.0, generator: torch.Generator | None = None) -> Rollouts:
    """Sample one trace per problem (all problems have the same K, so prompts have one length)."""
    was_training = model.training
    model.eval()
    K = codec.world.n_terms
    max_new_tokens = max_new_tokens or 6 * K + 4
    dev = model.device
    prompt = torch.tensor([codec.encode(p.prompt_tokens()) for p in problems], device=dev)
    values = torch.tensor([[codec.stoi[str(v)] for v in p.values] for p in problems], device=dev)
    n = len(problems)
    out = model(prompt, use_cache=True)
    logits, past = out.logits[:, -1], out.past_key_values
    forced = torch.full((n,), -1, device=dev)  # token the world writes next, or -1
    answer_slot = torch.zeros(n, dtype=torch.bool, device=dev)
    done = torch.zeros(n, dtype=torch.bool, device=dev)
    n_steps = torch.zeros(n, dtype=torch.long, device=dev)
    tokens, slots = [], []
    for t in range(max_new_tokens + 2):
        slot = torch.where(answer_slot, 2, 1)
        slot = torch.where((forced >= 0) | done, 0, slot)
        probs = torch.softmax(constrained_logits(logits[:, None] / temperature, slot[:, None], codec)[:, 0], -1)
        sampled = torch.multinomial(probs, 1, generator=generator)[:, 0]
        tok = torch.where(forced >= 0, forced, sampled)
        tok = torch.where(done, codec.pad, tok)
        tokens.append(tok)
        slots.append(slot)
        done = done | answer_slot
        answer_slot = (tok == codec.answer) & ~done
        n_steps = n_steps + (tok == codec.semi).long()
        term = values.gather(1, n_steps.clamp(max=K - 1)[:, None])[:, 0]
        forced = torch.full((n,), -1, device=dev)
        forced = torch.where((tok == codec.look) & (slot == 1) & (n_steps < K), term, forced)
        end = ((tok == codec.semi) & (n_steps == K)) | (t >= max_new_tokens - 1)
        forced = torch.where(end & ~done & ~answer_slot, codec.answer, forced)
        if bool(done.all()):
            break
        out = model(tok[:, None], past_key_values=past, use_cache=True)
        logits, past = out.logits[:, -1], out.past_key_values
    gen, gen_slots = torch.stack(tokens, 1), torch.stack(slots, 1)
    steps, answers = [], []
    for row in gen.tolist():
        words = codec.decode(row)
        cut = words.index("answer") if "answer" in words else len(words)
        steps.append(split_steps([w for w in words[:cut] if w != "[PAD]"]))
        digit = words[cut + 1] if cut + 1 < len(words) else None
        answers.append(int(digit) if digit is not None and digit.isdigit() else None)
    model.train(was_training)
    return Rollouts(problems, torch.cat([prompt, gen], 1),
                    torch.cat([torch.zeros_like(prompt), gen_slots], 1), steps, answers)
