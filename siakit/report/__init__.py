"""The book: the runner that executes every notebook with papermill (`siakit book`), the pages it
writes (runs index, API page), the figures and the static trace viewer.

    >>> from pathlib import Path
    >>> from siakit.report.runner import load_runs, run_all
    >>> jobs = load_runs(Path("runs/default.yml"), Path("."))   # from the repository root
    >>> sorted({job.kind for job in jobs})           # the fixed chapters and one page per run
    ['chapter', 'run']
    >>> run_all(jobs, Path("."))                     # executes every notebook: minutes  # doctest: +SKIP
"""
