"""Which forward method scores which traces, in which calls, and what happens when memory runs out.

`score_traces` resolves the method once per model (`resolve_method`: `auto` is `packed`; a tree
method on a model that takes no custom mask falls back to the first of its `without_mask` methods
that runs), then `forward_all` plans the calls (`plan`: prompt groups, groups packed up to
`pack_tokens`, long traces to the method's `long_traces`) and runs them, splitting a pack that runs
out of memory in halves and moving a single trace on to the method's `on_oom` method. Every choice
reads a field of the registry's `Method` (`siakit.scorer.methods`).

    >>> from siakit.models.tiny import tiny_model
    >>> resolve_method(tiny_model("llama").adapter, "auto")
    Resolved(method='packed', fallback=False)

    plan([short0, short1, long2], "packed", cfg, "dense", adapter) -> [Job([0, 1], "packed"), Job([2], "kvtree")]
"""
from __future__ import annotations

from typing import NamedTuple

from siakit.models.adapter import ModelAdapter
from siakit.scorer.chunked import run_chunked
from siakit.scorer.masks import resolve_mask
from siakit.scorer.methods import METHODS, MethodOptions, first_runnable
from siakit.scorer.packing import pack_layouts, prompt_groups

METHOD_CHOICES = ("auto", *METHODS)  # what score_traces and the CLI accept: auto, then every registered method


class Resolved(NamedTuple):
    method: str       # the registered method that runs
    fallback: bool    # True: the model cannot run the one asked for (rows say "<method>-fallback")


class Job(NamedTuple):
    layouts: list     # indices into the layouts of one forward_all call, scored in one method call
    method: str       # the registered method that scores them


class Forward(NamedTuple):
    option_logprob: object  # [K+1, n_options] float64: summed option-token log-probabilities
    vocab_entropy: object   # [K+1] next-token entropies at the anchor (nats)
    method: str             # the method label of the trace's rows


def resolve_method(adapter: ModelAdapter, method: str) -> Resolved:
    """The method that runs for `method` ("auto" = packed) on the model behind `adapter`.

        resolve_method(<flash-attention model>, "packed") -> Resolved("kv", True)
    """
    if method not in METHOD_CHOICES:
        raise ValueError(f"unknown method '{method}'; use one of {METHOD_CHOICES}")
    name = "packed" if method == "auto" else method
    spec = METHODS[name]
    if spec.needs_cache and not adapter.supports_kv_cache:
        raise ValueError(f"method '{method}' needs a transformers model (KV cache); use tree or naive")
    if not spec.runs_on(adapter):
        return Resolved(first_runnable(spec.without_mask, adapter), True)
    return Resolved(name, False)


def plan(layouts, method: str, cfg, mask: str, adapter: ModelAdapter, share: bool = True) -> list[Job]:
    """The calls that score `layouts` with `method`: one prompt group per call for `tree`, groups packed
    up to `cfg.pack_tokens` for `packed` (a group over `cfg.dense_max_tokens` goes to the method's
    `long_traces`, unless the mask is flex), one trace per call otherwise.

        plan([lay0, lay1, long], "packed", cfg, "dense", adapter) -> [Job([0, 1], "packed"), Job([2], "kvtree")]
    """
    groups = prompt_groups(layouts) if share else [[i] for i in range(len(layouts))]
    if method == "tree":
        return [Job(g, method) for g in groups]
    if not METHODS[method].long_traces:
        return [Job([i], method) for i in range(len(layouts))]

    def size(g):  # the group's forest: its traces' tokens, the shared prompt once
        return sum(layouts[i].n_tokens for i in g) - (len(g) - 1) * layouts[g[0]].bounds[0]
    short = [g for g in groups if size(g) <= cfg.dense_max_tokens or mask == "flex"]
    long_ = [i for g in groups if g not in short for i in g]
    rows = cfg.pack_layout == "rows"
    if rows:  # similar lengths share a batch (less padding); results are keyed by id anyway
        short.sort(key=size)
    jobs = [Job([i for j in batch for i in short[j]], method)
            for batch in pack_layouts([], cfg.pack_tokens, padded=rows, sizes=[size(g) for g in short])]
    long_method = first_runnable(METHODS[method].long_traces, adapter)
    return jobs + [Job([i], long_method) for i in long_]


def forward_all(adapter: ModelAdapter, layouts, method, cfg, label=None, bar=None, share: bool = True) -> dict:
    """Run `method` over all `layouts` (the calls of `plan`), splitting packs on out-of-memory;
    returns {layout id: Forward}. The tree methods take a prompt group per call (`share`: traces with
    the same prompt tokens share one trunk; `tree`: one group per pass; `packed`: groups packed up to
    `cfg.pack_tokens`); the others take one trace. `label` replaces the method label of every row."""
    mask = resolve_mask(adapter, cfg.mask)
    if cfg.pack_layout not in ("diag", "rows"):
        raise ValueError(f"pack_layout must be 'diag' or 'rows', got {cfg.pack_layout!r}")
    options = {how: MethodOptions(mask=mask, rows=cfg.pack_layout == "rows" and how == "packed",
                                  max_tokens=cfg.pack_tokens, compile=cfg.compile, share=share)
               for how in METHODS}
    todo = plan(layouts, method, cfg, mask, adapter, share)
    out: dict = {}
    while todo:
        job = todo.pop(0)
        try:
            opt, ent = run_chunked(METHODS[job.method].run, adapter, [layouts[i] for i in job.layouts],
                                   options[job.method], cfg.chunk_prefixes)
        except _oom_error():
            todo[:0] = _after_oom(adapter, layouts, job)
            continue
        for j, i in enumerate(job.layouts):
            out[layouts[i].id] = Forward(opt[j], ent[j], label or job.method)
        if bar is not None:
            bar.update(len(job.layouts))
    return out


def _after_oom(adapter: ModelAdapter, layouts, job: Job) -> list[Job]:
    """What to run instead of `job` after it ran out of memory: both halves of a pack (nothing is
    lost), or a single trace with the method's `on_oom` method; else a MemoryError naming the trace."""
    _free_cuda()
    if len(job.layouts) > 1:
        half = len(job.layouts) // 2
        return [Job(job.layouts[:half], job.method), Job(job.layouts[half:], job.method)]
    after = METHODS[job.method].on_oom
    if after is not None and METHODS[after].runs_on(adapter):
        return [Job(job.layouts, after)]
    first = layouts[job.layouts[0]]
    raise MemoryError(f"out of memory scoring trace {first.id} ({first.n_tokens} tokens) "
                      f"even with method '{job.method}'") from None


def _oom_error():
    import torch

    return getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)


def _free_cuda():
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
