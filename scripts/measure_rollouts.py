"""Rollout tokens and seconds of one lineage checkpoint on a small evaluation (before sizing the book).

    PYTHONPATH=. python scripts/measure_rollouts.py ~/.cache/siakit/testbed/<train key>/step32 40

Generates greedy testbed traces for the first `n` held-out problems with that checkpoint, then the
lineage's two rollout sets with the LineageConfig defaults (rollout_m at u = 0.5 for every trace,
rollout_subset = n // 10 traces at every prefix with rollout_subset_m), and prints one JSON line:
generation and rollout seconds and tokens, and `rollout_metrics` of both sets. One torch thread.
"""
import json
import sys
import time
from dataclasses import replace

import torch

from siakit.models.loading import load_model
from siakit.testbed.generate import generate_testbed
from siakit.testbed.lineage import LineageConfig
from siakit.testbed.rollouts import lineage_rollouts, rollout_metrics
from siakit.testbed.tasks import load_testbed

if len(sys.argv) != 3:
    sys.exit("usage: measure_rollouts.py CHECKPOINT_DIR N")
torch.set_num_threads(1)
ckpt, n = sys.argv[1], int(sys.argv[2])
cfg = replace(LineageConfig(), n_eval=n, rollout_subset=max(1, n // 10))
problems = load_testbed(cfg.task, "test", n=n, seed=cfg.seed)
lm = load_model(ckpt)
started = time.perf_counter()
traces = generate_testbed(lm, problems, cfg.max_new_tokens, 0.0, cfg.seed, cfg.eval_batch_size, False)
generate_s = time.perf_counter() - started
sets = lineage_rollouts(lm, traces, cfg, progress=False)
print(json.dumps({"checkpoint": ckpt, "n": n, "generate_s": round(generate_s, 1),
                  "generate_tokens": sum(t.meta["n_new_tokens"] for t in traces),
                  "accuracy": sum(t.correct for t in traces) / n, "mean_K": sum(len(t.steps) for t in traces) / n,
                  **sets["timing"], "mid": rollout_metrics(sets["mid"]), "all": rollout_metrics(sets["all"])},
                 default=str))
