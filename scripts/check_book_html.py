"""Check a built Jupyter Book for offline use, and take headless-Chromium screenshots of its pages.

    python scripts/check_book_html.py _build/html                      # static checks of every page
    python scripts/check_book_html.py _build/html --typeset book/how_to_read.html
    python scripts/check_book_html.py _build/html --screenshot book/how_to_read.html shots/how.png

Static checks (no browser): no page loads a script or a stylesheet from the network (http://,
https:// or protocol-relative //), every local script a page names exists, and no page shows a cell's
stderr output (warnings, build paths). `--typeset PAGE` loads PAGE in headless Chromium, lets its
scripts run, and counts MathJax's rendered `mjx-container` elements and the raw `\\(` / `\\[` left in
the text: typeset math has containers and no raw delimiters. `--screenshot PAGE PNG` saves a
1280-px-wide picture of PAGE. Exit status 1 when a check fails, with one line per problem.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

EXTERNAL = re.compile(r"^(https?:)?//", re.IGNORECASE)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


class _Resources(HTMLParser):
    """Collects (kind, url) of <script src>, <link rel=stylesheet href> and stderr output blocks."""

    def __init__(self):
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.stderr_blocks = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        if tag == "link" and "stylesheet" in (a.get("rel") or "").split() and a.get("href"):
            self.styles.append(a["href"])
        classes = (a.get("class") or "").split()
        if tag == "div" and "output" in classes and "stderr" in classes:
            self.stderr_blocks += 1


def page_problems(page: Path, root: Path, allow_stderr: bool = False) -> list[str]:
    """Problems of one built page, each a line naming the page.

    page_problems(<page with <script src="https://cdn/x.js">>, root) -> ["<page>: external script https://cdn/x.js"].
    """
    parser = _Resources()
    parser.feed(page.read_text(encoding="utf-8", errors="replace"))
    name = page.relative_to(root).as_posix()
    out = [f"{name}: external script {s}" for s in parser.scripts if EXTERNAL.match(s)]
    out += [f"{name}: external stylesheet {s}" for s in parser.styles if EXTERNAL.match(s)]
    for s in parser.scripts:
        if not EXTERNAL.match(s) and not s.startswith("data:"):
            target = (page.parent / s.split("?")[0].split("#")[0]).resolve()
            if not target.is_file():
                out.append(f"{name}: script {s} is missing from the build")
    if parser.stderr_blocks and not allow_stderr:
        out.append(f"{name}: {parser.stderr_blocks} cell output(s) on stderr (warnings or logs shown on the page)")
    return out


def _pages(root: Path) -> list[Path]:
    """The book's pages: every *.html under `root` except theme templates in _static/ and _sources/."""
    return sorted(p for p in Path(root).rglob("*.html")
                  if not {"_static", "_sources"} & set(p.relative_to(root).parts))


def check_build(root: Path, allow_stderr: bool = False) -> list[str]:
    """Problems of every *.html page under the built book `root` (an error if there is none)."""
    root = Path(root)
    pages = _pages(root)
    if not pages:
        return [f"{root}: no HTML pages (build the book first: jupyter-book build .)"]
    return [p for page in pages for p in page_problems(page, root, allow_stderr)]


def find_chromium() -> str | None:
    """Path of a Chromium binary on PATH (Debian: `apt-get install -y chromium`), else None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _chromium(args: list[str], timeout: int) -> subprocess.CompletedProcess:
    browser = find_chromium()
    if browser is None:
        raise RuntimeError("no chromium on PATH (Debian: apt-get install -y chromium)")
    return subprocess.run([browser, *CHROMIUM_FLAGS, *args], capture_output=True, text=True, timeout=timeout)


def rendered_dom(page: Path, wait_ms: int = 15000, timeout: int = 120) -> str:
    """The page's DOM after its scripts ran in headless Chromium (MathJax included)."""
    page = Path(page).resolve()
    if not page.is_file():
        raise FileNotFoundError(f"{page}: no such page")
    done = _chromium([f"--virtual-time-budget={wait_ms}", "--dump-dom", page.as_uri()], timeout)
    if done.returncode != 0 or "<html" not in done.stdout:
        raise RuntimeError(f"{page}: chromium --dump-dom failed ({done.returncode}): {done.stderr[-500:]}")
    return done.stdout


def typeset_report(page: Path) -> dict:
    """{'mjx': rendered math elements, 'raw': raw TeX delimiters left in the visible text} of a page.

    Code blocks are left out of `raw` (they may legitimately show TeX source).
    """
    dom = rendered_dom(page)
    text = re.sub(r"<(pre|code|script|style)\b.*?</\1>", "", dom, flags=re.S | re.I)
    return {"mjx": len(re.findall(r"<mjx-container\b", dom)),
            "raw": len(re.findall(r"\\\(|\\\[", re.sub(r"<[^>]+>", "", text)))}


def screenshot(page: Path, png: Path, width: int = 1280, height: int = 2000, wait_ms: int = 15000) -> Path:
    """Save a `width` x `height` screenshot of `page` to `png` with headless Chromium."""
    page, png = Path(page).resolve(), Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    done = _chromium([f"--virtual-time-budget={wait_ms}", f"--screenshot={png}",
                      f"--window-size={width},{height}", "--hide-scrollbars", page.as_uri()], 180)
    if done.returncode != 0 or not png.is_file():
        raise RuntimeError(f"{page}: chromium --screenshot failed ({done.returncode}): {done.stderr[-500:]}")
    return png


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path, help="the built book, e.g. _build/html")
    ap.add_argument("--allow-stderr", action="store_true", help="do not fail on stderr cell outputs")
    ap.add_argument("--typeset", nargs="*", default=[], metavar="PAGE",
                    help="pages (relative to HTML) whose math must be typeset in Chromium")
    ap.add_argument("--screenshot", nargs=2, action="append", default=[], metavar=("PAGE", "PNG"),
                    help="save a screenshot of PAGE (relative to HTML) to PNG; repeatable")
    args = ap.parse_args(argv)
    problems = check_build(args.html, args.allow_stderr)
    for page in args.typeset:
        r = typeset_report(args.html / page)
        print(f"{page}: {r['mjx']} typeset formulas, {r['raw']} raw TeX delimiters")
        if r["mjx"] == 0 or r["raw"] > 0:
            problems.append(f"{page}: math not typeset ({r['mjx']} formulas, {r['raw']} raw delimiters)")
    for page, png in args.screenshot:
        print(f"screenshot {page} -> {screenshot(args.html / page, Path(png))}")
    for p in problems:
        print(p)
    n_pages = len(_pages(args.html))
    print(f"{n_pages} pages checked: " + ("OK" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
