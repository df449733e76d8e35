"""Readout entropies of toy traces: the project's scorer, and our exact per-prefix oracle.

`score(lm, traces)` goes through `siakit.scorer.score_traces` (one row per (trace id, k)) when that
module is present, and otherwise through `readout_exact`, a naive loop that runs one forward pass per
prefix `prompt + C_{1:k} + cue` and reads the next-token law over the digits. Toy options are single
tokens, so both compute the same readout; a test checks that they agree.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from siakit.training.toy.text import Codec
from siakit.data.traces import Trace


@torch.no_grad()
def readout_exact(model, codec: Codec, traces: list[Trace], batch_size: int = 512) -> pd.DataFrame:
    """Rows (id, k, entropy, gold_logprob, option_probs, n_options, n_steps, correct) for k = 0..K.

    entropy = h_k in nats of the renormalised answer law after `prefix + cue`; gold_logprob = log p(a*).
    """
    rows, seqs = [], []
    for tr in traces:
        prompt = tr.prompt.split()
        for k in range(len(tr.steps) + 1):
            words = prompt + " ".join(tr.steps[:k]).split() + tr.cue.split()
            seqs.append(codec.encode(words))
            rows.append((tr.id, k, len(tr.steps), tr.correct, int(tr.gold)))
    laws = []
    model.eval()
    for start in range(0, len(seqs), batch_size):
        chunk = seqs[start:start + batch_size]
        lengths = torch.tensor([len(s) for s in chunk])
        ids = torch.full((len(chunk), int(lengths.max())), codec.pad)
        for i, s in enumerate(chunk):
            ids[i, :len(s)] = torch.tensor(s)
        logits = model(ids.to(model.device)).logits[torch.arange(len(chunk)), lengths - 1].cpu()  # right padding: causal, harmless
        laws.append(torch.log_softmax(logits[:, codec.digits].double(), -1))
    logp = torch.cat(laws).numpy()
    p = np.exp(logp)
    df = pd.DataFrame(rows, columns=["id", "k", "n_steps", "correct", "gold"])
    df["entropy"] = -(p * logp).sum(1)
    df["gold_logprob"] = logp[np.arange(len(df)), df["gold"].to_numpy()]
    df["option_probs"] = list(p)
    df["n_options"] = codec.world.n_answers
    df["estimator"], df["method"] = "readout", "exact-loop"
    return df.drop(columns="gold")



def score(lm, codec: Codec, traces: list[Trace], backend: str = "auto", **kwargs) -> pd.DataFrame:
    """Readout entropies of `traces` under the toy model `lm` (a LoadedModel).

    backend: "scorer" (the project's scorer; "auto" is the same) or "exact" (`readout_exact`, a plain
    loop that checks the scorer).
    """
    if backend not in ("auto", "scorer", "exact"):
        raise ValueError(f"backend: expected 'auto', 'scorer' or 'exact', got {backend!r}")
    if backend == "exact":
        return readout_exact(lm.model, codec, traces)
    from siakit.scorer.score import score_traces

    kwargs.setdefault("progress", False)  # a toy checkpoint scores in about a second
    # The toy world's answer is one token of a closed set, and its codec ends the trace after it: the
    # option token's probability is the answer's. No end-of-answer read (siakit.scorer.termination).
    kwargs.setdefault("terminated", False)
    df = score_traces(lm, traces, estimator="readout", **kwargs)
    return df.reset_index(drop=True)
