"""`siakit toy`: train a tiny GPT on the toy world's human traces, then reinforce it, into one folder.

    siakit toy --preset small --out results/toy     # ~3 min on one CPU core
    siakit toy --preset paper --out results/toy-paper --device cuda   # ~4 min on one H100
"""
from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    p = subparsers.add_parser("toy", help="toy world: MLE checkpoints and RL of a tiny GPT, exact Bayes curves",
                              description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="small", help="tiny | small | paper (default: %(default)s)")
    p.add_argument("--out", required=True, help="output folder (summary.json, checkpoints/, scores.parquet)")
    p.add_argument("--seed", type=int, default=None, help="override the preset's seed")
    p.add_argument("--steps", type=int, default=None, help="override the number of MLE steps")
    p.add_argument("--rl-steps", type=int, default=None, help="override the number of RL updates")
    p.add_argument("--n-eval", type=int, default=None, help="override the number of evaluation problems")
    p.add_argument("--device", default=None, help="torch device (cpu, cuda)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: the preset's)")
    p.add_argument("--backend", default=None, choices=["auto", "scorer", "exact"],
                   help="readout backend: the project's scorer, our exact loop, or auto")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--force", action="store_true", help="write into --out even if it holds files")
    p.set_defaults(func=main)


def config_from_args(args: argparse.Namespace):
    from dataclasses import replace

    from siakit.training.toy.experiment import preset

    overrides = {k: v for k, v in {"seed": args.seed, "n_eval": args.n_eval, "device": args.device,
                                   "threads": args.threads, "backend": args.backend}.items() if v is not None}
    cfg = preset(args.preset, **overrides)
    for name, value, part in (("steps", args.steps, "train"), ("steps", args.rl_steps, "rl")):
        if value is not None:
            if value < (0 if part == "rl" else 1):
                raise ValueError(f"--{'rl-' if part == 'rl' else ''}steps: must be positive, got {value}")
            cfg = replace(cfg, **{part: replace(getattr(cfg, part), **{name: value})})
    return cfg


def main(args: argparse.Namespace) -> int:
    from siakit.files import mark_own, refuse_existing
    from siakit.training.toy.experiment import run_toy

    cfg = config_from_args(args)  # a bad option fails before anything is written
    refuse_existing(args.out, args.force, "toy", own=True)  # a folder of siakit toy's own is redone
    mark_own(args.out, "toy")
    summary = run_toy(cfg, args.out, progress=not args.quiet)
    last = summary["checkpoint_metrics"][-1]
    print(json.dumps({"out": args.out, "checkpoints": summary["checkpoints"],
                      "accuracy": summary["accuracy"], "heldout_nll": summary["heldout_nll"],
                      "rl_accuracy": [last["accuracy"], summary["rl"]["after"]["accuracy"]],
                      "readout": summary["readout"]}, indent=1))
    return 0
