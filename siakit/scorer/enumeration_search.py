"""The `enumerate` estimator's best-first search over numeric answers: the trie nodes, each prefix's
frontier and mass accounts, and the choice of each level's nodes (the model passes and the module's
mass accounting: `siakit.scorer.enumeration`).

A `Search` holds one trace's prefixes; `expand_all(nodes, logp)` distributes each node's mass from
its next-token log-probabilities [n, vocab] and pushes its grammar children; `select(prefix, opts)`
picks the next level's nodes of one prefix (the gold's first, then the heaviest).

The search is gold-blind: what it finds (the answers, h_k, the leader, the masses) does not depend on
the gold. The gold's plain-digit path is followed by *shadow* nodes (`Node.gold`) that write only to
the prefix's gold ledger (`Prefix.gold_mass`) and never join the frontier, the budget or the answers,
so its raw probability is known even far below epsilon without telling the search where the gold is.
Nodes the first pass fed already (`Prefix.ready`) are read from that pass when the search selects
them: prefetching saves tokens but changes no result.

    >>> from siakit.scorer.enumeration import EnumerateOptions
    >>> select(Prefix(), EnumerateOptions())   # an empty frontier: nothing left to expand
    []
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

from siakit.scorer.numeric_grammar import NUM, SEP, answer_key, gold_prefix


@dataclass
class Node:
    """One node of a prefix's answer trie: a token path after the cue, its grammar state and mass."""
    k: int                    # prefix index
    token: int                # its last token (fed when the node is expanded)
    state: int                # grammar state after its text
    digits: int               # digits in its text
    logp: float               # log-probability of its token path after context_k + cue
    text: str                 # its text after the cue
    depth: int                # tokens after the cue
    path: list = field(default_factory=list)   # cache slots of its ancestors' fed tokens (and cue)
    gold: bool = False        # a shadow node on the gold's plain-digit path: feeds the gold ledger only
    toks: tuple = ()          # its token path after the cue


@dataclass
class Prefix:
    """One prefix's search: its frontier, the gold's shadow nodes, and where its mass went."""
    frontier: list = field(default_factory=list)   # heap of (-logp, serial, node)
    forced: list = field(default_factory=list)     # shadow gold nodes waiting
    answers: dict = field(default_factory=dict)    # answer key -> terminated probability
    non_numeric: float = 0.0  # mass that leaves the grammar (" the", a letter after a digit ...)
    capped: float = 0.0       # mass of digits beyond max_digits
    expanded: int = 0         # search nodes expanded (the node budget counts them all)
    gold_mass: float = 0.0    # the gold's terminated probability along its plain-digit spellings (shadow)
    gold_other: float = 0.0   # the gold's mass the search found along other spellings (" 1,000", "$8")
    gold_nodes: int = 0       # shadow nodes expanded
    ready: dict = field(default_factory=dict)  # token path -> (slot, row of the first pass) of prefetched nodes


class Search:
    """The best-first search over one trace's prefixes: their frontiers (`Prefix`), the grammar's
    children as device tensors, and the shadow nodes the first pass fed (`waiting`)."""

    def __init__(self, adapter, grammar, gold_key: str | None, opts, n_prefixes: int):
        import torch

        self.grammar, self.gold_key, self.opts = grammar, gold_key, opts
        self.dev = dev = adapter.device
        vocab = adapter.vocab_size or len(grammar.texts)
        cont = torch.zeros(vocab, dtype=torch.bool, device=dev)
        cont[torch.tensor([i for i in grammar.cont if i < vocab], dtype=torch.long, device=dev)] = True
        self.not_cont = (~cont).float()
        self.child_ids = [torch.tensor([c[0] for c in kids], dtype=torch.long, device=dev) for kids in grammar.children]
        self.child_cont = [np.array([bool(cont[c[0]]) for c in kids], dtype=bool) for kids in grammar.children]
        self.prefixes = [Prefix() for _ in range(n_prefixes)]
        self.serial = 0
        self.waiting = []  # shadow nodes the first pass fed, expanded from that pass (`drain`)

    def push(self, px: Prefix, node: Node) -> None:
        """A search node joins its prefix's frontier. A shadow node waits for the next level, or is
        read from the first pass at once (`waiting`) when that pass fed it."""
        if not node.gold:
            self.serial += 1
            heapq.heappush(px.frontier, (-node.logp, self.serial, node))
        else:
            (self.waiting if node.toks in px.ready else px.forced).append(node)

    def plain_gold(self, text: str) -> bool:
        """Whether `text` (after the cue) is on a plain-digit spelling of the gold (the shadow's path)."""
        return "$" not in text and "," not in text and gold_prefix(text, self.gold_key, self.grammar.leads)

    def expand(self, node: Node, lp, p_end: float) -> None:
        """Distribute the node's mass: a shadow node into the gold ledger only, a search node into the
        answers (`_account`). Children: the shadow's on the gold's path, the search node's all."""
        grammar, px = self.grammar, self.prefixes[node.k]
        key, given, lost = _account(node, lp, p_end, self.child_cont, grammar.leads)
        if node.gold:
            px.gold_mass += given if key == self.gold_key else 0.0
            px.gold_nodes += 1
        else:
            if key is not None:
                px.answers[key] = px.answers.get(key, 0.0) + given
                if key == self.gold_key and not self.plain_gold(node.text):
                    px.gold_other += given
            px.non_numeric += lost
            px.expanded += 1
        mass = math.exp(node.logp)
        for (tok, state, digits), lpt in zip(grammar.children[node.state], lp):
            if node.digits + digits > self.opts.max_digits:
                if not node.gold:
                    px.capped += mass * math.exp(lpt)
                continue
            text = node.text + grammar.texts[tok]
            if node.gold and not self.plain_gold(text):
                continue
            self.push(px, Node(node.k, tok, state, node.digits + digits, node.logp + float(lpt), text,
                               node.depth + 1, node.path, node.gold, node.toks + (tok,)))

    def expand_all(self, nodes, logp) -> None:
        """Expand `nodes` with their next-token log-probs `logp` [len(nodes), vocab] (one level)."""
        import torch

        p_end = (logp.exp() @ self.not_cont).double().cpu().numpy()  # p(not CONT) [n]: termination's end
        by_state: dict = {}
        for i, nd in enumerate(nodes):
            by_state.setdefault(nd.state, []).append(i)
        lps = [None] * len(nodes)
        for state, rows in by_state.items():
            sub = logp[torch.tensor(rows, device=self.dev)][:, self.child_ids[state]].double().cpu().numpy()
            for j, i in enumerate(rows):
                lps[i] = sub[j]
        for i, nd in enumerate(nodes):
            self.expand(nd, lps[i], float(p_end[i]))

    def expand_fetched(self, nodes, first_out) -> None:
        """Expand `nodes`, each on a path the first pass fed, from that pass's rows `first_out`: its
        slot joins the node's path (for its children's masks) and no token is fed."""
        import torch

        rows = []
        for nd in nodes:
            slot, row = self.prefixes[nd.k].ready[nd.toks]
            nd.path = nd.path + [slot]
            rows.append(row)
        self.expand_all(nodes, first_out[torch.tensor(rows, device=self.dev)])

    def drain(self, first_out) -> None:
        """Expand the waiting shadow nodes (and those they reach) from the first pass's rows."""
        while self.waiting:
            batch, self.waiting[:] = list(self.waiting), []
            self.expand_fetched(batch, first_out)


def _account(node: Node, lp, p_end: float, child_cont, leads) -> tuple:
    """Where the node's own mass goes (see `siakit.scorer.enumeration`): (its answer's key or None,
    the terminated mass that answer gets, the mass that leaves the grammar); `lp` [n_children] the
    log-probs of its state's grammar children, `p_end` p(not CONT). The rest goes to its children."""
    mass, p = math.exp(node.logp), np.exp(lp)
    if node.state == NUM:
        is_cont = child_cont[node.state]
        return (answer_key(node.text, leads), mass * max(p_end - float(p[~is_cont].sum()), 0.0),
                mass * max(1.0 - p_end - float(p[is_cont].sum()), 0.0))
    if node.state == SEP:
        return answer_key(node.text.rstrip(".,"), leads), mass * max(1.0 - float(p.sum()), 0.0), 0.0
    return None, 0.0, mass * max(1.0 - float(p.sum()), 0.0)


def select(px: Prefix, opts) -> list:
    """This level's nodes of one prefix: the gold's shadow nodes, then the heaviest frontier nodes
    until the rest weighs less than epsilon (or the width or the node budget is reached)."""
    chosen, px.forced = list(px.forced), []
    unexplored = sum(math.exp(-neg) for neg, _, _ in px.frontier) + px.capped
    removed, picked = 0.0, 0
    room = min(opts.width, opts.max_nodes - px.expanded)
    while px.frontier and unexplored - removed >= opts.epsilon and picked < room:
        neg, _, nd = heapq.heappop(px.frontier)
        removed += math.exp(-neg)
        chosen.append(nd)
        picked += 1
    return chosen
