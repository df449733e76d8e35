"""One token forest per pack: every layout of the tree pass (trunk and probes, packs, shared prompts,
answer tries) is a set of token paths merged into a forest, cut and batched in different ways.

A node is one fed token; its position id is its depth (a root has depth 0), and it attends to its
ancestors and itself. Numbering the nodes in depth-first pre-order (`order`) and writing down where
each node's subtree ends in that numbering (`subtree_end`, exclusive) turns "kv is an ancestor of q,
or q itself" into ONE rule for every mask form (dense bool/additive, SDPA, FlexAttention):

    order[kv] <= order[q] < subtree_end[kv]                      (siakit.scorer.masks.allowed)

Paths are merged like a trie (`Forest.add_path`): a token under a node that already has a child
with the same token is that child, because its keys and values are the same (same ancestors, same
positions). So traces with the same prompt share one trunk (prompt sharing), probes after the same
context with the same cue share the cue, and options with a common first token share that token.

    >>> f = Forest()
    >>> f.add_path(-1, [5, 6, 7], trunk=True)   # a trunk a b c: node indices
    [0, 1, 2]
    >>> f.add_path(1, [9])                      # a probe token under b (position 2)
    [3]
    >>> f.add_path(-1, [5, 6, 8], trunk=True)   # another trace with the same first two tokens
    [0, 1, 4]
    >>> f.numbering()                           # (order, subtree_end) per node, trunk children last
    ([0, 1, 3, 2, 4], [5, 5, 4, 3, 5])

Extending the forest (e.g. a digit trie under a cue): `forest, reads = build_forest(layouts)`, then
`forest.add_path(node, tokens)` under any node (an anchor read's `row` is the last cue token's node)
returns the new (or reused) nodes; add `Read`s naming them, then `layout_pack(forest, reads)`. Reads
name nodes until `layout_pack`, and the physical column afterwards. `layout_pack` lays any finished forest out: trunk nodes first (in
depth-first order, so the trunk pass of `kvtree` sees only trunk keys), then every other node; the
order and subtree ends are recomputed from the parent links, so a forest can be grown at any node.

    >>> lay_a = TraceLayout("a", ids=[5, 6, 7], bounds=[2, 3], cue=[9], options=[[4]])   # K = 1, one option
    >>> lay_b = TraceLayout("b", ids=[5, 6, 8], bounds=[2, 3], cue=[9], options=[[4]])   # the same prompt 5 6
    >>> pack = build_pack([lay_a, lay_b])       # shared prompt: one trunk, then the probe blocks
    >>> pack.input_ids, pack.position_ids, pack.n_trunk     # trunk 5 6 7 8, then the cue under each context
    ([5, 6, 7, 8, 9, 9, 9], [0, 1, 2, 2, 2, 3, 3], 4)
    >>> pack_tensors([pack], "cpu").order      # PackTensors of [batch=1, L] long tensors
    tensor([[0, 1, 3, 5, 2, 4, 6]])
    >>> pack_reads([pack])[1]                   # option 0 of trace a after k = 0, read at column 4
    BatchRead(batch=0, index=4, target=4, doc=0, k=0, option=0)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from siakit.scorer.layout import TraceLayout
from siakit.scorer.termination import END

PAD_ORDER = 1 << 40  # pads are numbered after every real node: a pad sees itself only, nobody sees a pad


class Read(NamedTuple):
    """One log-probability to read: `target` at sequence index `row` (option -1 = the anchor, whose
    whole next-token distribution gives the vocab entropy; target is then -1; target END = -2: the
    option's end read, log(1 - p(CONT)) after its last token)."""
    row: int
    target: int
    doc: int      # which trace (index in the call's layouts)
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
    """Stacked packs as long tensors [batch, L]: the forest's per-token metadata."""
    ids: Any          # token ids  [batch, L]
    pos: Any          # position ids = depth in the forest  [batch, L]
    order: Any        # depth-first pre-order number (pads: PAD_ORDER + column)  [batch, L]
    subtree_end: Any  # order number just past the token's subtree (pads: order + 1)  [batch, L]
    n_trunk: int      # the first n_trunk columns are trunk tokens (kvtree runs them first)


@dataclass
class Forest:
    """Token nodes with parent links, merged like a trie (see the module docstring)."""
    ids: list[int] = field(default_factory=list)
    parent: list[int] = field(default_factory=list)   # -1: a root
    depth: list[int] = field(default_factory=list)
    trunk: list[bool] = field(default_factory=list)   # on some trace's trunk (closed under ancestors)
    children: dict = field(default_factory=dict)      # (parent, token) -> node

    def add_path(self, node: int, tokens: list[int], trunk: bool = False, tree: int = 0) -> list[int]:
        """Hang `tokens` as a path under `node` (-1: from the roots of tree `tree`; paths in different
        trees never merge); return the path's node indices, reusing existing children with the same
        token. add_path(-1, [5, 6]) -> [0, 1]"""
        out = []
        for tok in tokens:
            key = (node, tok) if node >= 0 else (-1 - tree, tok)
            child = self.children.get(key)
            if child is None:
                child = len(self.ids)
                self.children[key] = child
                self.ids.append(tok); self.parent.append(node); self.trunk.append(trunk)
                self.depth.append(0 if node < 0 else self.depth[node] + 1)
            elif trunk:
                self.trunk[child] = True
            out.append(child)
            node = child
        return out

    def numbering(self) -> tuple[list[int], list[int]]:
        """(order, subtree_end) per node: depth-first pre-order, non-trunk children before trunk ones
        (each in insertion order), and the order number just past each node's subtree."""
        kids: list[list[int]] = [[] for _ in self.ids]
        roots = []
        for n, p in enumerate(self.parent):
            (roots if p < 0 else kids[p]).append(n)
        order, end = [0] * len(self.ids), [0] * len(self.ids)
        stack, count = [(n, False) for n in reversed(sorted(roots, key=lambda n: self.trunk[n]))], 0
        while stack:  # iterative: trunks are thousands of tokens deep
            n, done = stack.pop()
            if done:
                end[n] = count
                continue
            order[n] = count
            count += 1
            stack.append((n, True))
            stack += [(c, False) for c in reversed(sorted(kids[n], key=lambda c: self.trunk[c]))]
        return order, end


@dataclass
class Pack:
    """One forest laid out as a sequence: trunk nodes first, then the rest. All lists have length L."""
    input_ids: list[int] = field(default_factory=list)
    position_ids: list[int] = field(default_factory=list)
    order: list[int] = field(default_factory=list)
    subtree_end: list[int] = field(default_factory=list)
    n_trunk: int = 0                                    # the first n_trunk tokens are trunk tokens
    reads: list[Read] = field(default_factory=list)     # what to read off which column's logits
    forest: Forest = field(default_factory=Forest)
    chain: bool = True                                  # the trunk tokens form one path (plain causal)


def add_trace(forest: Forest, lay: TraceLayout, doc: int, tree: int = 0) -> list[Read]:
    """Merge `lay` (trunk, then each prefix's cue and option branches) into `forest`; return its
    reads, `row` naming nodes. For ids [a b c], bounds [1, 3], cue [q], one option [x y],
    terminated: trunk a b c, under a: q x y, under c: q x y; reads at q (anchor, x), x (y), y (end)."""
    trunk = forest.add_path(-1, lay.ids, trunk=True, tree=tree)
    reads = []
    for k, b in enumerate(lay.bounds):
        at = trunk[b - 1] if b > 0 else -1
        cue = forest.add_path(at, lay.cue, tree=tree)
        anchor = cue[-1] if cue else at
        reads.append(Read(anchor, -1, doc, k, -1))
        for o in lay.options_at(k):
            opt = lay.options[o]
            branch = forest.add_path(anchor, opt if lay.terminated else opt[:-1], tree=tree)
            rows = [anchor] + branch
            reads += [Read(rows[t], opt[t], doc, k, o) for t in range(len(opt))]
            if lay.terminated:  # the last option token is fed too: does the answer end after it?
                reads.append(Read(rows[len(opt)], END, doc, k, o))
    return reads


def build_forest(layouts: list[TraceLayout], share: bool = True,
                 docs: list[int] | None = None) -> tuple[Forest, list[Read]]:
    """`layouts` merged into one forest; reads name nodes (the anchor read of trace d, prefix k is
    `Read(node, -1, d, k, -1)`: grow a trie under that node, then `layout_pack(forest, reads)`).
    `share`: traces share common token prefixes (a prompt) as one trunk; False: each trace is its
    own tree. `docs`: the trace index each layout's reads carry (default 0, 1, ...)."""
    forest, reads = Forest(), []
    for d, lay in enumerate(layouts):
        reads += add_trace(forest, lay, d if docs is None else docs[d], tree=0 if share else d)
    return forest, reads


def build_pack(layouts: list[TraceLayout], share: bool = True, docs: list[int] | None = None) -> Pack:
    """`layouts` merged into one forest (`build_forest`) and laid out (`layout_pack`)."""
    return layout_pack(*build_forest(layouts, share, docs))


def layout_pack(forest: Forest, reads: list[Read]) -> Pack:
    """Lay `forest` out: trunk nodes first (depth-first), then the others (depth-first); `reads`
    name nodes and come back naming columns."""
    order, end = forest.numbering()
    nodes = sorted(range(len(forest.ids)), key=lambda n: (not forest.trunk[n], order[n]))
    column = {n: c for c, n in enumerate(nodes)}
    trunk_nodes = [n for n in nodes if forest.trunk[n]]
    n_children = {}
    for n in trunk_nodes:
        n_children[forest.parent[n]] = n_children.get(forest.parent[n], 0) + 1
    return Pack(input_ids=[forest.ids[n] for n in nodes], position_ids=[forest.depth[n] for n in nodes],
                order=[order[n] for n in nodes], subtree_end=[end[n] for n in nodes], n_trunk=len(trunk_nodes),
                reads=[r._replace(row=column[r.row]) for r in reads], forest=forest,
                chain=all(v == 1 for v in n_children.values()))


def prompt_groups(layouts: list[TraceLayout]) -> list[list[int]]:
    """Indices of layouts grouped by identical prompt tokens (context_0), groups in order of first
    appearance, members in input order. prompt_groups(<prompts P, Q, P>) -> [[0, 2], [1]]"""
    groups: dict[tuple, list[int]] = {}
    for i, lay in enumerate(layouts):
        groups.setdefault(tuple(lay.ids[: lay.bounds[0]]), []).append(i)
    return list(groups.values())


def pack_layouts(layouts: list[TraceLayout], max_tokens: int, padded: bool = False,
                 sizes: list[int] | None = None) -> list[list[int]]:
    """Greedy packing in input order: indices of layouts per pack, each pack <= `max_tokens` tokens
    (`padded`: counted as rows x longest row, for batch rows); a longer trace gets a pack of its own.
    `sizes`: tokens of each item (default: each layout's `n_tokens`).

    pack_layouts(<layouts of 30, 50, 40 tokens>, 90) -> [[0, 1], [2]]
    """
    sizes = [lay.n_tokens for lay in layouts] if sizes is None else sizes
    packs, current, longest = [], [], 0
    for i, n in enumerate(sizes):
        size = (len(current) + 1) * max(longest, n) if padded else sum(sizes[j] for j in current) + n
        if current and size > max_tokens:
            packs.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, n)
    if current:
        packs.append(current)
    return packs


def pack_tensors(packs: list[Pack], device, pad_id: int = 0) -> PackTensors:
    """Stack packs as rows of a batch: metadata as long tensors [batch, L] on `device`. Each row is
    padded after its trunks (to the longest trunk part) and after the rest, so the trunk parts line
    up (`kvtree` runs them first). A pad token sees only itself (no NaN rows) and no real token sees a pad.
    """
    import torch

    n_trunk = max(p.n_trunk for p in packs)
    n_probe = max(len(p.input_ids) - p.n_trunk for p in packs)
    rows = {name: [] for name in ("ids", "pos", "order", "end")}
    for p in packs:
        gap, tail = n_trunk - p.n_trunk, n_probe - (len(p.input_ids) - p.n_trunk)

        def padded(values, pads):
            return values[: p.n_trunk] + pads[:gap] + values[p.n_trunk:] + pads[gap:]
        idx = list(range(p.n_trunk, n_trunk)) + list(range(n_trunk + n_probe - tail, n_trunk + n_probe))
        rows["ids"].append(padded(p.input_ids, [pad_id] * (gap + tail)))
        rows["pos"].append(padded(p.position_ids, [0] * (gap + tail)))
        rows["order"].append(padded(p.order, [PAD_ORDER + i for i in idx]))
        rows["end"].append(padded(p.subtree_end, [PAD_ORDER + i + 1 for i in idx]))
    t = {k: torch.tensor(v, dtype=torch.long, device=device) for k, v in rows.items()}
    return PackTensors(ids=t["ids"], pos=t["pos"], order=t["order"], subtree_end=t["end"], n_trunk=n_trunk)


def pack_reads(packs: list[Pack]) -> list[BatchRead]:
    """Reads of stacked packs, positions shifted into the padded rows (`doc` as the packs carry it)."""
    n_trunk = max(p.n_trunk for p in packs)
    out = []
    for b, p in enumerate(packs):
        gap = n_trunk - p.n_trunk
        out += [BatchRead(b, row + gap if row >= p.n_trunk else row, target, d, k, o)
                for row, target, d, k, o in p.reads]
    return out
