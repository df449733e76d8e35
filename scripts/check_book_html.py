"""Check a built Jupyter Book for offline use, and take headless-Chromium screenshots of its pages.

    python scripts/check_book_html.py _build/html                      # static checks of every page
    python scripts/check_book_html.py _build/html --typeset book/how_to_read.html
    python scripts/check_book_html.py _build/html --screenshot book/how_to_read.html shots/how.png

Static checks (no browser): no page loads a script or a stylesheet from the network (http://,
https:// or protocol-relative //), every local script a page names exists, no page shows a cell's
stderr output (warnings, build paths), no table cell shows NaN (pages write "–" with a footnote), no
raw TeX (`\\log`, `\\textless`, `h_{k-1}`) is left in the text outside math, code and the API page's
docstrings, no table wider than the text column sits outside a scroll box (`siakit-table`, the
theme's `pst-scrollable-table-container`, or an inline `overflow-x: auto`), and no page refers to
`PAPER.md` (it is not part of the book). `--typeset PAGE` loads PAGE in headless Chromium, lets its
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


SCROLL_CLASSES = {"siakit-table", "pst-scrollable-table-container"}  # boxes that scroll sideways
SCROLL_STYLE = re.compile(r"overflow(-x)?\s*:\s*(auto|scroll)", re.IGNORECASE)
COLUMN_PX = 720      # the text column of a page at a 1280-px window (sphinx-book-theme, both sidebars)
CHAR_PX = 8.0        # average width of a character of table text (16-px body font)
CELL_PAD_PX = 16     # left + right padding of a table cell
NAN_CELLS = {"nan", "NaN", "<NA>", "NaT", "None", "inf", "-inf"}
# Raw TeX in visible text: a backslash command (\log, \textless), a braced sub/superscript (h_{k-1}) or
# unparsed dollar math ($h_k$; "$3 and $5" starts with a digit and is left alone).
RAW_TEX = re.compile(r"\\[A-Za-z]{2,}|[A-Za-z0-9)]\s*[_^]\{|\$[A-Za-z\\][^$\n]{0,60}?\$")
NO_TEX_CHECK = {"api.html"}  # docstrings: ASCII math written for readers of the code (h_{k-1}), not TeX
# Text under these tags or classes is not prose: code, math, and the API page's docstrings (dl.py).
SKIP_TAGS = {"pre", "code", "script", "style", "kbd", "samp", "tt", "textarea", "svg", "math",
             "mjx-container", "head", "title", "nav"}
SKIP_CLASSES = {"math", "highlight", "py", "bd-sidebar-primary", "bd-sidebar-secondary"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
        "track", "wbr"}


class _Table:
    """One <table>: its rows of cell texts, whether a scroll box holds it, and cells that never wrap."""

    def __init__(self, scrolls: bool):
        self.scrolls = scrolls
        self.rows: list[list[str]] = []
        self.nowrap: set[tuple[int, int]] = set()


class _Page(HTMLParser):
    """One pass over a page: scripts, stylesheets, stderr outputs, tables and raw TeX in the prose."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.stderr_blocks = 0
        self.tables: list[_Table] = []
        self.raw_tex: list[str] = []
        self._stack: list[tuple[str, bool, bool]] = []   # (tag, skip text, scrolls)
        self._open: list[_Table] = []                      # tables being read (nested tables too)
        self._cell: list[str] | None = None

    def _skipping(self) -> bool:
        return any(skip for _, skip, _ in self._stack)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        if tag == "link" and "stylesheet" in (a.get("rel") or "").split() and a.get("href"):
            self.styles.append(a["href"])
        classes = set((a.get("class") or "").split())
        style = a.get("style") or ""
        if tag == "div" and "output" in classes and "stderr" in classes:
            self.stderr_blocks += 1
        if tag in VOID:
            return
        scrolls = bool(classes & SCROLL_CLASSES) or bool(SCROLL_STYLE.search(style))
        skip = tag in SKIP_TAGS or bool(classes & SKIP_CLASSES) or (tag == "dl" and "py" in classes)
        self._stack.append((tag, skip, scrolls))
        if tag == "table":
            self._open.append(_Table(any(s for _, _, s in self._stack[:-1])))
        elif tag == "tr" and self._open:
            self._open[-1].rows.append([])
        elif tag in ("td", "th") and self._open:
            table = self._open[-1]
            if not table.rows:
                table.rows.append([])
            table.rows[-1].append("")
            if "nowrap" in style.replace("-", "") or "nowrap" in a:
                table.nowrap.add((len(table.rows) - 1, len(table.rows[-1]) - 1))

    def handle_endtag(self, tag):
        if tag in VOID or not any(t == tag for t, _, _ in self._stack):
            return
        while self._stack:
            t, _, _ = self._stack.pop()
            if t == "table" and self._open:
                self.tables.append(self._open.pop())
            if t == tag:
                break

    def handle_data(self, data):
        if self._open and self._open[-1].rows and self._open[-1].rows[-1] and \
                any(t in ("td", "th") for t, _, _ in self._stack):
            self._open[-1].rows[-1][-1] += data
        if data.strip() and not self._skipping():
            self.raw_tex += [m.group(0) + data[m.end():m.end() + 20] for m in RAW_TEX.finditer(data)]


def table_width_px(table: _Table) -> int:
    """Narrowest width the table can take: per column, the longest unbreakable word of its cells (a
    whole cell where it may not wrap), in characters times CHAR_PX, plus padding.

        table_width_px(<table><tr><td>a bb</td><td>ccc</td></tr></table>) -> 2*8 + 16 + 3*8 + 16 = 72
    """
    widths: dict[int, int] = {}
    for r, row in enumerate(table.rows):
        for c, text in enumerate(row):
            words = [text.strip()] if (r, c) in table.nowrap else text.split()
            widths[c] = max(widths.get(c, 0), max((len(w) for w in words), default=0))
    return int(sum(w * CHAR_PX + CELL_PAD_PX for w in widths.values()))


def page_problems(page: Path, root: Path, allow_stderr: bool = False) -> list[str]:
    """Problems of one built page, each a line naming the page.

    page_problems(<page with <script src="https://cdn/x.js">>, root) -> ["<page>: external script https://cdn/x.js"].
    """
    text = page.read_text(encoding="utf-8", errors="replace")
    parser = _Page()
    parser.feed(text)
    parser.close()
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
    for i, table in enumerate(parser.tables, 1):
        nan = [cell.strip() for row in table.rows for cell in row if cell.strip() in NAN_CELLS]
        if nan:
            out.append(f"{name}: table {i} shows {nan[0]!r} in {len(nan)} cell(s) (write – and say why)")
        width = table_width_px(table)
        if width > COLUMN_PX and not table.scrolls:
            out.append(f"{name}: table {i} needs about {width} px (column: {COLUMN_PX} px) and is not "
                       "in a scroll box (class siakit-table)")
    if parser.raw_tex and page.name not in NO_TEX_CHECK:
        shown = "; ".join(repr(t.strip()) for t in parser.raw_tex[:3])
        out.append(f"{name}: raw TeX outside math in {len(parser.raw_tex)} place(s): {shown}")
    if "PAPER.md" in text:
        out.append(f"{name}: refers to PAPER.md, which is not in the book (cite a chapter instead)")
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
