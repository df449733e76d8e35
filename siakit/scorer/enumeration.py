"""The `enumerate` estimator: the model's exact distribution over numeric answers after the cue.

After `context_k + cue` the answers the model can state form a tree of tokens (`numeric_grammar`).
It is expanded best-first, all prefixes of a trace at once. The first pass feeds the trace (causal),
every prefix's cue and a prefetched trie under each cue (the numbers of the readout's S_k and the
gold) into a KV cache, with one tree mask; then one pass per *level* holds the chosen frontier nodes
of every prefix (one new token each, seeing its prefix's context, its cue and its ancestors in the
trie). The cache keeps every fed token, so a level costs only its new tokens. A prefix stops when
its unexplored mass is below `epsilon` or it has expanded `max_nodes` nodes (prefetched ones free).

Mass accounting at an expanded node of path mass m (every unit of mass lands in exactly one place):
- children (grammar tokens): the frontier, i.e. unexplored until expanded (`numeric_grammar`);
- a complete number (state NUM): m * p(end) goes to its answer, where p(end) is the termination
  module's end (`termination.end_logprob`: tokens outside CONT) minus the separators, which are
  trie children here: "42." goes on to "42.5" or, followed by anything but a digit, ends 42;
- after a separator: everything but a digit ends the number before it;
- anywhere else: mass outside the grammar is non-numeric (" the", "**", a letter after a digit ...).
So enumerated_mass + non_numeric_mass + unexplored_mass = 1 (unexplored counts the frontier and the
digits beyond `max_digits`). A number's terminated probability sums all its token paths (" 1,000"
and " 1000" are one answer "1000").

The search is gold-blind (`siakit.scorer.enumeration_search`): the answers, h_k, the leader and the
masses are the same whatever the gold, so an early exit may decide with them. The gold's plain-digit
spellings are followed beside the search, into a ledger of their own, so its raw log-probability is
there even when it is far below epsilon; the search's answers hold the gold only if it found it.

    >>> from siakit.scorer.numeric_grammar import numeric_grammar
    >>> rows = enumerate_layout(adapter, numeric_grammar(tokenizer), layouts[0], gold="8", opts=EnumerateOptions())
    >>> [round(r["entropy"], 3) for r in rows], [r["unexplored_mass"] < 0.01 for r in rows]   # h_k (nats), k = 0..2
    ([0.637, 0.966, 1.094], [True, True, True])
    >>> rows[0]["options"], rows[0]["gold_in_set"], round(rows[0]["gold_logprob_raw"], 2)   # "8" below epsilon at k = 0
    (['7', '6'], False, -7.21)
    >>> rows[2]["options"], [round(p, 3) for p in rows[2]["option_probs"]]   # the answers found after C_{1:2}
    (['8', '4', '7'], [0.375, 0.329, 0.296])
    >>> r = rows[2]; round(r["enumerated_mass"] + r["non_numeric_mass"] + r["unexplored_mass"], 9)
    1.0
"""
from __future__ import annotations

from dataclasses import dataclass, field

from siakit.scorer.enumeration_search import Node, Search, select
from siakit.scorer.enumeration_summary import summarize
from siakit.scorer.numeric_grammar import START


@dataclass(frozen=True)
class EnumerateOptions:
    epsilon: float = 0.01     # stop a prefix once its unexplored mass is below this
    max_nodes: int = 256      # expanded trie nodes per prefix at most (each costs one token)
    width: int = 64           # nodes per prefix in one level's pass at most
    max_digits: int = 12      # longer numbers are left unexplored
    leads: tuple = (":",)     # strings allowed between the cue and the answer's space
    chunk: int = 1 << 22      # a level's pass is split so that queries x keys stays below this


def _mask_form(adapter, allowed, qpos, kpos):
    """The dense tree mask [1, 1, q, L] in the form `adapter` takes (see `siakit.scorer.masks`)."""
    import torch

    window = adapter.window
    if window is not None and int(max(qpos.max(), kpos.max())) < window:
        window = None
    full = allowed[None, None]
    slide = None
    if window is not None:
        slide = full & ((qpos[:, None] - kpos[None, :]) < window)[None, None]
    if adapter.additive_dense_mask:
        dtype = adapter.dtype

        def additive(m):
            return torch.zeros(m.shape, dtype=dtype, device=m.device).masked_fill_(~m, torch.finfo(dtype).min)
        full = additive(full)
        slide = additive(slide) if slide is not None else None
    if slide is None:
        return full
    return {"full_attention": full, "sliding_attention": slide} if adapter.mixed_window else slide


class _Cache:
    """The trace's KV cache and, per slot, its position; `feed` runs queries that see the trunk below
    `bound` and the listed slots (their ancestors and themselves)."""

    def __init__(self, adapter):
        self.adapter, self.cache, self.pos = adapter, adapter.new_cache(), []
        self.tokens = 0

    def feed(self, tokens, positions, bounds, visible, chunk: int = 1 << 22, keep=None):
        """tokens/positions/bounds: per query; visible[i]: slots query i sees besides trunk < bounds[i]
        (its own new slot is added; the trunk itself goes in as queries with bounds[i] = i + 1).
        Returns log-probabilities [q, vocab] (float32), or only the rows `keep`. Split into passes of
        at most `chunk` mask entries (a dense [q, L] mask)."""
        import torch

        step = max(1, chunk // (len(self.pos) + len(tokens)))
        if len(tokens) > step:  # a query never sees a later slot: feeding chunks in order changes nothing
            out = torch.cat([self.feed(tokens[i:i + step], positions[i:i + step], bounds[i:i + step],
                                       visible[i:i + step], chunk) for i in range(0, len(tokens), step)])
            return out if keep is None else out[torch.tensor(keep, device=out.device)]

        dev, start, q = self.adapter.device, len(self.pos), len(tokens)
        total = start + q
        keys = torch.arange(total, device=dev)
        allowed = keys[None, :] < torch.tensor(bounds, device=dev)[:, None]
        rows = [i for i, v in enumerate(visible) for _ in range(len(v) + 1)]
        cols = [s for i, v in enumerate(visible) for s in [*v, start + i]]
        allowed[rows, cols] = True
        self.pos += list(positions)
        kpos = torch.tensor(self.pos, device=dev)
        mask = _mask_form(self.adapter, allowed, kpos[start:], kpos)
        logits = self.adapter.call(torch.tensor([tokens], device=dev), kpos[None, start:], mask,
                                   None if keep is None else torch.tensor(keep, device=dev), cache=self.cache)
        self.tokens += q
        return logits[0].float().log_softmax(-1)


def enumerate_layout(adapter, grammar, lay, gold: str | None, opts: EnumerateOptions = EnumerateOptions(),
                     prefetch: list | None = None):
    """Per prefix k of the `TraceLayout` `lay` (its options are ignored), a dict of the enumerated
    numeric answers (see `summarize`); `gold` the gold answer text (or None). Also returns the tokens
    fed, as `rows[0]["tokens_fed"]` (the trace's total).

    `prefetch[k]`: token paths after the cue (lists of ids; e.g. the candidate numbers and the gold)
    fed with the cues in the first pass as a trie; a node the search selects on such a path is read
    from that pass instead of fed (paths that leave the grammar are dropped). They save tokens and
    change no number: the search selects the same nodes with or without them.
    """
    import torch

    from siakit.data.answers import normalize_answer

    if not adapter.supports_kv_cache:
        raise ValueError("estimator 'enumerate' needs a transformers model (a KV cache)")
    gold_key = normalize_answer(gold) if gold is not None else None
    search = Search(adapter, grammar, gold_key, opts, len(lay.bounds))
    cache = _Cache(adapter)
    with torch.no_grad():
        first_out = _first_level(search, cache, lay, prefetch)
        while True:  # one level per pass: every prefix's chosen frontier nodes, one new token each
            chosen = [nd for px in search.prefixes for nd in select(px, opts)]
            if not chosen:
                break
            fetched = [nd for nd in chosen if nd.toks in search.prefixes[nd.k].ready]
            chosen = [nd for nd in chosen if nd.toks not in search.prefixes[nd.k].ready]
            if fetched:  # on a path the first pass fed: read from it, no token fed
                search.expand_fetched(fetched, first_out)
            if chosen:
                pos = [lay.bounds[nd.k] + len(lay.cue) + nd.depth - 1 for nd in chosen]
                start = len(cache.pos)
                out = cache.feed([nd.token for nd in chosen], pos, [lay.bounds[nd.k] for nd in chosen],
                                 [nd.path for nd in chosen], opts.chunk)
                for i, nd in enumerate(chosen):
                    nd.path = nd.path + [start + i]
                search.expand_all(chosen, out)
            search.drain(first_out)  # shadow gold nodes the first pass fed
    rows = [summarize(px, gold_key, opts) for px in search.prefixes]
    rows[0]["tokens_fed"] = cache.tokens
    return rows


def _first_level(search: "Search", cache: _Cache, lay, prefetch):
    """Feed the trunk (causal), every prefix's cue and the trie of its prefetched paths in one pass,
    expand every prefix's root (the cue's anchor; a shadow root too when there is a gold) and the
    shadow nodes that pass fed; returns its log-probabilities [rows kept, vocab] (the prefetched
    nodes' rows among them)."""
    import torch

    first, n = _first_pass(search.grammar, lay, prefetch), len(lay.ids)
    anchor_rows = [n + first.anchor[k] if lay.cue else b - 1 for k, b in enumerate(lay.bounds)]
    ready_rows = sorted({n + row for rows in first.ready for row in rows.values()})
    keep = sorted(set(anchor_rows) | set(ready_rows))
    at = {row: i for i, row in enumerate(keep)}  # sequence index -> row of first_out
    first_out = cache.feed(list(lay.ids) + first.tokens, list(range(n)) + first.positions,
                           [i + 1 for i in range(n)] + first.bounds, [[] for _ in range(n)] + first.visible,
                           search.opts.chunk, keep)
    for k, px in enumerate(search.prefixes):
        px.ready = {path: (n + row, at[n + row]) for path, row in first.ready[k].items()}
    anchors = [first_out[at[row]] for row in anchor_rows]
    roots = [Node(k, -1, START, 0, 0.0, "", 0, first.cue_slots[k]) for k in range(len(lay.bounds))]
    if search.gold_key is not None:  # the gold's shadow root: the same cue, read into the gold's ledger
        roots += [Node(k, -1, START, 0, 0.0, "", 0, first.cue_slots[k], True) for k in range(len(lay.bounds))]
    search.expand_all(roots, torch.stack(anchors * (len(roots) // len(anchors))))
    search.drain(first_out)  # shadow gold nodes the first pass fed
    return first_out


@dataclass
class _FirstPass:
    """The first pass's queries after the trunk (rows; slot = len(trunk) + row), for `_Cache.feed`."""
    tokens: list = field(default_factory=list)     # token of each row
    positions: list = field(default_factory=list)  # its position id
    bounds: list = field(default_factory=list)     # the trunk it sees: tokens below its prefix's bound
    visible: list = field(default_factory=list)    # slots it sees besides the trunk (its cue, its trie parents)
    anchor: list = field(default_factory=list)     # per prefix, the row of its last cue token
    cue_slots: list = field(default_factory=list)  # per prefix, the slots of its cue tokens
    ready: list = field(default_factory=list)      # per prefix, {prefetched token path: row}

    def add(self, token: int, position: int, bound: int, visible: list) -> int:
        """Append one query; returns its row."""
        self.tokens.append(token)
        self.positions.append(position)
        self.bounds.append(bound)
        self.visible.append(visible)
        return len(self.tokens) - 1


def _first_pass(grammar, lay, prefetch) -> _FirstPass:
    """The first pass after the trunk: per prefix its cue, then the trie of its `prefetch` paths that
    stay in the grammar (each token once, parents first)."""
    from siakit.scorer.numeric_grammar import step

    cue, n = list(lay.cue), len(lay.ids)
    first = _FirstPass()
    for k, b in enumerate(lay.bounds):
        slots = []
        for j, tok in enumerate(cue):
            slots.append(n + first.add(tok, b + j, b, list(slots)))
        first.anchor.append(len(first.tokens) - 1)
        first.cue_slots.append(slots)
        rows = {}
        for path in sorted({tuple(p) for p in (prefetch[k] if prefetch else [])}, key=len):
            state, ok = START, True
            for tok in path:
                res = step(state, grammar.texts[tok], grammar.leads, grammar.symbols) if grammar.texts[tok] else None
                if res is None:
                    ok = False
                    break
                state = res[0]
            for j in range(1, len(path) + 1 if ok else 0):
                if path[:j] not in rows:
                    visible = slots + [n + rows[path[:i]] for i in range(1, j)]
                    rows[path[:j]] = first.add(path[j - 1], b + len(cue) + j - 1, b, visible)
        first.ready.append(rows)
    return first
