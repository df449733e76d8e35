"""The `enumerate` estimator's best-first search over numeric answers: the trie nodes, each prefix's
frontier and mass accounts, and the choice of each level's nodes (the model passes and the module's
mass accounting: `siakit.scorer.enumeration`).

A `Search` holds one trace's prefixes; `expand_all(nodes, logp)` distributes each node's mass from
its next-token log-probabilities [n, vocab] and pushes its grammar children; `select(prefix, opts)`
picks the next level's nodes of one prefix (the gold's first, then the heaviest).

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
    gold: bool = False        # on a plain-digit path to the gold: always expanded
    toks: tuple = ()          # its token path after the cue


@dataclass
class Prefix:
    """One prefix's search: its frontier, the gold's waiting nodes, and where its mass went."""
    frontier: list = field(default_factory=list)   # heap of (-logp, serial, node)
    forced: list = field(default_factory=list)     # gold nodes waiting
    answers: dict = field(default_factory=dict)    # answer key -> terminated probability
    non_numeric: float = 0.0  # mass that leaves the grammar (" the", a letter after a digit ...)
    capped: float = 0.0       # mass of digits beyond max_digits
    expanded: int = 0         # nodes expanded (prefetched ones included)
    prefetched: int = 0       # of which fed in the first pass (outside the node budget)
    ready: dict = field(default_factory=dict)  # token path -> (slot, row of the first pass) of prefetched nodes


class Search:
    """The best-first search over one trace's prefixes: their frontiers (`Prefix`), the grammar's
    children as device tensors, and the prefetched nodes the search has reached (`waiting`)."""

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
        self.waiting = []  # (node, row of the first pass): prefetched nodes reached, expanded from that pass

    def push(self, px: Prefix, node: Node) -> None:
        """Put `node` on its prefix's frontier, or on `waiting` when the first pass fed it already."""
        if node.toks in px.ready:
            slot, row = px.ready[node.toks]
            node.path = node.path + [slot]
            px.prefetched += 1
            self.waiting.append((node, row))
            return
        self.serial += 1
        heapq.heappush(px.frontier, (-node.logp, self.serial, node))
        if node.gold:
            px.forced.append(node)

    def expand(self, node: Node, lp, p_end: float) -> None:
        """Distribute the node's mass (see the module docstring): `lp` [n_children] the log-probs of
        its state's grammar children, `p_end` p(not CONT). Its children join the frontier."""
        grammar, px = self.grammar, self.prefixes[node.k]
        mass = math.exp(node.logp)
        p = np.exp(lp)
        if node.state == NUM:
            is_cont = self.child_cont[node.state]
            end = p_end - float(p[~is_cont].sum())
            other = 1.0 - p_end - float(p[is_cont].sum())
            key = answer_key(node.text, grammar.leads)
            px.answers[key] = px.answers.get(key, 0.0) + mass * max(end, 0.0)
            px.non_numeric += mass * max(other, 0.0)
        elif node.state == SEP:
            key = answer_key(node.text.rstrip(".,"), grammar.leads)
            px.answers[key] = px.answers.get(key, 0.0) + mass * max(1.0 - float(p.sum()), 0.0)
        else:
            px.non_numeric += mass * max(1.0 - float(p.sum()), 0.0)
        for (tok, state, digits), lpt in zip(grammar.children[node.state], lp):
            if node.digits + digits > self.opts.max_digits:
                px.capped += mass * math.exp(lpt)
                continue
            text = node.text + grammar.texts[tok]
            on_gold = node.gold and "$" not in text and "," not in text and gold_prefix(text, self.gold_key,
                                                                                         grammar.leads)
            self.push(px, Node(node.k, tok, state, node.digits + digits, node.logp + float(lpt), text,
                                node.depth + 1, node.path, on_gold, node.toks + (tok,)))
        px.expanded += 1

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

    def drain(self, first_out) -> None:
        """Expand the waiting prefetched nodes (and those they reach) from the first pass's rows."""
        import torch

        while self.waiting:
            batch, self.waiting[:] = list(self.waiting), []
            self.expand_all([nd for nd, _ in batch],
                            first_out[torch.tensor([row for _, row in batch], device=self.dev)])


def select(px: Prefix, opts) -> list:
    """This level's nodes of one prefix: the gold's waiting nodes, then the heaviest frontier nodes
    until the rest weighs less than epsilon (or the width or the node budget is reached)."""
    chosen = [nd for nd in px.forced]
    px.forced = []
    taken = {id(nd) for nd in chosen}
    unexplored = sum(math.exp(-neg) for neg, _, _ in px.frontier) + px.capped
    removed, budget = 0.0, opts.max_nodes - (px.expanded - px.prefetched)
    picked = 0
    while px.frontier and unexplored - removed >= opts.epsilon and picked < min(opts.width, budget):
        neg, _, nd = heapq.heappop(px.frontier)
        removed += math.exp(-neg)
        if id(nd) not in taken:
            chosen.append(nd)
            picked += 1
    if chosen:  # forced nodes still in the heap are dropped from it (they are being expanded)
        ids = {id(nd) for nd in chosen}
        px.frontier = [e for e in px.frontier if id(e[2]) not in ids]
        heapq.heapify(px.frontier)
    return chosen
