"""The book's jobs: the chapters and the runs of a runs file, as the runner executes them.

    >>> jobs = load_runs(Path("runs/default.yml"), Path("."))   # chapters, one page per run, cross-run pages
    >>> jobs[0].name, jobs[0].kind, jobs[0].output               # ('intro', 'chapter', book/generated/...)

A runs file is YAML with `defaults`, `runs` (each entry the fields of `siakit.experiment.RunConfig`
plus `datasets` and the page's own `n_show`, `n_boot`) and `chapters` (papermill parameters per
chapter). Only plain values (str, int, float, bool, null, lists of them) may reach a notebook.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from siakit.experiment.config import RunConfig

GENERATED = Path("book/generated")  # every build output of the runner, gitignored
EXPERIMENT = Path("notebooks/10_experiment.md")
CHAPTERS = [
    ("intro", "book/intro.md", "Entropy dynamics and reasoning"),
    ("01_sia_theory", "notebooks/01_sia_theory.md", "The Stepwise Informativeness Assumption"),
    ("02_toy_world", "notebooks/02_toy_world.md", "A toy world"),
    ("03_sft_real_lm", "notebooks/03_sft_real_lm.md", "Fine-tuning a real language model"),
    ("04_testbed_lineage", "notebooks/04_testbed_lineage.md", "A trained testbed: the training lineage of a real LM"),
    ("05_human_traces", "notebooks/05_human_traces.md", "Human traces read by a model"),
    ("20_figures", "notebooks/20_figures.md", "Across runs"),
    ("30_early_exit", "notebooks/30_early_exit.md", "Early exit"),
]
AFTER_RUNS = {"20_figures", "30_early_exit"}  # these read the runs' results, so they go last
# Pages that read another page's results: with `--jobs N` a page waits until these have finished (the
# sequential runner meets this by CHAPTERS' order). The lineage chapter's side-by-side table reads the
# toy chapter's summary.
NEEDS = {"04_testbed_lineage": ("02_toy_world",)}
PAGE_KEYS = {"n_show", "n_boot"}  # parameters of the experiment page itself, not of the run
RUN_KEYS = set(RunConfig.keys()) | {"datasets"} | PAGE_KEYS  # a run entry: RunConfig's fields, one form
TOP_KEYS = {"defaults", "runs", "chapters"}
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


@dataclass
class Job:
    name: str                # page name (file stem)
    kind: str                # "chapter" or "run"
    source: Path             # MyST text notebook (relative to the root)
    parameters: dict = field(default_factory=dict)  # papermill parameters
    title: str = ""          # page title: the run's "model on dataset" (chapters keep their own)

    @property
    def output(self) -> Path:
        return GENERATED / ("runs" if self.kind == "run" else "chapters") / f"{self.name}.ipynb"

    @property
    def marker(self) -> Path:
        return GENERATED / "status" / f"{self.kind}__{self.name}.json"

    def fingerprint(self, root: Path) -> str:
        text = (root / self.source).read_bytes() if (root / self.source).exists() else b""
        blob = json.dumps(self.parameters, sort_keys=True).encode() + hashlib.sha256(text).digest()
        return hashlib.sha256(blob).hexdigest()[:16]


def page_name(model: str, dataset: str) -> str:
    """A file-safe page name: `Qwen/Qwen2.5-0.5B`, `gsm8k` -> `Qwen--Qwen2_5-0_5B__gsm8k`."""
    safe = lambda s: "".join(c if c.isalnum() or c in "-_" else "_" for c in s.replace("/", "--"))  # noqa: E731
    return f"{safe(model)}__{safe(dataset)}"


PLAIN = (str, bool, int, float, type(None))  # the only values papermill may write into a notebook


def check_plain(values: dict, where: str) -> None:
    """Refuse any parameter value but str, int, float, bool, null or a list of them: papermill writes
    parameters into the notebook as code, and YAML can build bytes (`!!binary`), dates or mappings whose
    Python form is not a plain literal. Each value must also read back as itself from papermill's code.

        check_plain({"seed": b"..."}, "runs.yml: runs[0]")  # ValueError: ... key 'seed': bytes ...
    """
    import ast

    from papermill.translators import PythonTranslator

    for key, value in values.items():
        if not isinstance(key, str):
            raise ValueError(f"{where}: key {key!r} is not a string")
        items = value if isinstance(value, list) else [value]
        bad = [v for v in items if not isinstance(v, PLAIN) or (isinstance(v, float) and v != v)
               or (isinstance(v, float) and v in (float("inf"), float("-inf")))]
        if bad:
            raise ValueError(f"{where}: key '{key}' has a {type(bad[0]).__name__} value {bad[0]!r:.60}; only strings, "
                             "numbers, true/false, null or lists of them are allowed")
        code = PythonTranslator.translate(value)
        try:
            same = ast.literal_eval(code) == value
        except (ValueError, SyntaxError):
            same = False
        if not same:
            raise ValueError(f"{where}: key '{key}': value {value!r:.60} cannot be passed to a notebook safely")


def load_runs(path: Path, root: Path) -> list[Job]:
    """Jobs of a runs file, in execution order; a malformed file raises naming the file and the key."""
    import yaml

    if not path.exists():
        raise FileNotFoundError(f"runs file not found: {path}")
    if path.is_dir():
        raise ValueError(f"runs file {path} is a directory")
    try:
        spec = yaml.safe_load(path.read_bytes().decode("utf-8-sig")) or {}
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text (byte at offset {e.start}); save the file as UTF-8") from None
    except yaml.YAMLError as e:  # e.g. a !!python/... tag, which safe_load refuses
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{path}{line}: not a valid runs file: {' '.join(str(e).split())}") from None
    if not isinstance(spec, dict) or set(spec) - TOP_KEYS:
        raise ValueError(f"{path}: top-level keys must be among {sorted(TOP_KEYS)}, got "
                         f"{list(spec) if isinstance(spec, dict) else type(spec).__name__}")
    for section in ("defaults", "chapters"):
        if not isinstance(spec.get(section) or {}, dict):
            raise ValueError(f"{path}: '{section}' must be a mapping")
    if not isinstance(spec.get("runs") or [], list):
        raise ValueError(f"{path}: 'runs' must be a list")
    check_plain(spec.get("defaults") or {}, f"{path}: defaults")
    defaults = dict(spec.get("defaults") or {})
    runs, seen = [], set()
    for i, entry in enumerate(spec.get("runs") or []):
        where = f"{path}: runs[{i}]"
        if not isinstance(entry, dict) or "model" not in entry:
            raise ValueError(f"{where}: each run needs a 'model'")
        check_plain(entry, f"{where} (model {entry['model']!r})")
        if set(entry) - RUN_KEYS or set(defaults) - RUN_KEYS:
            raise ValueError(f"{where}: unknown key(s) {sorted((set(entry) | set(defaults)) - RUN_KEYS)}")
        datasets = entry.get("datasets") or [entry.get("dataset")]
        if not all(isinstance(d, str) and d for d in datasets):
            raise ValueError(f"{where}: give 'dataset' or a non-empty list 'datasets'")
        for dataset in datasets:
            params = {**defaults, **{k: v for k, v in entry.items() if k != "datasets"}, "dataset": dataset}
            RunConfig.from_dict({k: v for k, v in params.items() if k not in PAGE_KEYS}, where=where)
            name = page_name(params["model"], dataset)
            if name in seen:
                raise ValueError(f"{where}: run {name} appears twice")
            seen.add(name)
            params["summary_path"] = str(GENERATED / "status" / f"run__{name}.summary.json")
            runs.append(Job(name, "run", EXPERIMENT, params, f"{params['model']} on {dataset}"))
    if not runs:
        raise ValueError(f"{path}: no runs listed")
    chapter_params = spec.get("chapters") or {}
    unknown = set(chapter_params) - {c[0] for c in CHAPTERS}
    if unknown:
        raise ValueError(f"{path}: chapters: unknown chapter(s) {sorted(unknown)}")
    for name, params in chapter_params.items():
        if not isinstance(params or {}, dict):
            raise ValueError(f"{path}: chapters: {name} must be a mapping of parameters")
        check_plain(params or {}, f"{path}: chapters: {name}")
    results_dir = defaults.get("results_dir", "results")
    chapters = {}
    for name, source, title in CHAPTERS:
        params = dict(chapter_params.get(name) or {})
        if name in AFTER_RUNS:
            params.setdefault("results_dir", results_dir)
        chapters[name] = Job(name, "chapter", Path(source), params, title)
    first = [j for n, j in chapters.items() if n not in AFTER_RUNS]
    return first + runs + [chapters[n] for n in chapters if n in AFTER_RUNS]
