"""The layout is the architecture: floors that must not be crossed, checked on the source itself."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "siakit"


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at any depth: `from siakit.data import x` -> {'siakit.data'}."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_theory_imports_with_torch_unavailable(tmp_path):
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text("import sys\nfor name in ('torch', 'transformers', 'pandas'):\n    sys.modules[name] = None\n")
    code = ("import siakit.theory as t; from siakit.theory import info, sia, worlds; "
            "import sys; assert 'torch' not in [k for k, v in sys.modules.items() if v is not None]; "
            "print(round(info.entropy([0.5, 0.5]), 6))")
    env = {"PYTHONPATH": f"{tmp_path}:{PACKAGE.parent}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0.693147"


def test_theory_imports_only_numpy_and_itself():
    for path in (PACKAGE / "theory").glob("*.py"):
        outside = {m for m in imports_of(path) if m.split(".")[0] not in ("numpy", "__future__", "math",
                                                                         "itertools", "functools", "dataclasses")
                   and not m.startswith("siakit.theory")}
        assert not outside, f"{path.name} imports {sorted(outside)}"


@pytest.mark.parametrize("floor, forbidden", [
    ("data", ("siakit.models", "siakit.scorer", "siakit.analysis", "siakit.experiment", "siakit.training",
              "siakit.report")),
    ("models", ("siakit.scorer", "siakit.analysis", "siakit.experiment", "siakit.training", "siakit.report")),
    ("scorer", ("siakit.analysis", "siakit.experiment", "siakit.training", "siakit.report")),
    ("analysis", ("siakit.experiment", "siakit.training", "siakit.report", "siakit.models")),
])
def test_lower_floors_do_not_import_higher_ones(floor, forbidden):
    for path in (PACKAGE / floor).rglob("*.py"):
        if path.name.startswith("bench"):  # `siakit bench` is a command on top: --distributed drives runs
            continue
        crossing = {m for m in imports_of(path) if m.startswith(forbidden)}
        assert not crossing, f"{path.relative_to(PACKAGE)} imports {sorted(crossing)}"


def test_only_the_adapter_asks_what_kind_of_model_it_holds():
    import re

    # asking = an isinstance check against transformers' base class, or reading the attention kind
    asking = re.compile(r"isinstance\([^)]*PreTrainedModel|is_transformers\(|"
                        r"_attn_implementation\s*(==|!=|in\b)|=\s*[\w.]*_attn_implementation\b")
    askers = sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if asking.search(p.read_text()))
    assert askers == ["models/adapter.py"], askers


def test_only_the_scorer_builds_attention_masks():
    builders = sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
                      if "create_block_mask" in p.read_text() or "def dense_mask" in p.read_text())
    assert builders == ["scorer/masks.py"], builders


def test_no_import_cycle_between_modules():
    """Lazy imports included (scripts/house_metrics.py reads every import statement at any depth)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("house_metrics", PACKAGE.parent / "scripts" / "house_metrics.py")
    metrics = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(metrics)
    mods = metrics.modules()
    graph = metrics.edges(mods)
    assert graph["siakit.testbed.tasks"] >= {"siakit.data.problems"}  # the scan sees imports
    assert "siakit.scorer.bench" in graph["siakit.experiment.bench_command"]
    assert metrics.cycles(graph) == []
