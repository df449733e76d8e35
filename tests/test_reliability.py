"""Hostile and careless use of the CLI, the results store and the book runner (issue 12).

Each probe reproduces one case of the issue's table (or one added since) and says what it is now:
"error" (exit status 2, no traceback, the last line `siakit CMD: error: ...` naming the file or
argument) or "correct" (the right result, checked). A probe that finds a traceback, an unclear
message, a silently wrong output or lost data fails with that category. `scripts/probe_reliability.py`
runs the same probes and prints the table with its counts. Last: SIGKILL a real `siakit run` at 5
random moments and check that every resume equals an uninterrupted run.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


class Finding(AssertionError):
    """A probe found a problem; `kind` is the issue's category (traceback, unclear, wrong, loss)."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind


@dataclass
class Result:
    rc: int | None
    out: str
    err: str
    tb: str | None = None


def cli(*argv: str) -> Result:
    """`siakit ARGV` in this process: exit status, stdout, stderr, and the traceback if one escaped."""
    from siakit.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as e:  # argparse
            rc = e.code if isinstance(e.code, int) else 2
        except BaseException:  # noqa: BLE001 - the probe reports it
            return Result(None, out.getvalue(), err.getvalue(), traceback.format_exc())
    return Result(rc, out.getvalue(), err.getvalue())


def subprocess_cli(*argv: str, env: dict | None = None, timeout: float = 300) -> Result:
    """`python -m siakit ARGV` in a child process (for what needs a fresh process: env, kills)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **(env or {})}
    p = subprocess.run([sys.executable, "-m", "siakit", *map(str, argv)], env=env, capture_output=True,
                       text=True, timeout=timeout)
    return Result(p.returncode, p.stdout, p.stderr, p.stderr if "Traceback (most recent call last)" in p.stderr else None)


def expect_error(r: Result, *names: str) -> str:
    """A clear error: status 2, no traceback, a last line `siakit CMD: error: ...` naming `names`."""
    if r.tb:
        raise Finding("traceback", r.tb.strip().splitlines()[-1])
    # (progress bars share stderr: the message is the one line that says `siakit CMD: error:`)
    lines = [line for line in r.err.replace("\r", "\n").splitlines() if line.startswith("siakit") and ": error: " in line]
    if r.rc == 0:
        raise Finding("wrong", f"exit status 0 where an error was due; stdout: {r.out.strip()[-200:]}")
    if r.rc != 2 or len(lines) != 1:
        raise Finding("unclear", f"status {r.rc}, stderr {r.err.strip()[-300:]!r}")
    missing = [n for n in names if n not in lines[0]]
    if missing:
        raise Finding("unclear", f"the message does not name {missing}: {lines[0]!r}")
    MESSAGES.append(lines[0])
    return "error"


MESSAGES: list[str] = []  # every clear error seen, for scripts/probe_reliability.py


def expect_ok(r: Result) -> None:
    if r.tb:
        raise Finding("traceback", r.tb.strip().splitlines()[-1])
    if r.rc != 0:
        raise Finding("wrong", f"status {r.rc}: {r.err.strip()[-300:]}")


def check(condition: bool, kind: str, message: str) -> None:
    if not condition:
        raise Finding(kind, message)


# -- inputs ---------------------------------------------------------------------------------------
class Env:
    """A scratch folder with a saved tiny model, a problems file and a traces file."""

    def __init__(self, tmp: Path, model_dir: Path):
        self.tmp, self.model = tmp, model_dir
        self.results = tmp / "results"

    def problems(self, rows=None, name="problems.jsonl", raw: bytes | None = None) -> Path:
        rows = rows or [{"id": f"p{i}", "question": f"What is {i} + {i}?", "gold": str(2 * i)} for i in range(1, 7)]
        path = self.tmp / name
        path.write_bytes(raw if raw is not None else "".join(json.dumps(r) + "\n" for r in rows).encode())
        return path

    def traces(self, rows=None, name="traces.jsonl", raw: bytes | None = None) -> Path:
        rows = rows or [{"id": f"q{i}", "prompt": f"Question {i}: which is a mammal?", "options": [" A", " B", " C"],
                         "gold": "B", "steps": [f"\nStep {j}: think." for j in range(i)]} for i in range(3)]
        path = self.tmp / name
        path.write_bytes(raw if raw is not None else "".join(json.dumps(r) + "\n" for r in rows).encode())
        return path

    def run(self, *extra, problems: Path | None = None, n=3):
        dataset = f"jsonl:{problems or self.tmp / 'problems.jsonl'}"
        return cli("run", "--model", self.model, "--dataset", dataset, "--n", n, "--max-new-tokens", 4,
                   "--batch-size", 2, "--score-batch", 2, "--results-dir", self.results, *extra)

    def score(self, traces: Path, out: Path, *extra):
        return cli("score", "--model", self.model, "--traces", traces, "--out", out, "--shard-traces", 1, *extra)

    def run_folders(self) -> list[Path]:
        return [p for p in self.results.glob("*/*") if p.is_dir()]


def save_tiny(path: Path, seed: int = 0) -> Path:
    from siakit.models.tiny import tiny_model

    lm = tiny_model("llama", seed=seed)
    lm.model.save_pretrained(path)
    lm.tokenizer.save_pretrained(path)
    return path


# -- the probes: (name, the category for it on the old main, probe) --------------------------
PROBES = []


def probe(was: str):
    def register(fn):
        PROBES.append((fn.__name__.removeprefix("probe_"), was, fn))
        return fn
    return register


@probe("loss")
def probe_score_out_is_the_input(env):
    traces = env.traces()
    before = traces.read_bytes()
    r = env.score(traces, traces, "--force")
    check(traces.read_bytes() == before, "loss", "the traces file was overwritten")
    return expect_error(r, "is the input", str(traces))


@probe("loss")
def probe_score_out_dev_null(env):
    r = env.score(env.traces(), Path("/dev/null"), "--force")
    check(stat.S_ISCHR(os.stat("/dev/null").st_mode), "loss", "/dev/null is no longer a device")
    return expect_error(r, "/dev/null", "special file")


@probe("loss")
def probe_duplicate_problem_ids(env):
    rows = [{"id": i, "question": "What is 1 + 1?", "gold": "2"} for i in ("p1", "p2", "p1")]
    path = env.problems(rows)
    expect_error(env.run(problems=path), f"{path}:3", "duplicate problem id 'p1'")
    check(not env.run_folders(), "wrong", "a run folder was left behind")
    return "error"


@probe("loss")
def probe_model_dotdot_force(env):
    sentinel = env.tmp / "keep.txt"
    sentinel.write_text("mine")
    (env.results / "x").mkdir(parents=True)
    old = os.getcwd()
    os.chdir(env.results / "x")  # `..` is then the results folder itself
    try:
        env.problems()
        r = cli("run", "--model", "..", "--dataset", f"jsonl:{env.tmp / 'problems.jsonl'}", "--n", 2,
                "--results-dir", env.results, "--force")
    finally:
        os.chdir(old)
    from siakit.experiment.store import run_dir

    check(sentinel.exists() and (env.results / "x").exists(), "loss", "--force deleted outside the run folder")
    check(run_dir(env.results, "..", "..").parent.parent == env.results, "wrong", "'..' made a path component")
    return expect_error(r, "model folder ..")


@probe("wrong")
def probe_second_writer_is_refused(env):
    from siakit.experiment.store import run_dir

    env.problems()
    folder = run_dir(env.results, str(env.model), f"jsonl:{env.tmp / 'problems.jsonl'}")
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from siakit.experiment.store import ResultsStore
        with ResultsStore({str(folder)!r}).locked():
            print("locked", flush=True)
            time.sleep(120)
        """)], env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        r = env.run()
    finally:
        holder.kill()
        holder.wait()
    expect_error(r, f"pid {holder.pid}", "in use")
    expect_ok(env.run())  # the lock went with the holder (killed)
    return "error"


@probe("wrong")
def probe_resume_with_another_model_of_the_same_name(env):
    env.problems()
    expect_ok(env.run(n=2))
    save_tiny(env.model, seed=1)  # other weights, same folder
    try:
        return expect_error(env.run(n=3), "model")
    finally:
        save_tiny(env.model, seed=0)


@probe("wrong")
def probe_resume_with_an_edited_problems_file(env):
    env.problems()
    expect_ok(env.run(n=2))
    rows = [{"id": f"p{i}", "question": f"What is {i} + {i}?", "gold": str(2 * i + (i == 1))} for i in range(1, 7)]
    env.problems(rows)
    return expect_error(env.run(n=3), "problems")


@probe("wrong")
def probe_score_resume_with_an_edited_traces_file(env, monkeypatch=None):
    import siakit.scorer.score as scorer

    traces, out = env.traces(), env.tmp / "s.parquet"
    real, calls = scorer.score_traces, []

    def dies_on_second(*args, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kw)

    scorer.score_traces = dies_on_second
    try:
        r = env.score(traces, out)
    finally:
        scorer.score_traces = real
    check(r.rc == 130 and "interrupted; run the same command to resume" in r.err, "wrong",
          "the simulated kill did not happen")
    env.traces([{"id": f"q{i}", "prompt": "Edited question?", "options": [" A", " B"], "gold": "A", "steps": []}
                for i in range(3)])
    expect_error(env.score(traces, out), "traces_file")
    expect_ok(env.score(traces, out, "--force"))  # the old parts are dropped, the edited file scored
    import pandas as pd

    frame = pd.read_parquet(out)
    check(frame[frame.id == "q0"].n_options.tolist() == [2], "wrong", "old scores were kept after --force")
    expect_error(env.score(env.traces(), out), "traces_file")  # a finished output records it too
    return "error"


@probe("wrong")
def probe_resume_on_another_device(env):
    from siakit.experiment.store import ResultsStore

    env.problems()
    expect_ok(env.run(n=2))
    store = ResultsStore(env.run_folders()[0])
    manifest = store.read_manifest()
    manifest["identity"]["device"] = "cuda"  # as if the run had been made on a GPU
    store.write_manifest(manifest)
    return expect_error(env.run(n=3), "device")


@probe("wrong")
def probe_resume_with_another_batch_size_in_bfloat16(env):
    env.problems()
    expect_ok(env.run("--dtype", "bfloat16", n=2))
    return expect_error(env.run("--dtype", "bfloat16", "--batch-size", 3, n=3), "batch_size")


@probe("wrong")
def probe_resume_with_another_batch_size_in_float32(env):
    """float32: documented as not changing results; a re-batched resume equals a fresh run."""
    env.problems()
    expect_ok(env.run(n=2))
    expect_ok(env.run("--batch-size", 3, n=5))
    resumed = _texts(env.run_folders()[0])
    env.results = env.tmp / "fresh"
    expect_ok(env.run(n=5))
    check(_texts(env.run_folders()[0]) == resumed, "wrong", "re-batched resume differs")
    return "correct"


def _texts(folder: Path) -> list[tuple]:
    """(id, generated text, answer, seed) of each stored trace: all a trace is but its timing."""
    rows = [json.loads(line) for line in (folder / "traces.jsonl").read_text().splitlines()]
    return [(t["id"], "".join(t["steps"]), t["answer"], t["seed"]) for t in rows]


@probe("wrong")
def probe_existing_out_with_another_estimator(env):
    traces, out = env.traces(), env.tmp / "s.parquet"
    expect_ok(env.score(traces, out))
    r = env.score(traces, out)
    expect_ok(r)
    check("nothing to do" in r.out, "wrong", "a finished output with the same parameters was recomputed")
    return expect_error(env.score(traces, out, "--estimator", "vocab"), "estimator", str(out))


@probe("wrong")
def probe_resumed_sampled_run_equals_a_fresh_one(env):
    import siakit.experiment.generate as generate

    env.problems()
    real, batches = generate.generate_traces, []

    def dies_after_first_batch(lm, problems, config, on_batch=None, **kw):
        def once(traces):
            on_batch(traces)
            batches.append(1)
            raise KeyboardInterrupt  # killed after the first stored batch
        return real(lm, problems, config, on_batch=once, **kw)

    generate.generate_traces = dies_after_first_batch
    try:
        r = env.run("--temperature", 1.0, n=6)
    finally:
        generate.generate_traces = real
    check(r.rc == 130 and batches == [1], "wrong", "the simulated kill did not happen")
    expect_ok(env.run("--temperature", 1.0, "--batch-size", 4, n=6))  # resumed, and re-batched
    resumed = _texts(env.run_folders()[0])
    env.results = env.tmp / "fresh"
    expect_ok(env.run("--temperature", 1.0, n=6))
    fresh = _texts(env.run_folders()[0])
    check(len(fresh) == 6 and resumed == fresh, "wrong", "a resumed sampled run differs from a fresh one")
    check(len({t[1] for t in fresh}) > 1, "wrong", "sampling produced identical traces")
    return "correct"


@probe("wrong")
def probe_nan_gold_in_traces(env):
    path = env.traces(raw=b'{"id": "a", "prompt": "x", "steps": [], "gold": NaN}\n')
    expect_error(env.score(path, env.tmp / "o.parquet"), f"{path}:1", "gold")
    path = env.traces(raw=b'{"id": "a", "prompt": "x", "steps": [], "answer": Infinity}\n')
    return expect_error(env.score(path, env.tmp / "o.parquet"), f"{path}:1", "answer")


@probe("wrong")
def probe_n_above_the_dataset(env):
    env.problems()
    expect_error(env.run(n=1000000000), "1000000000", "6 problems")
    check(not env.run_folders(), "wrong", "a run folder was left behind")
    expect_ok(env.run(n="all"))
    manifest = json.loads((env.run_folders()[0] / "manifest.json").read_text())
    check(manifest["parameters"]["n"] == 6 and manifest["summary"]["n"] == 6, "wrong", f"n recorded {manifest['parameters']['n']}")
    return "correct"


@probe("wrong")
def probe_run_attn_implementation(env):
    env.problems()
    return expect_error(env.run("--attn-implementation", "eager"), "--attn-implementation")


@probe("wrong")
def probe_generate_duplicate_ids(env):
    rows = [{"id": i, "question": "What is 1 + 1?", "gold": "2"} for i in ("p1", "p1")]
    path = env.problems(rows)
    out = env.tmp / "gen.jsonl"
    expect_error(cli("generate", "--model", env.model, "--dataset", f"jsonl:{path}", "--out", out,
                     "--max-new-tokens", 3), f"{path}:2", "duplicate")
    check(not out.exists(), "wrong", "traces were written")
    return "error"


@probe("wrong")
def probe_bad_dtype_leaves_no_manifest(env):
    env.problems()
    expect_error(env.run("--dtype", "float8"), "float8")
    check(not env.results.exists(), "wrong", "files were written")
    expect_ok(env.run())  # a later correct run is not refused
    return "error"


@probe("wrong")
def probe_bad_estimator_fails_before_generating(env):
    env.problems()
    started = time.perf_counter()
    expect_error(env.run("--estimator", "readout,foo"), "foo")
    check(not env.results.exists(), "wrong", "files were written")
    check(time.perf_counter() - started < 30, "wrong", "the estimator was checked late")
    expect_ok(env.run())
    return "error"


@probe("traceback")
def probe_directory_as_traces(env):
    return expect_error(env.score(env.tmp, env.tmp / "o.parquet"), str(env.tmp), "directory")


@probe("traceback")
def probe_out_in_a_read_only_place(env):
    return expect_error(env.score(env.traces(), Path("/proc/siakit-probe.parquet")), "/proc")


@probe("traceback")
def probe_out_under_a_file(env):
    traces = env.traces()
    return expect_error(env.score(traces, traces / "o.parquet"), str(traces), "not a folder")


@probe("traceback")
def probe_corrupt_gguf(env):
    bad = env.tmp / "bad.gguf"
    bad.write_bytes(b"GGUF" + bytes(range(40)))
    expect_error(env.score(env.traces(), env.tmp / "o.parquet", "--model", bad), str(bad), "GGUF")
    bad.write_bytes(b"not a gguf")
    return expect_error(env.score(env.traces(), env.tmp / "o.parquet", "--model", bad), str(bad), "not a GGUF")


@probe("traceback")
def probe_hub_id_offline(env):
    r = subprocess_cli("score", "--model", "nobody/no-such-model", "--traces", env.traces(),
                       "--out", env.tmp / "o.parquet", env={"HF_HUB_OFFLINE": "1"})
    return expect_error(r, "Hugging Face model 'nobody/no-such-model' is not in the local hub cache",
                        "hf download nobody/no-such-model", "a local model folder")


@probe("traceback")
def probe_full_disk(env):
    import pyarrow.parquet as pq

    out, real = env.tmp / "o.parquet", pq.write_table

    def disk_full(table, where, **kw):  # the disk fills up while the final output is written
        if not isinstance(where, (str, Path)) or "o.parquet.tmp" not in str(where):
            return real(table, where, **kw)
        Path(where).write_bytes(b"PAR1 half a file")
        raise OSError(28, "No space left on device", str(where))

    pq.write_table = disk_full
    try:
        r = env.score(env.traces(), out)
    finally:
        pq.write_table = real
    check(not out.exists() and not list(env.tmp.glob(".*tmp*")), "wrong", "a partial or temporary file was left")
    return expect_error(r, "No space left on device")


@probe("unclear")
def probe_non_utf8_input(env):
    traces = env.traces(raw=b'{"id": "a", "prompt": "caf\xe9", "steps": []}\n')
    expect_error(env.score(traces, env.tmp / "o.parquet"), f"{traces}:1", "UTF-8")
    problems = env.problems(raw=b'{"id": "a", "question": "caf\xe9?", "gold": "1"}\n')
    return expect_error(env.run(problems=problems), f"{problems}:1", "UTF-8")


@probe("unclear")
def probe_empty_files(env):
    traces = env.traces(raw=b"")
    expect_error(env.score(traces, env.tmp / "o.parquet"), str(traces), "empty")
    problems = env.problems(raw=b"\n")
    return expect_error(env.run(problems=problems), str(problems), "empty")


@probe("unclear")
def probe_corrupt_manifest(env):
    env.problems()
    expect_ok(env.run(n=2))
    manifest = env.run_folders()[0] / "manifest.json"
    manifest.write_text('{"model": "tiny", "param')
    expect_error(env.run(n=2), str(manifest), "corrupt")
    expect_ok(env.run("--force", n=2))  # --force starts it again
    return "error"


@probe("unclear")
def probe_folder_that_is_not_a_model(env):
    folder = env.tmp / "not-a-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    return expect_error(env.score(env.traces(), env.tmp / "o.parquet", "--model", folder), str(folder), "no weights")


@probe("unclear")
def probe_batch_size_zero(env):
    env.problems()
    return expect_error(env.run("--batch-size", 0), "batch_size", "0")


@probe("unclear")
def probe_utf8_bom_is_accepted(env):
    traces = env.traces(raw=b"\xef\xbb\xbf" + env.traces().read_bytes())
    expect_ok(env.score(traces, env.tmp / "o.parquet"))
    problems = env.problems(raw=b"\xef\xbb\xbf" + env.problems().read_bytes())
    expect_ok(env.run(problems=problems, n=2))
    return "correct"


def _runs_file(env, text: str) -> Path:
    path = env.tmp / "runs.yml"
    path.write_text(textwrap.dedent(text))
    return path


@probe("injection")
def probe_book_binary_value(env):
    from siakit.report.runner import load_runs

    made = env.tmp / "pwned"
    path = _runs_file(env, """
        runs:
          - model: m
            dataset: gsm8k
            seed: !!binary aW1wb3J0IG9z
        """)
    with pytest.raises(ValueError, match=r"runs\[0\].*key 'seed'.*bytes"):
        load_runs(path, env.tmp)
    r = cli("book", "--runs", path, "--root", env.tmp, "--no-build")
    check(not made.exists(), "injection", "the value ran")
    return expect_error(r, "runs[0]", "'seed'")


@probe("injection")
def probe_book_python_tag(env):
    path = _runs_file(env, f"""
        runs:
          - model: !!python/object/apply:os.system ["touch {env.tmp / 'pwned'}"]
            dataset: gsm8k
        """)
    r = cli("book", "--runs", path, "--root", env.tmp, "--no-build")
    check(not (env.tmp / "pwned").exists(), "injection", "the tag ran")
    return expect_error(r, f"{path}:3")


@probe("injection")
def probe_book_script_model_name(env):
    from markdown_it import MarkdownIt

    from siakit.report.pages import set_title, write_runs_index
    from siakit.report.runner import load_runs
    import nbformat

    evil = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    jobs = load_runs(_runs_file(env, f"runs:\n  - {{model: '{evil}', dataset: gsm8k}}\n"), env.tmp)
    run = next(j for j in jobs if j.kind == "run")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Source title")])
    set_title(nb, run.title)
    html = MarkdownIt("commonmark").render(nb.cells[0].source)
    check("<script" not in html and "<img" not in html and "&lt;script&gt;" in html, "injection", html)
    index = write_runs_index(env.tmp, jobs).read_text()
    rendered = MarkdownIt("commonmark").enable("table").render(index)
    check("<script" not in rendered and "<img" not in rendered, "injection", "runs.md carries raw HTML")
    (env.tmp / run.output).parent.mkdir(parents=True, exist_ok=True)
    (env.tmp / run.output).write_text("{}")  # with a page, the title goes into a {doc} role
    index = write_runs_index(env.tmp, jobs).read_text()
    line = next(x for x in index.splitlines() if "{doc}" in x)
    check("<script" not in line and "`" not in line.split("{doc}`", 1)[1].split("`", 1)[0], "injection", line)
    return "correct"


# -- added cases --------------------------------------------------------------------------------------
@probe("added")
def probe_failed_start_after_the_lock_leaves_nothing(env):
    import siakit.models.loading as loading

    env.problems()
    real = loading.load_model

    def broken(*args, **kw):
        raise loading.ModelLoadError("cannot load model folder 'x': simulated")

    loading.load_model = broken
    try:
        r = env.run()
    finally:
        loading.load_model = real
    check(not env.results.exists(), "wrong", f"left behind: {list(env.results.rglob('*'))}")
    return expect_error(r, "simulated")


@probe("added")
def probe_sampled_run_from_before_per_problem_seeds(env):
    from siakit.experiment.store import ResultsStore

    env.problems()
    expect_ok(env.run("--temperature", 1.0, n=2))
    store = ResultsStore(env.run_folders()[0])
    manifest = store.read_manifest()
    del manifest["identity"]  # as written by the old main (seeds by batch)
    store.write_manifest(manifest)
    expect_error(env.run("--temperature", 1.0, n=3), "seeded by (seed, problem id)")
    expect_ok(env.run("--temperature", 1.0, "--force", n=3))
    return "error"


@probe("added")
def probe_out_is_a_directory_or_a_link(env):
    expect_error(env.score(env.traces(), env.tmp), "is a directory")
    link = env.tmp / "link.parquet"
    link.symlink_to("/etc/passwd")
    expect_error(env.score(env.traces(), link, "--force"), "symbolic link")
    check(link.is_symlink(), "loss", "the link was replaced")
    return "error"


@probe("added")
def probe_generate_out_is_the_problems_file(env):
    path = env.problems()
    before = path.read_bytes()
    r = cli("generate", "--model", env.model, "--dataset", f"jsonl:{path}", "--out", path, "--max-new-tokens", 3)
    check(path.read_bytes() == before, "loss", "the problems file was overwritten")
    return expect_error(r, "is the input")


@probe("added")
def probe_non_finite_gold_in_problems(env):
    path = env.problems(raw=b'{"id": "a", "question": "q?", "gold": 1}\n{"id": "b", "question": "q?", "gold": NaN}\n')
    return expect_error(env.run(problems=path, n=2), f"{path}:2", "gold")


@probe("added")
def probe_book_mapping_value(env):
    path = _runs_file(env, "runs:\n  - {model: m, dataset: gsm8k, n: {a: 1}}\n")
    return expect_error(cli("book", "--runs", path, "--root", env.tmp, "--no-build"), "runs[0]", "'n'")


@probe("added")
def probe_bad_numbers(env):
    env.problems()
    expect_error(env.run(n=0), "n must be >= 1")
    expect_error(env.run("--temperature", -1), "temperature")
    expect_error(env.score(env.traces(), env.tmp / "o.parquet", "--shard-traces", 0), "--shard-traces")
    return "error"


# -- issue 25: nothing lost on the last paths -----------------------------------------------------------
REFUSED = "replaces an existing output only with --force"  # the one message of every writing command


@probe("loss")
def probe_generate_out_existing(env):
    path, notes = env.problems(), env.tmp / "notes.txt"
    notes.write_text("my notes")
    args = ("generate", "--model", env.model, "--dataset", f"jsonl:{path}", "--n", 2, "--max-new-tokens", 3,
            "--out", notes)
    expect_error(cli(*args), str(notes), REFUSED)
    check(notes.read_text() == "my notes", "loss", "generate replaced an existing file without --force")
    expect_ok(cli(*args, "--force"))
    check(len(notes.read_text().splitlines()) == 2, "wrong", "--force did not write the traces")
    return "error"


@probe("loss")
def probe_every_writing_command_refuses_an_existing_output(env):
    """generate, score, toy and sft against an existing output: the same rule and message."""
    path, traces = env.problems(), env.traces()
    notes = env.tmp / "notes.txt"
    notes.write_text("keep")
    folder = env.tmp / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep")
    cases = {
        "generate": ("generate", "--model", env.model, "--dataset", f"jsonl:{path}", "--out", notes),
        "score": ("score", "--model", env.model, "--traces", traces, "--out", notes),
        "toy": ("toy", "--preset", "tiny", "--out", folder),
        "sft": ("sft", "--out", folder),
    }
    for command, args in cases.items():
        expect_error(cli(*args), str(notes if "notes" in str(args[-1]) else folder), REFUSED, f"siakit {command}")
    check(notes.read_text() == "keep" and (folder / "notes.txt").read_text() == "keep"
          and [p.name for p in folder.iterdir()] == ["notes.txt"], "loss", "an existing output was touched")
    return "error"


def _delete_manifest(env) -> Path:
    manifest = env.run_folders()[0] / "manifest.json"
    manifest.unlink()
    return manifest


@probe("wrong")
def probe_resume_without_manifest_other_length_cap(env):
    env.problems()
    expect_ok(env.run(n=2))  # --max-new-tokens 4: every trace cut at 4 tokens (a random model)
    _delete_manifest(env)
    expect_error(env.run("--max-new-tokens", 6, n=2), "max_new_tokens", "cap 4", "requested 6")
    expect_ok(env.run(n=2))  # the same parameters: the traces are what was asked for, adopted
    manifest = json.loads((env.run_folders()[0] / "manifest.json").read_text())
    check(manifest["parameters"]["max_new_tokens"] == 4, "wrong", "the manifest does not describe the traces")
    return "error"


@probe("wrong")
def probe_resume_without_manifest_other_temperature(env):
    env.problems()
    expect_ok(env.run(n=2))
    _delete_manifest(env)
    return expect_error(env.run("--temperature", 1.0, n=2), "temperature", "requested 1.0")


@probe("wrong")
def probe_edited_manifest_does_not_relabel_traces(env):
    env.problems()
    expect_ok(env.run(n=2))
    path = env.run_folders()[0] / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["parameters"]["max_new_tokens"] = 6  # as if the traces had been made with a cap of 6
    path.write_text(json.dumps(manifest))
    return expect_error(env.run("--max-new-tokens", 6, n=2), "max_new_tokens", "stored traces")


@probe("wrong")
def probe_lower_n_reports_the_first_n_everywhere(env):
    from siakit.data.traces import read_traces
    from siakit.experiment.store import ResultsStore

    env.problems()
    expect_ok(env.run(n=4))
    expect_ok(env.run(n=2))
    folder = env.run_folders()[0]
    manifest, store = json.loads((folder / "manifest.json").read_text()), ResultsStore(folder)
    seen = {"parameters.n": manifest["parameters"]["n"], "summary.n": manifest["summary"]["n"],
            "traces.jsonl": len(read_traces(folder / "traces.jsonl")), "store.read_traces": len(store.read_traces()),
            "store.read_scores": store.read_scores()["id"].nunique()}
    check(set(seen.values()) == {2}, "wrong", f"a lower n is reported inconsistently: {seen}")
    check([t.id for t in store.read_traces()] == ["p1", "p2"], "wrong", "not the first n problems")
    check(manifest["stored"] == {"traces": 4, "reported": 2}, "wrong", f"stored: {manifest.get('stored')}")
    expect_ok(env.run(n=4))  # the other two were kept: raising n again reuses them
    check(len(read_traces(folder / "traces.jsonl")) == 4, "wrong", "raising n again lost traces")
    return "correct"


@probe("traceback")
def probe_dev_zero_fifo_and_directory_as_inputs(env):
    fifo = env.tmp / "pipe.jsonl"
    os.mkfifo(fifo)
    expect_error(env.score(Path("/dev/zero"), env.tmp / "o.parquet"), "/dev/zero", "character device")
    expect_error(env.score(fifo, env.tmp / "o.parquet"), str(fifo), "named pipe")
    expect_error(env.run(problems=Path("/dev/zero")), "/dev/zero", "character device")
    expect_error(env.run(problems=fifo), str(fifo), "named pipe")
    return expect_error(env.run(problems=env.tmp), str(env.tmp), "directory")


@probe("traceback")
def probe_line_over_the_cap(env):
    import siakit.reading as reading

    traces = env.traces(raw=env.traces().read_bytes() + b'{"id": "long", "prompt": "' + b"x" * 5000 + b'"}\n')
    problems = env.problems(raw=b'{"id": "a", "question": "' + b"x" * 5000 + b'?", "gold": "1"}\n')
    real, reading.MAX_LINE_BYTES = reading.MAX_LINE_BYTES, 4096
    try:
        expect_error(env.score(traces, env.tmp / "o.parquet"), f"{traces}:4", "line longer than 4096 bytes")
        return expect_error(env.run(problems=problems), f"{problems}:1", "line longer")
    finally:
        reading.MAX_LINE_BYTES = real


@probe("unclear")
def probe_truncated_trace_shard(env):
    env.problems()
    expect_ok(env.run(n=2))
    shard = env.run_folders()[0] / "traces" / "part-00000.jsonl"
    shard.write_bytes(shard.read_bytes()[:300])  # cut inside a string
    return expect_error(env.run(n=3), f"{shard}:1", "corrupt trace shard")


@probe("traceback")
def probe_runs_file_alias_bomb(env):
    from siakit.report.runner import load_runs

    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    for key in ("model", "n"):
        path = _runs_file(env, "\n".join(lines) + f"\nruns:\n  - {{model: m, dataset: gsm8k, {key}: *a8}}\n")
        started = time.perf_counter()
        with pytest.raises(ValueError, match="anchors and aliases"):
            load_runs(path, env.tmp)
        check(time.perf_counter() - started < 1.0, "wrong", f"the bomb took {time.perf_counter() - started:.1f} s")
    return expect_error(cli("book", "--runs", path, "--root", env.tmp, "--list-runs"), f"{path}:1", "aliases")


@probe("unclear")
def probe_runs_file_values_checked_at_load(env):
    path = _runs_file(env, "runs:\n  - {model: m, dataset: gsm8k}\n  - {model: m, dataset: svamp, n: 'four'}\n")
    expect_error(cli("book", "--runs", path, "--root", env.tmp, "--list-runs"), str(path), "runs[1]", "key 'n'", "four")
    path = _runs_file(env, "runs:\n  - {model: m, dataset: gsm8k, temperature: -1}\n")
    return expect_error(cli("book", "--runs", path, "--root", env.tmp, "--list-runs"), "runs[0]", "key 'temperature'")


@probe("unclear")
def probe_runs_file_long_name(env):
    path = _runs_file(env, "runs:\n  - {model: '" + "m" * 10_000_000 + "', dataset: gsm8k}\n")
    r = cli("book", "--runs", path, "--root", env.tmp, "--list-runs")
    expect_error(r, "runs[0]", "key 'model'", "at most 200")
    check(len(r.err) < 1000, "unclear", f"a {len(r.err)}-character error")
    return "error"


def _interrupt(env, sig) -> Result:
    """A real `siakit run` in a child process, sent `sig` once its first trace shard is stored."""
    problems = env.problems([{"id": f"p{i}", "question": f"What is {i} + {i}?", "gold": str(2 * i)} for i in range(1, 21)])
    argv = ["run", "--model", env.model, "--dataset", f"jsonl:{problems}", "--n", 20, "--max-new-tokens", 24,
            "--batch-size", 1, "--results-dir", env.results]
    # (a shell's background job ignores SIGINT, and a child inherits that: restore the default, as a terminal has it)
    proc = subprocess.Popen([sys.executable, "-m", "siakit", *map(str, argv)], text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not list(env.results.rglob("traces/part-*")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return Result(proc.returncode, out, err, err if "Traceback (most recent call last)" in err else None)


@probe("traceback")
def probe_ctrl_c_during_run(env):
    r = _interrupt(env, signal.SIGINT)
    lines = [x for x in r.err.replace("\r", "\n").splitlines() if "interrupted" in x]
    check(r.tb is None, "traceback", "a traceback was printed")
    check(r.rc == 130 and lines == ["siakit run: interrupted; run the same command to resume"], "unclear",
          f"status {r.rc}, {lines}")
    return "error"


@probe("added")
def probe_sigterm_during_run(env):
    r = _interrupt(env, signal.SIGTERM)
    check(r.tb is None, "traceback", "a traceback was printed")
    check(r.rc == 143 and "siakit run: interrupted; run the same command to resume" in r.err, "unclear",
          f"status {r.rc}, {r.err[-200:]!r}")
    folder = env.run_folders()[0]
    check(not (folder / ".lock").exists() or any(folder.rglob("part-*")), "wrong", "an empty lock was left")
    return "error"


@probe("unclear")
def probe_full_disk_at_the_lock_leaves_nothing(env):
    """ENOSPC while the lock records its pid: the error names the lock file; no folder is left."""
    real = os.pwrite

    def full(fd, data, offset):
        raise OSError(28, "No space left on device")

    os.pwrite = full
    try:
        out = env.tmp / "o.parquet"
        r = env.score(env.traces(), out)
    finally:
        os.pwrite = real
    check(not (env.tmp / "o.parquet.parts").exists(), "wrong", "an empty .parts/.lock was left")
    return expect_error(r, "No space left on device writing", "o.parquet.parts/.lock", "nothing was written")


@probe("added")
def probe_two_thousand_one_token_steps_in_bounded_chunks(env):
    """K = 2000 one-token steps: every forward call sees at most chunk_prefixes prefixes, and the
    numbers equal the whole pass's (on the first 300 prefixes; test_chunked_equals_naive_on_a_tiny_model:
    the oracle). `siakit bench --steps` measures the time and peak memory of both."""
    import numpy as np

    import siakit.scorer.chunked as chunked
    from siakit.scorer.bench_steps import load, one_token_step, steps_trace
    from siakit.scorer.score import score_traces

    lm, calls = load("tiny"), []
    trace = steps_trace(2000, one_token_step(lm.tokenizer))
    real = chunked.run_chunked

    def counting(run, adapter, layouts, opts, chunk=chunked.CHUNK_PREFIXES):
        def counted(adapter, lays, opts):
            calls.append(max(len(lay.bounds) for lay in lays))
            return run(adapter, lays, opts)
        return real(counted, adapter, layouts, opts, chunk)

    import siakit.scorer.schedule as schedule  # the scheduler calls run_chunked for every forward job

    schedule.run_chunked = counting
    try:
        chunked_frame = score_traces(lm, [trace], chunk_prefixes=256, progress=False)
        bound = max(calls)
        calls.clear()  # the whole pass on the first 300 steps (prefix k depends on steps 1..k only)
        whole = score_traces(lm, [steps_trace(300, trace.steps[0])], chunk_prefixes=301, progress=False)
    finally:
        schedule.run_chunked = real
    check(len(chunked_frame) == 2001 and bound == 256 and calls == [301], "wrong",
          f"{len(chunked_frame)} rows; largest call {bound} prefixes")
    diff = np.abs(chunked_frame["entropy"].to_numpy()[:301] - whole["entropy"].to_numpy()).max()
    check(diff < 1e-5, "wrong", f"chunked entropies differ from the whole pass by {diff}")
    return "correct"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("name,was,fn", PROBES, ids=[p[0] for p in PROBES])
def test_probe(name, was, fn, model_dir, tmp_path):
    assert fn(Env(tmp_path, model_dir)) in ("error", "correct")


# -- small units ---------------------------------------------------------------------------------------
def test_atomic_write_on_a_full_disk_leaves_no_temporary_file(tmp_path):
    from siakit.files import atomic_write, atomic_write_text

    target = atomic_write_text(tmp_path / "a.json", "old")

    def half_then_full(tmp):
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write(target, half_then_full)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_debug_shows_the_traceback_and_force_deletes_only_a_results_folder(tmp_path):
    from siakit.experiment.store import ResultsStore

    traces = Env(tmp_path, tmp_path).traces()
    assert expect_error(cli("score", "--model", "m", "--traces", traces, "--out", traces), "is the input") == "error"
    with pytest.raises(ValueError, match="is the input"):
        cli_raising = __import__("siakit.cli", fromlist=["main"]).main
        cli_raising(["--debug", "score", "--model", "m", "--traces", str(traces), "--out", str(traces)])
    mine = tmp_path / "not-a-run"
    (mine / "notes.txt").parent.mkdir()
    (mine / "notes.txt").write_text("keep")
    with ResultsStore(mine).locked() as store, pytest.raises(ValueError, match="not a siakit results folder"):
        store.clear()
    assert (mine / "notes.txt").read_text() == "keep"


def test_run_folder_components_are_never_dot_or_dotdot(tmp_path):
    from siakit.experiment.store import run_dir, safe_component

    assert [safe_component(x) for x in ("..", ".", "", "org/m", "a:b")] == ["__", "_", "_", "org__m", "a_b"]
    assert run_dir(tmp_path, "..", "..") == tmp_path / "__" / "__"
    (tmp_path / "out").mkdir()
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "m").symlink_to(tmp_path / "out")
    with pytest.raises(ValueError, match="outside the results folder"):
        run_dir(tmp_path / "r", "m", "d")


# -- SIGKILL a real `siakit run` at 5 random moments ---------------------------------------------------
RUN_ARGS = ["--n", "10", "--batch-size", "2", "--score-batch", "1", "--max-new-tokens", "12", "--temperature", "1.0"]


def _stored(results: Path):
    from siakit.experiment.store import ResultsStore

    folder = next(p for p in results.glob("*/*") if p.is_dir())
    scores = ResultsStore(folder).read_scores().sort_values(["id", "estimator", "k"]).reset_index(drop=True)
    return _texts(folder), scores


@pytest.mark.usefixtures("one_thread")
def test_sigkill_at_random_moments_then_resume_equals_an_uninterrupted_run(model_dir, tmp_path):
    """A real `siakit run` (sampled, so seeds matter too) killed at a random moment of its work, 5
    times; each resume must give exactly the traces and score rows of an uninterrupted run."""
    import pandas as pd

    problems = Env(tmp_path, model_dir).problems(
        [{"id": f"p{i}", "question": f"What is {i} + {i}?", "gold": str(2 * i)} for i in range(1, 11)])
    dataset = f"jsonl:{problems}"

    def args(results):
        return ["run", "--model", str(model_dir), "--dataset", dataset, *RUN_ARGS, "--results-dir", str(results)]

    started = time.perf_counter()
    expect_ok(cli(*args(tmp_path / "ref")))
    work_s = time.perf_counter() - started  # loading the model, generating and scoring (no imports)
    ref_traces, ref_scores = _stored(tmp_path / "ref")
    n_shards = len(list((tmp_path / "ref").rglob("part-*")))
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    rng, shards_at_kill = random.Random(12), []
    for attempt in range(5):
        results = tmp_path / f"killed{attempt}"
        proc = subprocess.Popen([sys.executable, "-m", "siakit", *args(results)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # A random moment of the work: after a random number of stored shards, a random part of the time
        # one shard takes (the process spends its first seconds importing libraries, which is no test).
        after, deadline = rng.randrange(n_shards), time.time() + 180
        while len(list(results.rglob("part-*"))) < after and proc.poll() is None and time.time() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 1.0) * work_s / n_shards)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        shards_at_kill.append(len(list(results.rglob("part-*"))))
        expect_ok(cli(*args(results)))  # the resume
        traces, scores = _stored(results)
        assert traces == ref_traces, f"kill {attempt} ({shards_at_kill[-1]} shards stored): traces differ"
        pd.testing.assert_frame_equal(scores, ref_scores, check_exact=True)
        assert not list(results.rglob(".*.tmp*"))
    print(f"shards stored when killed: {shards_at_kill} of {n_shards}")
    assert max(shards_at_kill) > 0 and min(shards_at_kill) < n_shards, shards_at_kill  # killed mid-run


def test_traces_without_a_recorded_cap_are_checked_on_what_they_record():
    """Traces from before `meta.max_new_tokens` was recorded: a trace cut by the cap has exactly that
    many new tokens, none has more; temperature, seed and model compare as recorded."""
    from siakit.data.traces import Trace
    from siakit.experiment.adopt import trace_mismatch
    from siakit.experiment.config import RunConfig
    from siakit.experiment.generate import problem_seed

    def trace(**meta):
        return Trace(id="p1", prompt="q", steps=["a"], model="tiny-llama",
                     meta={"temperature": 0.0, "seed": problem_seed(0, "p1"), **meta})

    cfg = RunConfig(max_new_tokens=30)
    assert trace_mismatch(trace(n_new_tokens=24, truncated=True), cfg, "tiny-llama") == {"max_new_tokens": "cut at 24 tokens"}
    assert trace_mismatch(trace(n_new_tokens=24, truncated=False), cfg, "tiny-llama") == {}  # stopped by itself
    assert trace_mismatch(trace(n_new_tokens=31, truncated=False), cfg, "tiny-llama") == {"max_new_tokens": "cut at 31 tokens"}
    assert trace_mismatch(trace(n_new_tokens=30, truncated=True), cfg, "other") == {"model": "model 'tiny-llama'"}
    assert set(trace_mismatch(trace(n_new_tokens=30, truncated=True), RunConfig(max_new_tokens=30, temperature=1.0,
                                                                                seed=1), None)) == {"temperature", "seed"}
    from siakit.models.shared_prefill import row_seed

    sample = Trace(id="p1#3", prompt="q", steps=["a"], meta={"seed": row_seed(problem_seed(0, "p1"), 3),
                                                              "problem_id": "p1", "sample": 3, "temperature": 0.0})
    assert trace_mismatch(sample, cfg, None) == {}  # generate --samples: sample 3 of p1 has its own seed


@pytest.mark.usefixtures("one_thread")
def test_chunked_equals_naive_on_a_tiny_model():
    """The oracle: chunks of 7 prefixes (kvtree and packed inside) give naive's numbers at every k."""
    import numpy as np

    from siakit.data.traces import Trace
    from siakit.models.tiny import tiny_model
    from siakit.scorer.chunked import split_prefixes
    from siakit.scorer.layout import TraceLayout
    from siakit.scorer.score import score_traces

    lay = TraceLayout("t", [1, 2, 3, 4], [1, 2, 3, 4], [9], [])
    assert [(s.ids, s.bounds) for s in split_prefixes(lay, 3)] == [([1, 2, 3], [1, 2, 3]), ([1, 2, 3, 4], [4])]
    lm = tiny_model("llama")
    trace = Trace(id="t", prompt="Question: 3 + 4? Think.", steps=[f" step {i} adds {i}." for i in range(30)],
                  options=[" 7", " 12", " 70"], gold=" 7")
    naive = score_traces(lm, [trace], method="naive", progress=False)
    for method in ("kvtree", "packed"):
        chunked = score_traces(lm, [trace], method=method, chunk_prefixes=7, progress=False)
        assert len(chunked) == len(naive) == 31
        np.testing.assert_allclose(chunked["entropy"], naive["entropy"], atol=1e-5)
        np.testing.assert_allclose(chunked["gold_logprob"], naive["gold_logprob"], atol=1e-5)


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                              capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@pytest.mark.usefixtures("one_thread")
def test_full_tmpfs_names_the_path_and_leaves_nothing(model_dir, tmp_path):
    """A real full disk: a 64 KiB tmpfs filled up. `score` and `generate` fail naming the path on it,
    and leave no lock, parts folder or temporary file there."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "64k"):
        pytest.skip("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN); the simulated full-disk "
                    "probes cover the same paths")
    try:
        filler = disk / "filler"
        with contextlib.suppress(OSError), open(filler, "wb") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
        env = Env(tmp_path, model_dir)
        out = disk / "o.parquet"
        expect_error(env.score(env.traces(), out), "No space left on device", str(disk))
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]
        out = disk / "gen.jsonl"
        r = cli("generate", "--model", model_dir, "--dataset", f"jsonl:{env.problems()}", "--out", out,
                "--max-new-tokens", 8, "--n", 6)
        expect_error(r, "No space left on device", str(out))
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True, timeout=10)


def test_refuse_existing_is_one_rule(tmp_path):
    from siakit.files import mark_own, refuse_existing

    notes, folder = tmp_path / "notes.txt", tmp_path / "out"
    notes.write_text("x")
    with pytest.raises(ValueError, match=r"--out .*notes.txt exists; siakit generate replaces an existing output only with --force"):
        refuse_existing(notes, False, "generate")
    refuse_existing(notes, True, "generate")  # --force
    refuse_existing(tmp_path / "new", False, "generate")  # nothing there
    folder.mkdir()
    refuse_existing(folder, False, "toy")  # an empty folder holds nothing
    (folder / "mine.txt").write_text("x")
    with pytest.raises(ValueError, match="siakit toy replaces"):
        refuse_existing(folder, False, "toy", own=True)
    mark_own(folder, "toy")
    refuse_existing(folder, False, "toy", own=True)  # toy's own folder: the same command resumes into it
    with pytest.raises(ValueError, match="siakit sft replaces"):
        refuse_existing(folder, False, "sft", own=True)  # but it is not sft's


def test_interrupt_is_one_line_and_debug_shows_the_traceback(monkeypatch):
    """KeyboardInterrupt -> 130 and SIGTERM's Terminated -> 143, one line; `--debug` re-raises."""
    import siakit.experiment.commands as commands
    from siakit.cli import Terminated

    for error, code in ((KeyboardInterrupt, 130), (Terminated, 143)):
        def interrupted(args, error=error):
            raise error()

        monkeypatch.setattr(commands, "_score_main", interrupted)
        r = cli("score", "--model", "m", "--traces", "t.jsonl", "--out", "o.parquet")
        assert (r.rc, r.err.strip()) == (code, "siakit score: interrupted; run the same command to resume")
        with pytest.raises(error):
            __import__("siakit.cli", fromlist=["main"]).main(["--debug", "score", "--model", "m", "--traces",
                                                              "t.jsonl", "--out", "o.parquet"])
