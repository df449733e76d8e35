"""Writing files so that a kill at any moment leaves either the old file or the new one, never half.

    >>> atomic_write_text(Path("/tmp/x.json"), '{"a": 1}')   # temp file in the same folder, fsync, rename
    PosixPath('/tmp/x.json')
    >>> import numpy as np
    >>> json_safe({"h": np.float64(0.5), "k": (1, 2)})
    {'h': 0.5, 'k': [1, 2]}

The one atomic-write helper of siakit: the results store, the traces writer, the scorer's CLI and
the training stages all write through it.
"""
from __future__ import annotations

import errno
import math
import os
from pathlib import Path
from typing import Callable


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp)` on a temporary path beside `path`, fsync it, then rename it onto `path`.
    A failure (full disk, kill) leaves no temporary file behind and `path` untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno == errno.ENOSPC and not isinstance(e, DiskFull):
            raise DiskFull(path) from e
        raise
    return path


class DiskFull(OSError):
    """No space left on the device while writing `path`: the message names the path and what is left.

        str(DiskFull("r/scores/part-00003.parquet"))
        -> "No space left on device writing r/scores/part-00003.parquet: it was not written (no partial
            file is left); files finished before it are kept. Free some space and run the same command
            to resume"
    """

    def __init__(self, path, left: str = "it was not written (no partial file is left); files finished "
                                         "before it are kept"):
        super().__init__(errno.ENOSPC, f"No space left on device writing {path}: {left}. Free some space "
                                       "and run the same command to resume")
        self.path = str(path)

    def __str__(self) -> str:
        return self.strerror


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj, indent: int | None = 1) -> Path:
    """`obj` (made `json_safe`) as JSON, written atomically.

        >>> atomic_write_json(Path("/tmp/t.json"), {"total_s": 1.5})   # writes {"total_s": 1.5}
        PosixPath('/tmp/t.json')
    """
    import json

    return atomic_write_text(path, json.dumps(json_safe(obj), indent=indent))


def json_safe(x):
    """Plain JSON types from numpy/pandas values; NaN and infinities become None."""
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if hasattr(x, "tolist") and not isinstance(x, (str, bytes)):  # numpy scalars and arrays
        return json_safe(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def check_output(path: str | os.PathLike, inputs=(), flag: str = "--out") -> Path:
    """Refuse an output path that would destroy something: one of the `inputs`, a directory, a special
    file (device, pipe, socket), a symbolic link, or a path under a file or in a folder we cannot write.
    Returns the path; raises ValueError naming `flag` and the path. Nothing is created.

        check_output("t.jsonl", inputs=["t.jsonl"])   # ValueError: --out t.jsonl is the input ...
        check_output("/dev/null")                     # ValueError: --out /dev/null is a special file ...
    """
    import stat

    path = Path(path)
    if os.path.lexists(path):
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            raise ValueError(f"{flag} {path} is a symbolic link (to {os.readlink(path)}); give the real path")
        if stat.S_ISDIR(mode):
            raise ValueError(f"{flag} {path} is a directory; give a file name")
        if not stat.S_ISREG(mode):
            raise ValueError(f"{flag} {path} is a special file (device, pipe or socket); give a regular file name")
    for source in inputs:
        if source is None:
            continue
        source = Path(source)
        same = path.resolve() == source.resolve()
        if not same and path.exists() and source.exists():
            same = os.path.samefile(path, source)
        if same:
            raise ValueError(f"{flag} {path} is the input file {source}; writing it would destroy the input")
    folder = path.parent
    while not folder.exists():  # the first existing ancestor decides whether the folders can be made
        if os.path.lexists(folder):  # a dangling link
            raise ValueError(f"{flag} {path}: {folder} is a broken link")
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"{flag} {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {path}: folder {folder} is not writable")
    try:  # the only sure test (read-only mounts, immutable folders, /proc): make and drop a file there
        import tempfile

        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise ValueError(f"{flag} {path}: cannot write in folder {folder} ({e.strerror or e})") from None
    return path


def inside(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """Whether `path` (links resolved) lies inside `root` (links resolved).

        inside("results/m/d", "results") -> True;  inside("results/../d", "results") -> False
    """
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
        return True
    except ValueError:
        return False


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that `atomic_write` calls killed by SIGKILL left under `folder`
    (`.NAME.tmpPID` whose process is gone); return them. A live writer's temporary file is kept.

        remove_stale_temporaries("results/m/d")  -> [Path("results/m/d/scores/.part-00006.parquet.tmp31550")]
    """
    removed = []
    for path in Path(folder).rglob(".*.tmp*"):
        pid = path.name.rsplit(".tmp", 1)[-1]
        if not pid.isdigit() or not path.is_file() or pid_alive(int(pid)):
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists (ours, or someone else's): pid_alive(os.getpid()) -> True."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def refuse_existing(path: str | os.PathLike, force: bool, command: str, flag: str = "--out",
                    detail: str = "", own: bool = False) -> None:
    """The one rule of every command that writes: an existing output (a file, or a folder that is not
    empty) is replaced only with `--force`. Raises ValueError naming the flag, the path and the way out.
    `own`: an output folder holding `.siakit-COMMAND` (written by `mark_own`) is this command's own, so
    the same command may resume into it (the "run the same command to resume" of an interrupt).

        refuse_existing("notes.txt", force=False, command="generate")
        -> ValueError: --out notes.txt exists; siakit generate replaces an existing output only with --force
        refuse_existing("notes.txt", force=True, command="generate")   # None: the caller may replace it
    """
    path = Path(path)
    if force or not os.path.lexists(path):
        return
    if path.is_dir() and not path.is_symlink():
        if not any(path.iterdir()) or (own and (path / f".siakit-{command}").exists()):
            return  # an empty folder holds nothing to lose; our own folder is resumed
    raise ValueError(f"{flag} {path} exists{f' ({detail})' if detail else ''}; siakit {command} replaces an "
                     "existing output only with --force")


def mark_own(folder: str | os.PathLike, command: str) -> None:
    """Mark `folder` as the output of `siakit COMMAND` (see `refuse_existing(own=True)`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f".siakit-{command}").touch()
