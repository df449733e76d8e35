"""Packing: several traces' trunks and probe blocks in one sequence, several sequences in one batch.

A *pack* lays traces out as one sequence: all trunks (the trace tokens) first, then all probe blocks
(block-diagonal across traces). Packs can also be stacked as rows of a batch (`pack_tensors`), which
avoids attending across traces at all. Per-token metadata describes the tree; `siakit.scorer.masks`
turns it into attention masks.

    >>> pack = build_pack([layout])            # one trace: trunk a b c, then the probe blocks
    >>> meta = pack_tensors([pack], "cpu")     # PackTensors of [batch=1, L] long tensors
    >>> pack_reads([pack])[0]                  # BatchRead(batch=0, index=.., target=-1, doc=0, k=0, option=-1)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from siakit.scorer.layout import TraceLayout
from siakit.scorer.termination import END


class Read(NamedTuple):
    """One log-probability to read: `target` at sequence index `row` (option -1 = the anchor, whose
    whole next-token distribution gives the vocab entropy; target is then -1; target END = -2: the
    option's end read, log(1 - p(CONT)) after its last token)."""
    row: int
    target: int
    doc: int      # which trace of the pack
    k: int        # prefix index
    option: int   # option index, -1 for the anchor


class BatchRead(NamedTuple):
    """A `Read` placed in a stacked batch: row `batch`, sequence `index` of the padded row."""
    batch: int
    index: int
    target: int
    doc: int
    k: int
    option: int


@dataclass
class PackTensors:
    """Stacked packs as long tensors [batch, L] (the tree's per-token metadata)."""
    ids: Any        # token ids  [batch, L]
    pos: Any        # position ids  [batch, L]
    doc: Any        # trace within the row (pads: a unique negative id)  [batch, L]
    trunk_end: Any  # trunk keys visible to this token: index < trunk_end  [batch, L]
    block: Any      # probe block id, -1 for trunk tokens and pads  [batch, L]
    branch: Any     # 0: cue (shared), o + 1: option o's branch  [batch, L]
    n_trunk: int    # the first n_trunk columns are trunks (kvtree runs them first)


@dataclass
class Pack:
    """Several traces in one sequence: trunks first, then probe blocks. All lists have length L."""
    input_ids: list[int] = field(default_factory=list)
    position_ids: list[int] = field(default_factory=list)
    doc: list[int] = field(default_factory=list)        # which trace of the pack
    trunk_end: list[int] = field(default_factory=list)  # trunk keys visible: global index < trunk_end
    block: list[int] = field(default_factory=list)      # probe block id (-1: trunk token)
    branch: list[int] = field(default_factory=list)     # 0: cue (shared), o + 1: option o's branch
    n_trunk: int = 0                                    # the first n_trunk tokens are trunks
    reads: list[Read] = field(default_factory=list)     # what to read off which row's logits


def build_pack(layouts: list[TraceLayout]) -> Pack:
    """Lay out `layouts` as one packed tree sequence.

    For one trace with ids [a b c], bounds [1, 3], cue [q], one option [x y], unterminated: tokens
    are `a b c | q x' | q x'` (x' = x fed as branch), positions 0 1 2 | 1 2 | 3 4; terminated, the
    branch also feeds y (`q x' y'`) and reads the end of the answer at y'.
    """
    p = Pack()
    starts = []
    for d, lay in enumerate(layouts):  # trunks: plain causal within each trace
        start = len(p.input_ids)
        starts.append(start)
        for i, tok in enumerate(lay.ids):
            p.input_ids.append(tok); p.position_ids.append(i); p.doc.append(d)
            p.trunk_end.append(start + i + 1); p.block.append(-1); p.branch.append(0)
    p.n_trunk = len(p.input_ids)
    block_id = 0
    for d, lay in enumerate(layouts):
        for k, b in enumerate(lay.bounds):
            def put(tok, pos, branch):
                p.input_ids.append(tok); p.position_ids.append(pos); p.doc.append(d)
                p.trunk_end.append(starts[d] + b); p.block.append(block_id); p.branch.append(branch)
                return len(p.input_ids) - 1
            anchor = starts[d] + b - 1  # the last context token, unless there is a cue
            for j, tok in enumerate(lay.cue):
                anchor = put(tok, b + j, 0)
            p.reads.append(Read(anchor, -1, d, k, -1))
            for o in lay.options_at(k):
                opt = lay.options[o]
                row = anchor
                p.reads.append(Read(row, opt[0], d, k, o))
                for t in range(1, len(opt)):
                    row = put(opt[t - 1], b + len(lay.cue) + t - 1, o + 1)
                    p.reads.append(Read(row, opt[t], d, k, o))
                if lay.terminated:  # feed the last option token too: does the answer end after it?
                    row = put(opt[-1], b + len(lay.cue) + len(opt) - 1, o + 1)
                    p.reads.append(Read(row, END, d, k, o))
            block_id += 1
    return p


def pack_layouts(layouts: list[TraceLayout], max_tokens: int, padded: bool = False) -> list[list[int]]:
    """Greedy packing in input order: indices of layouts per pack, each pack <= `max_tokens` tokens
    (`padded`: counted as rows x longest row, for batch rows); a longer trace gets a pack of its own.

    pack_layouts(<layouts of 30, 50, 40 tokens>, 90) -> [[0, 1], [2]]
    """
    packs, current, longest = [], [], 0
    for i, lay in enumerate(layouts):
        size = (len(current) + 1) * max(longest, lay.n_tokens) if padded else \
            sum(layouts[j].n_tokens for j in current) + lay.n_tokens
        if current and size > max_tokens:
            packs.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, lay.n_tokens)
    if current:
        packs.append(current)
    return packs


def pack_tensors(packs: list[Pack], device, pad_id: int = 0) -> PackTensors:
    """Stack packs as rows of a batch: metadata as long tensors [batch, L] on `device`. Each row is padded after its trunks (to the
    longest trunk part) and after its probes, so the trunk parts line up (`kvtree` runs them first).
    A pad token sees only itself (no NaN rows) and no real token sees a pad.
    """
    import torch

    n_trunk = max(p.n_trunk for p in packs)
    n_probe = max(len(p.input_ids) - p.n_trunk for p in packs)
    names = ("input_ids", "position_ids", "doc", "trunk_end", "block", "branch")
    rows = {name: [] for name in names}
    for p in packs:
        gap, tail = n_trunk - p.n_trunk, n_probe - (len(p.input_ids) - p.n_trunk)
        def padded(values, pads):
            return values[: p.n_trunk] + pads[:gap] + values[p.n_trunk:] + pads[gap:]
        idx = list(range(p.n_trunk, n_trunk)) + list(range(n_trunk + n_probe - tail, n_trunk + n_probe))
        rows["input_ids"].append(padded(p.input_ids, [pad_id] * (gap + tail)))
        rows["position_ids"].append(padded(p.position_ids, [0] * (gap + tail)))
        rows["doc"].append(padded(p.doc, [-1 - i for i in idx]))       # unique: a pad's own trace
        rows["trunk_end"].append(padded(p.trunk_end, [i + 1 for i in idx]))  # trunks start at 0: unshifted
        rows["block"].append(padded(p.block, [-1] * (gap + tail)))     # pads count as trunk tokens
        rows["branch"].append(padded(p.branch, [0] * (gap + tail)))
    t = {k: torch.tensor(v, dtype=torch.long, device=device) for k, v in rows.items()}
    return PackTensors(ids=t["input_ids"], pos=t["position_ids"], doc=t["doc"], trunk_end=t["trunk_end"],
                       block=t["block"], branch=t["branch"], n_trunk=n_trunk)


def pack_reads(packs: list[Pack]) -> list[BatchRead]:
    """Reads of stacked packs, positions shifted into the padded rows, with `doc` numbered across all
    packs (row 0's traces first)."""
    n_trunk = max(p.n_trunk for p in packs)
    out, first = [], 0
    for b, p in enumerate(packs):
        gap = n_trunk - p.n_trunk
        for row, target, d, k, o in p.reads:
            out.append(BatchRead(b, row + gap if row >= p.n_trunk else row, target, first + d, k, o))
        first += len({r.doc for r in p.reads})
    return out
