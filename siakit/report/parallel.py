"""Many pages at once, and the cluster route, for `siakit book`.

    siakit book --jobs 4 --devices 0,1,2,3     # four pages at a time, one GPU each
    siakit book --jobs 2                       # two CPU pages at a time, OMP_NUM_THREADS = CPUs / 2 each
    siakit book --list-runs                    # one run page name per line (a SLURM array's index)
    siakit book --only NAME                    # execute that page only; no build (one cluster task)
    siakit book --build-only                   # build the book from the finished pages

With `--jobs N`, each page runs in its own process (`python -m siakit.report.parallel`, which executes
the notebook with papermill exactly as the sequential runner does), whose environment pins it to one
device (`CUDA_VISIBLE_DEVICES`, from `--devices` in turn) and to its share of the CPU
(`OMP_NUM_THREADS`, `MKL_NUM_THREADS`), and whose output goes to `book/generated/logs/<page>.log`. The
fixed chapters and the runs go first, N at a time; the cross-run chapters (which read every run) after
all of them. A failing page fails alone; the book is built once, at the end. Records, done markers and
`summary.json` are written by this process only, so concurrent pages never write the same file.
"""
from __future__ import annotations

import heapq
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from siakit.files import atomic_write_json
from siakit.report.pages import write_summary
from siakit.report.jobs import FIRST, READS
from siakit.report.runner import (AFTER_RUNS, GENERATED, Job, done_record, placeholder, plan, record_finished,
                                  run_all)

LOGS = GENERATED / "logs"


def cpu_count() -> int:
    """CPUs this process may use (its affinity mask, which SLURM and taskset set), not the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def threads_per_job(jobs: int, cpus: int, requested: str | None = None) -> int:
    """Threads each of `jobs` concurrent pages may use so that together they do not exceed `cpus`; a
    smaller OMP_NUM_THREADS the user set is kept.

    threads_per_job(2, 16) -> 8;  threads_per_job(4, 2) -> 1;  threads_per_job(2, 16, "4") -> 4
    """
    share = max(1, cpus // max(1, jobs))
    if requested and requested.strip().isdigit() and int(requested) >= 1:
        return min(share, int(requested))
    return share


def parse_devices(text: str | None) -> list[str]:
    """`"0,1, 3"` -> `["0", "1", "3"]`; a non-integer entry is an error naming it."""
    if not text:
        return []
    devices = [d.strip() for d in text.split(",") if d.strip()]
    bad = [d for d in devices if not d.isdigit()]
    if bad or not devices:
        raise ValueError(f"--devices {text!r}: give GPU indices separated by commas, e.g. 0,1,2,3")
    return devices


def job_env(slot: int, jobs: int, devices: list[str], base: dict[str, str] | None = None,
            cpus: int | None = None) -> dict[str, str]:
    """The environment of the page running in `slot` (0 .. jobs-1): its device and its thread count.

    job_env(1, 2, ["0", "1"], {}, cpus=8) -> {"OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4",
                                              "CUDA_VISIBLE_DEVICES": "1"}   (plus the base variables)
    """
    env = dict(os.environ if base is None else base)
    threads = str(threads_per_job(jobs, cpus or cpu_count(), env.get("OMP_NUM_THREADS")))
    env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    if devices:
        env["CUDA_VISIBLE_DEVICES"] = devices[slot % len(devices)]
    return env


def log_path(job: Job) -> Path:
    return LOGS / f"{job.kind}__{job.name}.log"


def _execute_elsewhere(job: Job, root: Path, env: dict, cell_timeout_s: int | None) -> dict:
    """Execute one page in a child process with `env`; its output goes to the page's log."""
    record_file = root / GENERATED / "status" / f"{job.kind}__{job.name}.worker.json"
    record_file.parent.mkdir(parents=True, exist_ok=True)
    record_file.unlink(missing_ok=True)
    spec = {"name": job.name, "kind": job.kind, "source": str(job.source), "parameters": job.parameters,
            "title": job.title}
    command = [sys.executable, "-m", "siakit.report.parallel", str(root), json.dumps(spec), str(record_file),
               str(cell_timeout_s or 0)]
    log = root / log_path(job)
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(log, "w") as out:
        rc = subprocess.run(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    if record_file.exists():
        record = json.loads(record_file.read_text())
        record_file.unlink()
    else:  # the child died before writing its record (killed, out of memory)
        record = {"name": job.name, "kind": job.kind, "source": str(job.source), "page": str(job.output),
                  "parameters": job.parameters, "status": "failed",
                  "error": f"page process exited with code {rc}; see {log_path(job)}",
                  "seconds": round(time.perf_counter() - started, 1)}
    record["log"] = str(log_path(job))
    record["env"] = {k: env[k] for k in ("OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES") if k in env}
    return record


def _say(line: str) -> None:
    """One whole line at once: `print` writes the text and its newline separately, so lines printed
    by concurrent page threads could run together."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class _Slots:
    """`n` slots (one per concurrent page), each granted to the first page in rank order that is
    ready, that is, whose prerequisites (`needs`: page -> pages it reads, `siakit.report.jobs.READS`)
    have started; the page itself waits for their results where it reads them. A page waiting for a
    prerequisite to start holds no slot."""

    def __init__(self, n: int):
        self.free, self.waiting, self.started = list(range(n)), set(), set()
        self.needs: dict[str, tuple] = {}
        self.cond = threading.Condition()

    def _ready(self, name: str) -> bool:
        return all(n in self.started for n in self.needs.get(name, ()))

    def _turn(self, rank: int, name: str) -> bool:
        ready = [w for w in self.waiting if self._ready(w[1])]
        return bool(self.free) and bool(ready) and min(ready) == (rank, name)

    def queue(self, pages: list[tuple[int, str]]) -> None:
        """Queue (rank, name) pages before any of them asks for a slot, so that slots go in rank
        order, not in the order their threads happen to call `acquire`."""
        with self.cond:
            self.waiting.update(pages)

    def acquire(self, rank: int, name: str) -> int:
        with self.cond:
            self.waiting.add((rank, name))
            self.cond.wait_for(lambda: self._turn(rank, name))
            self.waiting.remove((rank, name))
            self.started.add(name)
            self.cond.notify_all()
            return self.free.pop(0)

    def release(self, slot: int, name: str) -> None:
        with self.cond:
            self.free.append(slot)
            self.cond.notify_all()


def _rank(jobs: list[Job]) -> dict[str, int]:
    """Slot order: the pages of `FIRST` (in that order), then the jobs' order.

    _rank([intro, 02_toy_world, 03, 04_testbed_lineage]) -> {"02_toy_world": 0, "04_testbed_lineage": 1,
                                                             "intro": 2, "03": 3}
    """
    names = [n for n in FIRST if n in {j.name for j in jobs}] + [j.name for j in jobs if j.name not in FIRST]
    return {name: i for i, name in enumerate(names)}


def run_parallel(jobs: list[Job], root: Path, n_jobs: int, devices: list[str], force: bool = False,
                 cell_timeout_s: int | None = None, summary: bool = True) -> list[dict]:
    """`run_all`, but up to `n_jobs` pages at once, each in its own process, device and log."""
    if n_jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {n_jobs}")
    records: dict[str, dict] = {}
    slots = _Slots(n_jobs)
    order = _rank(jobs)

    def one(job: Job) -> dict:
        slot = slots.acquire(order[job.name], job.name)  # ready pages start in rank order
        try:
            env = job_env(slot, n_jobs, devices)
            where = f"device {env['CUDA_VISIBLE_DEVICES']}, " if devices else ""
            _say(f"[siakit book] {job.kind} {job.name}: executing ({where}{env['OMP_NUM_THREADS']} threads, "
                 f"log {log_path(job)})")
            (root / job.marker).unlink(missing_ok=True)
            running = atomic_write_json((root / job.marker).with_suffix(".running"),  # what `wait_for_pages`
                                        {"pid": os.getpid()})                        # waits on
            try:
                return _execute_elsewhere(job, root, env, cell_timeout_s)
            finally:
                running.unlink(missing_ok=True)
        finally:
            slots.release(slot, job.name)

    runs_changed = False
    first = [j for j in jobs if j.name not in AFTER_RUNS]
    after = [j for j in jobs if j.name in AFTER_RUNS]
    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        for phase in (first, after):  # the cross-run chapters start once every run has finished
            todo = []
            for job in phase:
                planned = plan(job, root, force, None, runs_changed)
                if planned is not None:
                    records[job.name] = planned
                else:
                    todo.append(job)
            names = {job.name for job in todo}  # a prerequisite done before (skipped) is no wait
            slots.needs.update({j.name: tuple(n for n in READS.get(j.name, ()) if n in names) for j in todo})
            slots.queue([(order[j.name], j.name) for j in todo])
            futures = [(job, pool.submit(one, job)) for job in todo]
            for job, future in futures:
                record = future.result()
                runs_changed |= job.kind == "run"
                _say(f"[siakit book] {job.kind} {job.name}: {record['status']} in {record['seconds']} s"
                     + (f" ({record['error']})" if record.get("error") else ""))
                record_finished(job, root, record)
                records[job.name] = record
                if summary:
                    write_summary(root, [records[j.name] for j in jobs if j.name in records], jobs)
    ordered = [records[j.name] for j in jobs]
    if summary:
        write_summary(root, ordered, jobs)
    return ordered


def execute_pages(jobs: list[Job], root: Path, args, summary: bool = True) -> list[dict]:
    """The pages of one `siakit book` call: sequentially in this process (`--jobs 1`, no `--devices`),
    else `run_parallel`."""
    devices = parse_devices(getattr(args, "devices", None))
    n_jobs = args.jobs if getattr(args, "jobs", None) else max(1, len(devices))
    if n_jobs == 1 and not devices:
        return run_all(jobs, root, force=args.force, cell_timeout_s=args.cell_timeout_s, summary=summary)
    return run_parallel(jobs, root, n_jobs, devices, force=args.force, cell_timeout_s=args.cell_timeout_s,
                        summary=summary)


def only(jobs: list[Job], root: Path, args) -> int:
    """`siakit book --only NAME ...`: execute the matching pages and nothing else. No placeholder, no
    summary, no build, so that cluster tasks running different pages at once never write one file."""
    import fnmatch

    selected = [j for j in jobs if any(fnmatch.fnmatch(j.name, p) for p in args.only)]
    records = execute_pages(selected, root, args, summary=False)
    failed = [r["name"] for r in records if r.get("status") == "failed"]
    print(f"[siakit book] {len(records)} page(s), {len(failed)} failed"
          + (f": {', '.join(failed)}" if failed else "") + "; build with `siakit book --build-only`")
    return 1 if failed else 0


def finished_records(jobs: list[Job], root: Path) -> list[dict]:
    """Each page's record from its last execution when it matches the page's current source and
    parameters (ok or failed), else `not run`."""
    records = []
    for job in jobs:
        last = (root / job.marker).with_suffix(".last.json")
        record = json.loads(last.read_text()) if last.exists() else None
        if record is None or record.get("fingerprint") != job.fingerprint(root):
            record = done_record(job, root) or {"name": job.name, "kind": job.kind, "page": str(job.output),
                                          "status": "not run", "seconds": None, "parameters": job.parameters}
        records.append(record)
    return records


def build_only(jobs: list[Job], root: Path) -> int:
    """`siakit book --build-only`: placeholders for pages never executed, the summary, the runs index,
    the API page, then one Jupyter Book build. Executes no notebook."""
    from siakit.report.pages import write_api_page, write_runs_index
    from siakit.report.runner import build_book, prune_stale_runs

    prune_stale_runs(jobs, root)
    records = finished_records(jobs, root)
    for job, record in zip(jobs, records):
        if not (root / job.output).exists():
            placeholder(job, root)
    write_summary(root, records, jobs)
    write_runs_index(root, jobs)
    write_api_page(root)
    build = build_book(root)
    write_summary(root, records, jobs, build)
    missing = [r["name"] for r in records if r["status"] != "ok"]
    print(f"[siakit book] built from {len(records) - len(missing)} finished page(s)"
          + (f"; not finished (failed or not run): {', '.join(missing)}" if missing else "")
          + f"; build {'ok' if build['returncode'] == 0 else 'FAILED'} in {build['seconds']} s")
    return 1 if build["returncode"] else 0


def _worker(argv: list[str]) -> int:
    """`python -m siakit.report.parallel ROOT JOB_JSON RECORD_FILE TIMEOUT`: execute one page (the
    child process of `run_parallel`) and write its record."""
    from siakit.files import atomic_write_text
    from siakit.report.runner import execute

    root, spec, record_file, timeout = Path(argv[0]), json.loads(argv[1]), Path(argv[2]), int(argv[3])
    job = Job(spec["name"], spec["kind"], Path(spec["source"]), spec["parameters"], spec["title"])
    record = execute(job, root, timeout or None)
    atomic_write_text(record_file, json.dumps(record, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1:]))
