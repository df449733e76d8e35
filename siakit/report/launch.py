"""Launch (Colab, Binder) and repository buttons, from one place: `$SIAKIT_REPOSITORY`.

The Pages workflow (.github/workflows/book.yml) sets `SIAKIT_REPOSITORY` to the repository it runs in;
`siakit book` then builds with a generated copy of `_config.yml` that fills `repository.url` and
`launch_buttons`, and names the repository in each executed page's hidden setup cell. A local build
without it shows no buttons. Nothing here is committed with an address in it.

    SIAKIT_REPOSITORY=octo/siakit  ->  repository.url https://github.com/octo/siakit, branch "notebooks",
        a Colab button https://colab.research.google.com/github/octo/siakit/blob/notebooks/book/generated/
        chapters/01_sia_theory.ipynb and a Binder button https://mybinder.org/v2/gh/octo/siakit/notebooks?...

The buttons open the executed notebooks, which are build outputs (gitignored on main): the workflow
pushes them, with the rest of the tree, to the branch `$SIAKIT_NOTEBOOKS_BRANCH` (default `notebooks`).
Binder installs that branch from `environment.yml`; in Colab the page's setup cell installs siakit.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

ENV = "SIAKIT_REPOSITORY"              # "owner/name" or a full https:// address of the repository
BRANCH_ENV = "SIAKIT_NOTEBOOKS_BRANCH"  # the branch holding the executed notebooks (default "notebooks")
COLAB = "https://colab.research.google.com"
BINDER = "https://mybinder.org"
CONFIG_OUT = Path("book/generated/_config.launch.yml")  # the generated build config (gitignored folder)
# The line of every chapter's setup cell that names what to install; filled in for a repository.
SETUP_LINE = 'SIAKIT_SOURCE = "siakit"'
SETUP_TAG = "remove-cell"
# Pages that need a GPU to reach paper scale; each carries a visible note (tests/test_launch.py).
GPU_PAGES = ("03_sft_real_lm", "04_testbed_lineage", "05_human_traces", "10_experiment", "20_figures",
             "30_early_exit")


def repository_url(value: str | None = None) -> str | None:
    """The repository's https address from `value` (default `$SIAKIT_REPOSITORY`), or None if unset.

        repository_url("octo/siakit") -> "https://github.com/octo/siakit"
        repository_url("https://gitlab.com/octo/siakit.git") -> "https://gitlab.com/octo/siakit"
        repository_url("") -> None;  repository_url("not a repo") -> ValueError naming SIAKIT_REPOSITORY
    """
    value = (os.environ.get(ENV, "") if value is None else value).strip()
    if not value:
        return None
    if re.fullmatch(r"[\w.-]+/[\w.-]+", value):
        return f"https://github.com/{value.removesuffix('.git')}"
    if re.fullmatch(r"https://[\w.-]+/[\w.-]+/[\w.-]+/?", value):
        return value.rstrip("/").removesuffix(".git")
    raise ValueError(f"{ENV}={value!r}: give owner/name (GitHub) or https://host/owner/name")


def launch_config(url: str, branch: str | None = None) -> dict:
    """The part of `_config.yml` that a repository fills (merged over the committed file).

        launch_config("https://github.com/octo/siakit")["launch_buttons"]["colab_url"]
        -> "https://colab.research.google.com"
    """
    branch = branch or os.environ.get(BRANCH_ENV) or "notebooks"
    return {"repository": {"url": url, "path_to_book": "", "branch": branch},
            "launch_buttons": {"notebook_interface": "jupyterlab", "binderhub_url": BINDER, "colab_url": COLAB},
            "html": {"use_repository_button": True, "use_issues_button": True}}


def merged(base: dict, extra: dict) -> dict:
    """`base` with `extra` merged in, mappings recursively: merged({"a": {"x": 1}}, {"a": {"y": 2}})
    -> {"a": {"x": 1, "y": 2}}."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def setup_source(url: str, branch: str = "main") -> str:
    """What a page's setup cell installs for repository `url`: the package from that repository.

        setup_source("https://github.com/octo/siakit") -> "siakit @ git+https://github.com/octo/siakit@main"
    """
    return f"siakit @ git+{url}@{branch}"


def fill_setup_cells(notebook: Path, url: str) -> bool:
    """Name the repository in `notebook`'s setup cell (tagged remove-cell, holding SETUP_LINE); returns
    whether the file changed. Idempotent: a filled cell is filled again with the current address."""
    nb = json.loads(notebook.read_text())
    changed = False
    for cell in nb.get("cells", []):
        source = "".join(cell.get("source", []))
        if cell.get("cell_type") != "code" or SETUP_TAG not in cell.get("metadata", {}).get("tags", []):
            continue
        new = re.sub(r'^SIAKIT_SOURCE = "[^"\n]*"', f'SIAKIT_SOURCE = "{setup_source(url)}"', source, flags=re.M)
        if new != source:
            cell["source"], changed = new, True
    if changed:
        notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return changed


def prepare(root: Path) -> Path | None:
    """With `$SIAKIT_REPOSITORY` set: write the build config (the committed `_config.yml` plus the
    repository and launch buttons) to `book/generated/_config.launch.yml`, fill the setup cells of the
    executed pages, and return the config's path for `jupyter-book build --config`. Unset: None (and a
    stale generated config is removed, so a later local build shows no buttons)."""
    import yaml

    out = root / CONFIG_OUT
    url = repository_url()
    if url is None:
        out.unlink(missing_ok=True)
        return None
    base = yaml.safe_load((root / "_config.yml").read_text()) or {}
    extensions = base.get("sphinx", {}).get("local_extensions") or {}
    for name, path in extensions.items():  # Jupyter Book reads these relative to the config file
        extensions[name] = str((root / path).resolve())
    out.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Generated by siakit.report.launch from _config.yml and {ENV}; do not edit.\n"
    out.write_text(header + yaml.safe_dump(merged(base, launch_config(url)), sort_keys=False, allow_unicode=True))
    for notebook in sorted((root / "book" / "generated").glob("*/*.ipynb")):
        if notebook.parent.name in ("chapters", "runs"):
            fill_setup_cells(notebook, url)
    return out
