"""The `siakit` command line (also `python -m siakit`).

Every sub-command is registered the same way: its module, named in `COMMANDS`, exposes
`register(subparsers)`, which adds the sub-parser and sets `func` (called with the parsed arguments,
returns an exit code). Modules are imported when the parser is built, never by `import siakit`, so the
pure-math parts never pull in torch.
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
    for module_name in dict.fromkeys(COMMANDS.values()):  # a module may register several commands
        importlib.import_module(module_name).register(subparsers)
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
