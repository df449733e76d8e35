"""The one registry of ways to compute every prefix's readout of a trace; all give the same numbers.

    >>> opt, ent = METHODS["packed"].run(adapter, layouts, MethodOptions(rows=True))   # four traces, K = 2, two options
    >>> opt[0].round(3), ent[0].round(3)    # (option_logprob [K+1, n_options], vocab_entropy [K+1]), nats
    (array([[-7.194, -8.226],
           [-4.681, -9.998],
           [-5.804, -8.996]]), array([4.844, 4.951, 4.404]))
    >>> sorted(METHODS)
    ['batched', 'kv', 'kv-grow', 'kvtree', 'naive', 'packed', 'tree']

Each `run_*(adapter, layouts, opts)` returns `(option_logprob, vocab_entropy)`: per trace, a
[K+1, n_options] float64 array of summed option-token log-probabilities after `context_k + cue` and a
[K+1] array of next-token entropies at the anchor (nats). `score_traces`, `siakit bench` and the CLI
choices all resolve methods here: a new method touches this file and its test.

The tree methods are ways of cutting and batching ONE token forest (`siakit.scorer.packing`: trunks
merged like a trie, so traces with the same prompt share it; every probe hangs under its context) under
one mask rule (`siakit.scorer.masks.allowed`); the others are plain causal passes.

- `naive`:   one forward pass per prefix (and per multi-token option): the reference (the oracle);
             it and the other plain causal methods live in `siakit.scorer.causal`.
- `batched`: the same sequences as one right-padded batch per trace.
- `kv`:      the trace once into a KV cache, then each prefix's probes against the cache cut at it.
- `tree`:    the whole forest of the call in ONE pass (`rows=False`; score_traces: one prompt group).
- `packed`:  the forest cut into one padded batch row per prompt group (`rows=True`), several groups
             per pass (score_traces packs groups up to `pack_tokens`), or in one row (`rows=False`).
             With `mask="flex"` the mask is a FlexAttention BlockMask over the rows padded to a length
             bucket (`siakit.scorer.buckets`): whole 128 x 128 blocks the forest hides are skipped.
- `kvtree`:  the forest cut after its trunk columns: the trunks once into a KV cache (plain causal
             attention when each row's trunk is one path), then ALL probes in one pass with a small
             [P, L] mask: memory-light at long traces.
- `kv-grow`: the peers' method (EAT-style): one KV cache grown along the trace, each step's tokens fed
             once, then the cue and option branches as probes, cropped off again (`cache.crop`).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from siakit.scorer.layout import TraceLayout
from siakit.scorer.cascade import cascade_cut, cascade_pays, run_cascade
from siakit.scorer.buckets import bucket_length, pad_columns, static_shapes
from siakit.scorer.compiling import compiled
from siakit.scorer.masks import resolve_mask, tree_mask
from siakit.scorer.packing import PackTensors, build_pack, pack_reads, pack_tensors, prompt_groups
from siakit.scorer.causal import read_shapes, shared_cont, run_batched, run_kv, run_kv_grow, run_naive  # noqa: F401
from siakit.scorer.causal import Row, probe_rows  # noqa: F401  (re-exported)
from siakit.scorer.reads import FlatRead, reduce_reads


@dataclass(frozen=True)
class MethodOptions:
    mask: str = "dense"          # dense | flex | auto: the form of the tree mask (flex needs flex_attention;
                                 # auto: flex where it wins, see masks.resolve_mask)
    rows: bool = True            # several traces: one padded batch row each (False: one block-diagonal row)
    max_tokens: int = 1 << 16    # batched: padded tokens per batch
    compile: str = ""            # "" off; "inductor": torch.compile the forward (tree methods; see compiling)
    bucket: int = 128            # flex / compiled tree pass: packs padded to bucket_length(L, bucket)
                                 # (few compiled shapes); 0: no padding, one compile per distinct length
    share: bool = True           # traces with the same prompt share one trunk (same numbers, fewer tokens)
    cascade: bool | str = True   # tree/packed, transformers model, dense mask: a prompt group's shared
                                 # tokens once into a KV cache, its traces as rows against it, where that
                                 # costs fewer FLOPs (cascade.cascade_pays); "always"; False: never


def _packs(layouts, opts):
    """The call's forest cut into packs: one per batch row (`rows`: per prompt group when sharing,
    else per trace), or the whole forest in one row. Reads carry each layout's index in `layouts`."""
    if not opts.rows:
        return [build_pack(layouts, opts.share)]
    groups = prompt_groups(layouts) if opts.share else [[i] for i in range(len(layouts))]
    return [build_pack([layouts[i] for i in g], opts.share, docs=g) for g in groups]


def _gather(logits_parts, reads, layouts):
    """logits_parts: list of ([B, n_keep, V] logits, {index in row: keep column}); reads from pack_reads."""
    import torch

    flat, base = [], 0
    batch = np.fromiter((r.batch for r in reads), dtype=np.int64, count=len(reads))
    index = np.fromiter((r.index for r in reads), dtype=np.int64, count=len(reads))
    row = np.full(len(reads), -1, dtype=np.int64)
    for logits, cols in logits_parts:  # one lookup table per forward pass, not a loop per read
        n_batch, n_keep = logits.shape[:2]
        flat.append(logits.reshape(n_batch * n_keep, -1))
        if cols:
            column = np.full(max(cols) + 1, -1, dtype=np.int64)  # sequence index -> kept column
            column[list(cols)] = list(cols.values())
            hit = np.where(index < column.shape[0], column[np.minimum(index, column.shape[0] - 1)], -1)
            row = np.where((row < 0) & (hit >= 0), base + batch * n_keep + hit, row)
        base += n_batch * n_keep
    if (row < 0).any():  # a read whose row no pass kept: a bug in the method, never silently zero
        raise RuntimeError(f"{int((row < 0).sum())} reads fall on rows no forward pass kept")
    rows = [FlatRead(int(i), r.target, r.doc, r.k, r.option) for i, r in zip(row, reads)]
    return reduce_reads(torch.cat(flat), rows, len(layouts), read_shapes(layouts), [lay.id for lay in layouts],
                        shared_cont(layouts))


def run_tree(adapter, layouts: list[TraceLayout], opts: MethodOptions = MethodOptions()):
    """Trunks and all probe blocks of `layouts` in one forward pass: one sequence with a block-diagonal
    tree mask, or (`opts.rows`) one batch row per prompt group, padded, each with its own tree mask.
    Traces sharing a prompt on a transformers model with a dense mask: the cascade cut (`opts.cascade`,
    `siakit.scorer.cascade`): the shared prefix once, then a row per trace against its cache."""
    import torch

    mask = resolve_mask(adapter, opts.mask)
    if opts.cascade and opts.share and adapter.supports_kv_cache and mask == "dense" and not opts.compile:
        groups = prompt_groups(layouts)
        if any(len(g) > 1 for g in groups):
            cuts = [cascade_cut([layouts[i] for i in g], g) for g in groups]
            if opts.cascade == "always" or cascade_pays(adapter.model, cuts, opts.rows):
                return run_cascade(adapter, layouts, opts, tree_mask, _gather, cuts)
    adapter = compiled(adapter, opts.compile)
    packs = _packs(layouts, opts)
    meta = pack_tensors(packs, adapter.device)
    fixed = mask == "flex" or bool(opts.compile)  # compiled kernels: a few bucketed shapes, all static
    if fixed and opts.bucket:
        meta = pad_columns(meta, bucket_length(meta.ids.shape[1], opts.bucket))
    reads = pack_reads(packs)
    keep = sorted({r.index for r in reads})
    with torch.no_grad(), (static_shapes() if fixed else contextlib.nullcontext()):
        logits = adapter.call(meta.ids, meta.pos, tree_mask(adapter, meta, None, mask),
                              torch.tensor(keep, device=meta.ids.device))  # [batch, n_keep, vocab]
    return _gather([(logits, {pos: c for c, pos in enumerate(keep)})], reads, layouts)


def run_kvtree(adapter, layouts: list[TraceLayout], opts: MethodOptions = MethodOptions()):
    """Trunk pass into a KV cache (plain causal attention when the trunks need no mask), then every
    probe in one pass against the cache with a small [P, L] tree mask."""
    import torch

    opts = replace(opts, mask=resolve_mask(adapter, opts.mask))
    cache = adapter.new_cache()
    packs = _packs(layouts, opts)
    meta = pack_tensors(packs, adapter.device)
    reads = pack_reads(packs)
    t, n = meta.n_trunk, meta.ids.shape[1]
    dev = meta.ids.device
    trunk_keep = sorted({r.index for r in reads if r.index < t})
    probe_keep = sorted({r.index for r in reads if r.index >= t})
    plain = all(p.chain for p in packs)  # one trunk path per row: right pads never matter
    parts = []
    with torch.no_grad():
        # one trunk path per row: the trunk pass is plain causal attention (flash-capable, no mask at all);
        # a shared prompt's trunks branch: the tree mask over the trunk columns only
        trunk_mask = None if plain else tree_mask(adapter, _first_columns(meta, t), None, opts.mask)
        logits = adapter.call(meta.ids[:, :t], meta.pos[:, :t], trunk_mask,
                              torch.tensor(trunk_keep or [t - 1], device=dev), cache=cache)
        parts.append((logits, {pos: c for c, pos in enumerate(trunk_keep)}))
        if n > t:
            logits = adapter.call(meta.ids[:, t:], meta.pos[:, t:],
                                  tree_mask(adapter, meta, torch.arange(t, n, device=dev), opts.mask),
                                  torch.tensor([r - t for r in probe_keep], device=dev), cache=cache)
            parts.append((logits, {pos: c for c, pos in enumerate(probe_keep)}))
    return _gather(parts, reads, layouts)


def _first_columns(meta: PackTensors, n: int) -> PackTensors:
    """`meta` cut to its first `n` columns (the trunk part: trunk tokens see only trunk tokens)."""
    return PackTensors(ids=meta.ids[:, :n], pos=meta.pos[:, :n], order=meta.order[:, :n],
                       subtree_end=meta.subtree_end[:, :n], n_trunk=min(meta.n_trunk, n))


@dataclass(frozen=True)
class Method:
    run: Callable        # (adapter, layouts, MethodOptions) -> (option_logprob, vocab_entropy)
    tree: bool           # needs a custom 4-D mask (adapter.accepts_custom_mask)
    needs_cache: bool    # needs a KV cache (adapter.supports_kv_cache)
    packs: bool          # scores several traces per call
    on_oom: str | None = None  # out of memory on one trace: retried with this method (where it runs)
    without_mask: tuple = ()   # a model that takes no custom mask: the first of these that runs instead
                               # (score_traces labels its rows "<method>-fallback")
    long_traces: tuple = ()    # a trace over ScoreConfig.dense_max_tokens: the first of these that runs
                               # (() = this method scores it)

    def runs_on(self, adapter) -> bool:
        """Whether the model behind `adapter` can run this method (a KV cache, a custom mask)."""
        return (adapter.supports_kv_cache or not self.needs_cache) and (adapter.accepts_custom_mask or not self.tree)


_PLAIN = ("kv", "naive")  # what a tree method becomes on a model without custom masks

# name -> Method. `packed` is `tree` over several traces at once (the default behind `auto`).
METHODS: dict[str, Method] = {
    "naive": Method(run_naive, tree=False, needs_cache=False, packs=False),
    "batched": Method(run_batched, tree=False, needs_cache=False, packs=False),
    "kv": Method(run_kv, tree=False, needs_cache=True, packs=False),
    "tree": Method(run_tree, tree=True, needs_cache=False, packs=False, on_oom="kvtree", without_mask=_PLAIN),
    "packed": Method(run_tree, tree=True, needs_cache=False, packs=True, on_oom="kvtree", without_mask=_PLAIN,
                     long_traces=("kvtree", "tree")),
    "kvtree": Method(run_kvtree, tree=True, needs_cache=True, packs=False, on_oom="kv", without_mask=_PLAIN),
    "kv-grow": Method(run_kv_grow, tree=False, needs_cache=True, packs=False),
}


def first_runnable(names, adapter) -> str | None:
    """The first method of `names` the model behind `adapter` can run (None: none of them).

        first_runnable(("kvtree", "tree"), <transformers model>) -> "kvtree";  <protocol module> -> "tree"
    """
    return next((name for name in names if METHODS[name].runs_on(adapter)), None)
