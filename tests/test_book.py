"""The book runner: runs files, skip/force/--only logic, failure pages, and a real tiny build (-W)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from siakit.report.runner import GENERATED, Job, load_runs, page_name, prune_stale_runs, run_all

REPO = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_page_names_and_runs_file(tmp_path):
    assert page_name("Qwen/Qwen2.5-0.5B", "gsm8k") == "Qwen--Qwen2_5-0_5B__gsm8k"
    runs = write(tmp_path / "r.yml", "defaults: {n: 2}\nruns:\n  - {model: m, datasets: [gsm8k, svamp], n: 3}\n"
                 "chapters:\n  02_toy_world: {steps: 5}\n")
    jobs = {j.name: j for j in load_runs(runs, tmp_path)}
    assert jobs["m__gsm8k"].parameters["n"] == 3 and jobs["m__svamp"].parameters["dataset"] == "svamp"
    assert jobs["02_toy_world"].parameters == {"steps": 5}
    assert jobs["20_figures"].parameters["results_dir"] == "results"
    assert jobs["30_early_exit"].parameters["estimator"] == "readout"  # the runs' estimator reaches them
    several = write(tmp_path / "e.yml", "defaults: {estimator: 'enumerate,readout'}\nruns:\n  - {model: m, datasets: [gsm8k]}\n")
    assert {j.name: j for j in load_runs(several, tmp_path)}["20_figures"].parameters["estimator"] == "enumerate"
    order = [j.name for j in load_runs(runs, tmp_path)]
    assert order.index("m__svamp") < order.index("20_figures")  # cross-run pages after the runs
    bad = write(tmp_path / "bad.yml", "runs:\n  - {model: m, dataset: gsm8k, colour: red}\n")
    with pytest.raises(ValueError, match=r"bad.yml: runs\[0\].*colour"):
        load_runs(bad, tmp_path)
    with pytest.raises(ValueError, match="no runs"):
        load_runs(write(tmp_path / "empty.yml", "defaults: {n: 1}\n"), tmp_path)
    with pytest.raises(FileNotFoundError, match="nope.yml"):
        load_runs(tmp_path / "nope.yml", tmp_path)


NOTEBOOK = """---
kernelspec: {display_name: Python 3, language: python, name: python3}
jupytext: {text_representation: {extension: .md, format_name: myst}}
---

# Source title

```{code-cell} ipython3
:tags: [parameters]

x = 1
```

```{code-cell} ipython3
assert x != 13, "unlucky parameter"
print("x is", x)
```
"""


def test_skip_force_only_and_failure_pages(tmp_path, monkeypatch):
    import nbformat

    write(tmp_path / "nb.md", NOTEBOOK)
    jobs = [Job("good", "run", Path("nb.md"), {"x": 2}, "good run"),
            Job("bad", "run", Path("nb.md"), {"x": 13}, "bad run"),
            Job("missing", "chapter", Path("does/not/exist.md"), {}, "Missing chapter")]
    records = {r["name"]: r for r in run_all(jobs, tmp_path)}
    assert records["good"]["status"] == "ok" and records["missing"]["status"] == "failed"
    assert "notebook source not found" in records["missing"]["error"] and "exist.md" in records["missing"]["error"]
    assert records["bad"]["status"] == "failed" and "unlucky parameter" in records["bad"]["error"]
    good = nbformat.read(tmp_path / GENERATED / "runs/good.ipynb", as_version=4)
    assert good.cells[0].source.startswith("# good run")  # the run's title replaces the source's
    assert "x is 2" in json.dumps(good.cells[-1].outputs)
    bad_text = (tmp_path / GENERATED / "runs/bad.ipynb").read_text()
    assert "{error}" in bad_text and "unlucky parameter" in bad_text  # the page shows its error
    assert "notebook source not found" in (tmp_path / GENERATED / "chapters/missing.ipynb").read_text()
    assert (tmp_path / jobs[0].marker).exists() and not (tmp_path / jobs[1].marker).exists()
    summary = json.loads((tmp_path / GENERATED / "summary.json").read_text())
    assert [r["status"] for r in summary["notebooks"]] == ["ok", "failed", "failed"]

    # again: the successes are skipped, the failure is retried; --force redoes; changed params redo
    monkeypatch.setattr("siakit.report.runner.execute", lambda job, root, t=None: pytest.fail(f"re-ran {job.name}"))
    again = run_all(jobs[:1], tmp_path)
    assert again[0].get("skipped")
    with pytest.raises(pytest.fail.Exception, match="re-ran good"):
        run_all(jobs[:1], tmp_path, force=True)
    with pytest.raises(pytest.fail.Exception, match="re-ran good"):
        run_all([Job("good", "run", Path("nb.md"), {"x": 3}, "good run")], tmp_path)
    # a cross-run chapter is redone whenever a run was redone in the same invocation
    monkeypatch.undo()  # the real execute again
    figures = Job("20_figures", "chapter", Path("nb.md"), {"x": 5}, "Across runs")
    assert run_all([figures], tmp_path)[0]["status"] == "ok"
    calls = []
    monkeypatch.setattr("siakit.report.runner.execute", lambda job, root, t=None: calls.append(job.name) or
                        {"name": job.name, "kind": job.kind, "status": "failed", "error": "stub", "seconds": 0})
    run_all([Job("good", "run", Path("nb.md"), {"x": 6}, "good run"), figures], tmp_path)
    assert calls == ["good", "20_figures"]
    # --only: an unselected page without output gets an unexecuted placeholder
    other = Job("other", "run", Path("nb.md"), {"x": 4}, "other run")
    run_all([other], tmp_path, only=["nothing*"])
    assert "not executed in this build" in (tmp_path / other.output).read_text()
    # a runs file without "bad": its page goes, so the book has one page per listed run
    assert prune_stale_runs(jobs[:1] + [other], tmp_path) == ["bad"]
    assert (tmp_path / jobs[0].output).exists() and not (tmp_path / jobs[1].output).exists()


@pytest.mark.real_model
def test_tiny_book_builds_with_warnings_as_errors(tmp_path, data_root, monkeypatch):
    """One real run (SmolLM2, n=2) through papermill, the cross-run chapters, and jupyter-book -W."""
    from siakit.cli import main

    for item in ("_config.yml", "_toc.yml", "README.md", "book", "notebooks"):  # README: included by reproducing
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, tmp_path / item, ignore=shutil.ignore_patterns("generated", "*.ipynb"))
        else:
            shutil.copy(src, tmp_path / item)
    write(tmp_path / "runs/tiny.yml", f"defaults: {{n: 2, max_new_tokens: 40, results_dir: {tmp_path / 'results'}}}\n"
          "runs:\n  - {model: smollm2-135m-instruct, dataset: arc-easy}\n"
          "  - {model: no-such-model, dataset: arc-easy}\n")
    monkeypatch.setenv("SIAKIT_DATA", str(data_root))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # kernels inherit it: one thread is far faster on a busy CPU
    book = ["book", "--root", str(tmp_path), "--runs", "runs/tiny.yml"]
    rc = main(book + ["--only", "smollm2*", "no-such*", "20_figures", "30_early_exit"])  # executes, no build
    assert rc == 1 and not (tmp_path / "_build").exists()
    assert main(book + ["--build-only"]) == 0  # the cluster route: pages first, then one build
    summary = json.loads((tmp_path / GENERATED / "summary.json").read_text())
    status = {r["name"]: r["status"] for r in summary["notebooks"]}
    assert status["smollm2-135m-instruct__arc-easy"] == "ok" and status["20_figures"] == "ok"
    assert status["no-such-model__arc-easy"] == "failed"  # fails alone, reported
    assert summary["build"]["returncode"] == 0, "jupyter-book build -W failed"
    html = tmp_path / "_build/html"
    assert (html / "index.html").exists()
    run_page = (html / "book/generated/runs/smollm2-135m-instruct__arc-easy.html").read_text()
    assert "siakit-trace" in run_page and "Accuracy" in run_page
    assert "no-such-model" in (html / "book/generated/runs/no-such-model__arc-easy.html").read_text()
    assert "smollm2-135m-instruct on arc-easy" in (html / "book/generated/runs.html").read_text()
    for page in ("book/bibliography.html", "book/generated/api.html", "book/reproducing.html",
                 "book/generated/chapters/20_figures.html", "book/generated/chapters/01_sia_theory.html"):
        assert (html / page).exists(), page
