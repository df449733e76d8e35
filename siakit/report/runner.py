"""`siakit book`: execute every notebook of the book with papermill, then build it with Jupyter Book 1.

    siakit book --runs runs/default.yml [--force] [--only NAME ...] [--no-build] [--root DIR]
                [--jobs N] [--devices 0,1,...] [--list-runs] [--build-only]   (parallel.py)

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
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from siakit.experiment.config import RunConfig
from siakit.report.pages import markdown_escape, note_cell, set_title, write_summary

GENERATED = Path("book/generated")  # every build output of the runner, gitignored
EXPERIMENT = Path("notebooks/10_experiment.md")
# Fixed chapters in execution order: (page name, MyST source, title used if the source is missing).
CHAPTERS = [
    ("intro", "book/intro.md", "Entropy dynamics and reasoning"),
    ("01_sia_theory", "notebooks/01_sia_theory.md", "The Stepwise Informativeness Assumption"),
    ("02_toy_world", "notebooks/02_toy_world.md", "A toy world"),
    ("03_sft_real_lm", "notebooks/03_sft_real_lm.md", "Fine-tuning a real language model"),
    ("04_testbed_lineage", "notebooks/04_testbed_lineage.md", "A trained testbed: the training lineage of a real LM"),
    ("05_human_traces", "notebooks/05_human_traces.md", "Human traces read by a model"),
    ("20_figures", "notebooks/20_figures.md", "Across runs"),
    ("30_early_exit", "notebooks/30_early_exit.md", "Early exit"),
]
AFTER_RUNS = {"20_figures", "30_early_exit"}  # these read the runs' results, so they go last
PAGE_KEYS = {"n_show", "n_boot"}  # parameters of the experiment page itself, not of the run
RUN_KEYS = set(RunConfig.keys()) | {"datasets"} | PAGE_KEYS  # a run entry: RunConfig's fields, one form
TOP_KEYS = {"defaults", "runs", "chapters"}
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


@dataclass
class Job:
    name: str                # page name (file stem)
    kind: str                # "chapter" or "run"
    source: Path             # MyST text notebook (relative to the root)
    parameters: dict = field(default_factory=dict)  # papermill parameters
    title: str = ""          # page title: the run's "model on dataset" (chapters keep their own)

    @property
    def output(self) -> Path:
        return GENERATED / ("runs" if self.kind == "run" else "chapters") / f"{self.name}.ipynb"

    @property
    def marker(self) -> Path:
        return GENERATED / "status" / f"{self.kind}__{self.name}.json"

    def fingerprint(self, root: Path) -> str:
        text = (root / self.source).read_bytes() if (root / self.source).exists() else b""
        blob = json.dumps(self.parameters, sort_keys=True).encode() + hashlib.sha256(text).digest()
        return hashlib.sha256(blob).hexdigest()[:16]


def page_name(model: str, dataset: str) -> str:
    """A file-safe page name: `Qwen/Qwen2.5-0.5B`, `gsm8k` -> `Qwen--Qwen2_5-0_5B__gsm8k`."""
    safe = lambda s: "".join(c if c.isalnum() or c in "-_" else "_" for c in s.replace("/", "--"))  # noqa: E731
    return f"{safe(model)}__{safe(dataset)}"


PLAIN = (str, bool, int, float, type(None))  # the only values papermill may write into a notebook


def check_plain(values: dict, where: str) -> None:
    """Refuse any parameter value but str, int, float, bool, null or a list of them: papermill writes
    parameters into the notebook as code, and YAML can build bytes (`!!binary`), dates or mappings whose
    Python form is not a plain literal. Each value must also read back as itself from papermill's code.

        check_plain({"seed": b"..."}, "runs.yml: runs[0]")  # ValueError: ... key 'seed': bytes ...
    """
    import ast

    from papermill.translators import PythonTranslator

    for key, value in values.items():
        if not isinstance(key, str):
            raise ValueError(f"{where}: key {key!r} is not a string")
        items = value if isinstance(value, list) else [value]
        bad = [v for v in items if not isinstance(v, PLAIN) or (isinstance(v, float) and v != v)
               or (isinstance(v, float) and v in (float("inf"), float("-inf")))]
        if bad:
            raise ValueError(f"{where}: key '{key}' has a {type(bad[0]).__name__} value {bad[0]!r:.60}; only strings, "
                             "numbers, true/false, null or lists of them are allowed")
        code = PythonTranslator.translate(value)
        try:
            same = ast.literal_eval(code) == value
        except (ValueError, SyntaxError):
            same = False
        if not same:
            raise ValueError(f"{where}: key '{key}': value {value!r:.60} cannot be passed to a notebook safely")


def load_runs(path: Path, root: Path) -> list[Job]:
    """Jobs of a runs file, in execution order; a malformed file raises naming the file and the key."""
    import yaml

    if not path.exists():
        raise FileNotFoundError(f"runs file not found: {path}")
    if path.is_dir():
        raise ValueError(f"runs file {path} is a directory")
    try:
        spec = yaml.safe_load(path.read_bytes().decode("utf-8-sig")) or {}
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text (byte at offset {e.start}); save the file as UTF-8") from None
    except yaml.YAMLError as e:  # e.g. a !!python/... tag, which safe_load refuses
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{path}{line}: not a valid runs file: {' '.join(str(e).split())}") from None
    if not isinstance(spec, dict) or set(spec) - TOP_KEYS:
        raise ValueError(f"{path}: top-level keys must be among {sorted(TOP_KEYS)}, got "
                         f"{list(spec) if isinstance(spec, dict) else type(spec).__name__}")
    for section in ("defaults", "chapters"):
        if not isinstance(spec.get(section) or {}, dict):
            raise ValueError(f"{path}: '{section}' must be a mapping")
    if not isinstance(spec.get("runs") or [], list):
        raise ValueError(f"{path}: 'runs' must be a list")
    check_plain(spec.get("defaults") or {}, f"{path}: defaults")
    defaults = dict(spec.get("defaults") or {})
    runs, seen = [], set()
    for i, entry in enumerate(spec.get("runs") or []):
        where = f"{path}: runs[{i}]"
        if not isinstance(entry, dict) or "model" not in entry:
            raise ValueError(f"{where}: each run needs a 'model'")
        check_plain(entry, f"{where} (model {entry['model']!r})")
        if set(entry) - RUN_KEYS or set(defaults) - RUN_KEYS:
            raise ValueError(f"{where}: unknown key(s) {sorted((set(entry) | set(defaults)) - RUN_KEYS)}")
        datasets = entry.get("datasets") or [entry.get("dataset")]
        if not all(isinstance(d, str) and d for d in datasets):
            raise ValueError(f"{where}: give 'dataset' or a non-empty list 'datasets'")
        for dataset in datasets:
            params = {**defaults, **{k: v for k, v in entry.items() if k != "datasets"}, "dataset": dataset}
            RunConfig.from_dict({k: v for k, v in params.items() if k not in PAGE_KEYS}, where=where)
            name = page_name(params["model"], dataset)
            if name in seen:
                raise ValueError(f"{where}: run {name} appears twice")
            seen.add(name)
            params["summary_path"] = str(GENERATED / "status" / f"run__{name}.summary.json")
            runs.append(Job(name, "run", EXPERIMENT, params, f"{params['model']} on {dataset}"))
    if not runs:
        raise ValueError(f"{path}: no runs listed")
    chapter_params = spec.get("chapters") or {}
    unknown = set(chapter_params) - {c[0] for c in CHAPTERS}
    if unknown:
        raise ValueError(f"{path}: chapters: unknown chapter(s) {sorted(unknown)}")
    for name, params in chapter_params.items():
        if not isinstance(params or {}, dict):
            raise ValueError(f"{path}: chapters: {name} must be a mapping of parameters")
        check_plain(params or {}, f"{path}: chapters: {name}")
    results_dir = defaults.get("results_dir", "results")
    chapters = {}
    for name, source, title in CHAPTERS:
        params = dict(chapter_params.get(name) or {})
        if name in AFTER_RUNS:
            params.setdefault("results_dir", results_dir)
        chapters[name] = Job(name, "chapter", Path(source), params, title)
    first = [j for n, j in chapters.items() if n not in AFTER_RUNS]
    return first + runs + [chapters[n] for n in chapters if n in AFTER_RUNS]


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


def _placeholder(job: Job, root: Path) -> None:
    """An unexecuted copy for a page left out by --only, so the book still has every page."""
    import nbformat

    nb = _source_notebook(job, root)
    note_cell(nb, "note", "This page was not executed in this build (`siakit book --only ...`); "
               "run `make book` to execute it.")
    (root / job.output).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, root / job.output)


def _done(job: Job, root: Path) -> dict | None:
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


def _plan(job: Job, root: Path, force: bool, only: list[str] | None,
          runs_changed: bool) -> dict | None:
    """The record of a job that is not to be executed (left out by `only`, or done before), else None.
    Shared by `run_all` and `siakit book --jobs N` (parallel.py)."""
    selected = not only or any(fnmatch.fnmatch(job.name, pattern) for pattern in only)
    done = _done(job, root)
    if job.name in AFTER_RUNS and (runs_changed or _runs_newer(job, root)):
        done = None  # the cross-run chapters read every run: redo them when any run was redone
    if not selected:
        if not (root / job.output).exists():
            _placeholder(job, root)
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


def _record_finished(job: Job, root: Path, record: dict) -> None:
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
        planned = _plan(job, root, force, only, runs_changed)
        if planned is not None:
            records.append(planned)
            continue
        print(f"[siakit book] {job.kind} {job.name}: executing {job.source} -> {job.output}", flush=True)
        (root / job.marker).unlink(missing_ok=True)
        record = execute(job, root, cell_timeout_s)
        runs_changed |= job.kind == "run"
        print(f"[siakit book] {job.kind} {job.name}: {record['status']} in {record['seconds']} s"
              + (f" ({record['error']})" if record.get("error") else ""), flush=True)
        _record_finished(job, root, record)
        records.append(record)
        if summary:
            write_summary(root, records, jobs)
    if summary:
        write_summary(root, records, jobs)
    return records


def build_book(root: Path) -> dict:
    """`jupyter-book build <root> -W --keep-going` (Jupyter Book 1, execution off in _config.yml)."""
    exe = Path(sys.executable).with_name("jupyter-book")
    command = [str(exe) if exe.exists() else (shutil.which("jupyter-book") or "jupyter-book"),
               "build", str(root), "-W", "--keep-going"]
    print("[siakit book] " + " ".join(command), flush=True)
    started = time.perf_counter()
    rc = subprocess.run(command, cwd=root).returncode
    return {"command": " ".join(command), "returncode": rc, "seconds": round(time.perf_counter() - started, 1),
            "finished": datetime.now(timezone.utc).isoformat()}


def main(args) -> int:
    from siakit.report.pages import write_api_page, write_runs_index

    from siakit.report import parallel

    root = Path(args.root).resolve()
    runs_file = Path(args.runs) if Path(args.runs).exists() else root / args.runs
    jobs = load_runs(runs_file, root)
    if args.list_runs or args.list_chapters:  # one page name per line, for cluster scripts
        print("\n".join(j.name for j in jobs if (j.kind == "run") == bool(args.list_runs)))
        return 0
    if args.build_only:
        return parallel.build_only(jobs, root)
    if args.only:
        known = [j.name for j in jobs]
        for pattern in args.only:
            if not fnmatch.filter(known, pattern):
                raise ValueError(f"--only {pattern}: matches no page; pages are {', '.join(known)}")
        return parallel.only(jobs, root, args)
    prune_stale_runs(jobs, root)
    started = time.perf_counter()
    try:
        records = parallel.execute_pages(jobs, root, args)
    except KeyboardInterrupt:
        print("\n[siakit book] interrupted: finished pages keep their done markers; run the same command "
              "again to redo only what is missing", file=sys.stderr)
        return 130
    execute_s = round(time.perf_counter() - started, 1)
    write_runs_index(root, jobs)
    write_api_page(root)
    failed = [r["name"] for r in records if r.get("status") == "failed"]
    build = None
    if not args.no_build:
        build = build_book(root)
        write_summary(root, records, jobs, build)
    print(f"[siakit book] notebooks: {len(records)} ({len(failed)} failed) in {execute_s} s"
          + (f"; build {'ok' if build['returncode'] == 0 else 'FAILED'} in {build['seconds']} s" if build else ""))
    if failed:
        print("[siakit book] failed notebooks (their pages show the error): " + ", ".join(failed))
    if build:
        print(f"[siakit book] open {root / '_build' / 'html' / 'index.html'}")
    return 1 if failed or (build and build["returncode"]) else 0


def register(subparsers) -> None:
    p = subparsers.add_parser("book", help="execute the book's notebooks with papermill and build it",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", default="runs/default.yml", help="runs file (YAML): models x datasets")
    p.add_argument("--force", action="store_true", help="re-execute notebooks already done")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="execute only these pages (names or globs: 01_sia_theory, 'smollm2*__gsm8k'), "
                        "without building the book (one cluster task); then --build-only")
    p.add_argument("--build-only", action="store_true",
                   help="execute nothing: build the book from the finished pages (after --only tasks)")
    p.add_argument("--list-runs", action="store_true", help="print the run pages' names, one per line")
    p.add_argument("--list-chapters", action="store_true",
                   help="print the other pages' names (fixed and cross-run chapters), one per line")
    p.add_argument("--jobs", type=int, default=None,
                   help="pages executed at once, each a process with its own log and OMP_NUM_THREADS = "
                        "CPUs / jobs (default 1, or one per --devices entry)")
    p.add_argument("--devices", default=None,
                   help="GPUs to spread pages over, e.g. 0,1,2,3: each page sees one (CUDA_VISIBLE_DEVICES)")
    p.add_argument("--no-build", action="store_true", help="execute notebooks only, do not build the book")
    p.add_argument("--root", default=".", help="repository root holding _config.yml (default: .)")
    p.add_argument("--cell-timeout-s", type=int, default=None, help="papermill per-cell timeout")
    p.set_defaults(func=main)
