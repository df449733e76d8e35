"""Sample many continuations of a few prompts, encoding each prompt once (shared prefill).

When M sequences are sampled from one context (rollouts from a prefix, several answers to one
question), the context's keys and values are the same for all M rows. `sample_continuations`
prefills each distinct context once ([J, L] instead of [M * J, L]), copies the cache rows to the
M samples (`DynamicCache.batch_select_indices`, which accepts repeated indices), and then decodes
all rows together with a KV cache. Rows of different contexts share a batch (left-padded), so a
batch stays full even when M is small; a row that ends (EOS or its cap) leaves the batch and its
cache rows, and queued rows take the free places (continuous batching: their contexts are prefilled
and their cache rows stacked on the batch's), so the batch does not shrink to a few long runaways.
A decode step on CPU costs a fixed part (the weights) plus a part per row, so full batches matter.

Every row draws from its own generator, seeded by (job seed, row index): the samples do not depend
on batching, on `batch_rows`, or on `shared` (the separate prefill gives the same tokens, which the
tests check). Sampling is ancestral at `temperature` with no top-k/top-p cut (the model's own law);
temperature 0 is greedy decoding.

    >>> out = sample_continuations(lm, [[5, 9, 11], [5, 9]], counts=[3, 2], seeds=[0, 1], max_new_tokens=4)
    >>> len(out), len(out[0]), out[0][0]          # 2 jobs; job 0 has 3 rows; ended = EOS seen (then the last token)
    (2, 3, Continuation(tokens=[177, 284, 37, 73], ended=False))
    >>> out == sample_continuations(lm, [[5, 9, 11], [5, 9]], counts=[3, 2], seeds=[0, 1], max_new_tokens=4,
    ...                             batch_rows=1, shared=False)   # one row at a time, each prefilled alone
    True

Shapes: contexts are lists of token ids; the decode batch is [rows <= batch_rows, 1] per step.
Non-transformers modules (the model protocol) fall back to a cache-free loop, one job at a time.
"""
from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Continuation:
    tokens: list[int]   # sampled token ids, up to and including the EOS (if one was emitted)
    ended: bool         # True: stopped at EOS; False: hit max_new_tokens (a cut text)


def row_seed(seed: int, row: int) -> int:
    """The generator seed of row `row` of a job seeded `seed`: row_seed(0, 0) -> 0, (0, 1) -> 1000003."""
    return (int(seed) * 7919 + row * 1_000_003) % (2 ** 62)


def _draw(logits, generators, temperature: float):
    """One token per row: inverse-CDF sampling with each row's own uniform draw; temperature 0 is
    greedy (argmax, no draw). [B, V] -> [B]."""
    import torch

    if temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.double() / temperature, dim=-1)
    cdf = probs.cumsum(-1)
    u = torch.tensor([float(torch.rand(1, generator=g)) for g in generators], dtype=torch.float64)
    x = (u * cdf[:, -1].cpu()).to(cdf.device)
    idx = torch.searchsorted(cdf, x[:, None], right=True)[:, 0]  # first index with cdf > x: positive mass
    return idx.clamp_(max=logits.shape[-1] - 1)


def _left_pad(seqs: list[list[int]], pad: int, device):
    """Token ids and padding mask, flush right: [[5, 6], [7]] -> ids [[5, 6], [pad, 7]], mask [[1, 1], [0, 1]]."""
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long, device=device)
    mask = torch.zeros((len(seqs), width), dtype=torch.long, device=device)
    for i, s in enumerate(seqs):
        if s:
            ids[i, width - len(s):] = torch.tensor(s, dtype=torch.long, device=device)
            mask[i, width - len(s):] = 1
    return ids, mask


def _prefill(adapter, contexts, rows, pad, shared, stats):
    """Encode the contexts of the (job, row) pairs `rows`: (cache, logits [n, V] of each row's next
    token, padding mask [n, T], position of each row's last token [n])."""
    import torch

    device = adapter.device
    jobs = list(dict.fromkeys(j for j, _ in rows))
    cache = adapter.new_cache()
    started = time.perf_counter()
    if shared:  # one prefill row per distinct context, then the cache rows are copied to the samples
        ids, mask = _left_pad([contexts[j] for j in jobs], pad, device)
        where = torch.tensor([jobs.index(j) for j, _ in rows], device=device)
    else:       # every sample prefills its own copy of the context
        ids, mask = _left_pad([contexts[j] for j, _ in rows], pad, device)
        where = None
    pos = (mask.cumsum(-1) - 1).clamp_(min=0)
    logits = adapter.call(ids, pos=pos, mask=mask, keep=torch.tensor([ids.shape[1] - 1], device=device),
                          cache=cache)[:, -1]
    stats["prefill_tokens"] += int(mask.sum())
    stats["prefills"] += 1
    if where is not None:
        cache.batch_select_indices(where)
        logits, mask, pos = logits[where], mask[where], pos[where]
    stats["prefill_s"] += time.perf_counter() - started
    return cache, logits, mask, pos[:, -1]


def _stream(adapter, contexts, counts, seeds, caps, temperature, eos, pad, shared, batch_rows, refill, stats, finish):
    """Decode every (job, row) pair, at most `batch_rows` at once. A row that ends (EOS or its cap)
    leaves the batch, and queued rows take its place as soon as a quarter of the batch is free
    (continuous batching: their contexts are prefilled and their caches stacked on the batch's,
    `ModelAdapter.stack_caches`), so the batch stays full until the queue is empty. Models whose
    cache cannot be stacked, and `refill=False` (the bench's baseline), refill only an empty batch.
    `finish(job, row, Continuation)` per row."""
    import torch

    device = adapter.device
    queue = [(j, r) for j, n in enumerate(counts) for r in range(n)]
    rows, tokens, generators = [], [], []
    cache = logits = mask = last = None
    stackable = True
    with torch.no_grad():
        while queue or rows:
            free = batch_rows - len(rows)
            if queue and (not rows or (stackable and free >= max(1, batch_rows // 4))):
                take, queue = queue[:free], queue[free:]
                c2, l2, m2, p2 = _prefill(adapter, contexts, take, pad, shared, stats)
                if not rows:
                    cache, logits, mask, last = c2, l2, m2, p2
                    stackable = refill and adapter.can_stack_caches(cache)
                else:
                    cache = adapter.stack_caches(cache, c2)
                    width = max(mask.shape[1], m2.shape[1])
                    grow = torch.nn.functional.pad
                    mask = torch.cat([grow(mask, (width - mask.shape[1], 0)), grow(m2, (width - m2.shape[1], 0))])
                    logits, last = torch.cat([logits, l2]), torch.cat([last, p2])
                rows += take
                tokens += [[] for _ in take]
                generators += [torch.Generator().manual_seed(row_seed(seeds[j], r)) for j, r in take]
            nxt = _draw(logits, generators, temperature)
            for seq, t in zip(tokens, nxt.tolist()):
                seq.append(t)
            stats["new_tokens"] += len(rows)
            ended = [seq[-1] in eos or len(seq) >= caps[j] for (j, _), seq in zip(rows, tokens)]
            if any(ended):  # finished rows leave the batch and its cache
                for (j, r), seq, end in zip(rows, tokens, ended):
                    if end:
                        finish(j, r, Continuation(seq, seq[-1] in eos))
                kept = [i for i, end in enumerate(ended) if not end]
                rows, tokens, generators = ([x[i] for i in kept] for x in (rows, tokens, generators))
                if not rows:
                    continue
                keep = torch.tensor(kept, device=device)
                cache.batch_select_indices(keep)
                nxt, mask, last = nxt[keep], mask[keep], last[keep]
                if stackable:  # slots that are padding in every remaining row: drop them (stacking pads)
                    lead = int(mask.any(0).to(torch.int8).argmax())
                    if lead:
                        adapter.drop_leading(cache, lead)
                        mask = mask[:, lead:]
            mask = torch.cat([mask, torch.ones((len(rows), 1), dtype=mask.dtype, device=device)], dim=1)
            last = last + 1
            logits = adapter.call(nxt[:, None], pos=last[:, None], mask=mask, cache=cache)[:, -1]


def sample_continuations(lm, contexts: list[list[int]], counts: list[int], seeds: list[int],
                         max_new_tokens: int | list[int], temperature: float = 1.0, batch_rows: int = 32,
                         shared: bool = True, stats: dict | None = None, bar=None,
                         refill: bool = True) -> list[list[Continuation]]:
    """`counts[j]` continuations of each token-id context `contexts[j]`, seeded by `seeds[j]`.

    `max_new_tokens`: one cap for every job, or one per job. Returns, per job, a list of
    `Continuation`s (row order). `shared=False` prefills every row's own
    copy of its context, and `refill=False` decodes a batch to its end before the next starts (the
    baselines the bench compares against; both sample the same tokens). `stats` (a dict, optional)
    receives prefill_tokens, new_tokens, prefill_s, seconds and prefills (prefill calls). `bar` (tqdm) advances by rows.
    """
    if not len(contexts) == len(counts) == len(seeds):
        raise ValueError(f"sample_continuations: {len(contexts)} contexts, {len(counts)} counts, {len(seeds)} seeds")
    caps = [int(max_new_tokens)] * len(contexts) if isinstance(max_new_tokens, int) else [int(c) for c in max_new_tokens]
    if len(caps) != len(contexts) or min(caps, default=1) < 1 or batch_rows < 1 or temperature < 0:
        raise ValueError(f"sample_continuations: max_new_tokens ({max_new_tokens}, one per job) and batch_rows ({batch_rows}) "
                         f"must be >= 1 and temperature ({temperature}) >= 0 (0: greedy)")
    if any(not c for c in contexts):
        raise ValueError("sample_continuations: a context is empty (give at least one token, e.g. BOS)")
    stats = stats if stats is not None else {}
    for key in ("prefill_tokens", "new_tokens", "prefill_s", "seconds", "prefills"):
        stats.setdefault(key, 0)
    tok = lm.tokenizer
    eos = {tok.eos_token_id} if tok.eos_token_id is not None else set()
    pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    out: list[list[Continuation | None]] = [[None] * n for n in counts]
    started = time.perf_counter()
    if not lm.adapter.supports_kv_cache:
        return _protocol_fallback(lm, contexts, counts, seeds, caps, temperature, eos, out, stats, bar)
    def finish(j, r, cont):
        out[j][r] = cont
        if bar is not None:
            bar.update(1)

    _stream(lm.adapter, contexts, counts, seeds, caps, temperature, eos, pad, shared, batch_rows, refill, stats,
            finish)
    stats["seconds"] += time.perf_counter() - started
    return out


def _protocol_fallback(lm, contexts, counts, seeds, caps, temperature, eos, out, stats, bar):
    """Cache-free ancestral sampling for protocol modules (toy models): one row at a time."""
    import torch

    started = time.perf_counter()
    for j, (context, n) in enumerate(zip(contexts, counts)):
        for r in range(n):
            g = torch.Generator().manual_seed(row_seed(seeds[j], r))
            ids, tokens = torch.tensor([context]), []
            for _ in range(caps[j]):
                with torch.no_grad():
                    logits = lm.adapter.call(ids, keep=torch.tensor([ids.shape[1] - 1]))[:, -1]
                nxt = int(_draw(logits, [g], temperature)[0])
                tokens.append(nxt)
                if nxt in eos:
                    break
                ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
            stats["new_tokens"] += len(tokens)
            out[j][r] = Continuation(tokens, bool(tokens) and tokens[-1] in eos)
        if bar is not None:
            bar.update(n)
    stats["seconds"] += time.perf_counter() - started
    return out
