"""The cases of `siakit bench`: model shapes, the labelled variants of registered methods, presets,
and the GPU targets (the Reproducing page's 'Scoring on a GPU') evaluated on a run's rows.

    >>> [(case.T, case.K, case.dtype) for case in PRESETS["gpu"]][:2]   # `siakit bench --device cuda --preset gpu`
    [(1024, 32, 'bfloat16'), (1024, 32, 'bfloat16')]
    >>> targets([])                     # from a run's method rows: [{"target": ..., "value": ..., "met": bool}, ...]
    []
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from siakit.scorer.methods import METHODS

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
    "packed-flex": Variant("packed", {"rows": False, "mask": "flex"}, attn="flex_attention", packs=True),
    "packed-rows-flex": Variant("packed", {"rows": True, "mask": "flex"}, attn="flex_attention", packs=True),
    "packed-rows-compiled": Variant("packed", {"rows": True, "compile": "inductor"}, packs=True),
    "packed-rows-flex-compiled": Variant("packed", {"rows": True, "mask": "flex", "compile": "inductor"},
                                         attn="flex_attention", packs=True),
    "kv-grow": Variant("kv-grow", {}),                               # the peers' (EAT-style) incremental cache
    "causal": Variant("causal", {}, packs=True),  # ceiling: plain causal pass over the same token count
}
LABELS = tuple(VARIANTS)  # every bench label


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
    methods: tuple = LABELS    # bench labels (methods) to time
    reference: str = "naive"   # agreement is measured against this method
    attn: str = "sdpa"         # attention implementation (tree-flex switches to flex_attention)


PRESETS = {
    "smoke": [Case(T=48, K=4, pack=2, methods=("naive", "batched", "kv", "kv-grow", "tree", "packed", "kvtree",
                                               "causal"))],
    "tiny": [Case(T=128, K=12, methods=("naive", "batched", "kv", "kv-grow", "tree", "packed", "packed-rows",
                                        "kvtree", "causal")),
             Case(T=1024, K=32, methods=("naive", "batched", "kv", "kv-grow", "tree", "packed", "packed-rows",
                                         "kvtree", "causal"))],
    "smollm2": [Case(shape="smollm2", T=128, K=12, methods=("naive", "batched", "kv", "kv-grow", "tree", "kvtree",
                                                             "causal"))],
    # The H100 targets in one run (~6 min by estimate: the 2026-11-26 suite took 92 s, of which the
    # dropped Qwen/Gemma cases ~20 s; FlexAttention compiles once per shape, 5 shapes at ~20-40 s; the
    # compiled-forward case autotunes its matmuls, ~1-2 min, and runs last so a slow compile loses
    # nothing else). Every row carries its ratios to `causal` of the same case.
    "gpu": [Case(shape="llama-1b", T=1024, K=32, dtype="bfloat16",
                 methods=("naive", "kv", "kv-grow", "tree", "packed-rows", "packed-rows-flex", "kvtree-rows",
                          "causal")),
            Case(shape="llama-1b", T=1024, K=32, dtype="bfloat16", pack=32,
                 methods=("packed-rows", "packed-rows-flex", "kvtree-rows", "causal")),
            Case(shape="llama-1b", T=1024, K=32, dtype="float32", pack=4,
                 methods=("naive", "kv-grow", "packed-rows", "packed-rows-flex")),
            Case(shape="llama-1b", T=16384, K=64, dtype="bfloat16", pack=1, reference="kvtree",
                 methods=("kvtree", "tree", "tree-flex", "causal")),
            # the BlockMask's exactness at 16k without bf16 rounding (kvtree as the float32 reference)
            Case(shape="llama-1b", T=16384, K=64, dtype="float32", pack=1, reference="kvtree",
                 methods=("kvtree", "tree-flex")),
            Case(shape="llama-1b", T=1024, K=32, dtype="bfloat16", pack=32,
                 methods=("packed-rows-compiled", "packed-rows-flex-compiled", "causal"))],
}


# the labels of the registry's tree methods (the causal ceiling is no registered method)
TREE_LABELS = {label for label, v in VARIANTS.items() if v.method in METHODS and METHODS[v.method].tree}


def targets(rows: list[dict]) -> list[dict]:
    """The H100 targets evaluated on one run's method rows (those the run measured).

    Each: {"kind": "target", "target": text, "value": number, "met": bool}. Tree rows are every
    tree / packed / kvtree variant; `frac_peak` is useful (non-embedding + allowed-attention) FLOP/s
    over the measured bf16 matmul peak.
    """
    ok = [r for r in rows if r.get("kind") == "method" and not r.get("error")]
    tree = [r for r in ok if r["method"] in TREE_LABELS]
    at_1k = [r for r in tree if (r["shape"], r["T"], r["K"], r["dtype"]) == ("llama-1b", 1024, 32, "bfloat16")]
    at_16k = [r for r in tree if (r["shape"], r["T"], r["K"]) == ("llama-1b", 16384, 64) and r.get("time_vs_causal")]
    out = []

    def add(text, value, met, best=None):
        out.append({"kind": "target", "target": text, "value": value, "met": bool(met), "row": best})

    peaks = [r for r in at_1k if r.get("frac_peak") is not None]
    if peaks:
        best = max(peaks, key=lambda r: r["frac_peak"])
        add("packed tree >= 60% of bf16 peak (useful FLOPs), llama-1b T=1024 K=32", best["frac_peak"],
            best["frac_peak"] >= 0.60, f"{best['method']} pack={best['pack']}")
    fast = [r for r in at_1k if r.get("speedup_vs_naive")]
    if fast:
        best = max(fast, key=lambda r: r["speedup_vs_naive"])
        add(">= 100x naive per trace, llama-1b T=1024 K=32", best["speedup_vs_naive"],
            best["speedup_vs_naive"] >= 100, f"{best['method']} pack={best['pack']}")
    if at_16k:
        best = min(at_16k, key=lambda r: r["time_vs_causal"])
        add("T=16k K=64 within 1.2x of the causal pass of the same tokens", best["time_vs_causal"],
            best["time_vs_causal"] <= 1.2, best["method"])
        if best.get("mem_vs_causal"):
            add("T=16k K=64 peak memory <= 1.3x the causal pass", best["mem_vs_causal"],
                best["mem_vs_causal"] <= 1.3, best["method"])
    flex32 = [r for r in tree if r.get("mask") == "flex" and r["dtype"] == "float32" and "max_abs_dentropy" in r]
    if flex32:
        worst = max(flex32, key=lambda r: r["max_abs_dentropy"])
        add("flex agrees with naive in float32 <= 1e-4 nats (readout)", worst["max_abs_dentropy"],
            worst["max_abs_dentropy"] <= 1e-4, worst["method"])
    return out
