"""The `siakit` command line (also `python -m siakit`).

Each sub-command lives in its own module, which exposes `register(subparsers)`; that function adds the
sub-parser and sets `func` (called with the parsed arguments, returns an exit code). Modules are imported
only when present so that the pure-math parts never pull in torch.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Module of each sub-command, in the order shown by `siakit --help`.
COMMANDS = {
    "generate": "siakit.experiment.generate",
    "score": "siakit.experiment.commands",
    "run": "siakit.experiment.commands",
    "toy": "siakit.training.toy.cli",
    "sft": "siakit.training.sft.finetune",
    "bench": "siakit.scorer.bench",
    "book": "siakit.report.runner",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="siakit", description=__doc__.splitlines()[0])
    from siakit import __version__
    parser.add_argument("--version", action="version", version=f"siakit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    registered: set[str] = set()
    for module_name in dict.fromkeys(COMMANDS.values()):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and (e.name == module_name or module_name.startswith(e.name + ".")):
                continue  # that part of siakit is not written yet
            raise
        module.register(subparsers)
        registered.add(module_name)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as e:
        # Bad input: one clear line, no traceback (the message names the file, line or argument).
        print(f"siakit {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
