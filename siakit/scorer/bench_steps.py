"""`siakit bench --steps`: one trace of K one-token steps scored whole vs in chunks: time and peak RSS.

Each mode runs in its own child process (peak resident memory is the child's own `ru_maxrss`):

- `whole`:   the default method (auto: kvtree for a trace this long) over all K + 1 prefixes at once,
             as before siakit.scorer.chunked (`chunk_prefixes` larger than K);
- `chunked`: the same with `chunk_prefixes` (default 256): memory bounded by the chunk;
- `naive`:   one forward pass per prefix and option (the oracle loop); on the embedded SmolLM2 its
             time is far too long to run, so the row gives the memory its kept logits need
             (rows x vocab x 4 bytes), computed, not measured.

    siakit bench --steps --model smollm2 --k 2000          # the issue's K = 2000 row (minutes)
    siakit bench --steps --model tiny --k 2000 --json      # a tiny random model (seconds)
    -> mode | K | seconds | peak RSS GiB | max |entropy difference| vs chunked
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

MODES = ("whole", "chunked", "naive")


def one_token_step(tokenizer) -> str:
    """The first of " x", " a" that stays one token per repeat under `tokenizer` (SmolLM2: " x"; the
    tiny tokenizer splits " x" in two, so " a")."""
    for step in (" x", " a"):
        if len(tokenizer(step * 8, add_special_tokens=False)["input_ids"]) == 8:
            return step
    raise ValueError("no one-token step among ' x', ' a' for this tokenizer")


def steps_trace(k: int, step: str = " x"):
    """A trace of `k` one-token steps (`step` each), three options, gold " B".

        steps_trace(3).steps -> [" x", " x", " x"]
    """
    from siakit.data.traces import Trace

    return Trace(id=f"steps{k}", prompt="Question: which letter? Think step by step.", steps=[step] * k,
                 options=[" A", " B", " C"], gold=" B")


def load(model: str):
    if model == "tiny":  # context long enough for K = 2000 steps
        from siakit.models.tiny import tiny_model

        return tiny_model("llama", max_positions=4096)
    from siakit.models.loading import load_model

    return load_model("smollm2-135m-instruct" if model == "smollm2" else model)


def child(model: str, mode: str, k: int, chunk: int, threads: int) -> dict:
    """Score the K-step trace once in this process; returns seconds and the entropies (nats)."""
    import torch

    from siakit.scorer.score import score_traces

    torch.set_num_threads(threads)
    lm = load(model)
    trace = steps_trace(k, one_token_step(lm.tokenizer))
    kwargs = {"naive": {"method": "naive"}, "whole": {"chunk_prefixes": k + 1},
              "chunked": {"chunk_prefixes": chunk}}[mode]
    started = time.perf_counter()
    frame = score_traces(lm, [trace], progress=False, **kwargs)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "entropy": frame["entropy"].tolist(), "vocab": lm.adapter.vocab_size,
            "rows": int(len(frame))}


def measure(model: str, mode: str, k: int, chunk: int, threads: int = 1) -> dict:
    """Run `child` in a fresh process; add its peak RSS (GiB)."""
    code = (f"import json,sys; from siakit.scorer.bench_steps import child; "
            f"print(json.dumps(child({model!r}, {mode!r}, {k}, {chunk}, {threads})))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"bench --steps {mode} (K = {k}, {model}) failed with status {proc.returncode}")
    row = json.loads(out.strip().splitlines()[-1])
    row["peak_rss_gib"] = round(usage.ru_maxrss / 2**20, 2)  # ru_maxrss is in KiB on Linux
    return row


def naive_logits_gib(k: int, vocab: int, reads_per_prefix: int = 4) -> float:
    """Memory of the naive loop's kept logits: one float32 [vocab] row per read (anchor + 3 options).

        naive_logits_gib(2000, 49152) -> 1.47  (2001 x 4 rows x 49152 x 4 bytes)
    """
    return round((k + 1) * reads_per_prefix * vocab * 4 / 2**30, 2)


def report(args) -> int:
    """Print one row per mode (and the naive memory) for `args.k` one-token steps."""
    modes = args.modes.split(",") if args.modes else (["whole", "chunked"] + (["naive"] if args.model == "tiny" else []))
    rows = []
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"--modes: unknown mode '{mode}'; use some of {','.join(MODES)}")
        row = measure(args.model, mode, args.k, args.chunk, args.threads or 1)
        entropy = row.pop("entropy")
        row.update(mode=mode, K=args.k, chunk=args.chunk if mode == "chunked" else None, model=args.model,
                   naive_logits_gib=naive_logits_gib(args.k, row["vocab"]))
        row["_entropy"] = entropy
        rows.append(row)
    ref = next((r["_entropy"] for r in rows if r["mode"] == "chunked"), rows[0]["_entropy"])
    for row in rows:
        entropy = row.pop("_entropy")
        row["max_abs_diff"] = float(max(abs(a - b) for a, b in zip(entropy, ref)))
        print(json.dumps(row) if args.json else
              f"{row['mode']} | K {row['K']} | {row['seconds']} s | peak RSS {row['peak_rss_gib']} GiB | "
              f"naive logits {row['naive_logits_gib']} GiB | max |dH| {row['max_abs_diff']:.2e}", flush=True)
    return 0
