"""scripts/check_book_html.py: the built book loads nothing from the network and its math typesets.

The static checks run on small synthetic pages every time. The checks of a real build run only where
`_build/html` exists (after `make book` or `jupyter-book build .`), and the browser checks only where
Chromium is installed (Debian: `apt-get install -y chromium`).
"""
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILT = ROOT / "_build" / "html"


def _load():
    spec = importlib.util.spec_from_file_location("check_book_html", ROOT / "scripts" / "check_book_html.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_book_html"] = module
    spec.loader.exec_module(module)
    return module


chk = _load()


def _page(root: Path, name: str, body: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><head>{body}</head><body><p>x</p></body></html>")
    return path


def test_external_scripts_and_styles_are_reported(tmp_path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "local.js").write_text("")
    _page(tmp_path, "ok.html", '<script src="_static/local.js?v=1"></script>')
    _page(tmp_path, "cdn.html", '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>')
    _page(tmp_path, "sub/proto.html", '<script src="//cdn.example.org/x.js"></script>'
                                      '<link rel="stylesheet" href="http://fonts.example.org/a.css">')
    _page(tmp_path, "missing.html", '<script src="_static/gone.js"></script>')
    _page(tmp_path, "_static/template.html", '<script src="https://theme.example.org/t.js"></script>')
    problems = chk.check_build(tmp_path)
    assert sorted(problems) == sorted([
        "cdn.html: external script https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js",
        "sub/proto.html: external script //cdn.example.org/x.js",
        "sub/proto.html: external stylesheet http://fonts.example.org/a.css",
        "missing.html: script _static/gone.js is missing from the build",
    ])


def test_stderr_outputs_are_reported_unless_allowed(tmp_path):
    page = tmp_path / "warn.html"
    page.write_text('<html><body><div class="output stderr"><pre>TqdmWarning: /build/path</pre></div></body></html>')
    assert chk.check_build(tmp_path) == ["warn.html: 1 cell output(s) on stderr (warnings or logs shown on the page)"]
    assert chk.check_build(tmp_path, allow_stderr=True) == []
    assert chk.check_build(tmp_path / "empty")[0].endswith("no HTML pages (build the book first: jupyter-book build .)")


@pytest.mark.skipif(not BUILT.is_dir(), reason="no built book at _build/html (run make book)")
def test_built_book_loads_nothing_from_the_network():
    assert chk.check_build(BUILT) == []
    assert (BUILT / "_static" / "mathjax" / "tex-chtml.js").is_file()


needs_chromium = pytest.mark.skipif(chk.find_chromium() is None, reason="no chromium (apt-get install -y chromium)")


@needs_chromium
def test_packaged_mathjax_typesets_offline(tmp_path):
    ext = importlib.util.find_spec("sphinx-mathjax-offline")
    if ext is None:
        pytest.skip("sphinx-mathjax-offline is not installed (pip install -e '.[book]')")
    shutil.copytree(Path(ext.origin).parent / "static" / "mathjax", tmp_path / "mathjax")
    page = tmp_path / "math.html"
    page.write_text('<html><head><script defer src="mathjax/tex-chtml.js"></script></head>'
                    r"<body><p>\(h_k = H_p(A \mid Q, C_{1:k})\)</p><p>\[P_e \ge \frac{H - \log 2}{\log(|A| - 1)}\]</p>"
                    "<pre>\\(left alone\\)</pre></body></html>")
    assert chk.typeset_report(page) == {"mjx": 2, "raw": 0}
    assert chk.screenshot(page, tmp_path / "shot.png", height=400).stat().st_size > 1000


@needs_chromium
@pytest.mark.skipif(not (BUILT / "book" / "how_to_read.html").is_file(), reason="no built book at _build/html")
def test_built_notation_table_typesets():
    report = chk.typeset_report(BUILT / "book" / "how_to_read.html")
    assert report["mjx"] >= 10 and report["raw"] == 0


def _body(root: Path, name: str, body: str) -> Path:
    path = root / name
    path.write_text(f"<html><head><title>t \\log</title></head><body>{body}</body></html>")
    return path


def test_nan_in_a_table_cell_is_reported(tmp_path):
    _body(tmp_path, "nan.html", "<table><tr><th>lock_u</th></tr><tr><td>0.5</td></tr><tr><td>nan</td></tr>"
                                "<tr><td> NaN </td></tr></table>")
    _body(tmp_path, "dash.html", "<table><tr><th>lock_u</th></tr><tr><td>–</td></tr></table><p>nan in prose</p>")
    assert chk.check_build(tmp_path) == ["nan.html: table 1 shows 'nan' in 2 cell(s) (write – and say why)"]


def test_raw_tex_outside_math_is_reported_and_math_code_and_docstrings_are_not(tmp_path):
    _body(tmp_path, "ok.html", '<p>entropy <span class="math notranslate nohighlight">\\(h_{k-1} - h_k\\)</span></p>'
                               '<div class="math">\\[\\log|A|\\]</div><pre>x = h_{k}  # \\frac</pre><code>\\log</code>'
                               '<dl class="py function"><dd><p>shade |h_{k-1} - h_k|</p></dd></dl>'
                               '<p>prices cost $3 and a_b is fine</p><br><img src="x.png"><p>after</p>')
    _body(tmp_path, "bib.html", "<p>Entropy After \\textless /think\\textgreater (EAT)</p>"
                                "<table><tr><th>h_{k-1} - h_k</th></tr></table>")
    _body(tmp_path, "output.html", "<p><em>No trace locks in: $h_k$ stays above $\\log|S_k|$</em></p>")
    _body(tmp_path, "api.html", "<p>Mean over prefixes of |h_k - H_Bayes(A | Q, C_{1:k})|</p>")  # docstrings
    problems = sorted(chk.check_build(tmp_path))
    assert len(problems) == 2
    assert problems[0].startswith("bib.html: raw TeX outside math in 3 place(s): '\\\\textless /think")
    assert problems[1].startswith("output.html: raw TeX outside math in 2 place(s): '$h_k$ stays")


def test_wide_table_needs_a_scroll_box(tmp_path):
    row = "".join(f"<td>signature_column_{i}</td>" for i in range(8))   # 8 columns of 18 characters
    _body(tmp_path, "wide.html", f"<div class='output text_html'><table>{row}</table></div>")
    _body(tmp_path, "boxed.html", f'<div class="siakit-table"><table><tr>{row}</tr></table></div>')
    _body(tmp_path, "theme.html", f'<div class="pst-scrollable-table-container"><table><tr>{row}</tr></table></div>')
    _body(tmp_path, "inline.html", f'<div style="overflow-x: auto"><table><tr>{row}</tr></table></div>')
    # many short words wrap and fit the column; the same cell kept on one line needs 999 * 8 + 16 px
    _body(tmp_path, "wraps.html", "<table><tr><td>" + " ".join(["word"] * 200) + "</td></tr></table>")
    _body(tmp_path, "nowrap.html", '<table><tr><td style="white-space: nowrap">' + " ".join(["word"] * 200)
                                   + "</td></tr></table>")
    problems = sorted(chk.check_build(tmp_path))
    assert problems == [
        "nowrap.html: table 1 needs about 8008 px (column: 720 px) and is not in a scroll box (class siakit-table)",
        "wide.html: table 1 needs about 1280 px (column: 720 px) and is not in a scroll box (class siakit-table)"]


def test_paper_md_reference_is_reported(tmp_path):
    _body(tmp_path, "cite.html", "<p>the scaling law (PAPER.md section 3.4)</p>")
    _body(tmp_path, "ok.html", "<p>the scaling law (see the theory chapter)</p>")
    assert chk.check_build(tmp_path) == [
        "cite.html: refers to PAPER.md, which is not in the book (cite a chapter instead)"]


def test_main_exit_status_names_every_problem(tmp_path, capsys):
    _body(tmp_path, "bad.html", "<table><tr><td>nan</td></tr></table><p>PAPER.md</p>")
    assert chk.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "bad.html: table 1 shows 'nan'" in out and "refers to PAPER.md" in out and "2 problem(s)" in out
    (tmp_path / "bad.html").unlink()
    _body(tmp_path, "good.html", "<p>fine</p>")
    assert chk.main([str(tmp_path)]) == 0
