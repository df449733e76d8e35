"""`make pdf` (siakit.report.pdf): the theory chapter through Jupyter Book 1's LaTeX builder.

Theorems and definitions are numbered as in the HTML (in source order, one counter per kind), every
exercise and solution keeps its body inside its own box (book/_ext/latex_proofs.py), equation
references resolve, and the page count is reported. Skipped, with the reason, where TeX is missing.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from siakit.report import pdf

ROOT = Path(__file__).resolve().parents[1]
THEORY = ROOT / "notebooks" / "01_sia_theory.md"

pytestmark = pytest.mark.skipif(shutil.which("latexmk") is None or shutil.which("xelatex") is None,
                                reason="make pdf needs latexmk and xelatex (TeX Live): " + pdf.TEX_HINT)


def test_toc_names_the_pages_and_the_bibliography(tmp_path):
    toc = pdf.write_toc(tmp_path, ["01_sia_theory", "02_toy_world"]).read_text()
    assert "root: book/generated/chapters/01_sia_theory" in toc
    assert toc.rstrip().endswith("- file: book/generated/chapters/02_toy_world\n  - file: book/bibliography")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """The theory chapter's PDF, built in a copy of the book's config from an unexecuted jupytext copy
    of the chapter (its theorems and exercises are text; executing it is `make pdf`'s first step)."""
    jupytext = pytest.importorskip("jupytext")
    root = tmp_path_factory.mktemp("pdf")
    for name in ("_config.yml", "book/_ext", "book/references.bib", "book/bibliography.md"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, root / name)
    nb = jupytext.read(THEORY)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    page = root / "book" / "generated" / "chapters" / "01_sia_theory.ipynb"
    page.parent.mkdir(parents=True)
    jupytext.write(nb, page)
    result = pdf.build_pdf(root, execute=False)
    result["tex"] = (root / "_build" / "pdf" / "_build" / "latex" / "siakit-book.tex").read_text()
    return result


def _directives(kind: str) -> list[tuple[str, str]]:
    """(title, first body words) of each {kind} directive of the theory chapter, in source order."""
    found = re.findall(r"```\{" + re.escape(kind) + r"\} ([^\n]*)\n(?::[^\n]*\n)*\n([^\n]*)", THEORY.read_text())
    return [(title.strip(), " ".join(body.split()[:3])) for title, body in found]


def test_theory_chapter_pdf(built):
    assert built["pdf"].is_file() and built["pdf"].stat().st_size > 100_000
    assert built["pages"] >= 15, built  # 27 pages on 2026-12-03
    tex = built["tex"]
    for kind, name in (("prf:theorem", "Theorem"), ("prf:definition", "Definition"), ("exercise", "Exercise")):
        items = _directives(kind)
        assert len(items) >= 5, kind
        for number, (title, _) in enumerate(items, 1):  # numbered in source order, as the HTML numbers them
            plain = re.sub(r"\$[^$]*\$", "", title).split("(")[0].strip()[:20]
            assert re.search(rf"{name} {number}\W*\s*\(?{re.escape(plain)}" if plain else rf"{name} {number}",
                             tex.replace("\\sphinxhyphen{}", "-")), f"{name} {number} ({title}) not in the PDF"
    # every exercise and solution box holds its own text (the latex_proofs fix)
    boxes = re.findall(r"\\begin\{sphinxadmonition\}\{note\}\{((?:Solution to )?Exercise \d+)[^\n]*\}\n(.*?)"
                       r"\\end\{sphinxadmonition\}", tex, flags=re.S)
    assert len(boxes) == 2 * len(_directives("exercise"))
    empty = [title for title, body in boxes if not body.strip()]
    assert empty == [], f"empty boxes: {empty}"
    first_words = dict(zip((f"Exercise {i}" for i in range(1, 99)), (w for _, w in _directives("exercise"))))
    for title, body in boxes:
        if title in first_words:
            assert first_words[title].split()[0].strip("$") in body, title
    assert "Proof Index" not in tex and "??" not in _text(built["pdf"])


def _text(path: Path) -> str:
    if shutil.which("pdftotext") is None:
        return ""
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
