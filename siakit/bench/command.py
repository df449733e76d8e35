"""`siakit bench`: the command line of every benchmark, each a case of its own, on the floor it measures.

    siakit bench --device cpu --preset tiny      # the scorer's forward methods (siakit.scorer.bench)
    siakit bench --distributed                   # 2 gloo processes against 1 (siakit.experiment.bench_distributed)
    siakit bench --generate                      # generation throughput, a sweep's GPU-hours (siakit.bench.sizing)
    siakit bench --sharing | --enumerate         # siakit.bench.sharing / siakit.bench.enumerate
    siakit bench --steps                         # one long trace whole vs chunked (siakit.scorer.bench_steps)
    siakit bench --continuous 64                 # continuous batching vs batch-at-a-time (siakit.bench.continuous)

The scorer's and the experiment's benchmarks never import this module; this command imports them.
"""
from __future__ import annotations

import argparse
import json

from siakit.scorer import bench


def add_arguments(parser) -> None:
    bench.add_arguments(parser)  # the method suite's flags
    parser.add_argument("--distributed", action="store_true",
                        help="instead: 2 gloo processes against 1 scoring --traces tiny-model traces "
                             "(siakit.experiment.bench_distributed)")
    parser.add_argument("--traces", type=int, default=64, help="--distributed: traces scored")
    parser.add_argument("--generate", action="store_true",
                        help="instead: generation tokens/s of a random --shape model and the GPU-hours of --runs "
                             "(siakit.bench.sizing)")
    parser.add_argument("--shape", default="llama-1b", help="--generate: a bench shape")
    parser.add_argument("--batch", type=int, default=32, help="--generate: prompts per generate call")
    parser.add_argument("--prompt-tokens", type=int, default=128, help="--generate: prompt length")
    parser.add_argument("--new-tokens", type=int, default=128, help="--generate: tokens generated per row")
    parser.add_argument("--runs", default="runs/paper.yml", help="--generate: the runs file to size")
    parser.add_argument("--sharing", action="store_true",
                        help="prompt sharing: rows (a) human variants and (b) sampled traces, shared vs separate "
                             "(siakit.bench.sharing)")
    parser.add_argument("--problems", type=int, default=4, help="--sharing row a: GSM8K problems (4 variants each)")
    parser.add_argument("--questions", type=int, default=2, help="--sharing row b: questions (8 samples each)")
    parser.add_argument("--random-weights", action="store_true", help="--sharing row b: Gemma-3-270M shape, random weights")
    parser.add_argument("--rows", default="ab", help="--sharing: which rows (a, b, ab)")
    parser.add_argument("--steps", action="store_true",
                        help="one trace of --k one-token steps scored whole vs in chunks: time and peak RSS "
                             "(siakit.scorer.bench_steps)")
    parser.add_argument("--k", type=int, default=2000, help="--steps: one-token steps in the trace")
    parser.add_argument("--chunk", type=int, default=256, help="--steps: prefixes per chunk")
    parser.add_argument("--model", default="tiny", help="--steps: tiny, smollm2 or a model spec")
    parser.add_argument("--modes", default=None, help="--steps: whole,chunked,naive (default: naive on tiny only)")
    parser.add_argument("--samples", type=int, default=0,
                        help="--generate: instead, sample this many continuations of each of --batch random "
                             "prompts of --sample-model, prompt encoded once (shared prefill) against once per row")
    parser.add_argument("--sample-model", default="smollm2-135m-instruct", help="--generate --samples: the model")
    parser.add_argument("--continuous", type=int, default=0, metavar="N",
                        help="instead: continuous batching against batch-at-a-time decoding of N testbed prompts "
                             "of --sample-model (greedy, then 4 samples each at temperature 1; --batch rows at once; "
                             "siakit.bench.continuous)")
    parser.add_argument("--enumerate", action="store_true",
                        help="instead: the enumerate estimator against the readout, per trace, on SmolLM2 "
                             "(siakit.bench.enumerate)")
    parser.add_argument("--enumerate-n", type=int, default=8, help="--enumerate: GSM8K traces")
    parser.add_argument("--epsilon", type=float, default=0.01, help="--enumerate: unexplored mass to stop at")
    parser.add_argument("--max-nodes", type=int, default=256, help="--enumerate: nodes per prefix at most")
    parser.add_argument("--width", type=int, default=64, help="--enumerate: nodes per prefix per level")


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="speed/agreement benchmark of the scorer's methods",
                                   description=bench.__doc__.splitlines()[0])
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    """Dispatch to the benchmark the flags ask for; without one of them, the method suite."""
    if args.distributed:  # data parallelism, not a forward method: its own case
        from siakit.experiment.bench_distributed import run as run_distributed

        row = run_distributed(args.traces, threads=args.threads or 1, repeats=args.repeats)
        print(json.dumps(row) if args.json else " | ".join(f"{k} {v}" for k, v in row.items()), flush=True)
        return 0
    if args.sharing:  # prompt sharing on real workloads: its own rows
        from siakit.bench.sharing import main as sharing

        return sharing(args)
    if args.generate:  # generation throughput and a sweep's GPU-hours: its own case
        from siakit.bench.sizing import report

        return report(args)
    if args.continuous:  # decoding schedules on the lineage's prompts: its own case
        from siakit.bench.continuous import main as run_continuous

        return run_continuous(args)
    if args.steps:  # memory of one long trace: its own case, each mode in a child process
        from siakit.scorer.bench_steps import report as report_steps

        return report_steps(args)
    if args.enumerate:  # an estimator against another on real traces: its own case
        from siakit.bench.enumerate import main as run_enumerate

        return run_enumerate(args=argparse.Namespace(n=args.enumerate_n, threads=args.threads or 1,
                                                     epsilon=args.epsilon, max_nodes=args.max_nodes,
                                                     width=args.width, json=args.json))
    return bench.run_methods(args)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="siakit bench", description=bench.__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
