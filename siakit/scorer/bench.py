"""`siakit bench`: speed, memory and agreement of the scorer's forward methods (not a timed test).

Random-weight models built from configs (no download) with the shapes of Llama-3.2-1B, Qwen2.5-1.5B and
Gemma-2-2B, a tiny CPU config, or the embedded SmolLM2 (`smollm2`); synthetic traces of T tokens with K
prefixes, a cue and answer options (random token ids: speed does not depend on content). For each
method: median time over repeats after warm-up (CUDA events on a GPU), time per trace, tokens/s and
achieved TFLOP/s on the minimal token count (the tree's: trace + probes, 2 x params x tokens), peak
GPU memory, and the largest |entropy difference| (readout and vocab, nats) against `naive`.

    python -m siakit.scorer.bench --device cpu --preset tiny          # or: siakit bench ...
    python -m siakit.scorer.bench --device cuda --json               # the GPU suite, ~5 min on one H100

Imports only torch, transformers, numpy and siakit's scorer core (GPU machines lack the book tools).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

# name -> (config class, kwargs): public shapes of the real models (weights random).
SHAPES = {
    "tiny": ("LlamaConfig", dict(vocab_size=4096, hidden_size=256, intermediate_size=704, num_hidden_layers=4,
                                 num_attention_heads=4, num_key_value_heads=2, head_dim=64)),
    "llama-1b": ("LlamaConfig", dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192,
                                     num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
                                     head_dim=64, rope_theta=500000.0, tie_word_embeddings=True,
                                     max_position_embeddings=131072)),
    "qwen-1.5b": ("Qwen2Config", dict(vocab_size=151936, hidden_size=1536, intermediate_size=8960,
                                      num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                                      tie_word_embeddings=True, max_position_embeddings=32768)),
    "gemma2-2b": ("Gemma2Config", dict(vocab_size=256000, hidden_size=2304, intermediate_size=9216,
                                       num_hidden_layers=26, num_attention_heads=8, num_key_value_heads=4,
                                       head_dim=256, sliding_window=4096, max_position_embeddings=8192)),
}
class Variant(NamedTuple):
    method: str                # a method of the scorer's one registry, `siakit.scorer.methods.METHODS`
    options: dict              # its MethodOptions
    attn: str | None = None    # attention implementation to switch to (None: the case's own)
    packs: bool = False        # timed on `case.pack` traces per call (else one trace)


# bench label -> Variant. Labels name a registered method and the layout it is timed in.
VARIANTS = {
    "naive": Variant("naive", {}),
    "batched": Variant("batched", {}),
    "kv": Variant("kv", {}),
    "tree": Variant("tree", {"rows": False}),
    "packed": Variant("packed", {"rows": False}, packs=True),      # one block-diagonal row
    "packed-rows": Variant("packed", {"rows": True}, packs=True),  # a padded batch row per trace
    "kvtree": Variant("kvtree", {"rows": True}),
    "kvtree-rows": Variant("kvtree", {"rows": True}, packs=True),   # several traces' trunks at once
    "tree-flex": Variant("tree", {"rows": False, "mask": "flex"}, attn="flex_attention"),
}
METHODS = tuple(VARIANTS)


@dataclass
class Case:
    shape: str = "tiny"        # a SHAPES key or "smollm2" (the embedded real model)
    T: int = 128               # trace tokens (prompt + steps)
    K: int = 12                # prefixes scored
    cue: int = 4               # cue tokens ("\nThe answer is" is 4 tokens for Llama-3 and SmolLM2)
    options: int = 4           # answer options (ARC: 4 labels)
    option_len: int = 1        # tokens per option
    pack: int = 8              # traces per pass for packed / packed-rows
    dtype: str = "float32"     # model dtype
    methods: tuple = METHODS   # methods to time
    reference: str = "naive"   # agreement is measured against this method
    attn: str = "sdpa"         # attention implementation (tree-flex switches to flex_attention)


PRESETS = {
    "smoke": [Case(T=48, K=4, pack=2, methods=("naive", "batched", "kv", "tree", "packed", "kvtree"))],
    "tiny": [Case(T=128, K=12, methods=("naive", "batched", "kv", "tree", "packed", "packed-rows", "kvtree")),
             Case(T=1024, K=32, methods=("naive", "batched", "kv", "tree", "packed", "packed-rows", "kvtree"))],
    "smollm2": [Case(shape="smollm2", T=128, K=12, methods=("naive", "batched", "kv", "tree", "kvtree"))],
    "gpu": [Case(shape="llama-1b", T=1024, K=32, dtype="bfloat16",
                 methods=("naive", "batched", "kv", "tree", "packed", "packed-rows", "kvtree", "kvtree-rows")),
            Case(shape="llama-1b", T=1024, K=32, dtype="bfloat16", pack=32, methods=("packed-rows", "kvtree-rows")),
            Case(shape="llama-1b", T=1024, K=32, dtype="float32", pack=4,
                 methods=("naive", "tree", "packed-rows", "kvtree")),
            Case(shape="qwen-1.5b", T=1024, K=32, dtype="bfloat16", methods=("naive", "packed-rows", "kvtree-rows")),
            Case(shape="gemma2-2b", T=1024, K=32, dtype="bfloat16", attn="eager",
                 methods=("naive", "packed-rows", "kvtree-rows")),
            Case(shape="llama-1b", T=16384, K=64, dtype="bfloat16", pack=1, reference="kvtree",
                 methods=("kvtree", "tree", "tree-flex"))],
}


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


def _runner(model, label: str):
    """`fn(layouts)` for a bench label, resolved through the scorer's one method registry."""
    from siakit.models.adapter import adapt
    from siakit.scorer.methods import METHODS as REGISTRY, MethodOptions

    variant = VARIANTS[label]
    adapter, method = adapt(model), REGISTRY[variant.method]
    return lambda layouts: method.run(adapter, layouts, MethodOptions(**variant.options))


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
    """Yield one result dict per method of `case`."""
    import torch

    model, n_params = build_model(case.shape, case.dtype, device, case.attn)
    vocab = model.config.vocab_size
    timed = _timer(device)
    reference = None
    results = {}
    order = [case.reference] + [m for m in case.methods if m != case.reference]
    for name in order:
        if name not in case.methods and name != case.reference:
            continue
        n_traces = case.pack if VARIANTS[name].packs else 1
        layouts = synthetic_layouts(case, n_traces, vocab)
        row = {"kind": "method", "shape": case.shape, "device": device, "dtype": case.dtype, "T": case.T,
               "K": case.K, "pack": n_traces, "method": name, "n_params": n_params,
               "n_tokens": sum(lay.n_tokens for lay in layouts)}
        try:
            attn = VARIANTS[name].attn
            if attn:
                _set_attn(model, attn)
            fn = _runner(model, name)
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
            ent = _entropies(out)
            if name == case.reference:
                reference = ent
            row.update(median_s=median, per_trace_s=median / n_traces, tokens_per_s=row["n_tokens"] / median,
                       tflops=2 * n_params * row["n_tokens"] / median / 1e12)
            row["frac_peak"] = row["tflops"] / peak if peak else None
            row["peak_mem_gb"] = torch.cuda.max_memory_allocated() / 2 ** 30 if device.startswith("cuda") else None
            if reference is not None:  # readout (over the options) and vocab (full next token) entropies
                row["max_abs_dentropy"] = float(np.abs(ent[0] - reference[0]).max())
                row["max_abs_dentropy_vocab"] = float(np.abs(ent[1] - reference[1]).max())
        except Exception as e:  # one failing method must not lose the rest of the suite
            row["error"] = f"{type(e).__name__}: {str(e)[:300]}"
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
        finally:
            if VARIANTS[name].attn:
                _set_attn(model, case.attn)
        results[name] = row
    ref_time = results.get("naive", {}).get("per_trace_s")
    for name in case.methods:
        row = results[name]
        if ref_time and row.get("per_trace_s"):
            row["speedup_vs_naive"] = ref_time / row["per_trace_s"]
        yield row
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def _set_attn(model, implementation: str) -> None:
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation(implementation)
    else:
        model.config._attn_implementation = implementation


def environment(device: str) -> dict:
    import platform

    import torch
    import transformers

    info = {"kind": "env", "date": time.strftime("%Y-%m-%d %H:%M"), "torch": torch.__version__,
            "transformers": transformers.__version__, "python": platform.python_version(),
            "threads": torch.get_num_threads(), "device": device}
    info["device_name"] = torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor()
    return info


_COLS = [("shape", "{}"), ("dtype", "{}"), ("T", "{}"), ("K", "{}"), ("pack", "{}"), ("method", "{}"),
         ("per_trace_s", "{:.4f}"), ("speedup_vs_naive", "{:.1f}x"), ("tokens_per_s", "{:.0f}"),
         ("tflops", "{:.2f}"), ("frac_peak", "{:.0%}"), ("peak_mem_gb", "{:.2f}"), ("max_abs_dentropy", "{:.1e}"),
         ("max_abs_dentropy_vocab", "{:.1e}")]


def format_row(row: dict) -> str:
    if row.get("error"):
        return " | ".join(str(row[k]) for k, _ in _COLS[:6]) + f" | ERROR {row['error']}"
    return " | ".join("-" if row.get(k) is None else f.format(row[k]) for k, f in _COLS)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="siakit bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return _main(parser.parse_args(argv))


def add_arguments(parser) -> None:
    parser.add_argument("--preset", default=None, choices=sorted(PRESETS), help="default: gpu on cuda, else tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, help="override every case's dtype")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--distributed", action="store_true",
                        help="instead: 2 gloo processes against 1 scoring --traces tiny-model traces "
                             "(siakit.experiment.bench_distributed)")
    parser.add_argument("--traces", type=int, default=64, help="--distributed: traces scored")


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="speed/agreement benchmark of the scorer's methods",
                                   description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.set_defaults(func=_main)


def _main(args) -> int:
    import torch

    if args.distributed:  # data parallelism, not a forward method: its own case
        from siakit.experiment.bench_distributed import run as run_distributed

        row = run_distributed(args.traces, threads=args.threads or 1, repeats=args.repeats)
        print(json.dumps(row) if args.json else " | ".join(f"{k} {v}" for k, v in row.items()), flush=True)
        return 0
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
        print(" | ".join(k for k, _ in _COLS), flush=True)
    for case in PRESETS[preset]:
        if args.dtype:
            case = Case(**{**asdict(case), "dtype": args.dtype})
        case_peak = peak if case.dtype == "bfloat16" else None
        for row in run_case(case, args.device, args.repeats, args.warmup, case_peak):
            emit(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
