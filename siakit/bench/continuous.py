"""`siakit bench --continuous N`: continuous batching against batch-at-a-time decoding, on the lineage's work.

The lineage's decoding (`siakit.testbed`: greedy traces of testbed problems, then temperature-1
rollouts) writes texts of very different lengths: most end in a few lines, a few run to the cap.
Decoded a batch at a time, a batch runs until its longest row ends, with ever fewer rows; a CPU
decode step costs a fixed part (the weights) plus a part per row, so those near-empty steps are
dear. Continuous batching (`siakit.models.shared_prefill`) puts queued rows in the free places.
Each row has its own generator, so both sample the same law; `same_rows` is the share of rows with
identical tokens (below 1 only where a row's batch neighbours change its logits in the last bits
and a draw lands on the other side of a boundary, after which the row goes its own way).

    continuous_batching(n=64) -> [{"decode": "greedy traces", "rows": 64, "speedup": 1.07, ...},
        {"decode": "rollouts from the middle, M = 4, temperature 1", "rows": 256, "new_tokens": 3900,
         "batch_s": 60.2, "continuous_s": 31.0, "speedup": 1.94, "same_rows": 0.98, ...}]
        (illustrative shape; the measured rows are in benchmarks/RESULTS.md)
"""
from __future__ import annotations

import time


def _both_ways(lm, contexts, counts, caps, temperature, batch_rows, row) -> list:
    """Decode batch-at-a-time, then continuously; fill `row`; return the continuous rows."""
    from siakit.models.shared_prefill import sample_continuations

    out = {}
    seeds = list(range(len(contexts)))
    for name, refill in (("batch", False), ("continuous", True)):
        stats: dict = {}
        started = time.perf_counter()
        out[name] = sample_continuations(lm, contexts, counts, seeds, caps, temperature, batch_rows=batch_rows,
                                         stats=stats, refill=refill)
        seconds = time.perf_counter() - started
        row["new_tokens"] = stats["new_tokens"]
        row[f"{name}_s"] = round(seconds, 2)
        row[f"{name}_tokens_per_s"] = round(stats["new_tokens"] / seconds, 1)
        row[f"{name}_prefills"] = stats["prefills"]
    row["speedup"] = round(row["batch_s"] / row["continuous_s"], 2)
    pairs = [(a.tokens, b.tokens) for ja, jb in zip(out["batch"], out["continuous"]) for a, b in zip(ja, jb)]
    row["same_rows"] = round(sum(a == b for a, b in pairs) / len(pairs), 3)
    return out["continuous"]


def _mid_prefix(tokenizer, tokens: list[int]) -> list[int]:
    """The reasoning C_{1:k} the lineage continues from a greedy trace (`siakit.testbed.generate`
    splits it into lines; k = round(K / 2), `siakit.scorer.rollout.rollout_prefixes`), as token ids."""
    from siakit.data.traces import split_steps
    from siakit.scorer.rollout import rollout_prefixes

    steps = split_steps(tokenizer.decode(tokens, skip_special_tokens=True).rstrip("\n"), min_lines=1)
    k = rollout_prefixes(len(steps), (0.5,))[0]
    return tokenizer("".join(steps[:k]), add_special_tokens=False)["input_ids"] if k else []


def continuous_batching(model: str = "smollm2-135m-instruct", n: int = 64, m: int = 4, max_new_tokens: int = 64,
                        batch_rows: int = 32, seed: int = 0) -> list[dict]:
    """The lineage's two decodes on `n` testbed prompts (rg:chain_sum), each both ways: greedy traces
    (cap `max_new_tokens`), then `m` temperature-1 rollouts from each trace's mid-trace prefix (its
    first round(K / 2) lines; cap: the rest of the budget), as the lineage's rollouts. One row each: tokens/s,
    seconds, the speedup (batch-at-a-time seconds / continuous seconds) and `same_rows`."""
    import torch

    from siakit.experiment.generate import encode
    from siakit.models.loading import load_model
    from siakit.models.shared_prefill import sample_continuations
    from siakit.testbed.prompt import build_testbed_prompt
    from siakit.testbed.tasks import load_testbed

    lm = load_model(model)
    problems = load_testbed("rg:chain_sum", "test", n=n, seed=seed)
    prompts = encode(lm.tokenizer, [build_testbed_prompt(p, lm.tokenizer, lm.chat) for p in problems])["input_ids"]
    sample_continuations(lm, prompts[:1], [2], [0], 2, batch_rows=2)  # warm-up
    base = {"kind": "continuous-batching", "model": lm.name, "batch_rows": batch_rows, "threads": torch.get_num_threads()}
    greedy_row = {**base, "decode": "greedy traces", "rows": len(prompts), "max_new_tokens": max_new_tokens}
    traces = _both_ways(lm, prompts, [1] * len(prompts), [max_new_tokens] * len(prompts), 0.0, batch_rows, greedy_row)
    prefixes = [_mid_prefix(lm.tokenizer, job[0].tokens) for job in traces]
    contexts = [p + c for p, c in zip(prompts, prefixes)]
    caps = [max(1, max_new_tokens - len(c)) for c in prefixes]
    rollout_row = {**base, "decode": f"rollouts from the middle, M = {m}, temperature 1", "rows": len(contexts) * m}
    _both_ways(lm, contexts, [m] * len(contexts), caps, 1.0, batch_rows, rollout_row)
    return [greedy_row, rollout_row]


def main(args) -> int:
    """Print one row per decode (greedy traces, then temperature-1 rollouts), as JSON with --json."""
    import json

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    for row in continuous_batching(args.sample_model, args.continuous, batch_rows=args.batch):
        print(json.dumps(row) if args.json else " | ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    return 0
