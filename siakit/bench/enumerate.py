"""`siakit bench --enumerate`: the `enumerate` estimator against the candidate-set readout, per trace.

Real traces (GSM8K test solutions as steps, the human chapter's intact variant, with the model's chat
prompt), the embedded SmolLM2 on CPU. Per trace, interleaved so both see the same machine load:
the wall time of `score_traces(estimator="readout")` and of `estimator="enumerate"`, the tokens each
fed to the model (pads included), and the enumerate masses. The summary row has the ratio of total
times (target: enumerate <= 1.5x the readout) and the median per-trace ratio.

    python -m siakit.bench.enumerate --n 8 --threads 1 --json   # or: siakit bench --enumerate

Each row: {"kind": "trace", "id", "k": K + 1 prefixes, "t_readout", "t_enumerate", "ratio",
"tokens_readout", "tokens_enumerate", "enumerated_mass", "non_numeric_mass", "unexplored_mass"
(means over prefixes), "nodes" (mean per prefix), "leader_agreement" (share of prefixes whose readout
and enumerate leaders are equal)}, then {"kind": "summary", ...}.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time


class _Counter:
    """Counts the token columns fed through `ModelAdapter.call` while active (patched on the class)."""

    def __init__(self):
        self.tokens = 0

    def __enter__(self):
        from siakit.models.adapter import ModelAdapter

        self._orig = ModelAdapter.call
        counter = self

        def call(adapter, ids, *args, **kwargs):
            counter.tokens += int(ids.shape[0] * ids.shape[1])
            return counter._orig(adapter, ids, *args, **kwargs)
        ModelAdapter.call = call
        return self

    def __exit__(self, *exc):
        from siakit.models.adapter import ModelAdapter

        ModelAdapter.call = self._orig


def _timed(lm, trace, **kw):
    from siakit.scorer.score import score_traces

    with _Counter() as counter:
        start = time.perf_counter()
        frame = score_traces(lm, [trace], progress=False, **kw)
        return frame, time.perf_counter() - start, counter.tokens


def run(n: int = 8, threads: int | None = 1, epsilon: float = 0.01, max_nodes: int = 256, width: int = 64,
        seed: int = 0):
    """Yield one row per trace, then the summary row (see the module docstring)."""
    import torch

    from siakit.human.variants import human_traces, select_problems
    from siakit.models.loading import load_model

    if threads:
        torch.set_num_threads(threads)
    lm = load_model("smollm2-135m-instruct")
    traces = human_traces(select_problems(n, seed=seed), lm.tokenizer, variants=("intact",))
    enum_kw = dict(estimator="enumerate", enumerate_epsilon=epsilon, enumerate_max_nodes=max_nodes,
                   enumerate_width=width)
    _timed(lm, traces[0], estimator="readout")  # warm-up: CONT and grammar tables, first-call costs
    _timed(lm, traces[0], **enum_kw)
    rows = []
    for trace in traces:
        readout, t_r, tok_r = _timed(lm, trace, estimator="readout")
        enum, t_e, tok_e = _timed(lm, trace, **enum_kw)
        agree = (readout["leading_option"].astype(str).values == enum["leading_option"].astype(str).values).mean()
        row = {"kind": "trace", "id": trace.id, "k": len(enum), "t_readout": round(t_r, 3),
               "t_enumerate": round(t_e, 3), "ratio": round(t_e / t_r, 2), "tokens_readout": tok_r,
               "tokens_enumerate": tok_e, "enumerated_mass": round(float(enum["enumerated_mass"].mean()), 4),
               "non_numeric_mass": round(float(enum["non_numeric_mass"].mean()), 4),
               "unexplored_mass": round(float(enum["unexplored_mass"].mean()), 4),
               "nodes": round(float(enum["n_nodes"].mean()), 1), "leader_agreement": round(float(agree), 3)}
        rows.append(row)
        yield row
    total_r, total_e = sum(r["t_readout"] for r in rows), sum(r["t_enumerate"] for r in rows)
    yield {"kind": "summary", "model": "smollm2-135m-instruct", "device": "cpu", "threads": threads,
           "n": len(rows), "epsilon": epsilon, "max_nodes": max_nodes, "width": width,
           "ratio_total": round(total_e / total_r, 2),
           "ratio_median": statistics.median(r["ratio"] for r in rows),
           "tokens_ratio": round(sum(r["tokens_enumerate"] for r in rows) / sum(r["tokens_readout"] for r in rows), 2),
           "s_per_trace_readout": round(total_r / len(rows), 3), "s_per_trace_enumerate": round(total_e / len(rows), 3),
           "enumerated_mass": round(statistics.mean(r["enumerated_mass"] for r in rows), 4),
           "non_numeric_mass": round(statistics.mean(r["non_numeric_mass"] for r in rows), 4),
           "unexplored_mass": round(statistics.mean(r["unexplored_mass"] for r in rows), 4),
           "leader_agreement": round(statistics.mean(r["leader_agreement"] for r in rows), 3),
           "target": "enumerate <= 1.5x readout", "met": total_e / total_r <= 1.5}


def add_arguments(parser) -> None:
    parser.add_argument("--n", type=int, default=8, help="traces (GSM8K test solutions)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--epsilon", type=float, default=0.01, help="enumerate: unexplored mass to stop at")
    parser.add_argument("--max-nodes", type=int, default=256, help="enumerate: nodes per prefix at most")
    parser.add_argument("--width", type=int, default=64, help="enumerate: nodes per prefix per level at most")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def main(argv=None, args=None) -> int:
    if args is None:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        add_arguments(parser)
        args = parser.parse_args(argv)
    for row in run(args.n, args.threads, args.epsilon, args.max_nodes, args.width):
        print(json.dumps(row) if args.json else " | ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
