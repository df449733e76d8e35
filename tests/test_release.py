"""The release: `python -m build` makes a wheel and an sdist; the wheel, installed into a fresh virtual
environment outside the repository, runs `siakit --version` and `siakit score` on a tiny model.

This catches what only works from a checkout: a module left out of the package, a missing entry point,
a file read relative to the repository. The fresh environment gets only the wheel (`--no-deps`); the
heavy dependencies (torch, transformers) come from the test's own environment through a `.pth` line,
so nothing is downloaded. That path holds no `siakit` (the repository's editable install is a `.pth`
hook, which a plain path entry does not run), and the test checks that `siakit` is imported from the
fresh environment.
"""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

import siakit

REPO = Path(__file__).resolve().parents[1]


def _run(command: list[str], cwd: Path, env: dict | None = None, timeout: int = 300) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    pytest.importorskip("build", reason="`build` is in the release extra (make install installs it)")
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: build with this environment's setuptools instead of downloading one
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)], cwd=REPO)
    return out


def test_build_makes_a_wheel_and_an_sdist_of_the_one_version(built):
    wheel = built / f"siakit-{siakit.__version__}-py3-none-any.whl"
    sdist = built / f"siakit-{siakit.__version__}.tar.gz"
    assert wheel.is_file() and sdist.is_file(), sorted(p.name for p in built.iterdir())
    names = zipfile.ZipFile(wheel).namelist()
    packages = {p.relative_to(REPO).as_posix() for p in (REPO / "siakit").rglob("*.py")}
    assert packages <= set(names), sorted(packages - set(names))  # every module of the package ships
    entry = zipfile.ZipFile(wheel).read(f"siakit-{siakit.__version__}.dist-info/entry_points.txt").decode()
    assert "siakit = siakit.cli:main" in entry
    members = {Path(m).relative_to(f"siakit-{siakit.__version__}").as_posix()
               for m in tarfile.open(sdist).getnames() if "/" in m}
    assert {"CHANGELOG.md", "CITATION.cff", "README.md", "pyproject.toml", "siakit/cli.py"} <= members


def test_the_wheel_runs_outside_the_repository(built, tmp_path):
    import torch  # noqa: F401 - the fresh environment borrows these through the .pth line below

    from siakit.data.traces import Trace, write_traces
    from siakit.models.tiny import tiny_model

    # no PYTHONPATH anywhere below: with the checkout on it, pip sees siakit as installed and skips the wheel
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(TQDM_DISABLE="1", OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    venv = outside / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=outside, env=env)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=outside, env=env).strip())
    (site / "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = built / f"siakit-{siakit.__version__}-py3-none-any.whl"
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], cwd=outside, env=env)
    where = _run([str(python), "-c", "import siakit; print(siakit.__file__)"], cwd=outside, env=env).strip()
    assert Path(where).is_relative_to(venv), f"siakit imported from {where}, not from the fresh venv"
    siakit_exe = venv / "bin" / "siakit"
    assert _run([str(siakit_exe), "--version"], cwd=outside, env=env).strip() == f"siakit {siakit.__version__}"

    lm = tiny_model("llama")
    model = outside / "tiny-llama"
    lm.model.save_pretrained(model)
    lm.tokenizer.save_pretrained(model)
    write_traces(outside / "t.jsonl", [Trace(id=f"q{i}", prompt=f"Question {i}: 3 + 5?", dataset="mine",
                                             steps=[f"\nStep {j}: 3 + 5 = 8." for j in range(i + 1)],
                                             options=[" 8", " 9"], gold="8") for i in range(2)])
    _run([str(siakit_exe), "score", "--model", str(model), "--traces", "t.jsonl", "--out", "s.parquet"],
         cwd=outside, env=env)
    import pandas as pd

    scores = pd.read_parquet(outside / "s.parquet")
    assert len(scores) == 2 + 3 and scores.id.tolist() == ["q0"] * 2 + ["q1"] * 3  # K + 1 prefixes each
    assert scores.n_options.eq(2).all() and scores.entropy.between(0, 0.6932).all()
