"""`siakit book`: execute every notebook of the book with papermill, then build it with Jupyter Book 1.

    siakit book --runs runs/default.yml [--force] [--only NAME ...] [--no-build] [--root DIR]
                [--jobs N] [--devices 0,1,...] [--list-runs] [--build-only]

The command on top of the two executors: `siakit.report.runner` (pages one after another, done markers,
the Jupyter Book build) and `siakit.report.parallel` (several pages at once), which imports the runner,
never the other way round. What a page is and how it is fingerprinted: `siakit.report.jobs`.
"""
from __future__ import annotations

import fnmatch
import sys
import time
from pathlib import Path

from siakit.report import parallel, runner  # runner.X at call time: tests patch runner's functions
from siakit.report.jobs import load_runs
from siakit.report.pages import write_summary


def main(args) -> int:
    from siakit.report.pages import write_api_page, write_runs_index

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
    runner.prune_stale_runs(jobs, root)
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
        build = runner.build_book(root)
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
