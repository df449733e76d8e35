"""The book: the runner that executes every notebook with papermill (`siakit book`), the pages it
writes (runs index, API page), the figures and the static trace viewer.

    >>> from siakit.report.runner import load_runs, run_all
    >>> jobs = load_runs(Path("runs/default.yml"), Path("."))
    >>> run_all(jobs, Path("."))                     # then build_book(Path("."))
"""
