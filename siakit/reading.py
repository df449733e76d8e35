"""Opening input files safely: only regular files, read as a stream of lines of bounded length.

A character device (`/dev/zero`), a named pipe or a directory given as an input would read forever,
block, or fail deep inside a parser; a file of one endless line would fill memory. Every reader of
user files (traces, problems, the results store's shards, runs files) opens them here:

    >>> check_input("/dev/zero", "--traces")        # a ValueError (InputError) naming the argument
    Traceback (most recent call last):
    ...
    siakit.reading.InputError: --traces /dev/zero is a character device, not a file; give a regular file
    >>> getfixture("monkeypatch").chdir(getfixture("tmp_path"))     # (the example writes into a fresh folder)
    >>> _ = open("t.jsonl", "wb").write(b'\\xef\\xbb\\xbf{"id": "a"}\\n' + b"x" * 100 + b"\\n")   # a BOM, then two lines
    >>> next(read_lines("t.jsonl"))                  # (line number, str), the BOM dropped
    (1, '{"id": "a"}\\n')
    >>> list(read_lines("t.jsonl", cap=50))          # the cap of one line is 64 MiB by default
    Traceback (most recent call last):
    siakit.reading.InputError: t.jsonl:2: line longer than 50 bytes (the cap of one record); is this the right file?
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterator

MAX_LINE_BYTES = 64 << 20  # one JSONL record: a trace of 100k tokens is ~0.5 MB; 64 MiB is no trace


class InputError(ValueError):
    """An input that cannot be read as a file, or a line over the cap; the message names file[:line]."""


_KINDS = [(stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket")]


def check_input(path: str | os.PathLike, what: str = "input") -> Path:
    """`path` if it is a regular file (links followed); otherwise an error naming it and what it is.
    Nothing is opened (opening a FIFO would block until a writer comes).

        check_input("t.jsonl", "--traces") -> Path("t.jsonl")
        check_input("/tmp", "--traces")     -> InputError: --traces /tmp is a directory, not a file
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(2, "No such file or directory", str(path)) from None
    for test, kind in _KINDS:
        if test(mode):
            raise InputError(f"{what} {path} is {kind}, not a file; give a regular file")
    if not stat.S_ISREG(mode):
        raise InputError(f"{what} {path} is not a regular file")
    return path


def read_lines(path: str | os.PathLike, what: str = "input", cap: int | None = None,
               error: type[ValueError] = InputError) -> Iterator[tuple[int, str]]:
    """(line number, decoded line) of a UTF-8 text file, streamed: a leading byte-order mark is dropped;
    a line over `cap` bytes (default MAX_LINE_BYTES) or bytes that are not UTF-8 raise `error` naming
    `path:line`. The whole file is never held in memory."""
    path = check_input(path, what)
    cap = MAX_LINE_BYTES if cap is None else cap
    with open(path, "rb") as f:
        lineno = 0
        while True:
            raw = f.readline(cap + 1)
            if not raw:
                return
            lineno += 1
            if len(raw) > cap:
                raise error(f"{path}:{lineno}: line longer than {_size(cap)} (the cap of one record); "
                            "is this the right file?")
            try:
                yield lineno, raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise error(f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column "
                            f"{e.start + 1}); save the file as UTF-8") from None


def read_text(path: str | os.PathLike, what: str = "input", cap: int | None = None,
              error: type[ValueError] = InputError) -> str:
    """The whole text of a checked input, read line by line under the cap (see `read_lines`)."""
    return "".join(line for _, line in read_lines(path, what, cap, error))


def _size(n: int) -> str:
    """_size(64 << 20) -> '64 MiB'; _size(100) -> '100 bytes'"""
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n} bytes"
