"""Your own problems in any format `datasets` reads offline, with your own column names.

A dataset spec is a table when it is
  - a file `*.csv`, `*.tsv`, `*.parquet`, `*.arrow` (Arrow IPC stream), `*.jsonl` / `*.json`;
  - a folder written by `Dataset.save_to_disk` / `DatasetDict.save_to_disk` (a DatasetDict gives the
    split named by `--split`), or any other folder of such files (`datasets` infers the builder);
  - `hf:NAME[:CONFIG]:SPLIT` (or `hf:NAME`, split from `--split`): the Hugging Face hub through the
    `datasets` cache, so with `HF_HUB_OFFLINE=1` a dataset downloaded once before still loads.
`jsonl:PATH` keeps its own strict format (siakit.data.problems); a bare `my.jsonl` is read here.

Columns are named by `Fields` (`--question-field`, `--answer-field`, `--choices-field`, `--id-field`):

    >>> getfixture("monkeypatch").chdir(getfixture("tmp_path"))     # (the example writes into a fresh folder)
    >>> _ = open("my.csv", "w").write("q,a\\n1 + 1?,2\\n")
    >>> load_table("my.csv", fields=Fields(question="q", answer="a"))
    [Problem(id='my-0', dataset='my.csv', question='1 + 1?', gold='2', choices=None)]
    >>> load_table("my.csv", fields=Fields(question="text"))
    Traceback (most recent call last):
    siakit.data.records.ProblemFormatError: my.csv: no column 'text' (--question-field); its columns: q, a

A choices cell is {"label": [...], "text": [...]} (ARC's form), [[label, text], ...], a list of option
texts (labelled A, B, ... by position; the gold may be a label or an option's text), or a JSON string of
one of these (CSV cells). Options are relabelled A, B, C, ... as everywhere else. Open problems need a
numeric gold, because grading is numeric.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from siakit.data.records import Problem, ProblemFormatError, number_field, relabel_choices

HF_PREFIX = "hf:"
# file suffix -> (datasets packaged builder, its keyword arguments)
BUILDERS = {".csv": ("csv", {}), ".tsv": ("csv", {"delimiter": "\t"}), ".parquet": ("parquet", {}),
            ".pq": ("parquet", {}), ".arrow": ("arrow", {}), ".jsonl": ("json", {}), ".json": ("json", {})}


@dataclass(frozen=True)
class Fields:
    question: str | None = None   # column of the problem text; None: "question"
    answer: str | None = None     # column of the gold answer; None: "gold", else "answer"
    choices: str | None = None    # column of the options; None: "choices" if present (else open problems)
    id: str | None = None         # column of a unique id; None: "id" if present, else "<file stem>-<row>"

    @classmethod
    def of(cls, value) -> "Fields":
        """A Fields from None, a Fields, or a dict {"question": "q", ...} (unknown keys are an error)."""
        if value is None or isinstance(value, cls):
            return value or cls()
        unknown = sorted(set(value) - {"question", "answer", "choices", "id"})
        if unknown:
            raise ValueError(f"fields: unknown key(s) {unknown}; use question, answer, choices, id")
        return cls(**value)


def is_table(dataset: str) -> bool:
    """Whether `dataset` is read by this module.

        is_table("my.csv") -> True;  is_table("hf:openai/gsm8k:main:test") -> True;  is_table("gsm8k") -> False
    """
    if dataset.startswith(HF_PREFIX):
        return True
    if dataset.startswith(("jsonl:", "rg:")) or dataset in ("gsm8k", "svamp", "arc-easy", "arc-challenge"):
        return False
    path = Path(dataset).expanduser()
    return path.suffix.lower() in BUILDERS or path.is_dir()


def parse_hf(spec: str, split: str = "test") -> tuple[str, str | None, str]:
    """`hf:NAME[:CONFIG]:SPLIT` -> (name, config, split); `hf:NAME` takes `split`.

        parse_hf("hf:openai/gsm8k:main:test") -> ("openai/gsm8k", "main", "test")
        parse_hf("hf:org/name:train") -> ("org/name", None, "train")
    """
    parts = spec[len(HF_PREFIX):].split(":")
    if not parts[0] or len(parts) > 3 or not all(parts):
        raise ValueError(f"dataset {spec!r}: write hf:NAME[:CONFIG]:SPLIT, e.g. hf:openai/gsm8k:main:test")
    if len(parts) == 1:
        return parts[0], None, split
    return parts[0], (parts[1] if len(parts) == 3 else None), parts[-1]


def _datasets():
    try:
        import datasets  # lazy: heavy, and only tables need it
    except ImportError as e:
        raise ImportError(f"reading data files needs `datasets`: pip install 'siakit[data]' ({e})") from None
    datasets.disable_progress_bars()
    return datasets


def read_rows(spec: str, split: str = "test") -> tuple[list[dict], list[str]]:
    """The rows (plain dicts) and column names of a table spec, in file order."""
    datasets = _datasets()
    if spec.startswith(HF_PREFIX):
        name, config, split = parse_hf(spec, split)
        try:
            table = datasets.load_dataset(name, config, split=split)
        except Exception as e:  # noqa: BLE001 - offline and not cached, unknown split ...: one line
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise FileNotFoundError(
                f"{spec}: not in the datasets cache and not reachable ({type(e).__name__}: {first}); "
                "download it once online, or save it to a file or folder and give that path") from None
        return table.to_list(), list(table.column_names)
    path = Path(spec).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"dataset file not found: {spec}")
    if path.is_dir():
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
            table = datasets.load_from_disk(str(path))
            if isinstance(table, datasets.DatasetDict):
                if split not in table:
                    raise ValueError(f"{spec}: a saved DatasetDict without split {split!r}; its splits: "
                                     f"{', '.join(table)} (use --split)")
                table = table[split]
        else:
            table = datasets.load_dataset(str(path), split="train")
    else:
        from siakit.reading import check_input

        check_input(path, "dataset file")  # a regular file: no device, pipe or socket (siakit.reading)
        builder, kwargs = BUILDERS[path.suffix.lower()]
        try:
            table = datasets.load_dataset(builder, data_files=str(path), split="train", **kwargs)
        except Exception as e:  # noqa: BLE001 - a malformed file: name it, one line
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ValueError(f"{spec}: cannot read as {builder} ({type(e).__name__}: {first})") from None
    return table.to_list(), list(table.column_names)


def _column(columns: list[str], given: str | None, defaults: tuple[str, ...], flag: str, spec: str,
            required: bool = True) -> str | None:
    """The column to read: the given one (which must exist) or the first default that exists."""
    if given is not None:
        if given not in columns:
            raise _format_error(f"{spec}: no column '{given}' ({flag}); its columns: {', '.join(columns)}")
        return given
    found = next((c for c in defaults if c in columns), None)
    if found is None and required:
        raise _format_error(f"{spec}: no column {' or '.join(repr(c) for c in defaults)} (set {flag}); "
                            f"its columns: {', '.join(columns)}")
    return found


def _format_error(message: str):
    return ProblemFormatError(message)


def _choices_cell(raw, gold, where: str):
    """A choices cell in any of the accepted forms -> (raw for records.relabel_choices, gold label)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise _format_error(f"{where}: choices cell is text but not JSON ({raw[:40]!r})") from None
    if isinstance(raw, list) and raw and all(isinstance(t, str) for t in raw):
        labels = [chr(ord("A") + i) for i in range(len(raw))]
        gold_text = str(gold).strip()
        if gold_text not in labels and gold_text in [t.strip() for t in raw]:
            gold = labels[[t.strip() for t in raw].index(gold_text)]
        raw = {"label": labels, "text": raw}
    return raw, gold


def load_table(spec: str, split: str = "test", fields=None) -> list:
    """Every problem of a table spec (see the module docstring), in file order, as `Problem`s."""
    fields = Fields.of(fields)
    rows, columns = read_rows(spec, split)
    if not rows:
        raise ProblemFormatError(f"{spec}: no problems (the table is empty)")
    question = _column(columns, fields.question, ("question",), "--question-field", spec)
    answer = _column(columns, fields.answer, ("gold", "answer"), "--answer-field", spec)
    choices = _column(columns, fields.choices, ("choices",), "--choices-field", spec, required=False)
    ident = _column(columns, fields.id, ("id",), "--id-field", spec, required=False)
    stem = spec[len(HF_PREFIX):].replace("/", "--") if spec.startswith(HF_PREFIX) else Path(spec).stem
    problems, first = [], {}
    for i, row in enumerate(rows):
        where = f"{spec} row {i}"
        pid = str(row[ident]) if ident and row.get(ident) is not None else f"{stem}-{i}"
        text = row.get(question)
        if not isinstance(text, str) or not text.strip():
            raise ProblemFormatError(f"{where}: column '{question}' is empty or not text ({text!r})")
        gold = row.get(answer)
        if gold is None:
            raise ProblemFormatError(f"{where}: column '{answer}' is empty")
        if choices and row.get(choices) not in (None, "", []):
            raw, gold = _choices_cell(row[choices], gold, where)
            options, label = relabel_choices(raw, str(gold), where)
            problems.append(Problem(pid, spec, text.strip(), label, options))
        else:
            problems.append(Problem(pid, spec, text.strip(), number_field(gold, answer, where)))
        if pid in first:
            raise ProblemFormatError(f"{where}: duplicate problem id '{pid}' (first at row {first[pid]})")
        first[pid] = i
    if len({p.choices is None for p in problems}) > 1:
        raise ProblemFormatError(f"{spec}: mixes multiple-choice and open problems; use one kind per file")
    return problems


FLAG_HELP = {  # the four column flags of `siakit run` / `siakit generate`
    "question_field": "table datasets: column of the question (default 'question')",
    "answer_field": "table datasets: column of the gold answer (default 'gold', else 'answer')",
    "choices_field": "table datasets: column of the options (default 'choices' when present)",
    "id_field": "table datasets: column of a unique id (default 'id' when present, else the row number)",
}


def fields_of(values) -> Fields | None:
    """Fields from an object or dict carrying `question_field` ... `id_field` (None when none is set)."""
    get = values.get if isinstance(values, dict) else lambda k: getattr(values, k, None)
    found = {k[:-len("_field")]: get(k) for k in FLAG_HELP}
    return Fields(**found) if any(v is not None for v in found.values()) else None
