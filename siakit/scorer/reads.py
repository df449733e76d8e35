"""From kept logits to per-trace numbers: option log-probabilities and the anchor's vocab entropy.

    >>> import torch
    >>> logits = torch.tensor([[0.5, 0.25, 0.25, 1e-9], [0.1, 0.2, 0.3, 0.4]]).log()   # [n_rows, vocab]
    >>> reads = [FlatRead(row=0, target=-1, doc=0, k=0, option=-1),    # the anchor of prefix k = 0
    ...          FlatRead(0, 1, 0, 0, 0), FlatRead(1, 3, 0, 0, 0),     # option 0: tokens 1 then 3
    ...          FlatRead(0, 2, 0, 0, 1)]                              # option 1: token 2
    >>> opt, ent = reduce_reads(logits, reads, n_docs=1, shapes=[(1, 2)], ids_of_docs=["t1"])  # shapes: (K + 1, n_options)
    >>> opt[0].round(4), ent[0].round(4)      # [k, o]: log .25 + log .4, log .25; entropy of (.5, .25, .25)
    (array([[-2.3026, -1.3863]]), array([1.0397]))

`opt[0][k, o]` sums option o's token log-probs after context_k + cue, plus its end read
log(1 - p(CONT)) when terminated; `ent[0][k]` is the entropy of the next-token distribution at the
anchor (nats).
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
    # Scatter into one flat array per kind, then split per trace: no Python loop over reads.
    n_rows = np.array([s[0] for s in shapes], dtype=np.int64)
    n_cols = np.array([s[1] for s in shapes], dtype=np.int64)
    opt_base = np.concatenate([[0], np.cumsum(n_rows * n_cols)])  # start of trace d's [K+1, n_options]
    ent_base = np.concatenate([[0], np.cumsum(n_rows)])
    opt_flat, ent_flat = np.zeros(opt_base[-1]), np.full(ent_base[-1], np.nan)
    is_anchor = r[:, 4] < 0
    if bool(is_anchor.any()):
        a = r[is_anchor]
        rows = logp[a[:, 0]]  # [n_anchor, vocab]
        h = -(rows.exp() * rows).sum(-1).double().cpu().numpy()
        d, k = a[:, 2].cpu().numpy(), a[:, 3].cpu().numpy()
        ent_flat[ent_base[d] + k] = h
    is_end = (r[:, 1] == END) & ~is_anchor
    o = r[~is_anchor & ~is_end]
    if o.shape[0]:
        values = logp[o[:, 0], o[:, 1]].double().cpu().numpy()
        d, k, j = (o[:, i].cpu().numpy() for i in (2, 3, 4))
        np.add.at(opt_flat, opt_base[d] + k * n_cols[d] + j, values)  # in read order, as a loop would add
    if bool(is_end.any()):
        if cont is None:
            raise ValueError("end-of-answer reads need the CONT token ids (cont=None)")
        mask = torch.zeros(logp.shape[-1], dtype=torch.bool, device=logp.device)
        ids = torch.tensor([i for i in cont if i < logp.shape[-1]], dtype=torch.long, device=logp.device)
        mask[ids] = True
        e = r[is_end]
        values = end_logprob(logp[e[:, 0]], mask).double().cpu().numpy()
        d, k, j = (e[:, i].cpu().numpy() for i in (2, 3, 4))
        np.add.at(opt_flat, opt_base[d] + k * n_cols[d] + j, values)
    opt = [opt_flat[opt_base[i]:opt_base[i + 1]].reshape(s) for i, s in enumerate(shapes)]
    ent = [ent_flat[ent_base[i]:ent_base[i + 1]] for i in range(len(shapes))]
    return opt, ent
