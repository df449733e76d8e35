"""What training a language model optimises, whatever it learns from: labelled rows and their batches,
the NLL of the labelled tokens, and one KL-shaped REINFORCE step. The SFT chapter (`siakit.training.sft`),
the toy world's RL (`siakit.training.toy.rl`) and the testbed's lineage (`siakit.testbed.train`,
`siakit.testbed.rl`) share them, so they sit on the models' floor below all three.

    >>> rows = [Example("a", [5, 6, 7], [-100, 6, 7]), Example("b", [5], [-100])]
    >>> ids, mask, labels = collate(rows, pad_id=0, device="cpu")       # each [2, 3], right-padded
    >>> ids.tolist(), mask.tolist(), labels.tolist()
    ([[5, 6, 7], [5, 0, 0]], [[1, 1, 1], [1, 0, 0]], [[-100, 6, 7], [-100, -100, -100]])

`solution_loss(model, rows, pad_id)` -> (summed NLL in nats of the labelled tokens, their count).
`kl_shaped_update(model, opt, logp, ref_logp, reward, beta, questions, samples)` -> {"reward", "kl",
"loss"}: `logp` [questions * samples] is the policy's log-probability of each sampled trace (with
grad), `ref_logp` the reference's (no grad), `reward` the verifier's 1[correct]. The shaped reward
r - beta * (log p - log p_ref) is a single-sample estimate of the KL-regularised objective whose
optimum is p_ref * exp(r / beta) (the theory chapter's tilt B); the baseline is leave-one-out over a
question's `samples` traces, so it needs samples >= 2.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where a tensor is made, so `import siakit.models` stays light
    import torch


@dataclass
class Example:
    id: str
    input_ids: list[int]   # chat prompt + human solution + end-of-turn
    labels: list[int]      # -100 on the prompt (only the solution is learned)


def collate(examples: list[Example], pad_id: int, device) -> tuple:
    """Right-padded tensors of a batch: (input_ids, attention_mask, labels), each [rows, longest]; padding
    has mask 0 and label -100. Two examples of 3 and 1 tokens -> three [2, 3] tensors."""
    import torch

    length = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), length), pad_id)
    labels = torch.full((len(examples), length), -100)
    mask = torch.zeros((len(examples), length), dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e.input_ids)
        ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(e.input_ids), torch.tensor(e.labels), 1
    return ids.to(device), mask.to(device), labels.to(device)


def solution_loss(model, examples: list[Example], pad_id: int) -> tuple[torch.Tensor, int]:
    """Summed NLL (nats) of the solution tokens and their count; the head runs only where labels are."""
    import torch.nn.functional as F

    ids, mask, labels = collate(examples, pad_id, model.device)
    hidden = model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state  # [b, L, d]
    keep = labels[:, 1:] != -100
    logits = model.get_output_embeddings()(hidden[:, :-1][keep])  # [n_label_tokens, vocab]
    return F.cross_entropy(logits.float(), labels[:, 1:][keep], reduction="sum"), int(keep.sum())


def kl_shaped_update(model, opt, logp, ref_logp, reward, beta: float, questions: int, samples: int) -> dict:
    """Take one optimizer step on -(advantage * logp).mean(); return reward, kl and loss (floats).

        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> policy = torch.nn.Linear(1, 3)          # the logits of three answers; answer 0 is correct
        >>> opt = torch.optim.SGD(policy.parameters(), lr=0.5)
        >>> answers = torch.tensor([0, 1, 2, 0, 1, 1])                       # 2 questions x 3 sampled answers
        >>> logp = policy(torch.ones(1, 1)).log_softmax(-1)[0, answers]      # [questions * samples], with grad
        >>> stats = kl_shaped_update(policy, opt, logp, logp.detach(), (answers == 0).float(), beta=0.05,
        ...                          questions=2, samples=3)   # reference = the policy before the step: kl 0
        >>> {key: round(value, 4) for key, value in stats.items()}
        {'reward': 0.3333, 'kl': 0.0, 'loss': 0.2394}
        >>> policy(torch.ones(1, 1)).softmax(-1)[0, 0].item() > logp[0].exp().item()   # p(correct) 0.215 -> 0.316
        True
    """
    import torch

    with torch.no_grad():
        kl = logp.detach() - ref_logp
        shaped = (reward - beta * kl).view(questions, samples)
        baseline = (shaped.sum(1, keepdim=True) - shaped) / (samples - 1)  # leave-one-out
        advantage = (shaped - baseline).view(-1)
    loss = -(advantage * logp).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return {"reward": float(reward.mean()), "kl": float(kl.mean()), "loss": float(loss.detach())}
