"""Pages the book runner writes: the runs index, the API reference, the timing summary, notebook edits.

Both land in `book/generated/` (gitignored) as MyST markdown. The runs index lists every executed run
page with its accuracy and key signatures (read from the small JSON summary each experiment notebook
writes) and the execution time of every notebook (from `book/generated/summary.json`). The API page
lists only the siakit modules that import at build time, so autodoc never fails on a missing module.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

GENERATED = Path("book/generated")
# API order: the math first, then data -> generation -> scoring -> analysis; anything else after.
API_ORDER = ["siakit.theory.info", "siakit.theory.sia", "siakit.theory.worlds", "siakit.data.traces", "siakit.data.problems", "siakit.data.answers",
             "siakit.data.prompts", "siakit.models.loading", "siakit.experiment.generate", "siakit.scorer.score", "siakit.experiment.store",
             "siakit.experiment.pipeline", "siakit.analysis.signatures", "siakit.analysis.early_exit", "siakit.report.viewer"]
API_SKIP = {"siakit.cli", "siakit.__main__", "siakit.info"}  # the CLI is in the README; siakit.info: old alias
# "Start here": what a user calls (the scorer, the theory helpers, the run pipeline, the signatures).
API_PUBLIC = ["siakit.scorer.score", "siakit.theory.info", "siakit.theory.sia", "siakit.experiment.config",
              "siakit.experiment.pipeline", "siakit.analysis.signatures", "siakit.analysis.summary",
              "siakit.data.traces", "siakit.models.loading"]


# ASCII punctuation that means something in CommonMark/MyST (inline HTML, emphasis, links, roles,
# math, tables); a backslash before any ASCII punctuation is always a literal in CommonMark.
_MARKDOWN_SPECIAL = set("\\`*_{}[]<>()#+!|~&$:^=\"'")


def markdown_escape(text: str) -> str:
    """`text` as literal Markdown: every special character backslash-escaped, newlines made spaces,
    so a model name can never open an HTML tag, a link or a role on a page.

        markdown_escape("<script>x</script> on gsm8k") -> "\\<script\\>x\\</script\\> on gsm8k"
    """
    text = " ".join(str(text).split())
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in text)


def role_text(text: str) -> str:
    """`text` safe as the title inside a Sphinx role (`{doc}`title <page>``), where backslash escapes do
    not apply: characters that would end the role, open a target or split a table cell are replaced
    by look-alikes (Sphinx escapes the rest in HTML).

        role_text("a`b <c> | d") -> "a'b ‹c› ¦ d"
    """
    table = {"`": "'", "<": "\u2039", ">": "\u203a", "|": "\u00a6"}
    return "".join(table.get(c, c) for c in " ".join(str(text).split()))


def set_title(nb, title: str) -> None:
    """Make `title` the page's H1 (the first '# ' line of the first markdown cell that has one), escaped
    so that a model or dataset name is shown as text, never run as HTML or Markdown."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            lines = cell.source.splitlines()
            for i, line in enumerate(lines):
                if line.startswith("# "):
                    lines[i] = f"# {markdown_escape(title)}"
                    cell.source = "\n".join(lines)
                    return


def fold_injected_parameters(nb) -> bool:
    """Give the cell papermill injects (tag `injected-parameters`) the folding tags of the `parameters`
    cell (`hide-input`, `hide-cell`, ...), so a page that folds its code folds that cell too; returns
    whether a cell changed.

        parameters cell tags ["parameters", "hide-input"] -> injected cell tags ["injected-parameters", "hide-input"]
    """
    tags = lambda cell: cell.get("metadata", {}).get("tags", [])  # noqa: E731
    folds = [t for c in nb.cells if "parameters" in tags(c) for t in tags(c) if t.startswith(("hide-", "remove-"))]
    changed = False
    for cell in nb.cells:
        if "injected-parameters" in tags(cell) and any(f not in tags(cell) for f in folds):
            cell.setdefault("metadata", {})["tags"] = tags(cell) + [f for f in folds if f not in tags(cell)]
            changed = True
    return changed


def fold_signatures(nb) -> bool:
    """When a cell's output carries the closed gate (`metadata["siakit_gate"] == "closed"`, written by
    the run page when `siakit.analysis.gate` finds the signatures unreadable), fold the outputs of the
    cells tagged `signature` (tag `hide-output`: the page shows them collapsed under the warning);
    returns whether a cell changed.

        a gate output {"metadata": {"siakit_gate": "closed"}} -> signature cells gain "hide-output"
    """
    closed = any(out.get("metadata", {}).get("siakit_gate") == "closed"
                 for cell in nb.cells for out in cell.get("outputs", []))
    changed = False
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if closed and "signature" in tags and "hide-output" not in tags:
            cell.setdefault("metadata", {})["tags"] = tags + ["hide-output"]
            changed = True
    return changed


def note_cell(nb, kind: str, text: str) -> None:
    """Insert an admonition right after the page title (the page keeps its own H1)."""
    import nbformat

    cell = nbformat.v4.new_markdown_cell(f"````{{{kind}}}\n{text}\n````")
    at = next((i + 1 for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "\n# " in "\n" + c.source), 0)
    nb.cells.insert(at, cell)


def write_summary(root: Path, records: list[dict], jobs, build: dict | None = None) -> Path:
    """`book/generated/summary.json`: one record per notebook (status, seconds, parameters) + the build."""
    path = root / GENERATED / "summary.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    by_name = {(r["kind"], r["name"]): r for r in records}
    summary = {"notebooks": [by_name[(j.kind, j.name)] for j in jobs if (j.kind, j.name) in by_name],
               "build": build if build is not None else previous.get("build"),
               "written": datetime.now(timezone.utc).isoformat()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, default=str))
    return path


def _fmt(value, spec: str = ".2f") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return format(value, spec) if isinstance(value, (int, float)) else str(value)


# The runs index's opening: what the columns mean, then the table's header.
RUNS_INTRO = ["# What small models do on the paper's benchmarks", "",
              "One page per (model, dataset) run, each the experiment notebook executed by papermill with "
              "that run's parameters (`siakit book --runs FILE`). Accuracy comes with a 95% Wilson "
              "interval over questions; $h_K$ is the final conditional answer entropy in nats (our readout "
              "estimator unless the column says otherwise); AUROC is that of $-h_K$ for correctness at "
              "$u = 1$ (0.5 = chance); lock-in is the share of traces whose entropy falls and stays below "
              "10% of $\\log|A|$ (our operational definitions, see the theory chapter). Times are in the "
              "execution-times table at the end of this page.", "",
              "```{note}", "With the embedded offline models and a handful of questions per run (as in "
              "`runs/default.yml`), these are smoke-scale numbers: they show that the pipeline runs end to "
              "end, not what the paper's models do. `runs/paper.yml` lists the paper-scale runs (GPU).", "```", "",
              "The diagnostics say whether there is anything to measure: *cut* is the share of traces "
              "that ran into the token cap (left out of the signatures), *leader = answer* the share "
              "whose readout leader at $k = K$ is the answer the trace wrote. Where accuracy is near 0 "
              "or most traces are cut, the signatures of that run carry no evidence either way; the "
              "evidence on a real LM is in the chapters on the trained testbed and on human traces. A run marked "
              "⚠ failed one of the four rules of its page (both classes with at least 10 scored traces, "
              "leader = answer in at least 0.8 of traces, at most a quarter cut, the cue's format written): "
              "its signature columns are shown but carry no evidence.", "",
              "| run | n | accuracy [95% Wilson] | cut | leader = answer | $h_K$ correct | $h_K$ incorrect "
              "| AUROC($-h_K$) | lock-in |",
              "|---|---|---|---|---|---|---|---|---|"]


class RunRows(NamedTuple):
    """The runs table's rows and what the rest of the index reads from the same summaries."""
    lines: list[str]         # one markdown table row per run
    timings: dict            # run name -> its stored generation / scoring times (s)
    gated: list[str]         # "title: rules" of each run whose signatures cannot be read


def _run_rows(root: Path, jobs, status: dict) -> RunRows:
    """One row per run job, from its summary file when its page built ("ok")."""
    rows = RunRows([], {}, [])
    for job in (j for j in jobs if j.kind == "run"):
        record = status.get(("run", job.name), {})
        run_summary = root / job.parameters["summary_path"]
        s = json.loads(run_summary.read_text()) if run_summary.exists() and record.get("status") == "ok" else {}
        page = job.output.relative_to(GENERATED).with_suffix("").as_posix()
        link = (f"{{doc}}`{role_text(job.title)} <{page}>`" if (root / job.output).exists()
                else markdown_escape(job.title))
        rows.timings[job.name] = s.get("timings") or {}
        acc = (f"{_fmt(s.get('accuracy'))} [{_fmt(s.get('accuracy_low'))}, {_fmt(s.get('accuracy_high'))}]"
               if s else "–")
        link += "" if record.get("status") in (None, "ok") else f" ({record['status']})"
        if s.get("signatures_readable") is False:  # siakit.analysis.gate: a rule failed on the run page
            link += " ⚠"
            rows.gated.append(f"{markdown_escape(job.title)}: " + markdown_escape(", ".join(s.get("gate_failed") or [])))
        rows.lines.append(f"| {link} | {_fmt(s.get('n_traces'), 'd')} | {acc} "
                          f"| {_fmt(s.get('share_cut'))} | {_fmt(s.get('leader_agrees'))} "
                          f"| {_fmt(s.get('h_final_correct'))} | {_fmt(s.get('h_final_incorrect'))} "
                          f"| {_fmt(s.get('auroc_h_u1'))} | {_fmt(s.get('lock_in_rate'))} |")
    return rows


def _timing_lines(summary: dict, run_timings: dict) -> list[str]:
    """The execution-times section: one row per notebook, the total, the previous book build."""
    lines = ["", "## Execution times", "",
             "Measured by the runner for the last execution of each notebook (wall clock, seconds, on the "
             "machine that built this book; a skipped notebook keeps the time of its last run). For a run, "
             "the generation and scoring times are those recorded in its results store when it was "
             "computed (the page itself is short when it reuses them).", "",
             "| notebook | kind | status | time (s) | generate / score (s) |", "|---|---|---|---|---|"]
    total = 0.0
    for r in summary.get("notebooks", []):
        total += r.get("seconds") or 0.0
        t = run_timings.get(r["name"]) if r.get("kind") == "run" else None
        cost = f"{_fmt(t.get('generate_s'), '.0f')} / {_fmt(t.get('score_s'), '.0f')}" if t else "–"
        lines.append(f"| `{r['name']}` | {r['kind']} | {r.get('status')} | {_fmt(r.get('seconds'), '.1f')} | {cost} |")
    lines.append(f"| **all notebooks** | | | {total:.1f} | |")
    build = summary.get("build")
    if build:
        lines += ["", f"The previous `jupyter-book build` took {_fmt(build.get('seconds'), '.1f')} s "
                  f"(exit status {build.get('returncode')})."]
    return lines


def write_runs_index(root: Path, jobs) -> Path:
    """Write `book/generated/runs.md` from the run summaries and the timing summary; return its path."""
    summary_file = root / GENERATED / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {"notebooks": []}
    status = {(r["kind"], r["name"]): r for r in summary.get("notebooks", [])}
    rows = _run_rows(root, jobs, status)
    lines = [*RUNS_INTRO, *rows.lines]
    if rows.gated:
        lines += ["", "⚠ **Signatures not readable** (rules that failed on the run page):", ""]
        lines += [f"- {g}" for g in rows.gated]
    failed = [r["name"] for r in summary.get("notebooks", []) if r.get("status") == "failed"]
    if failed:
        lines += ["", "```{warning}", "These notebooks failed in the last build; their pages show the error: "
                  + ", ".join(f"`{n}`" for n in failed) + ".", "```"]
    lines += _timing_lines(summary, rows.timings)
    path = root / GENERATED / "runs.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def api_modules() -> tuple[list[str], dict[str, str]]:
    """siakit's public modules that import now, in API order, and {module: error} for those that fail."""
    import siakit

    names = [m.name for m in pkgutil.walk_packages(siakit.__path__, "siakit.", onerror=lambda name: None)]
    names = [n for n in names if n not in API_SKIP and not any(p.startswith("_") for p in n.split(".")[1:])]
    names.sort(key=lambda n: (API_ORDER.index(n) if n in API_ORDER else len(API_ORDER), n))
    ok, failed = [], {}
    for name in names:
        try:
            importlib.import_module(name)
            ok.append(name)
        except Exception as e:  # noqa: BLE001 - a broken module is listed, not fatal
            failed[name] = f"{type(e).__name__}: {e}"
    return ok, failed


def write_api_page(root: Path) -> Path:
    """Write `book/generated/api.md`: one automodule section per importable siakit module."""
    ok, failed = api_modules()
    lines = ["# API reference", "",
             "The `siakit` package, documented from its docstrings (Sphinx autodoc). Entropies are in nats "
             "throughout; array shapes are given in the docstrings. This page is generated by the book "
             "runner and lists the modules that imported when the book was built. Start with the public "
             "API: `score_traces` and `ScoreConfig` score a trace's every prefix, `RunConfig` and "
             "`run_experiment` make a whole run, `summarize_run` and the signatures read it, and the "
             "theory helpers compute entropies and informations of finite worlds.", ""]
    public = [n for n in API_PUBLIC if n in ok]
    for title, names in (("Start here: the public API", public),
                         ("Internals", [n for n in ok if n not in public])):
        lines += [f"## {title}", ""]
        for name in names:
            # autodoc emits reStructuredText, so it goes through eval-rst (MyST would read it as Markdown)
            lines += [f"### `{name}`", "", "```{eval-rst}", f".. automodule:: {name}", "   :members:", "```", ""]
    if failed:
        lines += ["```{warning}", "These modules did not import when the book was built and are not "
                  "documented here:", ""]
        for module, error in failed.items():
            first = error.splitlines()[0].replace("`", "'") if error else ""
            lines.append(f"- `{module}`: {first}")
        lines.append("```")
    path = root / GENERATED / "api.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
