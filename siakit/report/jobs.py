"""The book's jobs: the chapters and the runs of a runs file, as the runner executes them.

    >>> jobs = load_runs(Path("runs/default.yml"), Path("."))   # chapters, one page per run, cross-run pages
    >>> jobs[0].name, jobs[0].kind, jobs[0].output               # from the repository root
    ('intro', 'chapter', PosixPath('book/generated/chapters/intro.ipynb'))

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
# Pages that read another page's results only near their end (the lineage chapter's side-by-side
# table reads the toy chapter's summary, after ~25 CPU minutes of its own work). With `--jobs N` such
# a page may start once those pages have *started*, and waits where it reads them until they have
# finished (`siakit.report.runner.wait_for_pages`); the sequential runner meets this by CHAPTERS' order.
READS = {"04_testbed_lineage": ("02_toy_world",)}
# Pages given a slot first with `--jobs N` (then CHAPTERS' order): the longest page, the lineage, is
# the book's critical path, so it starts at once, beside the page it reads.
FIRST = ("02_toy_world", "04_testbed_lineage")
PAGE_KEYS = {"n_show", "n_boot", "include_cut"}  # parameters of the experiment page itself, not of the run
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


MAX_NAME = 200  # characters of a model or dataset name (a page, a folder and a title are made of it)


def safe_loader():
    """PyYAML's safe loader, in C (libyaml) where installed: a 10 MB value parses in 0.2 s, not 8 s."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def refuse_aliases(text: str, path: Path) -> None:
    """Refuse YAML anchors and aliases (`&a`, `*a`): a few lines of them expand to gigabytes (an alias
    bomb) before any check could run. Only the event stream is read (linear in the text, no building).

        refuse_aliases("a: &x [1]\nb: *x\n", Path("runs.yml"))
        -> ValueError: runs.yml:1: YAML anchors and aliases (&x) are not allowed in a runs file; ...
    """
    import yaml

    for event in yaml.parse(text, Loader=safe_loader()):
        name = event.anchor if isinstance(event, yaml.AliasEvent) else getattr(event, "anchor", None)
        if name is not None:
            sign = "*" if isinstance(event, yaml.AliasEvent) else "&"
            raise ValueError(f"{path}:{event.start_mark.line + 1}: YAML anchors and aliases ({sign}{name:.40}) are "
                             "not allowed in a runs file; write each value out")


def check_run(config: RunConfig, where: str) -> RunConfig:
    """Every field of a runs-file entry, at load (so `--list-runs` already fails), naming the entry and
    the key: `RunConfig.validate()` on this machine's terms except the device's presence (a GPU runs
    file is listed on a laptop), plus names of at most MAX_NAME characters.

        check_run(RunConfig(n="four"), "runs.yml: runs[0]")
        -> ValueError: runs.yml: runs[0]: key 'n': n must be an integer >= 1 or 'all', got 'four'
    """
    from dataclasses import replace

    for key in ("model", "dataset"):
        value = getattr(config, key)
        if isinstance(value, str) and len(value) > MAX_NAME:
            raise ValueError(f"{where}: key '{key}': {len(value)} characters ({value[:40]!r}...); names are "
                             f"at most {MAX_NAME}")
    device = config.device
    try:
        import torch

        torch.device(device)
        replace(config, device="cpu").validate()
    except (ValueError, RuntimeError, TypeError) as e:
        message = str(e)
        key = message.split()[0].strip(":'") if message else ""
        key = key if key in RunConfig.keys() else next((k for k in RunConfig.keys() if f"'{k}'" in message
                                                        or message.startswith(k)), "device")
        raise ValueError(f"{where}: key '{key}': {message}") from None
    return config


def load_runs(path: Path, root: Path) -> list[Job]:
    """Jobs of a runs file, in execution order; a malformed file raises naming the file and the key."""
    spec = _read_spec(path)
    defaults = dict(spec.get("defaults") or {})
    runs, seen = [], set()
    for i, entry in enumerate(spec.get("runs") or []):
        runs += _entry_jobs(entry, defaults, f"{path}: runs[{i}]", seen)
    if not runs:
        raise ValueError(f"{path}: no runs listed")
    chapters = _chapter_jobs(spec.get("chapters") or {}, path, defaults.get("results_dir", RunConfig.results_dir),
                             defaults.get("estimator", RunConfig.estimator))
    first = [j for n, j in chapters.items() if n not in AFTER_RUNS]
    return first + runs + [chapters[n] for n in chapters if n in AFTER_RUNS]


def _read_spec(path: Path) -> dict:
    """The runs file's top-level mapping, its sections' shapes checked (values still unchecked)."""
    import yaml

    from siakit.reading import read_text

    if not path.exists():
        raise FileNotFoundError(f"runs file not found: {path}")
    text = read_text(path, "runs file")  # a regular file, UTF-8, lines under the cap
    try:
        refuse_aliases(text, path)
        spec = yaml.load(text, Loader=safe_loader()) or {}  # safe: plain tags only
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
    return spec


def _entry_jobs(entry, defaults: dict, where: str, seen: set) -> list[Job]:
    """The run jobs of one `runs` entry (one per dataset), checked; `seen` collects page names."""
    if not isinstance(entry, dict) or "model" not in entry:
        raise ValueError(f"{where}: each run needs a 'model'")
    for key in ("model", "dataset"):
        if isinstance(entry.get(key), str) and len(entry[key]) > MAX_NAME:
            raise ValueError(f"{where}: key '{key}': {len(entry[key])} characters ({entry[key][:40]!r}...); "
                             f"names are at most {MAX_NAME}")
    check_plain(entry, f"{where} (model {entry['model']!r:.60})")
    if set(entry) - RUN_KEYS or set(defaults) - RUN_KEYS:
        raise ValueError(f"{where}: unknown key(s) {sorted((set(entry) | set(defaults)) - RUN_KEYS)}")
    datasets = entry.get("datasets") or [entry.get("dataset")]
    if not all(isinstance(d, str) and d for d in datasets):
        raise ValueError(f"{where}: give 'dataset' or a non-empty list 'datasets'")
    jobs = []
    for dataset in datasets:
        params = {**defaults, **{k: v for k, v in entry.items() if k != "datasets"}, "dataset": dataset}
        check_run(RunConfig.from_dict({k: v for k, v in params.items() if k not in PAGE_KEYS}, where=where),
                  where)
        name = page_name(params["model"], dataset)
        if name in seen:
            raise ValueError(f"{where}: run {name} appears twice")
        seen.add(name)
        params["summary_path"] = str(GENERATED / "status" / f"run__{name}.summary.json")
        jobs.append(Job(name, "run", EXPERIMENT, params, f"{params['model']} on {dataset}"))
    return jobs


def _chapter_jobs(chapter_params: dict, path: Path, results_dir: str, estimator: str) -> dict[str, Job]:
    """One job per chapter, in CHAPTERS' order, with the runs file's `chapters` parameters; the chapters
    that read the runs' results get the runs' `results_dir` and their default `estimator`."""
    unknown = set(chapter_params) - {c[0] for c in CHAPTERS}
    if unknown:
        raise ValueError(f"{path}: chapters: unknown chapter(s) {sorted(unknown)}")
    for name, params in chapter_params.items():
        if not isinstance(params or {}, dict):
            raise ValueError(f"{path}: chapters: {name} must be a mapping of parameters")
        check_plain(params or {}, f"{path}: chapters: {name}")
    chapters = {}
    for name, source, title in CHAPTERS:
        params = dict(chapter_params.get(name) or {})
        if name in AFTER_RUNS:
            params.setdefault("results_dir", results_dir)
            params.setdefault("estimator", str(estimator).split(",")[0].strip())  # several scored: the first
        chapters[name] = Job(name, "chapter", Path(source), params, title)
    return chapters
