"""One REINFORCE update with a KL penalty to a reference model: the step both RL loops share (the toy
world's and the testbed's).

    >>> stats = kl_shaped_update(model, opt, logp, ref_logp, reward, beta=0.05, questions=8, samples=4)
    >>> stats                                   # {"reward": 0.5, "kl": 0.01, "loss": -0.02}

`logp` [questions * samples] is the policy's log-probability of each sampled trace (with grad),
`ref_logp` the reference's (no grad), `reward` the verifier's 1[correct]. The shaped reward
r - beta * (log p - log p_ref) is a single-sample estimate of the KL-regularised objective whose
optimum is p_ref * exp(r / beta) (the theory chapter's tilt B); the baseline is leave-one-out over a
question's `samples` traces, so it needs samples >= 2.
"""
from __future__ import annotations


def kl_shaped_update(model, opt, logp, ref_logp, reward, beta: float, questions: int, samples: int) -> dict:
    """Take one optimizer step on -(advantage * logp).mean(); return reward, kl and loss (floats)."""
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
