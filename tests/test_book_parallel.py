"""`siakit book --jobs N --devices ...` (pages at once, pinned, own logs, failures alone), and the
cluster route: `--list-runs`, `--only NAME` without a build, `--build-only`, `scripts/slurm_book.sh`."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from siakit.report.parallel import job_env, parse_devices, run_parallel, threads_per_job
from siakit.report.runner import CHAPTERS, EXPERIMENT, GENERATED, Job, _runs_newer

REPO = Path(__file__).resolve().parents[1]

# A page that says where it ran, then waits for its partner page to start: it can only pass when the
# two pages run at the same time. `x == 13` fails.
MEETS = """---
kernelspec: {display_name: Python 3, language: python, name: python3}
jupytext: {text_representation: {extension: .md, format_name: myst}}
---

# A page

```{code-cell} ipython3
:tags: [parameters]

x = 1
partner = None
folder = "."
```

```{code-cell} ipython3
import os, pathlib, time
assert x != 13, "unlucky parameter"
here = pathlib.Path(folder)
print("OMP", os.environ.get("OMP_NUM_THREADS"), "GPU", os.environ.get("CUDA_VISIBLE_DEVICES"))
(here / f"started-{x}").write_text(os.environ.get("CUDA_VISIBLE_DEVICES", ""))
waited = 0.0
while partner is not None and not (here / f"started-{partner}").exists():
    assert waited < 120, f"page {partner} never ran alongside page {x}"
    time.sleep(0.2)
    waited += 0.2
(here / f"done-{x}").write_text("")
```
"""

# The cross-run chapter: every run must have finished before it starts.
AFTER = """---
kernelspec: {display_name: Python 3, language: python, name: python3}
jupytext: {text_representation: {extension: .md, format_name: myst}}
---

# Across runs

```{code-cell} ipython3
:tags: [parameters]

folder = "."
runs = []
```

```{code-cell} ipython3
import pathlib
missing = [r for r in runs if not (pathlib.Path(folder) / f"done-{r}").exists()]
assert not missing, f"runs not finished: {missing}"
```
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_threads_devices_and_environment():
    assert threads_per_job(2, 16) == 8 and threads_per_job(4, 2) == 1 and threads_per_job(3, 16, "2") == 2
    assert threads_per_job(1, 16, "junk") == 16
    assert parse_devices("0, 1,3") == ["0", "1", "3"] and parse_devices(None) == []
    with pytest.raises(ValueError, match="--devices 'cuda:0'"):
        parse_devices("cuda:0")
    env = job_env(3, 4, ["0", "1"], {"PATH": "/bin", "OMP_NUM_THREADS": "8"}, cpus=16)
    assert env == {"PATH": "/bin", "OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4", "CUDA_VISIBLE_DEVICES": "1"}
    assert "CUDA_VISIBLE_DEVICES" not in job_env(0, 2, [], {}, cpus=2)  # no --devices: left alone


def test_pages_run_at_once_pinned_with_logs_and_fail_alone(tmp_path):
    write(tmp_path / "page.md", MEETS)
    write(tmp_path / "after.md", AFTER)
    folder = str(tmp_path)
    jobs = [Job("a", "run", Path("page.md"), {"x": 2, "partner": 3, "folder": folder}, "run a"),
            Job("b", "run", Path("page.md"), {"x": 3, "partner": 2, "folder": folder}, "run b"),
            Job("bad", "run", Path("page.md"), {"x": 13, "folder": folder}, "run bad"),
            Job("20_figures", "chapter", Path("after.md"), {"folder": folder, "runs": [2, 3]}, "Across runs")]
    records = {r["name"]: r for r in run_parallel(jobs, tmp_path, n_jobs=2, devices=["0", "1"])}
    assert {n: r["status"] for n, r in records.items()} == {"a": "ok", "b": "ok", "bad": "failed", "20_figures": "ok"}
    assert "unlucky parameter" in records["bad"]["error"]
    assert "unlucky parameter" in (tmp_path / jobs[2].output).read_text()  # its page shows its error
    threads = str(threads_per_job(2, len(os.sched_getaffinity(0))))
    # a and b ran together (each waited for the other), each on its own device, with its thread share
    assert {(tmp_path / "started-2").read_text(), (tmp_path / "started-3").read_text()} == {"0", "1"}
    for name in ("a", "b"):
        assert records[name]["env"]["OMP_NUM_THREADS"] == threads
        page = (tmp_path / GENERATED / "runs" / f"{name}.ipynb").read_text()
        assert f"OMP {threads} GPU {records[name]['env']['CUDA_VISIBLE_DEVICES']}" in page
        log = tmp_path / GENERATED / "logs" / f"run__{name}.log"
        assert log.exists() and log.stat().st_size > 0  # papermill's own output, one log per page
    assert (tmp_path / jobs[0].marker).exists() and not (tmp_path / jobs[2].marker).exists()
    summary = json.loads((tmp_path / GENERATED / "summary.json").read_text())
    assert [r["name"] for r in summary["notebooks"]] == ["a", "b", "bad", "20_figures"]
    # again: the finished pages are skipped, the failed one is retried (and fails alone again), and the
    # cross-run chapter is redone because a run was; without the failing run, everything is skipped
    again = {r["name"]: r for r in run_parallel(jobs, tmp_path, n_jobs=2, devices=[])}
    assert again["a"].get("skipped") and again["bad"]["status"] == "failed"
    assert again["20_figures"]["status"] == "ok" and not again["20_figures"].get("skipped")
    assert all(r.get("skipped") for r in run_parallel(jobs[:2] + jobs[3:], tmp_path, n_jobs=2, devices=[]))


def test_cross_run_chapters_are_stale_when_a_run_finished_after_them(tmp_path):
    """Also when that run was executed by another invocation (`--only` in a cluster task), which is
    why the check reads the runs' done markers, not the jobs of this call."""
    run, figures = Job("r", "run", Path("x.md")), Job("20_figures", "chapter", Path("y.md"))
    assert not _runs_newer(figures, tmp_path)  # never done: nothing to compare
    for job, when in ((figures, 1000), (run, 2000)):
        write(tmp_path / job.marker, "{}")
        os.utime(tmp_path / job.marker, (when, when))
    summary = write(tmp_path / GENERATED / "status" / "run__r.summary.json", "{}")  # not a done marker
    os.utime(summary, (5000, 5000))
    assert _runs_newer(figures, tmp_path)
    os.utime(tmp_path / figures.marker, (3000, 3000))
    assert not _runs_newer(figures, tmp_path)


@pytest.fixture()
def book_root(tmp_path):
    """A repository root whose every notebook is a small page (the cluster route, not the science)."""
    for _, source, _ in CHAPTERS:
        write(tmp_path / source, MEETS.replace("# A page", "# A chapter"))
    write(tmp_path / EXPERIMENT, MEETS)
    write(tmp_path / "runs/small.yml", "defaults: {n: 1}\nruns:\n  - {model: m1, dataset: gsm8k}\n"
          "  - {model: m2, datasets: [gsm8k, svamp]}\n")
    return tmp_path


def test_list_only_and_build_only(book_root, monkeypatch, capsys):
    from siakit.cli import main

    base = ["book", "--root", str(book_root), "--runs", "runs/small.yml"]
    assert main(base + ["--list-runs"]) == 0
    assert capsys.readouterr().out.split() == ["m1__gsm8k", "m2__gsm8k", "m2__svamp"]
    assert main(base + ["--list-chapters"]) == 0
    assert capsys.readouterr().out.split() == [c[0] for c in CHAPTERS]

    builds = []
    monkeypatch.setattr("siakit.report.runner.build_book", lambda root: builds.append(root) or
                        {"command": "jupyter-book build", "returncode": 0, "seconds": 0.0, "finished": "now"})
    assert main(base + ["--only", "m2__svamp"]) == 0  # one cluster task: this page, nothing else
    generated = book_root / GENERATED
    assert [p.name for p in (generated / "runs").iterdir()] == ["m2__svamp.ipynb"]
    assert not (generated / "summary.json").exists() and not (generated / "chapters").exists() and not builds
    assert main(base + ["--build-only"]) == 0
    assert builds == [book_root]  # built once, executing nothing
    assert "not executed in this build" in (generated / "runs" / "m1__gsm8k.ipynb").read_text()
    status = {r["name"]: r["status"] for r in json.loads((generated / "summary.json").read_text())["notebooks"]}
    assert status["m2__svamp"] == "ok" and status["m1__gsm8k"] == "not run" and len(status) == len(CHAPTERS) + 3
    assert "m2 on svamp" in (generated / "runs.md").read_text()


def test_slurm_script_dry_run_runs_the_task_of_its_array_index(book_root, tmp_path):
    """The SLURM array script, with SLURM_ARRAY_TASK_ID set and no srun on PATH, in dry-run mode: it
    lists the runs with the real `siakit book --list-runs` and prints the command of its task."""
    bin_dir = tmp_path / "bin"  # python only: no srun, no sbatch
    bin_dir.mkdir()
    write(bin_dir / "python", f'#!/bin/sh\nexec "{sys.executable}" "$@"\n').chmod(0o755)  # this venv's
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "PYTHONPATH": str(REPO), "SLURM_ARRAY_TASK_ID": "1",
           "RUNS": "runs/small.yml", "DRY_RUN": "1", "HOME": os.environ.get("HOME", "/tmp")}
    assert shutil.which("srun", path=env["PATH"]) is None
    script = REPO / "scripts" / "slurm_book.sh"
    done = subprocess.run(["bash", str(script)], cwd=book_root, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "python -m siakit book --runs runs/small.yml --only m2__gsm8k"  # index 1, no srun
    assert not (book_root / GENERATED / "runs").exists()  # a dry run executes nothing
    past = subprocess.run(["bash", str(script)], cwd=book_root, env={**env, "SLURM_ARRAY_TASK_ID": "3"},
                          capture_output=True, text=True, timeout=120)
    assert past.returncode == 2 and "task 3" in past.stderr and "3 runs" in past.stderr
    finish = subprocess.run(["bash", str(script), "finish"], cwd=book_root,
                            env={k: v for k, v in env.items() if k != "SLURM_ARRAY_TASK_ID"},
                            capture_output=True, text=True, timeout=120)
    assert finish.returncode == 0, finish.stderr
    assert finish.stdout.strip().splitlines()[-2:] == [
        "python -m siakit book --runs runs/small.yml --only " + " ".join(c[0] for c in CHAPTERS),
        "python -m siakit book --runs runs/small.yml --build-only"]


def test_whole_book_with_two_jobs_builds_once(book_root, monkeypatch):
    """`siakit book --jobs 2`: every page executed in its own process with its log, then one build."""
    from siakit.cli import main

    builds = []
    monkeypatch.setattr("siakit.report.runner.build_book", lambda root: builds.append(root) or
                        {"command": "jupyter-book build", "returncode": 0, "seconds": 0.0, "finished": "now"})
    assert main(["book", "--root", str(book_root), "--runs", "runs/small.yml", "--jobs", "2"]) == 0
    assert builds == [book_root]
    generated = book_root / GENERATED
    records = json.loads((generated / "summary.json").read_text())["notebooks"]
    assert [r["status"] for r in records] == ["ok"] * (len(CHAPTERS) + 3) and all(r["env"]["OMP_NUM_THREADS"] for r in records)
    assert len(list((generated / "logs").glob("*.log"))) == len(CHAPTERS) + 3  # one log per page


# A page that finishes slowly (`wait` seconds), or reads page `needs`'s result near its end.
SLOW_OR_NEEDY = """---
kernelspec: {display_name: Python 3, language: python, name: python3}
jupytext: {text_representation: {extension: .md, format_name: myst}}
---

# A page

```{code-cell} ipython3
:tags: [parameters]

name = "p"
wait = 0.0
needs = None
folder = "."
```

```{code-cell} ipython3
import pathlib, time
from siakit.report.runner import wait_for_pages
here = pathlib.Path(folder)
(here / f"started-{name}").write_text(str(time.time()))
time.sleep(wait)
if needs is not None:
    waited = wait_for_pages([needs], root=folder, poll_s=0.2)
    (here / f"waited-{name}").write_text(str(waited[needs]))
    assert (here / f"done-{needs}").exists(), f"{needs} had not finished when {name} read it"
(here / f"done-{name}").write_text("")
```
"""


def test_the_long_page_starts_first_and_waits_for_the_page_it_reads(tmp_path):
    """With --jobs 2 the lineage chapter (the longest page; it reads the toy chapter's summary near
    its end) starts at once beside the toy chapter (siakit.report.jobs.FIRST, READS), not after it,
    and waits where it reads until the toy chapter has finished (`wait_for_pages`)."""
    from siakit.report.jobs import FIRST, READS

    assert READS["04_testbed_lineage"] == ("02_toy_world",) and FIRST == ("02_toy_world", "04_testbed_lineage")
    write(tmp_path / "page.md", SLOW_OR_NEEDY)
    folder = str(tmp_path)

    def page(name, kind="chapter", **params):
        return Job(name, kind, Path("page.md"), {"name": name, "folder": folder, **params})

    jobs = [page("01_sia_theory"), page("02_toy_world", wait=8.0), page("03_sft_real_lm"),
            page("04_testbed_lineage", needs="02_toy_world"), page("r1", "run")]
    records = {r["name"]: r for r in run_parallel(jobs, tmp_path, n_jobs=2, devices=[])}
    assert {n: r["status"] for n, r in records.items()} == {n: "ok" for n in records}, records
    started = {j.name: float((tmp_path / f"started-{j.name}").read_text()) for j in jobs}
    done = {j.name: (tmp_path / f"done-{j.name}").stat().st_mtime for j in jobs}
    assert started["04_testbed_lineage"] < done["02_toy_world"]        # beside it, not after it
    assert started["04_testbed_lineage"] < started["01_sia_theory"]    # before pages listed earlier
    assert float((tmp_path / "waited-04_testbed_lineage").read_text()) > 1.0  # it waited for the toy result
    assert done["04_testbed_lineage"] >= done["02_toy_world"]
    assert not list((tmp_path / GENERATED / "status").glob("*.running"))  # markers removed


def test_wait_for_pages_ignores_a_marker_left_by_a_dead_build(tmp_path):
    from siakit.report.runner import wait_for_pages

    status = tmp_path / GENERATED / "status"
    status.mkdir(parents=True)
    (status / "chapter__02_toy_world.running").write_text(json.dumps({"pid": 2 ** 22 + 12345}))  # no such process
    assert wait_for_pages(["02_toy_world", "03_sft_real_lm"], root=tmp_path, timeout_s=30)["02_toy_world"] < 5
