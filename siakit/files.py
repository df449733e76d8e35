"""Writing files so that a kill at any moment leaves either the old file or the new one, never half.

    >>> atomic_write_text(Path("/tmp/x.json"), '{"a": 1}')   # temp file in the same folder, fsync, rename
    >>> json_safe({"h": np.float64(0.5), "k": (1, 2)})
    {'h': 0.5, 'k': [1, 2]}

The one atomic-write helper of siakit: the results store, the traces writer, the scorer's CLI and
the training stages all write through it.
"""
from __future__ import annotations

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
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


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
