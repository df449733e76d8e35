"""`siakit bench --distributed`: data-parallel scoring, 2 gloo processes against 1, on the tiny model.

    siakit bench --distributed [--traces 64] [--threads 1] [--repeats 1]

Writes a saved tiny Llama (random weights) and `--traces` synthetic traces (6 steps each), then for a
world of 1 and of 2 runs `torchrun --standalone --nproc-per-node N -m siakit.experiment.bench_distributed`
(each process: `--threads` torch threads, its share of the traces as `siakit score` deals them). Reported
per world size: the wall time of the whole launch (torchrun, imports, model load, scoring) and the
scoring time (the slowest rank, between two barriers), their 1-process / 2-process ratios, and whether
the 2-process scores are bit-identical to the 1-process ones. On a CPU the ratio cannot exceed the
number of free cores: with 2 processes on 2 busy cores it measures the machine as much as the code.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARD = 4  # traces per packed pass and per rank block, as `siakit score --shard-traces 4`


def _prepare(folder: Path, n_traces: int) -> None:
    from siakit.data.traces import Trace, write_traces
    from siakit.models.tiny import tiny_model

    lm = tiny_model("llama")
    lm.model.save_pretrained(folder / "model")
    lm.tokenizer.save_pretrained(folder / "model")
    traces = [Trace(id=f"t{i}", prompt=f"Question {i}: Tom has {i} apples and buys 5 more. How many?",
                    dataset="gsm8k", steps=[f"\nStep {j}: {i} + {j} = {i + j}." for j in range(6)],
                    gold=str(i + 5), answer=str(i + 5), correct=True) for i in range(n_traces)]
    write_traces(folder / "traces.jsonl", traces)


def _worker(folder: Path, threads: int) -> int:
    """One rank: score this rank's share; rank 0 writes the scores and the slowest rank's time."""
    import pandas as pd
    import torch
    import torch.distributed as dist

    from siakit.data.traces import read_traces
    from siakit.experiment.distributed import setup
    from siakit.models.loading import load_model
    from siakit.scorer.score import score_traces

    torch.set_num_threads(threads)
    ranks = setup("cpu")
    lm = load_model(str(folder / "model"))
    mine = ranks.share(read_traces(folder / "traces.jsonl"), SHARD)
    ranks.barrier()
    started = time.perf_counter()
    frames = [score_traces(lm, mine[i:i + SHARD], estimator="readout", progress=False)
              for i in range(0, len(mine), SHARD)]
    seconds = torch.tensor([time.perf_counter() - started], dtype=torch.float64)
    part = folder / f"rank{ranks.rank}.parquet"
    pd.concat(frames, ignore_index=True).to_parquet(part, index=False)
    if ranks.active:
        dist.all_reduce(seconds, op=dist.ReduceOp.MAX)  # the job takes as long as its slowest rank
        ranks.barrier()
    if ranks.is_main:
        parts = [folder / f"rank{r}.parquet" for r in range(ranks.world_size)]
        frame = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
        frame.sort_values(["id", "k"], kind="stable").reset_index(drop=True).to_parquet(
            folder / f"scores-{ranks.world_size}.parquet", index=False)
        (folder / f"time-{ranks.world_size}.json").write_text(json.dumps({"score_s": float(seconds)}))
    ranks.close()
    return 0


def _launch(folder: Path, world: int, threads: int) -> float:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={world}",
               "-m", "siakit.experiment.bench_distributed", "worker", str(folder), str(threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TQDM_DISABLE": "1"}
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def run(n_traces: int = 64, threads: int = 1, repeats: int = 1, keep: str | Path | None = None) -> dict:
    """Time the 1- and 2-process runs (median over `repeats`, alternating) and compare their scores.

    `keep`: a folder to leave the model, traces.jsonl and scores-{1,2}.parquet in (None: a temporary one).
    """
    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="siakit-bench-dist-") as tmp:
        folder = Path(tmp) if keep is None else Path(keep)
        folder.mkdir(parents=True, exist_ok=True)
        _prepare(folder, n_traces)
        walls, scores = {1: [], 2: []}, {1: [], 2: []}
        for _ in range(repeats):
            for world in (1, 2):
                walls[world].append(_launch(folder, world, threads))
                scores[world].append(json.loads((folder / f"time-{world}.json").read_text())["score_s"])
        one, two = pd.read_parquet(folder / "scores-1.parquet"), pd.read_parquet(folder / "scores-2.parquet")
        identical = one.equals(two)
    wall = {w: statistics.median(v) for w, v in walls.items()}
    score = {w: statistics.median(v) for w, v in scores.items()}
    return {"kind": "distributed", "model": "tiny-llama", "traces": n_traces, "steps": 6, "shard": SHARD,
            "threads_per_process": threads, "repeats": repeats, "cpus": len(os.sched_getaffinity(0)),
            "wall_s_1": round(wall[1], 2), "wall_s_2": round(wall[2], 2),
            "score_s_1": round(score[1], 3), "score_s_2": round(score[2], 3),
            "wall_ratio": round(wall[1] / wall[2], 2), "score_ratio": round(score[1] / score[2], 2),
            "score_s_each": {w: [round(x, 3) for x in v] for w, v in scores.items()},  # the spread: a busy
            "wall_s_each": {w: [round(x, 2) for x in v] for w, v in walls.items()},    # CPU moves it a lot
            "bit_identical": bool(identical)}


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "worker":
        sys.exit(_worker(Path(sys.argv[2]), int(sys.argv[3])))
    print(json.dumps(run()))
