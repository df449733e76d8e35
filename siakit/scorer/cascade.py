"""The cascade cut of a prompt group's forest (the shared-prefix idea of FlashInfer's cascade
inference and Hydragen): the group's common prefix (the *stem*) runs once into a KV cache, the cache
is expanded to one batch row per trace, and each row holds only that trace's own part of the forest
(its trunk after the stem and its probes; probes that hang on the stem itself join the shortest row).
The stem is every trunk token on two or more traces' trunks: the prompt, and steps that traces share.

One pass over one shared row (`tree`) computes attention between every pair of the group's tokens
(a dense mask hides most of them but does not skip them); the cascade computes each trace against
the stem and itself only, so the prompt (and any steps that traces share) is fed once and no trace
attends across to another.

    >>> import numpy as np
    >>> from siakit.scorer.methods import METHODS, MethodOptions
    >>> lays = [TraceLayout(i, ids=[5, 6, 7, t], bounds=[2, 3, 4], cue=[9], options=[[4], [10]])
    ...         for i, t in (("a", 11), ("b", 12))]   # two traces: prompt 5 6, a shared step 7, then 11 or 12
    >>> cut = cascade_cut(lays, docs=[0, 1])          # Cut: stem nodes, rows of nodes, placed reads
    >>> [cut.ids[n] for n in cut.stem], [[cut.ids[n] for n in row] for row in cut.rows]   # tokens
    ([5, 6, 7], [[11, 9, 9], [12, 9, 9]])
    >>> opt, ent = METHODS["tree"].run(adapter, lays, MethodOptions(cascade="always"))  # through run_cascade
    >>> ref, ref_ent = METHODS["tree"].run(adapter, lays, MethodOptions(cascade=False))  # one pass, one row
    >>> all(np.allclose(a, b, atol=1e-5) for a, b in zip(opt + ent, ref + ref_ent))       # the same numbers
    True

The mask is the forest's one rule over [stem columns | row columns] (`siakit.scorer.masks.allowed`):
the order numbers and subtree ends are the group forest's, so a row sees its own ancestors only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from siakit.scorer.layout import TraceLayout
from siakit.scorer.packing import PAD_ORDER, BatchRead, PackTensors, Read, build_forest, prompt_groups


class PlacedRead(NamedTuple):
    in_stem: bool              # read off the stem pass (else off a row)
    row: int                   # the row (0 for the stem)
    column: int                # its column in the stem or the row
    read: Read                 # the forest's read placed there


@dataclass
class Cut:
    """One group forest cut into a stem and rows, and every read placed in one of them."""
    ids: list[int]             # every node's token
    depth: list[int]
    order: list[int]
    end: list[int]
    stem: list[int]            # stem nodes, depth-first (a path, or a tree where traces share steps)
    rows: list[list[int]]      # nodes of each row, depth-first
    reads: list[PlacedRead]


def common_prefix(layouts: list[TraceLayout]) -> int:
    """Tokens all `layouts` start with. common_prefix(<ids [1 2 3], [1 2 4]>) -> 2"""
    first, n = layouts[0].ids, min(len(lay.ids) for lay in layouts)
    for other in layouts[1:]:
        n = next((i for i in range(n) if other.ids[i] != first[i]), n)
    return n


def cascade_cut(layouts: list[TraceLayout], docs: list[int]) -> Cut:
    """The group `layouts` (same prompt) as one forest cut into a stem (trunk tokens on two or more
    traces' trunks; a lone trace: its prompt) and rows (each trace's own part, plus the probe blocks
    that hang on the stem)."""
    forest, reads = build_forest(layouts, True, docs)
    uses: dict[int, int] = {}
    for lay in layouts:
        for n in forest.add_path(-1, lay.ids, trunk=True):  # the trunk path again: its nodes
            uses[n] = uses.get(n, 0) + 1
    order, end = forest.numbering()
    if len(layouts) > 1:
        stem = sorted((n for n, u in uses.items() if u > 1), key=order.__getitem__)
    else:
        stem = forest.add_path(-1, layouts[0].ids[: layouts[0].bounds[0]], trunk=True)
    in_stem = set(stem)
    top = []  # the node under the stem (or the root) whose subtree holds each node
    for n, p in enumerate(forest.parent):
        top.append(n if p < 0 or p in in_stem else top[p])
    subtrees: dict[int, list[int]] = {}
    for n in sorted(range(len(forest.ids)), key=order.__getitem__):
        if n not in in_stem:
            subtrees.setdefault(top[n], []).append(n)
    rows = [nodes for t, nodes in subtrees.items() if forest.trunk[t]] or [[]]
    for t, nodes in subtrees.items():  # probe blocks on the stem: into the shortest row
        if not forest.trunk[t]:
            min(rows, key=len).extend(nodes)
    place = {n: (False, r, c) for r, nodes in enumerate(rows) for c, n in enumerate(nodes)}
    place.update({n: (True, 0, c) for c, n in enumerate(stem)})
    return Cut(forest.ids, forest.depth, order, end, stem, rows, [PlacedRead(*place[r.row], r) for r in reads])


def cascade_pays(model, cuts: list[Cut], rows: bool) -> bool:
    """Whether the cascade costs fewer FLOPs than the one-pass tree (`rows`: a padded row per group,
    else one sequence), counting 2 x body parameters per token fed (pads included) and 4 x layers x
    heads x head_dim per (query, key) pair the dense mask makes the kernel compute. At SmolLM2's size
    four ~500-token variants of a problem stay in one pass; eight traces under a 231-token few-shot
    prompt take the cascade."""
    from siakit.scorer.flops import attention_dims, param_counts

    layers, heads, head_dim = attention_dims(model.config)
    per_token, per_pair = 2 * param_counts(model)["body"], 4 * layers * heads * head_dim
    sizes = [len(c.ids) for c in cuts]
    one = (len(sizes) * max(sizes), len(sizes) * max(sizes) ** 2) if rows else (sum(sizes), sum(sizes) ** 2)
    n_stem = max(len(c.stem) for c in cuts)
    width = max(len(r) for c in cuts for r in c.rows)
    n_rows = sum(len(c.rows) for c in cuts)
    two = (len(cuts) * n_stem + n_rows * width, len(cuts) * n_stem ** 2 + n_rows * width * (n_stem + width))
    return two[0] * per_token + two[1] * per_pair < one[0] * per_token + one[1] * per_pair


def run_cascade(adapter, layouts: list[TraceLayout], opts, tree_mask, gather, cuts=None):
    """Every prompt group of `layouts`: stems in one pass into a KV cache (plain causal where each stem
    is a path), the cache expanded to the groups' rows, then every row in one pass with the forest's mask."""
    import torch

    cuts = cuts or [cascade_cut([layouts[i] for i in g], g) for g in prompt_groups(layouts)]
    n_stem = max(max(len(c.stem) for c in cuts), 1)
    width = max(len(r) for c in cuts for r in c.rows)
    dev = adapter.device
    stem_rows, rows, owner, reads = [], [], [], []
    for g, c in enumerate(cuts):
        pads = list(range(len(c.stem), n_stem))
        stem = ([c.ids[n] for n in c.stem] + [0] * len(pads), [c.depth[n] for n in c.stem] + [0] * len(pads),
                [c.order[n] for n in c.stem] + [PAD_ORDER + i for i in pads],
                [c.end[n] for n in c.stem] + [PAD_ORDER + i + 1 for i in pads])
        stem_rows.append(stem)
        first = len(rows)
        for nodes in c.rows:
            tail = list(range(n_stem + len(nodes), n_stem + width))
            rows.append([s + [c_[n] for n in nodes] + p for s, c_, p in zip(
                stem, (c.ids, c.depth, c.order, c.end),
                ([0] * len(tail), [0] * len(tail), [PAD_ORDER + i for i in tail], [PAD_ORDER + i + 1 for i in tail]))])
            owner.append(g)
        for is_stem, r, col, read in c.reads:
            reads.append(BatchRead(g, col, *read[1:]) if is_stem else BatchRead(first + r, n_stem + col, *read[1:]))
    stem_t = [torch.tensor([s[i] for s in stem_rows], dtype=torch.long, device=dev) for i in range(4)]
    both = [torch.tensor([r[i] for r in rows], dtype=torch.long, device=dev) for i in range(4)]
    meta = PackTensors(ids=both[0], pos=both[1], order=both[2], subtree_end=both[3], n_trunk=n_stem)
    stem_keep = sorted({r.index for r in reads if r.index < n_stem})
    row_keep = sorted({r.index for r in reads if r.index >= n_stem})
    cache = adapter.new_cache()
    parts = []
    paths = all(c.depth[n] == i for c in cuts for i, n in enumerate(c.stem))  # each stem one path
    stem_meta = PackTensors(ids=stem_t[0], pos=stem_t[1], order=stem_t[2], subtree_end=stem_t[3], n_trunk=n_stem)
    with torch.no_grad():  # stems that are paths: plain causal (right pads are never seen)
        logits = adapter.call(stem_t[0], stem_t[1], None if paths else tree_mask(adapter, stem_meta, None, "dense"),
                              torch.tensor(stem_keep or [n_stem - 1], device=dev), cache=cache)
        parts.append((logits, {i: c for c, i in enumerate(stem_keep)}))
        if not width:  # every read lies on the stems
            return gather(parts, reads, layouts)
        cache.batch_select_indices(torch.tensor(owner, device=dev))  # one copy of its stem per row
        logits = adapter.call(meta.ids[:, n_stem:], meta.pos[:, n_stem:],
                              tree_mask(adapter, meta, torch.arange(n_stem, n_stem + width, device=dev), "dense"),
                              torch.tensor([i - n_stem for i in row_keep], device=dev), cache=cache)
        parts.append((logits, {i: c for c, i in enumerate(row_keep)}))
    return gather(parts, reads, layouts)
