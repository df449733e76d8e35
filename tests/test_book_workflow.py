"""The publishing workflow and the book's configuration, checked statically.

GitHub Actions cannot run here and actionlint could not be installed (its wheel downloads a binary
from GitHub), so this parses .github/workflows/book.yml and checks the jobs and steps the book needs.
"""
import re
from pathlib import Path

import pytest
import yaml

try:
    import tomllib  # Python >= 3.11
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def _workflow() -> dict:
    wf = yaml.safe_load(WORKFLOW.read_text())
    wf["on"] = wf.pop(True, wf.get("on"))  # YAML 1.1 reads the key `on` as the boolean True
    return wf


def _uses(steps, action: str) -> list[dict]:
    return [s for s in steps if s.get("uses", "").split("@")[0] == action]


def test_workflow_triggers_and_permissions():
    wf = _workflow()
    assert wf["on"]["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in wf["on"]
    # contents: write pushes the executed notebooks that the Colab and Binder buttons open
    assert wf["permissions"] == {"contents": "write", "pages": "write", "id-token": "write"}
    assert set(wf["jobs"]) == {"build", "deploy"}


def test_build_job_names_its_repository_for_the_launch_buttons():
    build = _workflow()["jobs"]["build"]
    assert build["env"]["SIAKIT_REPOSITORY"] == "${{ github.server_url }}/${{ github.repository }}"
    branch = build["env"]["SIAKIT_NOTEBOOKS_BRANCH"]
    assert _uses(build["steps"], "actions/checkout")[0]["with"]["fetch-depth"] == 0  # dates from git history
    push = next(s["run"] for s in build["steps"] if "git push" in s.get("run", ""))
    assert "book/generated/chapters/*.ipynb" in push and '"$SIAKIT_NOTEBOOKS_BRANCH"' in push and branch


def test_build_job_installs_builds_checks_and_uploads():
    steps = _workflow()["jobs"]["build"]["steps"]
    for step in steps:  # every action pinned to a major version
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]
        assert set(step) <= {"name", "uses", "with", "run", "id", "env", "if"}, step
    assert _uses(steps, "actions/checkout")
    runs = [s.get("run", "") for s in steps]
    order = [next(i for i, r in enumerate(runs) if cmd in r)
             for cmd in ("make install", "make book", "scripts/check_book_html.py _build/html")]
    assert order == sorted(order)
    cache = _uses(steps, "actions/cache")[0]["with"]
    paths = cache["path"].split()
    assert {"~/.cache/siakit", "results", "book/generated"} <= set(paths)
    assert cache["restore-keys"].strip()  # a new commit restores the previous store
    upload = _uses(steps, "actions/upload-pages-artifact")
    assert upload and upload[0]["with"]["path"] == "_build/html"
    assert steps.index(upload[0]) > order[-1]


def test_deploy_job_deploys_the_uploaded_site():
    deploy = _workflow()["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["environment"]["name"] == "github-pages"
    step = _uses(deploy["steps"], "actions/deploy-pages")[0]
    assert deploy["environment"]["url"] == "${{ steps.%s.outputs.page_url }}" % step["id"]


def test_make_publish_and_book_extra():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^publish:", makefile, re.M) and "ghp-import" in makefile
    book_recipe = re.search(r"^book:.*\n((?:\t.*\n)+)", makefile, re.M).group(1).splitlines()
    assert "siakit book" in book_recipe[0] and "scripts/check_book_html.py _build/html" in book_recipe[-1]
    book = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["book"]
    names = {re.split(r"[<>=!~ ]", d, maxsplit=1)[0] for d in book}
    assert {"sphinx-proof", "sphinx-exercise", "sphinx-mathjax-offline", "ghp-import"} <= names


def test_config_loads_the_extensions():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    ext = config["sphinx"]["extra_extensions"]
    assert {"sphinx_proof", "sphinx_exercise", "sphinx-mathjax-offline"} <= set(ext)
