"""`siakit bench`: speed, memory and agreement of the scorer's forward methods (not a timed test).

Random-weight models built from configs (no download) with the shapes of Llama-3.2-1B, Qwen2.5-1.5B and
Gemma-2-2B, a tiny CPU config, or the embedded SmolLM2 (`smollm2`); synthetic traces of T tokens with K
prefixes, a cue and answer options (random token ids: speed does not depend on content). For each
method: median time over repeats after warm-up (CUDA events on a GPU), time per trace, tokens/s,
achieved TFLOP/s of the *useful* work (`siakit.scorer.flops`: non-embedding matmuls on the tree's
tokens, the lm_head on the read rows, attention on the pairs the tree mask allows) and its fraction of
the measured bf16 matmul peak, peak GPU memory, the largest |entropy difference| (readout and vocab,
nats) against `naive`, and the ratios to the `causal` ceiling row: one plain causal pass over the same
number of tokens in the same run (time and peak memory). A `mask` line per case shows what
`mask="auto"` picks on this device.

    python -m siakit.scorer.bench --device cpu --preset tiny          # or: siakit bench ...
    python -m siakit.scorer.bench --device cuda --preset gpu --json  # the GPU suite, ~5-6 min on one H100

Imports only torch, transformers, numpy and siakit's scorer core (GPU machines lack the book tools).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict

import numpy as np

from siakit.scorer.bench_cases import LABELS, PRESETS, SHAPES, VARIANTS, Case, Variant, targets  # noqa: F401
from siakit.scorer.bench_report import COLUMNS, environment, format_row


def build_model(shape: str, dtype: str, device: str, attn: str = "sdpa"):
    """(model, n_params) with random weights in `dtype` on `device` (created there directly)."""
    import torch
    import transformers

    torch_dtype = getattr(torch, dtype)
    if shape == "smollm2":
        from siakit.models.loading import load_model

        model = load_model("smollm2-135m-instruct", device=device, dtype=dtype).model
    else:
        config_class, kwargs = SHAPES[shape]
        config = getattr(transformers, config_class)(**kwargs)
        torch.manual_seed(0)
        with torch.device(device):
            model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch_dtype,
                                                                  attn_implementation=attn)
        model.eval()
    return model, sum(p.numel() for p in model.parameters())


def synthetic_layouts(case: Case, n: int, vocab: int, seed: int = 0):
    """`n` TraceLayouts of T random tokens, K evenly spaced prefixes, shared cue and options."""
    from siakit.scorer.layout import TraceLayout

    rng = np.random.default_rng(seed)
    tok = lambda size: rng.integers(3, vocab, size).tolist()  # noqa: E731  (ids 0-2 often special)
    cue, options = tok(case.cue), [tok(case.option_len) for _ in range(case.options)]
    bounds = [round(case.T * (k + 1) / case.K) for k in range(case.K)]
    return [TraceLayout(id=f"s{i}", ids=tok(case.T), bounds=bounds, cue=cue, options=options) for i in range(n)]


def _runner(adapter, label: str):
    """`fn(layouts)` for a bench label, resolved through the scorer's one method registry (`causal`:
    the ceiling pass, which scores nothing and returns None)."""
    from siakit.scorer.methods import METHODS, MethodOptions

    variant = VARIANTS[label]
    if variant.method == "causal":
        return lambda layouts: causal_pass(adapter, layouts)
    method = METHODS[variant.method]
    return lambda layouts: method.run(adapter, layouts, MethodOptions(**variant.options))


def causal_pass(adapter, layouts) -> None:
    """One plain causal forward (no mask: the flash/SDPA causal kernel) over a batch row per layout of
    `layout.n_tokens` tokens (the trace's ids, repeated to length: speed does not depend on content),
    the lm_head on the last token only. The no-tree ceiling for the same token count."""
    import torch

    lengths = [lay.n_tokens for lay in layouts]
    width = max(lengths)
    if len(set(lengths)) > 1:
        raise ValueError("causal ceiling: layouts of one case have equal token counts")
    ids = torch.tensor([(lay.ids * (width // len(lay.ids) + 1))[:width] for lay in layouts], device=adapter.device)
    with torch.no_grad():
        adapter.call(ids, keep=torch.tensor([width - 1], device=adapter.device))
    return None


def mask_choice(adapter, device: str) -> dict:
    """What `mask="auto"` picks for the model behind `adapter` on `device`, and for the same model
    under flex_attention."""
    from dataclasses import replace

    from siakit.scorer.masks import resolve_mask

    as_flex = replace(adapter, mask_form="flex")  # the same model under flex_attention
    return {"kind": "mask", "device": device, "attn": adapter.attention_implementation,
            "auto": resolve_mask(adapter, "auto") if adapter.accepts_custom_mask else "none",
            "auto_under_flex_attention": resolve_mask(as_flex, "auto")}


def _entropies(result):
    """(readout entropies renormalised over the options, vocab entropies) of the run's first trace
    (the same synthetic trace for every method: layouts are drawn from one seed)."""
    opt, vocab = result
    logp = opt[0] - np.logaddexp.reduce(opt[0], axis=1, keepdims=True)
    return -(np.exp(logp) * logp).sum(1), vocab[0]


def _timer(device: str):
    import torch

    if device.startswith("cuda"):
        def timed(fn):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            out = fn()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end) / 1e3, out
    else:
        def timed(fn):
            t = time.perf_counter()
            out = fn()
            return time.perf_counter() - t, out
    return timed


def matmul_peak_tflops(device: str, dtype: str = "bfloat16", n: int = 8192, iters: int = 20) -> float:
    """Measured dense-matmul throughput (TFLOP/s): the device's practical peak for `dtype`."""
    import torch

    if not device.startswith("cuda"):
        n, iters = 1024, 5
    a = torch.randn(n, n, device=device, dtype=getattr(torch, dtype))
    b = torch.randn(n, n, device=device, dtype=getattr(torch, dtype))
    timed = _timer(device)
    for _ in range(3):
        a @ b
    seconds, _ = timed(lambda: [a @ b for _ in range(iters)])
    return 2 * n ** 3 * iters / seconds / 1e12


def run_case(case: Case, device: str, repeats: int = 3, warmup: int = 1, peak: float | None = None):
    """Yield one result dict per method of `case`: first the `mask` line, then each method's row with
    its ratios to `naive` and to the `causal` ceiling."""
    import torch

    from siakit.models.adapter import adapt

    model, n_params = build_model(case.shape, case.dtype, device, case.attn)
    adapter = adapt(model)
    yield {**mask_choice(adapter, device), "shape": case.shape, "T": case.T, "K": case.K}
    reference, results = None, {}
    for name in [case.reference] + [m for m in case.methods if m != case.reference]:
        row, ent = _time_method(adapter, case, name, device, repeats, warmup, peak, n_params)
        if name == case.reference:
            reference = ent
        if reference is not None and ent is not None:  # readout (over the options) and vocab entropies
            row["max_abs_dentropy"] = float(np.abs(ent[0] - reference[0]).max())
            row["max_abs_dentropy_vocab"] = float(np.abs(ent[1] - reference[1]).max())
        results[name] = row
    yield from (_with_ratios(results[name], results) for name in case.methods)
    del model, adapter
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def _time_method(adapter, case: Case, name: str, device: str, repeats: int, warmup: int, peak, n_params):
    """(row, entropies or None) of bench label `name` on `case`: the median time over `repeats` after
    `warmup` runs, FLOP rates, peak memory; a failing method yields a row with its `error`."""
    import torch

    from siakit.scorer.compiling import uncompile
    from siakit.scorer.flops import causal_flops, param_counts, useful_flops
    from siakit.scorer.masks import resolve_mask
    from siakit.scorer.methods import METHODS

    model, variant = adapter.model, VARIANTS[name]
    n_traces = case.pack if variant.packs else 1
    layouts = synthetic_layouts(case, n_traces, adapter.vocab_size)
    row = {"kind": "method", "shape": case.shape, "device": device, "dtype": case.dtype, "T": case.T,
           "K": case.K, "pack": n_traces, "method": name, "n_params": n_params,
           "n_params_body": param_counts(model)["body"], "n_tokens": sum(lay.n_tokens for lay in layouts)}
    work = causal_flops(model, [lay.n_tokens for lay in layouts]) if variant.method == "causal" \
        else useful_flops(model, layouts)
    ent, timed = None, _timer(device)
    try:
        run_adapter = adapter.set_attention_implementation(variant.attn) if variant.attn else adapter
        fn = _runner(run_adapter, name)
        if variant.method in METHODS and METHODS[variant.method].tree:  # the mask form the tree pass used
            row["mask"] = resolve_mask(run_adapter, variant.options.get("mask", "dense"))
        for _ in range(warmup):
            fn(layouts)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(repeats):
            seconds, out = timed(lambda: fn(layouts))
            times.append(seconds)
        median = statistics.median(times)
        ent = None if out is None else _entropies(out)
        row.update(median_s=median, per_trace_s=median / n_traces, tokens_per_s=row["n_tokens"] / median,
                   flops=work, tflops=work / median / 1e12,
                   tflops_all_params=2 * n_params * row["n_tokens"] / median / 1e12)  # 2026-11-26's convention
        row["frac_peak"] = row["tflops"] / peak if peak else None
        row["peak_mem_gb"] = torch.cuda.max_memory_allocated() / 2 ** 30 if device.startswith("cuda") else None
    except Exception as e:  # one failing method must not lose the rest of the suite
        row["error"] = f"{type(e).__name__}: {str(e)[:300]}"
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    finally:
        uncompile(adapter)
        if variant.attn:
            adapter.set_attention_implementation(case.attn)
    return row, ent


def _with_ratios(row: dict, results: dict) -> dict:
    """`row` with its speedup over `naive` and its time and memory relative to the `causal` ceiling."""
    ref_time = results.get("naive", {}).get("per_trace_s")
    causal = results.get("causal", {})
    if ref_time and row.get("per_trace_s"):
        row["speedup_vs_naive"] = ref_time / row["per_trace_s"]
    if causal.get("per_trace_s") and row.get("per_trace_s"):  # > 1: slower than the no-tree ceiling
        row["time_vs_causal"] = row["per_trace_s"] / causal["per_trace_s"]
    if causal.get("peak_mem_gb") and row.get("peak_mem_gb"):
        row["mem_vs_causal"] = row["peak_mem_gb"] / causal["peak_mem_gb"]
    return row


def main(argv=None) -> int:
    """`python -m siakit.scorer.bench [--device cuda --preset gpu ...]`: the method suite alone."""
    parser = argparse.ArgumentParser(prog="python -m siakit.scorer.bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run_methods(parser.parse_args(argv))


def add_arguments(parser) -> None:
    """The method suite's flags (`siakit bench` adds the other benchmarks' flags, siakit.bench.command)."""
    parser.add_argument("--preset", default=None, choices=sorted(PRESETS), help="default: gpu on cuda, else tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, help="override every case's dtype")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def run_methods(args) -> int:
    """The method suite: every case of the preset, one row per method, then the GPU targets it measured."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    preset = args.preset or ("gpu" if args.device.startswith("cuda") else "tiny")
    emit = (lambda row: print(json.dumps(row), flush=True)) if args.json else (lambda row: print(format_row(row), flush=True))
    print(json.dumps(environment(args.device)) if args.json else f"# {environment(args.device)}", flush=True)
    peak = None
    if args.device.startswith("cuda"):
        peak = matmul_peak_tflops(args.device)
        line = {"kind": "peak", "dtype": "bfloat16", "tflops": peak}
        print(json.dumps(line) if args.json else f"# bf16 matmul peak: {peak:.0f} TFLOP/s", flush=True)
    if not args.json:
        print(" | ".join(k for k, _ in COLUMNS), flush=True)
    rows = []
    for case in PRESETS[preset]:
        if args.dtype:
            case = Case(**{**asdict(case), "dtype": args.dtype})
        case_peak = peak if case.dtype == "bfloat16" else None
        for row in run_case(case, args.device, args.repeats, args.warmup, case_peak):
            rows.append(row)
            emit(row)
    for line in targets(rows):  # the GPU targets, where this run measured them
        emit(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
