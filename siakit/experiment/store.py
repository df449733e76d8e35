"""The results store: one folder per (model, dataset) run, written so that a kill never loses a row.

Layout of `results/<model>/<dataset>/`:

    manifest.json            model, dataset, parameters, seed, versions, git commit
    traces/part-00000.jsonl  generated traces, one shard per finished batch
    scores/part-00000.parquet  scorer rows, one shard per finished batch of traces
    traces.jsonl             all traces in one file (the interchange format), rewritten on export

Every file is written to a temporary name and then renamed (atomic on POSIX), so a run killed at any
moment leaves only complete shards; started again, it skips the trace ids already present. Rows are
never duplicated: readers drop repeated ids (a shard renamed twice by a race keeps the first).

One writer per run folder: `store.locked()` takes an advisory `fcntl` lock on `<run>/.lock` (released
by the kernel when the process exits or is killed), so a second process fails at once naming the
holder's pid. The manifest's `identity` (model files, problems, device, ...) is compared on resume by
`check_identity`, so a run never mixes results of two models that share a name.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, NamedTuple

from siakit.experiment.runlock import RunLockedError, hold_run_lock  # noqa: F401  (RunLockedError: re-exported)
from siakit.files import atomic_write, atomic_write_bytes, inside
from siakit.data.traces import Trace, parse_record, write_traces
from siakit.reading import read_lines

if TYPE_CHECKING:
    import pandas as pd


def versions() -> dict:
    """Versions of siakit and the libraries that change numbers, plus the git commit if known."""
    import importlib.metadata as md
    import platform

    from siakit import __version__
    found = {"siakit": __version__, "python": platform.python_version()}
    for package in ("torch", "transformers", "numpy", "pandas"):
        try:
            found[package] = md.version(package)
        except md.PackageNotFoundError:
            found[package] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=Path(__file__).resolve().parent)
        found["git_commit"] = commit.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        found["git_commit"] = None
    return found


def safe_component(name: str) -> str:
    """One folder name from a model or dataset name: separators made safe, never `.` or `..` or empty.

        safe_component("org/model") -> "org__model";  safe_component("..") -> "__";  safe_component("") -> "_"
    """
    name = str(name).replace("/", "__").replace(":", "_").replace("\\", "__").replace("\0", "_")
    if set(name) <= {"."}:  # "", ".", "..", "...": would name this folder, its parent or nothing
        name = "_" * max(1, len(name))
    return name


def run_dir(results_dir: str | os.PathLike, model: str, dataset: str) -> Path:
    """`results/<model>/<dataset>`, with path separators in names made safe; a folder that would resolve
    outside `results_dir` (through a link) is refused."""
    path = Path(results_dir) / safe_component(model) / safe_component(dataset)
    if not inside(path, results_dir):
        raise ValueError(f"run folder {path} resolves to {path.resolve()}, outside the results folder "
                         f"{results_dir}; remove the link or use another --results-dir")
    return path


def difference(stored, now, where: str = "") -> str:
    """Where two recorded values differ, short enough for a one-line error.

        difference({"files": {"a.json": {"size": 1}}}, {"files": {"a.json": {"size": 2}}})
        -> "files/a.json/size: stored 1 != now 2"
    """
    if isinstance(stored, dict) and isinstance(now, dict):
        keys = [k for k in dict.fromkeys([*stored, *now]) if stored.get(k) != now.get(k)]
        parts = [difference(stored.get(k), now.get(k), f"{where}{k}/") for k in keys[:3]]
        return "; ".join(parts) + (f"; and {len(keys) - 3} more" if len(keys) > 3 else "")
    return f"{where.rstrip('/') or 'value'}: stored {stored!r:.80} != now {now!r:.80}"


class ResultsStore:
    """Sharded, resumable storage of one run's traces and scores."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    # -- manifest ---------------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    def read_manifest(self) -> dict | None:
        if not self.manifest_path.exists():
            return None
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{self.manifest_path}: corrupt manifest ({e}); delete the run folder or pass "
                             "--force to start it again") from None
        if not isinstance(manifest, dict):
            raise ValueError(f"{self.manifest_path}: corrupt manifest (not a JSON object); delete the run "
                             "folder or pass --force to start it again")
        return manifest

    # -- one writer -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self, name: str = ".lock"):
        """Hold an exclusive advisory lock on `<run>/<name>` while the block runs (siakit.experiment.runlock):
        another holder makes this raise RunLockedError at once, naming its pid; a folder this call
        created and left holding no shard is removed again. Yields the store.

            with ResultsStore("results/m/d").locked():   # RunLockedError: ... in use by pid 4242
                ...
        """
        with hold_run_lock(self.path, name):
            yield self

    def clear(self, keep: tuple[str, ...] = (".lock",)) -> None:
        """Delete everything in this run folder but `keep` (`--force`); nothing outside it. A folder that
        does not look like a results store (no manifest, shards or lock) is refused, not deleted."""
        if not self.path.exists():
            return
        entries = [p for p in self.path.iterdir() if p.name not in keep]
        if entries and not any((self.path / n).exists() for n in ("manifest.json", "traces", "scores")):
            raise ValueError(f"{self.path} is not a siakit results folder (no manifest.json, traces/ or "
                             "scores/); not deleting it")
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def check_identity(self, identity: dict) -> dict:
        """Refuse to resume when a recorded identity field (model files, problems, device ...) differs;
        fields an older manifest lacks are added. Returns the identity to store.

            store.check_identity({"model": {...}})  # ValueError: ... identity field 'model' changed ...
        """
        stored = (self.read_manifest() or {}).get("identity") or {}
        changed = [k for k, v in identity.items() if k in stored and stored[k] != v]
        if changed:
            detail = "; ".join(f"{k}: {difference(stored[k], identity[k])}" for k in changed)
            raise ValueError(f"{self.path}: the existing run was made with another {', '.join(changed)} ({detail}); "
                             "use another results folder, or --force to delete it and start again")
        return {**stored, **identity}

    def write_manifest(self, manifest: dict) -> None:
        atomic_write_bytes(self.manifest_path, json.dumps(manifest, indent=2, sort_keys=True).encode())

    def check_parameters(self, parameters: dict) -> None:
        """Refuse to resume a run whose stored parameters differ (mixing them would corrupt results)."""
        stored = (self.read_manifest() or {}).get("parameters")
        if stored is None:
            return
        changed = {k: (stored.get(k), v) for k, v in parameters.items() if stored.get(k) != v}
        if changed:
            detail = ", ".join(f"{k}: stored {a!r} != requested {b!r}" if not isinstance(a, dict)
                               else f"{k}: {difference(a, b)}" for k, (a, b) in changed.items())
            raise ValueError(f"{self.path}: existing run has other parameters ({detail}); "
                             "use another results directory or delete this one (or --force)")

    # -- shards -----------------------------------------------------------------------------------
    def _shards(self, table: str, suffix: str) -> list[Path]:
        return sorted((self.path / table).glob(f"part-*{suffix}"))

    def _next_shard(self, table: str, suffix: str) -> Path:
        existing = self._shards(table, suffix)
        index = int(existing[-1].name[5:10]) + 1 if existing else 0
        return self.path / table / f"part-{index:05d}{suffix}"

    def append_traces(self, traces: Iterable[Trace]) -> None:
        lines = [json.dumps(t.to_dict(), ensure_ascii=False) for t in traces]
        if lines:
            atomic_write_bytes(self._next_shard("traces", ".jsonl"), ("\n".join(lines) + "\n").encode())

    def reported_ids(self) -> list[str] | None:
        """The trace ids the manifest reports (its first n problems), or None when it lists none. A run
        resumed with a lower n keeps the other traces' shards (a larger n reuses them) but reports,
        summarises and exports only these."""
        ids = (self.read_manifest() or {}).get("ids")
        return None if ids is None else [str(i) for i in ids]

    def read_traces(self, everything: bool = False) -> list[Trace]:
        """The stored traces the manifest reports (`everything`: every stored shard's, for resuming)."""
        traces = self._read_all_traces()
        ids = None if everything else self.reported_ids()
        if ids is None:
            return traces
        by_id = {t.id: t for t in traces}
        return [by_id[i] for i in ids if i in by_id]

    def _read_all_traces(self) -> list[Trace]:
        traces: dict[str, Trace] = {}
        for shard in self._shards("traces", ".jsonl"):
            for lineno, line in read_lines(shard, "trace shard"):
                if line.strip():
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as e:  # a shard cut short (written outside siakit)
                        raise ValueError(f"{shard}:{lineno}: corrupt trace shard ({e.msg} at column {e.colno}); "
                                         "delete this shard to regenerate its traces, or --force") from None
                    trace = parse_record(record, f"{shard}:{lineno}")
                    traces.setdefault(trace.id, trace)
        return list(traces.values())

    def append_scores(self, frame) -> None:
        if len(frame):
            path = self._next_shard("scores", ".parquet")
            atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))

    def read_scores(self, everything: bool = False):
        """The stored score rows of the traces the manifest reports (`everything`: all stored rows)."""
        import pandas as pd

        shards = self._shards("scores", ".parquet")
        if not shards:
            return pd.DataFrame()
        frame = pd.concat([pd.read_parquet(s) for s in shards], ignore_index=True)
        keys = [c for c in ("id", "k", "estimator") if c in frame.columns]
        frame = frame.drop_duplicates(subset=keys, keep="first").reset_index(drop=True)
        ids = None if everything else self.reported_ids()
        if ids is not None and "id" in frame.columns:
            frame = frame[frame["id"].astype(str).isin(set(ids))].reset_index(drop=True)
        return frame

    def done_ids(self, table: str = "traces") -> set[str]:
        if table == "traces":
            return {t.id for t in self.read_traces(everything=True)}
        frame = self.read_scores(everything=True)
        return set(frame["id"].astype(str)) if len(frame) else set()

    def export_traces(self, traces: list[Trace] | None = None) -> Path:
        """Write `traces` (default: the reported stored traces) to `traces.jsonl` atomically; its path."""
        target = self.path / "traces.jsonl"
        write_traces(target, self.read_traces() if traces is None else traces)
        return target


class CollectedRuns(NamedTuple):
    """Every finished run's scores in one table, and the runs' manifests."""
    scores: pd.DataFrame     # one estimator's rows of every run, with `model` and `dataset` columns
    manifests: list[dict]    # one per run, in folder order


def collect_runs(results_dir: str | Path = "results", estimator: str = "readout") -> CollectedRuns:
    """All finished runs under `results_dir/<model>/<dataset>/`: their scores (one estimator) in one
    table with `model`/`dataset` from each manifest, and the manifests (the cross-run chapters' input). Unreadable runs are skipped
    with a message naming the folder."""
    import pandas as pd

    frames, manifests = [], []
    for manifest_path in sorted(Path(results_dir).glob("*/*/manifest.json")):
        store = ResultsStore(manifest_path.parent)
        try:
            manifest = json.loads(manifest_path.read_text())
            scores = store.read_scores()
        except Exception as e:  # noqa: BLE001 - one bad run must not hide the others
            print(f"skipping {manifest_path.parent}: {type(e).__name__}: {e}")
            continue
        if manifest.get("status") != "done" or not len(scores):
            print(f"skipping {manifest_path.parent}: status {manifest.get('status')!r}, {len(scores)} score rows")
            continue
        scores = scores[scores["estimator"] == estimator]
        if not len(scores):
            continue
        scores = scores.assign(model=manifest["model"], dataset=manifest["dataset"])
        frames.append(scores)
        manifests.append(manifest)
    return CollectedRuns(pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(), manifests)
