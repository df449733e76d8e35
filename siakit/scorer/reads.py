"""From kept logits to per-trace numbers: option log-probabilities and the anchor's vocab entropy.

    >>> opt, ent = reduce_reads(logits, reads, n_docs=1, shapes=[(K + 1, n_options)], ids_of_docs=["t1"])
    >>> opt[0][k, o]     # sum of option o's token log-probs after context_k + cue, plus its end read
                         # log(1 - p(CONT)) when terminated (nats)
    >>> ent[0][k]        # entropy of the next-token distribution at the anchor (nats)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from siakit.scorer.termination import END, end_logprob


class NonFiniteLogits(FloatingPointError):
    """NaN or inf logits; the message names the trace(s)."""


class FlatRead(NamedTuple):
    """A read against the flattened logits [n_rows, vocab] that a method collected."""
    row: int      # row of the flattened logits
    target: int   # token whose log-prob to add (-1 at the anchor)
    doc: int      # trace index in the call
    k: int        # prefix index
    option: int   # option index, -1 for the anchor


def reduce_reads(logits, reads: list[FlatRead], n_docs, shapes, ids_of_docs, cont=None):
    """Turn kept logits into per-trace results.

    `logits` [n_rows, vocab] (any dtype; log-softmax is done in float32); `reads` FlatRead rows.
    `shapes[d] = (K + 1, n_options)`; `cont`: CONT token ids for the end reads (target END). Returns
    (option_logprob: list of [K+1, n_options] float64 arrays, vocab_entropy: list of [K+1]).
    """
    import torch

    logp = logits.float().log_softmax(-1)  # [n_rows, vocab]
    bad = ~torch.isfinite(logp).all(-1)
    if bool(bad.any()):
        docs = sorted({ids_of_docs[r[2]] for r in reads if bool(bad[r[0]])})
        raise NonFiniteLogits(f"non-finite logits (NaN/inf) while scoring trace {', '.join(docs)}")
    r = torch.tensor([list(read) for read in reads], dtype=torch.long, device=logp.device)  # [n_reads, 5]
    opt = [np.zeros(s) for s in shapes]
    ent = [np.full(s[0], np.nan) for s in shapes]
    is_anchor = r[:, 4] < 0
    if bool(is_anchor.any()):
        a = r[is_anchor]
        rows = logp[a[:, 0]]  # [n_anchor, vocab]
        h = -(rows.exp() * rows).sum(-1).double().cpu().numpy()
        for (d, k), value in zip(a[:, 2:4].tolist(), h):
            ent[d][k] = value
    is_end = (r[:, 1] == END) & ~is_anchor
    o = r[~is_anchor & ~is_end]
    if o.shape[0]:
        values = logp[o[:, 0], o[:, 1]].double().cpu().numpy()
        for (d, k, j), value in zip(o[:, 2:5].tolist(), values):
            opt[d][k, j] += value
    if bool(is_end.any()):
        if cont is None:
            raise ValueError("end-of-answer reads need the CONT token ids (cont=None)")
        mask = torch.zeros(logp.shape[-1], dtype=torch.bool, device=logp.device)
        ids = torch.tensor([i for i in cont if i < logp.shape[-1]], dtype=torch.long, device=logp.device)
        mask[ids] = True
        e = r[is_end]
        values = end_logprob(logp[e[:, 0]], mask).double().cpu().numpy()
        for (d, k, j), value in zip(e[:, 2:5].tolist(), values):
            opt[d][k, j] += value
    return opt, ent
