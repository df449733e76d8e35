"""One writer per run folder: an advisory `fcntl` lock on `<run>/.lock`, released by the kernel when the
process exits or is killed, so a second writer fails at once naming the holder's pid; a start that
stored nothing leaves no folder behind (siakit.experiment.store uses it for `ResultsStore.locked`).
"""
from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from siakit.files import DiskFull, remove_stale_temporaries


class RunLockedError(ValueError):
    """Another process holds the run folder's lock; the message names its pid."""


@contextlib.contextmanager
def hold_run_lock(path: Path, name: str = ".lock"):
    """Hold an exclusive advisory lock on `<path>/<name>` while the block runs; another holder makes
    this raise RunLockedError at once, naming its pid. A folder this call created and left holding
    nothing but the lock (a start that failed before its first shard) is removed again.

        with hold_run_lock(Path("results/m/d")):   # RunLockedError: ... in use by pid 4242
            ...
    """
    import fcntl

    created = [p for p in (path, *path.parents) if not p.exists()]  # innermost first
    path.mkdir(parents=True, exist_ok=True)
    lock_path = path / name
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        drop_if_empty(path, created, name)
        if e.errno == errno.ENOSPC:
            raise DiskFull(lock_path, "nothing was written") from e
        raise
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise RunLockedError(f"{path} is in use by another siakit process (pid {holder}); wait for "
                                 "it to finish or stop it, or use another results folder") from None
        try:  # from here on, a failure (a full disk too) leaves no folder holding only the lock
            os.ftruncate(fd, 0)
            try:
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError as e:
                if e.errno == errno.ENOSPC:
                    raise DiskFull(lock_path, "nothing was written") from e
                raise
            remove_stale_temporaries(path)  # half-written files of a killed writer
            yield
        finally:
            drop_if_empty(path, created, name)
    finally:
        os.close(fd)  # releases the lock (so does the kernel if the process is killed)


def drop_if_empty(path: Path, created: list[Path], name: str) -> None:
    """Leave no trace of a start that stored no shard: a folder holding nothing but the lock goes;
    one this call created goes too when it holds no shard (only the lock, the manifest written with
    a first shard that then failed, e.g. on a full disk, and empty shard folders)."""
    if not path.is_dir():
        return
    entries = list(path.iterdir())
    only_lock = [p.name for p in entries] == [name]
    if not only_lock and (path not in created or any(path.glob("*/part-*"))):
        return
    for entry in entries:
        with contextlib.suppress(OSError):  # anything else (a file we did not write) keeps the folder
            if entry.name in (name, "manifest.json"):
                entry.unlink()
            elif entry.is_dir() and not entry.is_symlink():
                entry.rmdir()
    for folder in [path] + [c for c in created if c != path]:
        with contextlib.suppress(OSError):  # not empty (another run's): kept
            folder.rmdir()
