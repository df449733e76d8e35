"""Execute the book's notebooks with papermill, one after another, then build it with Jupyter Book 1
(the command `siakit book` is `siakit.report.book`; several pages at once: `siakit.report.parallel`).

Each MyST text notebook is converted with jupytext and executed by papermill (kernel `python3`, working
directory = the repository root) into `book/generated/`: the fixed chapters into `chapters/<stem>.ipynb`,
and `notebooks/10_experiment.md` once per (model, dataset) of the runs file into
`runs/<model>__<dataset>.ipynb`. The book renders these executed copies with execution off.
A notebook whose parameters and source are unchanged since its last success (a done marker written only
after success) is skipped unless `--force`; a failing notebook keeps its error on its page, the others go
on, and the summary names the failures. Timings go to `book/generated/summary.json`, which the generated
runs index page shows. Nothing here needs the network.
"""
from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from siakit.files import pid_alive
from siakit.report.pages import fold_injected_parameters, fold_signatures, markdown_escape, note_cell, set_title, write_summary

GENERATED = Path("book/generated")  # every build output of the runner, gitignored
EXPERIMENT = Path("notebooks/10_experiment.md")
# Fixed chapters in execution order: (page name, MyST source, title used if the source is missing).
from siakit.report.jobs import (AFTER_RUNS, CHAPTERS, EXPERIMENT, GENERATED, KERNEL, PAGE_KEYS,  # noqa: F401
                                RUN_KEYS, TOP_KEYS, Job, check_plain, load_runs, page_name)


def _source_notebook(job: Job, root: Path):
    import jupytext
    import nbformat

    path = root / job.source
    if not path.exists():
        raise FileNotFoundError(f"notebook source not found: {path}")
    nb = jupytext.read(path)
    nb.metadata["kernelspec"] = dict(KERNEL)
    if job.kind == "run":
        set_title(nb, job.title)
    return nb


def execute(job: Job, root: Path, cell_timeout_s: int | None = None) -> dict:
    """Run one notebook with papermill into `job.output`; return its status record (never raises)."""
    import nbformat
    import papermill

    out, started = root / job.output, time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"name": job.name, "kind": job.kind, "source": str(job.source), "page": str(job.output),
              "parameters": job.parameters, "started": datetime.now(timezone.utc).isoformat()}
    source_in = root / GENERATED / "src" / f"{job.kind}__{job.name}.ipynb"
    try:
        nb = _source_notebook(job, root)
        source_in.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, source_in)
        # The kernel inherits these: progress bars inside cells would fill the rendered pages with
        # hundreds of bar updates (the runner's own per-cell bar still shows in the terminal).
        os.environ.update(TQDM_DISABLE="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
        papermill.execute_notebook(str(source_in), str(out), parameters=job.parameters, kernel_name="python3",
                                   cwd=str(root), progress_bar=True, execution_timeout=cell_timeout_s)
        executed = nbformat.read(out, as_version=4)
        if fold_injected_parameters(executed) | fold_signatures(executed):  # folds decided by the run
            nbformat.write(executed, out)
        record.update(status="ok", error=None)
    except BaseException as e:  # noqa: BLE001 - any failure is recorded on the page; Ctrl-C still stops
        short = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
        if getattr(e, "ename", None):  # papermill's PapermillExecutionError carries the cell's exception
            short = f"{e.ename}: {e.evalue}"
        record.update(status="failed", error=short)
        try:
            if out.exists():
                failed = nbformat.read(out, as_version=4)
            elif (root / job.source).exists():
                failed = _source_notebook(job, root)
            else:  # no source at all: a bare page that names it
                failed = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
                    f"# {markdown_escape(job.title)}")])
            detail = traceback.format_exception_only(type(e), e)[-1] if not out.exists() else short
            note_cell(failed, "error", "This notebook failed while the book was built; the error is below "
                       "and, where a cell failed, under that cell.\n\n```text\n" + detail.replace("`", "'")
                       + "\n```")
            nbformat.write(failed, out)
        except Exception as page_error:  # noqa: BLE001
            record["error"] += f" (and its error page could not be written: {page_error})"
        if isinstance(e, KeyboardInterrupt):
            raise
    record["seconds"] = round(time.perf_counter() - started, 1)
    return record


def placeholder(job: Job, root: Path) -> None:
    """An unexecuted copy for a page left out by --only, so the book still has every page."""
    import nbformat

    nb = _source_notebook(job, root)
    note_cell(nb, "note", "This page was not executed in this build (`siakit book --only ...`); "
               "run `make book` to execute it.")
    (root / job.output).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, root / job.output)


def done_record(job: Job, root: Path) -> dict | None:
    """The job's done marker if it matches the current source and parameters and the page exists."""
    marker = root / job.marker
    if not marker.exists() or not (root / job.output).exists():
        return None
    record = json.loads(marker.read_text())
    return record if record.get("fingerprint") == job.fingerprint(root) else None


def prune_stale_runs(jobs: list[Job], root: Path) -> list[str]:
    """Remove run pages of runs no longer in the runs file, so the book has one page per listed run
    (their results stay in the results store; listing a run again re-renders it from there)."""
    keep = {job.output.name for job in jobs if job.kind == "run"}
    stale = sorted(p for p in (root / GENERATED / "runs").glob("*.ipynb") if p.name not in keep)
    for page in stale:
        page.unlink()
        print(f"[siakit book] removed the page of a run not in this runs file: {page.name}")
    return [p.stem for p in stale]


def plan(job: Job, root: Path, force: bool, only: list[str] | None,
          runs_changed: bool) -> dict | None:
    """The record of a job that is not to be executed (left out by `only`, or done before), else None.
    Shared by `run_all` and `siakit book --jobs N` (parallel.py)."""
    selected = not only or any(fnmatch.fnmatch(job.name, pattern) for pattern in only)
    done = done_record(job, root)
    if job.name in AFTER_RUNS and (runs_changed or _runs_newer(job, root)):
        done = None  # the cross-run chapters read every run: redo them when any run was redone
    if not selected:
        if not (root / job.output).exists():
            placeholder(job, root)
        return done or {"name": job.name, "kind": job.kind, "page": str(job.output),
                        "status": "not run", "seconds": None, "parameters": job.parameters}
    if done and not force:
        print(f"[siakit book] {job.kind} {job.name}: done before ({done.get('seconds')} s), skipped")
        return {**done, "skipped": True}
    return None


def _runs_newer(job: Job, root: Path) -> bool:
    """Whether any run finished after `job`'s last success, in any invocation (`--only` tasks of a
    cluster included): a run's done marker `status/run__<page>.json` is newer than the job's."""
    mine = root / job.marker
    if not mine.exists():
        return False
    runs = [m for m in (root / GENERATED / "status").glob("run__*.json") if "." not in m.stem]
    return any(m.stat().st_mtime > mine.stat().st_mtime for m in runs)


def record_finished(job: Job, root: Path, record: dict) -> None:
    """Write the done marker (only after success) and the last record (any status, for --build-only)."""
    record["fingerprint"] = job.fingerprint(root)
    (root / job.marker).parent.mkdir(parents=True, exist_ok=True)
    if record["status"] == "ok":
        (root / job.marker).write_text(json.dumps(record, indent=2))
    (root / job.marker).with_suffix(".last.json").write_text(json.dumps(record, indent=2, default=str))


def run_all(jobs: list[Job], root: Path, force: bool = False, only: list[str] | None = None,
            cell_timeout_s: int | None = None, summary: bool = True) -> list[dict]:
    """Execute (or skip, or stub) every job; write done markers and (unless `summary` is false, as for
    the per-page `--only` of a cluster task) `summary.json`; return the records."""
    records, runs_changed = [], False
    for job in jobs:
        planned = plan(job, root, force, only, runs_changed)
        if planned is not None:
            records.append(planned)
            continue
        print(f"[siakit book] {job.kind} {job.name}: executing {job.source} -> {job.output}", flush=True)
        (root / job.marker).unlink(missing_ok=True)
        record = execute(job, root, cell_timeout_s)
        runs_changed |= job.kind == "run"
        print(f"[siakit book] {job.kind} {job.name}: {record['status']} in {record['seconds']} s"
              + (f" ({record['error']})" if record.get("error") else ""), flush=True)
        record_finished(job, root, record)
        records.append(record)
        if summary:
            write_summary(root, records, jobs)
    if summary:
        write_summary(root, records, jobs)
    return records


def build_book(root: Path) -> dict:
    """`jupyter-book build <root> -W --keep-going` (Jupyter Book 1, execution off in _config.yml), with
    the launch buttons' config when `$SIAKIT_REPOSITORY` is set (siakit.report.launch)."""
    from siakit.report.launch import prepare

    exe = Path(sys.executable).with_name("jupyter-book")
    config = prepare(root)
    command = [str(exe) if exe.exists() else (shutil.which("jupyter-book") or "jupyter-book"),
               "build", str(root), "-W", "--keep-going"] + (["--config", str(config)] if config else [])
    print("[siakit book] " + " ".join(command), flush=True)
    started = time.perf_counter()
    rc = subprocess.run(command, cwd=root).returncode
    return {"command": " ".join(command), "returncode": rc, "seconds": round(time.perf_counter() - started, 1),
            "finished": datetime.now(timezone.utc).isoformat()}


def wait_for_pages(names, root: Path | str = ".", timeout_s: float = 3600.0, poll_s: float = 2.0) -> dict:
    """Wait until the pages `names` (chapter names) are no longer being executed by a `siakit book
    --jobs N` in `root` (their `.running` marker gone, or its book process dead); returns the seconds
    waited per page. A page not being executed is no wait: this reads whatever results it left.

        wait_for_pages(["02_toy_world"]) -> {"02_toy_world": 0.0}   # outside a parallel build
    """
    waited = {}
    for name in names:
        running = Path(root) / GENERATED / "status" / f"chapter__{name}.running"
        started = time.perf_counter()
        while running.exists() and time.perf_counter() - started < timeout_s:
            try:
                pid = int(json.loads(running.read_text())["pid"])
            except (OSError, ValueError, KeyError):
                pid = None  # being written or removed just now: look again
            if pid is not None and not pid_alive(pid):
                break  # left behind by a build that was killed
            time.sleep(poll_s)
        waited[name] = round(time.perf_counter() - started, 1)
    return waited

