"""The `siakit` command line (also `python -m siakit`).

Every sub-command is registered the same way: its module, named in `COMMANDS`, exposes
`register(subparsers)`, which adds the sub-parser and sets `func` (called with the parsed arguments,
returns an exit code). Modules are imported when the parser is built, never by `import siakit`, so the
pure-math parts never pull in torch.

An expected failure (bad input, a file that cannot be read or written, a model that cannot be loaded,
a full disk) is printed as one line naming the file or argument, with exit status 2; `--debug` (anywhere
on the command line) or `SIAKIT_DEBUG=1` shows the traceback instead.

Ctrl-C (SIGINT) and SIGTERM end a command with one line, "interrupted; run the same command to resume",
and exit status 130 or 143 (128 + the signal); what was finished is stored (every write is atomic), so
the same command resumes. `--debug` shows where it was interrupted.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys

# Module of each sub-command, in the order shown by `siakit --help`.
COMMANDS = {
    "generate": "siakit.experiment.generate",
    "score": "siakit.experiment.commands",
    "run": "siakit.experiment.commands",
    "toy": "siakit.training.toy.cli",
    "sft": "siakit.training.sft.finetune",
    "bench": "siakit.bench.command",
    "book": "siakit.report.book",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="siakit", description=__doc__.splitlines()[0])
    from siakit import __version__
    parser.add_argument("--version", action="version", version=f"siakit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in dict.fromkeys(COMMANDS.values()):  # a module may register several commands
        importlib.import_module(module_name).register(subparsers)
    return parser


def expected_failure(e: BaseException) -> str | None:
    """The one-line message of an expected failure, or None for a bug (which keeps its traceback).

        expected_failure(FileNotFoundError(2, "No such file or directory", "t.jsonl"))
        -> "No such file or directory: t.jsonl"
    """
    if isinstance(e, OSError):  # unreadable input, unwritable output, full disk, offline hub ...
        if e.strerror and e.filename is not None:
            target = e.filename + (f" -> {e.filename2}" if e.filename2 else "")
            return f"{e.strerror}: {target}"
        return str(e) or type(e).__name__
    if isinstance(e, (ValueError, KeyError)):  # bad input; the message names the file, line or argument
        return str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
    return None


class Terminated(BaseException):
    """SIGTERM, raised where the command was (like KeyboardInterrupt for SIGINT): `finally` blocks run,
    locks are released, and `main` exits with 143."""


@contextlib.contextmanager
def terminate_as_interrupt():
    """While the block runs, SIGTERM raises `Terminated` in the main thread (only there can a handler be
    set; elsewhere, e.g. a test's worker thread, the default stays)."""
    def handler(signum, frame):
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("SIAKIT_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]  # accepted before or after the sub-command
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with terminate_as_interrupt():
            return int(args.func(args) or 0)
    except (KeyboardInterrupt, Terminated) as e:
        if debug:
            raise
        code = 143 if isinstance(e, Terminated) else 130
        print(f"\nsiakit {args.command}: interrupted; run the same command to resume", file=sys.stderr)
        return code
    except Exception as e:  # noqa: BLE001 - expected failures become one line; bugs keep their traceback
        message = expected_failure(e)
        if message is None or debug:
            raise
        first, *rest = message.strip().splitlines() or [type(e).__name__]
        print(f"siakit {args.command}: error: {first}", file=sys.stderr)
        for line in rest:  # a few messages list alternatives (e.g. every place data was looked for)
            print(f"  {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
