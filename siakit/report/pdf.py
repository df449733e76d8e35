"""`make pdf`: chapters of the book as one PDF, through Jupyter Book 1's LaTeX builder (XeLaTeX + latexmk).

    python -m siakit.report.pdf [--pages 01_sia_theory ...] [--runs runs/default.yml] [--out _build/pdf]
    -> _build/pdf/siakit-book.pdf   (the theory chapter by default: 29 pages)

The PDF is built from the same executed pages as the HTML book (`book/generated/chapters/<page>.ipynb`);
a page not executed yet (or changed since) is executed first, exactly as `siakit book --only PAGE` does.
The table of contents is written to `book/generated/_toc.pdf.yml` (those pages and the bibliography),
and the build runs with the book's own `_config.yml`, so theorem, definition, exercise and equation
numbers are the HTML's (book/_ext/latex_proofs.py keeps exercise bodies in their boxes). Not part of
`make book`. Needs TeX Live and latexmk (README: "The PDF").
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_PAGES = ("01_sia_theory",)
TOC_OUT = Path("book/generated/_toc.pdf.yml")
TEX_HINT = ("`make pdf` needs latexmk and XeLaTeX (TeX Live). On Debian/Ubuntu: apt-get install latexmk "
            "texlive-xetex texlive-latex-extra texlive-fonts-recommended texlive-fonts-extra")


def check_tex() -> None:
    """Raise a one-line error naming the packages when latexmk or xelatex is missing."""
    missing = [exe for exe in ("latexmk", "xelatex") if shutil.which(exe) is None]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} not found. {TEX_HINT}")


def write_toc(root: Path, pages: list[str]) -> Path:
    """A Jupyter Book toc of the chapters `pages` (in this order) and the bibliography.

        write_toc(root, ["01_sia_theory"]) -> book/generated/_toc.pdf.yml:
            format: jb-book / root: book/generated/chapters/01_sia_theory / chapters: [book/bibliography]
    """
    chapters = [f"book/generated/chapters/{p}" for p in pages[1:]] + ["book/bibliography"]
    lines = ["# Written by siakit.report.pdf for `make pdf`; do not edit.", "format: jb-book",
             f"root: book/generated/chapters/{pages[0]}", "chapters:"] + [f"  - file: {c}" for c in chapters]
    out = root / TOC_OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return out


def execute_pages(root: Path, pages: list[str], runs: str) -> None:
    """Execute the pages not done yet (the runner's done markers decide), like `siakit book --only`."""
    from siakit.report.jobs import load_runs
    from siakit.report.runner import done_record, record_finished, execute

    jobs = {job.name: job for job in load_runs(root / runs, root)}
    unknown = [p for p in pages if p not in jobs or jobs[p].kind != "chapter"]
    if unknown:
        raise ValueError(f"--pages {' '.join(unknown)}: not a chapter; chapters are "
                         f"{', '.join(n for n, j in jobs.items() if j.kind == 'chapter')}")
    for page in pages:
        if done_record(jobs[page], root):
            continue
        print(f"[siakit pdf] executing {jobs[page].source} first", flush=True)
        record = execute(jobs[page], root)
        record_finished(jobs[page], root, record)
        if record["status"] != "ok":
            raise RuntimeError(f"page {page} failed to execute: {record['error']}")


def page_count(log: Path) -> int | None:
    """Pages of the PDF from its LaTeX log ("Output written on siakit-book.pdf (29 pages)."), or None.

        page_count(Path("_build/pdf/_build/latex/siakit-book.log")) -> 29
    """
    found = re.findall(r"Output written on .*?\((\d+) pages?", log.read_text(errors="replace")) if log.is_file() else []
    return int(found[-1]) if found else None


def build_pdf(root: Path, pages: list[str] | tuple[str, ...] = DEFAULT_PAGES, runs: str = "runs/default.yml",
              out: Path = Path("_build/pdf"), execute: bool = True) -> dict:
    """Build the PDF of `pages`; return {"pdf": path, "pages": n, "seconds": s}. Raises with one line
    when TeX is missing, a page fails to execute or the LaTeX build fails."""
    check_tex()
    pages = list(pages)
    if execute:
        execute_pages(root, pages, runs)
    missing = [p for p in pages if not (root / "book/generated/chapters" / f"{p}.ipynb").is_file()]
    if missing:
        raise FileNotFoundError(f"no executed page for {', '.join(missing)} in book/generated/chapters "
                                "(run without --no-execute)")
    toc = write_toc(root, pages)
    out = out if out.is_absolute() else root / out
    exe = Path(sys.executable).with_name("jupyter-book")
    command = [str(exe) if exe.exists() else "jupyter-book", "build", str(root), "--builder", "pdflatex",
               "--toc", str(toc), "--path-output", str(out)]
    print("[siakit pdf] " + " ".join(command), flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, capture_output=True, text=True)
    latex = out / "_build" / "latex"
    built = sorted(latex.glob("*.pdf"))
    if done.returncode != 0 or not built:
        log = (done.stdout + done.stderr).strip().splitlines()
        raise RuntimeError(f"the LaTeX build failed (see {latex}): {log[-1] if log else done.returncode}")
    pdf = out / built[0].name
    shutil.copy2(built[0], pdf)
    return {"pdf": pdf, "pages": page_count(built[0].with_suffix(".log")), "seconds": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m siakit.report.pdf", description=__doc__.splitlines()[0])
    parser.add_argument("--pages", nargs="+", default=list(DEFAULT_PAGES), help="chapters, in order")
    parser.add_argument("--runs", default="runs/default.yml", help="runs file naming the chapters' parameters")
    parser.add_argument("--out", default="_build/pdf", help="output folder (the PDF lands directly in it)")
    parser.add_argument("--root", default=".", help="repository root holding _config.yml")
    parser.add_argument("--no-execute", action="store_true", help="use the executed pages as they are")
    args = parser.parse_args(argv)
    try:
        result = build_pdf(Path(args.root).resolve(), args.pages, args.runs, Path(args.out), not args.no_execute)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"siakit pdf: error: {e}", file=sys.stderr)
        return 2
    print(f"[siakit pdf] wrote {result['pdf']} ({result['pages']} pages) in {result['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
