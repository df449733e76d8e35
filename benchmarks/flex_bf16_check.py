"""Issue 16's `tree-flex` readout gap (2.5e-2 nats on the H100): a mask bug or bf16 rounding?

On CPU, the bench's tiny Llama shape, one synthetic trace of T tokens with K prefixes: every method's
readout / vocab entropies against float32 `naive` on the same weights, and pairwise in bfloat16.
FlexAttention runs through transformers' compiled kernel (C++ on CPU; a minute or two per shape).

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python benchmarks/flex_bf16_check.py 1024 32
"""
import sys
import time

import numpy as np
import torch

from siakit.models.adapter import adapt
from siakit.scorer import bench
from siakit.scorer.methods import METHODS, MethodOptions

torch.set_num_threads(1)
T, K = int(sys.argv[1]), int(sys.argv[2])
case = bench.Case(T=T, K=K)
m32, _ = bench.build_model("tiny", "float32", "cpu", "sdpa")
lays = bench.synthetic_layouts(case, 1, m32.config.vocab_size)


def entropies(model, method, **options):
    return bench._entropies(METHODS[method].run(adapt(model), lays, MethodOptions(**options)))


out = {}


def run(model, label, method, **options):
    t = time.time()
    out[label] = entropies(model, method, **options)
    print(f"{label}: {time.time() - t:.1f} s", flush=True)


truth = entropies(m32, "naive")
adapt(m32).set_attention_implementation("flex_attention")
run(m32, "fp32 tree-flex", "tree", rows=False, mask="flex")
adapt(m32).set_attention_implementation("sdpa")
mb = m32.to(torch.bfloat16)  # the same weights, rounded
for label, method, options in [("bf16 naive", "naive", {}), ("bf16 kv", "kv", {}), ("bf16 kvtree", "kvtree", {}),
                               ("bf16 tree-dense", "tree", {"rows": False})]:
    run(mb, label, method, **options)
adapt(mb).set_attention_implementation("flex_attention")
run(mb, "bf16 tree-flex", "tree", rows=False, mask="flex")
adapt(mb).set_attention_implementation("eager")
run(mb, "bf16 tree-eager", "tree", rows=False)
print(f"T={T} K={K}: max |dH| readout / vocab (nats)")
for a in out:
    print(f"{a:18s} vs fp32 naive: {np.abs(out[a][0] - truth[0]).max():.2e} / {np.abs(out[a][1] - truth[1]).max():.2e}")
for a, b in [("bf16 tree-flex", "bf16 kvtree"), ("bf16 tree-dense", "bf16 kvtree"), ("bf16 kv", "bf16 naive"),
             ("bf16 tree-flex", "bf16 tree-dense"), ("bf16 tree-eager", "bf16 tree-dense"),
             ("bf16 tree-flex", "bf16 kv"), ("bf16 tree-dense", "bf16 kv")]:
    print(f"{a} vs {b}: {np.abs(out[a][0] - out[b][0]).max():.2e} / {np.abs(out[a][1] - out[b][1]).max():.2e}")
