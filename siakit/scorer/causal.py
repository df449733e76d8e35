"""The plain causal methods (no tree mask): `naive` (the oracle), `batched`, `kv`, `kv-grow`.

Each `run_*(adapter, layouts, opts)` returns `(option_logprob, vocab_entropy)` like every method of
`siakit.scorer.methods` (the registry); `probe_rows` writes the tree's probes as plain sequences.

    >>> lay = TraceLayout("t", ids=[5, 6], bounds=[1, 2], cue=[9], options=[[7, 8]], cont=(3,))   # terminated
    >>> [row.tokens for row in probe_rows(lay)]  # per k: the anchor row (last context token + cue), then the option
    [[5, 9], [5, 9, 7, 8], [6, 9], [6, 9, 7, 8]]
    >>> opt, ent = run_naive(adapter, layouts[:1])   # the oracle: one forward per row
    >>> opt[0].round(3)                              # [K+1, n_options], the same as every method's
    array([[-7.194, -8.226],
           [-4.681, -9.998],
           [-5.804, -8.996]])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from siakit.scorer.layout import TraceLayout
from siakit.scorer.reads import FlatRead, reduce_reads
from siakit.scorer.termination import END


def read_shapes(layouts):
    """(prefixes, options) of each layout: [(len(bounds), len(options))], e.g. [(3, 2), (5, 2)]."""
    return [(len(lay.bounds), len(lay.options)) for lay in layouts]


def shared_cont(layouts):
    """The CONT ids shared by `layouts` (one tokenizer per call), or None when none is terminated."""
    conts = {lay.cont for lay in layouts if lay.cont is not None}
    if len(conts) > 1:
        raise ValueError("layouts of one call come from different tokenizers (different CONT sets)")
    return next(iter(conts), None)


class RowRead(NamedTuple):
    index: int               # index in the row's tokens whose logits are read
    target: int              # the token read there (-1: the anchor's whole distribution; END: the end)
    option: int              # the option it belongs to (-1: the anchor)


@dataclass
class Row:
    k: int                   # prefix index
    start: int               # context tokens before the row (cached in `kv`, prepended otherwise)
    tokens: list[int]        # fed tokens: last context token (if any) + cue [+ option branch]
    reads: list[RowRead]     # what is read off which of its tokens


def probe_rows(lay: TraceLayout) -> list[Row]:
    """Plain causal sequences equivalent to the tree: per prefix one row for the anchor and every
    option's first token, plus one row per option for its later tokens and its end read (terminated;
    unterminated: one row per multi-token option, its last token never fed)."""
    rows = []
    for k, b in enumerate(lay.bounds):
        start = max(b - 1, 0)  # re-feed the last context token so the anchor always lies in the row
        head = lay.ids[start:b] + lay.cue
        anchor = len(head) - 1
        probed = lay.options_at(k)
        reads = [RowRead(anchor, -1, -1)] + [RowRead(anchor, lay.options[o][0], o) for o in probed]
        rows.append(Row(k, start, head, reads))
        for o in probed:
            opt = lay.options[o]
            later = [RowRead(anchor + t, opt[t], o) for t in range(1, len(opt))]
            if lay.terminated:  # the whole option fed; its end read at its last token
                rows.append(Row(k, start, head + opt, later + [RowRead(anchor + len(opt), END, o)]))
            elif len(opt) > 1:
                rows.append(Row(k, start, head + opt[:-1], later))
    return rows


def run_naive(adapter, layouts: list[TraceLayout], opts=None):
    """One forward pass per row of `probe_rows`, the full context re-read every time (the oracle)."""
    import torch

    dev = adapter.device
    logits, reads = [], []
    for d, lay in enumerate(layouts):
        for row in probe_rows(lay):
            seq = lay.ids[: row.start] + row.tokens
            keep = sorted({row.start + i for i, _, _ in row.reads})
            with torch.no_grad():
                out = adapter.call(torch.tensor([seq], device=dev), keep=torch.tensor(keep, device=dev))[0]
            base = sum(x.shape[0] for x in logits)
            logits.append(out)
            reads += [FlatRead(base + keep.index(row.start + i), tgt, d, row.k, o) for i, tgt, o in row.reads]
    return reduce_reads(torch.cat(logits), reads, len(layouts), read_shapes(layouts), [lay.id for lay in layouts],
                        shared_cont(layouts))


def run_batched(adapter, layouts: list[TraceLayout], opts=None):
    """All rows of a trace as right-padded batches of at most `opts.max_tokens` padded tokens."""
    import torch

    dev = adapter.device
    max_tokens = opts.max_tokens if opts is not None else 1 << 16
    logits, reads = [], []
    for d, lay in enumerate(layouts):
        rows = probe_rows(lay)
        seqs = [lay.ids[: r.start] + r.tokens for r in rows]
        longest = max(len(s) for s in seqs)
        per_batch = max(1, max_tokens // longest)
        for lo in range(0, len(rows), per_batch):
            chunk, chunk_rows = seqs[lo: lo + per_batch], rows[lo: lo + per_batch]
            width = max(len(s) for s in chunk)
            ids = torch.zeros(len(chunk), width, dtype=torch.long, device=dev)
            valid = torch.zeros(len(chunk), width, dtype=torch.bool, device=dev)
            for i, s in enumerate(chunk):
                ids[i, : len(s)] = torch.tensor(s, device=dev)
                valid[i, : len(s)] = True
            keep = sorted({r.start + i for r in chunk_rows for i, _, _ in r.reads})
            with torch.no_grad():  # causal, padded keys hidden: in the form the model takes
                out = adapter.call(ids, mask=adapter.padding_mask(valid), keep=torch.tensor(keep, device=dev))  # [b, n_keep, vocab]
            base = sum(x.shape[0] for x in logits)
            logits.append(out.reshape(-1, out.shape[-1]))
            for i, r in enumerate(chunk_rows):
                reads += [FlatRead(base + i * len(keep) + keep.index(r.start + j), tgt, d, r.k, o)
                          for j, tgt, o in r.reads]
    return reduce_reads(torch.cat(logits), reads, len(layouts), read_shapes(layouts), [lay.id for lay in layouts],
                        shared_cont(layouts))


def run_kv(adapter, layouts: list[TraceLayout], opts=None):
    """The trace once into a DynamicCache; then, prefix by prefix from the last, the cache is cut at
    the prefix and the probe rows run against it (plain causal: works with any attention kernel)."""
    import torch

    dev = adapter.device
    logits, reads = [], []
    for d, lay in enumerate(layouts):
        cache = adapter.new_cache()
        with torch.no_grad():
            adapter.call(torch.tensor([lay.ids], device=dev), keep=torch.tensor([len(lay.ids) - 1], device=dev),
                         cache=cache)
            for row in sorted(probe_rows(lay), key=lambda r: -r.k):  # cache only ever shrinks
                adapter.crop(cache, row.start)
                keep = sorted({i for i, _, _ in row.reads})
                out = adapter.call(torch.tensor([row.tokens], device=dev),
                                   pos=torch.arange(row.start, row.start + len(row.tokens), device=dev)[None],
                                   keep=torch.tensor(keep, device=dev), cache=cache)[0]  # [n_keep, vocab]
                base = sum(x.shape[0] for x in logits)
                logits.append(out)
                reads += [FlatRead(base + keep.index(i), tgt, d, row.k, o) for i, tgt, o in row.reads]
    return reduce_reads(torch.cat(logits), reads, len(layouts), read_shapes(layouts), [lay.id for lay in layouts],
                        shared_cont(layouts))


def run_kv_grow(adapter, layouts: list[TraceLayout], opts=None):
    """The peers' incremental cache (EAT-style): per trace one DynamicCache grown step by step, each
    context token fed once; after each prefix the cue (and each multi-token option's branch) is fed
    as a probe and cropped off again, so the cache only ever holds context_k."""
    import torch

    dev = adapter.device
    logits, reads, n_rows = [], [], [0]

    def feed(tokens, start, keep, cache):
        """Feed `tokens` at positions start.. into `cache`; return the flat row of the logits at keep[0]
        (the logits [len(keep), vocab] are collected)."""
        out = adapter.call(torch.tensor([tokens], device=dev),
                           pos=torch.arange(start, start + len(tokens), device=dev)[None],
                           keep=torch.tensor(keep, device=dev), cache=cache)[0]
        logits.append(out)
        n_rows[0] += out.shape[0]
        return n_rows[0] - out.shape[0]

    for d, lay in enumerate(layouts):
        cache, fed, last = adapter.new_cache(), 0, None  # last: flat row of the logits at fed - 1
        with torch.no_grad():
            for k, b in enumerate(lay.bounds):
                if b > fed:  # the step's new tokens, once
                    last = feed(lay.ids[fed:b], fed, [b - fed - 1], cache)
                    fed = b
                anchor = last
                if lay.cue:  # the cue as a probe; the anchor is its last token
                    anchor = feed(lay.cue, b, [len(lay.cue) - 1], cache)
                head = b + len(lay.cue)
                reads.append(FlatRead(anchor, -1, d, k, -1))
                for o in lay.options_at(k):
                    opt = lay.options[o]
                    reads.append(FlatRead(anchor, opt[0], d, k, o))
                    branch = opt if lay.terminated else opt[:-1]  # terminated: fed whole, end read last
                    if branch:  # the branch reads opt[1:] (and the end), then goes again
                        first = feed(branch, head, list(range(len(branch))), cache)
                        reads += [FlatRead(first + t - 1, opt[t], d, k, o) for t in range(1, len(opt))]
                        if lay.terminated:
                            reads.append(FlatRead(first + len(opt) - 1, END, d, k, o))
                        adapter.crop(cache, head)
                adapter.crop(cache, b)
    return reduce_reads(torch.cat(logits), reads, len(layouts), read_shapes(layouts), [lay.id for lay in layouts],
                        shared_cont(layouts))
