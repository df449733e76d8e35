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


def floors() -> list[str]:
    """The modules of the layers contract in pyproject.toml, top floor first ('a | b' split into both)."""
    import tomllib

    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    assert not {"ignore_imports", "unmatched_ignore_imports_alerting"} & set(contract), "the floors allow no exemptions"
    return [name.strip() for layer in contract["layers"] for name in layer.split("|")]


def test_every_module_of_the_package_stands_on_a_floor():
    """A new subpackage or top-level module must be placed in the contract, or lint-imports would not see it."""
    tops = {f"siakit.{p.stem if p.suffix else p.name}" for p in PACKAGE.iterdir()
            if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()}
    placed = floors()
    assert sorted(tops - set(placed)) == [] and sorted(set(placed) - tops) == []
    assert placed.index("siakit.cli") < placed.index("siakit.report") < placed.index("siakit.experiment") \
        < placed.index("siakit.analysis") < placed.index("siakit.scorer") < placed.index("siakit.models") \
        < placed.index("siakit.data") < placed.index("siakit.theory")


def test_no_floor_imports_a_higher_one():
    """`lint-imports` (import-linter) checks the layers contract of pyproject.toml, lazy imports included."""
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint), "--no-cache"], cwd=PACKAGE.parent, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "floors KEPT" in out.stdout


def adapter_comparisons(source: str) -> list[str]:
    """Every comparison of an attribute of an adapter (`adapter.x`, `lm.adapter.x`, `self.adapter.x`),
    any read of `is_hf` / `_attn_implementation`, and any isinstance check against transformers'
    `PreTrainedModel`, as source text: `adapter.mask_form == "flex"`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance" \
                and len(node.args) == 2 and "PreTrainedModel" in ast.unparse(node.args[1]):
            found.append(ast.unparse(node))
        if isinstance(node, ast.Attribute) and node.attr in ("is_hf", "_attn_implementation"):
            found.append(ast.unparse(node))
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                owner = side.value if isinstance(side, ast.Attribute) else None
                if (isinstance(owner, ast.Name) and owner.id == "adapter") or \
                        (isinstance(owner, ast.Attribute) and owner.attr == "adapter"):
                    found.append(ast.unparse(node))
    return found


def test_no_attribute_of_the_adapter_is_compared_outside_models():
    """The adapter owns every model difference: outside siakit.models, code asks its capabilities
    (`adapter.supports_kv_cache`, `adapter.takes_block_mask`) and never compares what it holds."""
    assert adapter_comparisons('if adapter.mask_form == "flex" or lm.adapter.is_hf: pass') == [
        'adapter.mask_form == \'flex\'', 'lm.adapter.is_hf']  # the check sees both kinds
    assert adapter_comparisons("ok = isinstance(model, transformers.PreTrainedModel)") == [
        "isinstance(model, transformers.PreTrainedModel)"]
    assert adapter_comparisons("if adapter.takes_block_mask and adapter.device.type in WINS: pass") == []
    found = {p.relative_to(PACKAGE).as_posix(): adapter_comparisons(p.read_text())
             for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] != "models"}
    assert not {path: hits for path, hits in found.items() if hits}


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
    assert "siakit.scorer.bench" in graph["siakit.bench.command"]
    assert metrics.cycles(graph) == []


def _module_name(path: Path, package: Path = PACKAGE) -> str:
    """siakit/data/problems.py -> 'siakit.data.problems'; siakit/data/__init__.py -> 'siakit.data'."""
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(path: Path, package: Path = PACKAGE) -> list[str]:
    """Private names that `path` takes from another siakit module, by import or by attribute:
    `from siakit.scorer.causal import _cont` -> ['...:12 siakit.scorer.causal._cont'], and likewise
    `causal._cont` after `from siakit.scorer import causal`. Dunder names (`__all__`) are public."""
    here, where = _module_name(path, package), path.relative_to(package.parent)
    tree = ast.parse(path.read_text())
    found, bound = [], {}  # bound: local name -> the siakit module or object it was imported as
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                parts = here.split(".")
                keep = len(parts) - node.level + (path.name == "__init__.py")
                base = ".".join(parts[:keep] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != "siakit":
                continue
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{where}:{node.lineno} {base}.{alias.name}")
                bound[alias.asname or alias.name] = f"{base}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "siakit":
                    bound[alias.asname or "siakit"] = alias.name if alias.asname else "siakit"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            value, chain = node.value, []
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in bound:
                name = ".".join([bound[value.id], *reversed(chain), node.attr])
                found.append(f"{where}:{node.lineno} {name}")
    return found


def test_private_imports_are_seen(tmp_path):
    mod = tmp_path / "siakit" / "scorer" / "m.py"
    mod.parent.mkdir(parents=True)
    mod.write_text("from siakit.scorer.causal import _cont, run_naive\nfrom siakit.scorer import score\n"
                   "from . import causal\nimport numpy as np\n"
                   "def f():\n    return score._prepare, causal._shapes, np._x, score.__all__\n")
    found = private_imports(mod, tmp_path / "siakit")
    assert found == ["siakit/scorer/m.py:1 siakit.scorer.causal._cont",
                     "siakit/scorer/m.py:6 siakit.scorer.score._prepare",
                     "siakit/scorer/m.py:6 siakit.scorer.causal._shapes"]


def test_no_private_name_crosses_a_module():
    """A name a module keeps to itself (a leading underscore) is never imported or read by another."""
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in private_imports(path)]
    assert found == [], "private names used across modules (make them public or move them):\n" + "\n".join(found)
