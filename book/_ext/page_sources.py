"""Sphinx extension: "Last updated on <date>" on every page, from the last git commit of its source.

The book renders executed copies (`book/generated/...ipynb`, gitignored), so a page's date comes from
the file it was made from, not from the copy: a chapter from its MyST notebook in `notebooks/`, a run
page from `notebooks/10_experiment.md` and the runs file folder, the API page from the `siakit/`
package, a prose page from itself. The footer of the book theme shows the date
(`last_updated` in the page context). Outside a git checkout, or for a file never committed, the
page shows no date; nothing fails. (The Pages workflow checks out the whole history so the dates are
real, not all the date of the last commit.)

    page_sources("book/generated/chapters/01_sia_theory") -> ["notebooks/01_sia_theory.md"]
    page_sources("book/generated/runs/smollm2-135m-instruct__gsm8k") -> ["notebooks/10_experiment.md", "runs"]
    page_sources("book/how_to_read") -> ["book/how_to_read.md"]
"""
from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

GENERATED = "book/generated/"


def page_sources(docname: str, suffix: str = ".md") -> list[str]:
    """The committed files a page is made from (paths relative to the repository root)."""
    if docname.startswith(GENERATED + "chapters/"):
        from siakit.report.jobs import CHAPTERS

        name = docname.rsplit("/", 1)[-1]
        return [source for page, source, _ in CHAPTERS if page == name] or [f"notebooks/{name}.md"]
    if docname.startswith(GENERATED + "runs/") or docname == GENERATED + "runs":
        return ["notebooks/10_experiment.md", "runs"]
    if docname == GENERATED + "api":
        return ["siakit"]
    return [docname + suffix]


@lru_cache(maxsize=None)
def last_commit_date(root: str, paths: tuple[str, ...]) -> str | None:
    """`git log -1 --format=%cs -- paths` in `root` (YYYY-MM-DD), or None (no git, nothing committed)."""
    try:
        done = subprocess.run(["git", "log", "-1", "--format=%cs", "--", *paths], cwd=root,
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _page_context(app, pagename, templatename, context, doctree) -> None:
    if doctree is None:  # search, genindex: not a page with a source
        return
    suffix = Path(app.env.doc2path(pagename, base=False)).suffix or ".md"
    date = last_commit_date(str(app.srcdir), tuple(page_sources(pagename, suffix)))
    if date:
        context["last_updated"] = date


def setup(app):
    app.connect("html-page-context", _page_context)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
