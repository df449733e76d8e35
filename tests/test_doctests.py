"""Every package `__init__` (the first page of each floor) has an example, and it runs as doctest runs it.

The examples of every module run in `make test` too: pyproject's pytest options collect `siakit` with
`--doctest-modules`, with the names of the repository's conftest.py (a tiny model, traces, scores)."""
import doctest
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "siakit"
INITS = sorted(p.parent.relative_to(PACKAGE.parent).as_posix().replace("/", ".")
               for p in PACKAGE.rglob("__init__.py"))


@pytest.mark.parametrize("name", INITS)
def test_package_examples_run(name, monkeypatch):
    monkeypatch.chdir(PACKAGE.parent)  # examples read runs/default.yml from the repository root
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed (run pytest --doctest-modules {name.replace('.', '/')}/__init__.py)"
    assert result.attempted > 0 or name == "siakit", f"{name}: its docstring has no example"
