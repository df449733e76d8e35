"""Benchmark problems (GSM8K, SVAMP, ARC, your own JSONL, or any table: siakit.data.tables) as one
`Problem` record.

Where data comes from, in order (the first place that has the file wins):
  1. `$SIAKIT_DATA`, 2. `./data`, 3. `../shared/data` (both relative to the working directory),
     each laid out as `gsm8k/{train,test}.jsonl`, `svamp/SVAMP.json`, `arc/ARC-{Easy,Challenge}-test.jsonl`;
  4. the Hugging Face hub through `datasets` (imported only when needed): `openai/gsm8k` (main),
     `ChilleD/SVAMP` (train + test = the same 1000 problems, sorted by ID), `allenai/ai2_arc`.
If all fail, one `DataNotFoundError` lists every place tried and why it failed.

    load_problems("arc-easy", n=2)   -> [Problem(id='Mercury_417466', dataset='arc-easy',
        question='Which statement best explains ...', gold='A', choices=[('A', 'Sunlight ...'), ...]), ...]
    load_problems("gsm8k", n=50, seed=0)   -> 50 seeded random GSM8K test problems, in file order
Option labels are always A, B, C, ... by position (ARC's "1".."4" become "A".."D", gold mapped alike).
A user's open (no-choices) problems need a numeric gold, because grading is numeric.
"""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

from siakit.data.answers import gsm8k_gold
from siakit.data.records import (DataNotFoundError, Problem, ProblemFormatError, number_field,  # noqa: F401
                                 relabel_choices)
from siakit.data.sources import source_for
from siakit.data.tables import is_table, load_table

DATASETS = ("gsm8k", "svamp", "arc-easy", "arc-challenge")
SPLITS = {"gsm8k": ("train", "test"), "svamp": ("test",),  # SVAMP is one 1000-problem test set
          "arc-easy": ("train", "validation", "test"), "arc-challenge": ("train", "validation", "test")}
LOCAL_FILES = {"gsm8k": "gsm8k/{split}.jsonl", "svamp": "svamp/SVAMP.json",
               "arc-easy": "arc/ARC-Easy-{split}.jsonl", "arc-challenge": "arc/ARC-Challenge-{split}.jsonl"}
HUB = {"gsm8k": ("openai/gsm8k", "main"), "svamp": ("ChilleD/SVAMP", None),
       "arc-easy": ("allenai/ai2_arc", "ARC-Easy"), "arc-challenge": ("allenai/ai2_arc", "ARC-Challenge")}
JSONL_PREFIX = "jsonl:"  # load_problems("jsonl:my/problems.jsonl") reads a user's own file
TESTBED_PREFIX = "rg:"   # load_problems("rg:chain_sum") generates testbed problems (a source: siakit.data.sources)


def data_roots() -> list[Path]:
    """Local data roots in search order: $SIAKIT_DATA (if set), ./data, ../shared/data."""
    roots = [Path(os.environ["SIAKIT_DATA"])] if os.environ.get("SIAKIT_DATA") else []
    return roots + [Path.cwd() / "data", Path.cwd().parent / "shared" / "data"]


def is_multiple_choice(dataset: str, fields=None) -> bool:
    """True for ARC; False for GSM8K/SVAMP and rg: testbed tasks; for "jsonl:PATH", whether its first
    record has choices; for a table (siakit.data.tables), whether its problems have choices."""
    source = source_for(dataset)
    if source is not None:
        return source.multiple_choice
    if is_table(dataset):
        return load_table(dataset, fields=fields)[0].choices is not None
    if dataset.startswith(JSONL_PREFIX):
        path = Path(dataset[len(JSONL_PREFIX):]).expanduser()
        for lineno, line in enumerate(read_text(path).splitlines(), 1):
            if line.strip():
                return _parse_user(_json(line, f"{path}:{lineno}"), dataset, f"{path}:{lineno}").choices is not None
        return False
    _check_name(dataset)
    return dataset.startswith("arc-")


def _check_name(dataset: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}, 'jsonl:PATH', 'rg:TASK', "
                         "a .csv/.tsv/.parquet/.arrow/.jsonl file, a save_to_disk folder or hf:NAME[:CONFIG]:SPLIT")


def _json(line: str, where: str):
    try:
        return json.loads(line)
    except json.JSONDecodeError as e:
        raise ProblemFormatError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None


def _field(record, key: str, where: str):
    if not isinstance(record, dict):
        raise ProblemFormatError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if key not in record or record[key] is None:
        raise ProblemFormatError(f"{where}: missing field '{key}'")
    return record[key]


def _text(record, key: str, where: str) -> str:
    value = _field(record, key, where)
    if not isinstance(value, str) or not value.strip():
        raise ProblemFormatError(f"{where}: field '{key}' is empty or not a string ({value!r})")
    return value.strip()


def _parse(dataset: str, record, index: int, split: str, where: str) -> Problem:
    """One raw record of a known benchmark -> Problem."""
    if dataset == "gsm8k":
        try:
            gold = gsm8k_gold(_text(record, "answer", where))
        except ValueError as e:
            raise ProblemFormatError(f"{where}: field 'answer': {e}") from None
        return Problem(f"gsm8k-{split}-{index}", dataset, _text(record, "question", where), gold)
    if dataset == "svamp":
        body, question = _text(record, "Body", where), _text(record, "Question", where)
        text = body if body.endswith(question) else f"{body.rstrip()} {question}"
        return Problem(str(_field(record, "ID", where)), dataset, text, number_field(_field(record, "Answer", where), "Answer", where))
    choices, gold = relabel_choices(_field(record, "choices", where), _field(record, "answerKey", where), where)
    return Problem(str(_field(record, "id", where)), dataset, _text(record, "question", where), gold, choices)


def _parse_user(record, dataset: str, where: str) -> Problem:
    """One line of a user's JSONL: id, question, gold, optional choices."""
    pid, question = _field(record, "id", where), _text(record, "question", where)
    gold = _field(record, "gold", where)
    if record.get("choices") is not None:
        choices, gold = relabel_choices(record["choices"], gold, where)
        return Problem(str(pid), dataset, question, gold, choices)
    return Problem(str(pid), dataset, question, number_field(gold, "gold", where))


def _read_local(path: Path) -> list[tuple[str, object]]:
    """[(where, raw record)] from a JSONL file or a JSON array file."""
    if path.suffix == ".json":
        records = _json(read_text(path), str(path))
        if not isinstance(records, list):
            raise ProblemFormatError(f"{path}: expected a JSON array of records")
        return [(f"{path} record {i}" + (f" (ID {r['ID']})" if isinstance(r, dict) and "ID" in r else ""), r)
                for i, r in enumerate(records)]
    return [(f"{path}:{n}", _json(line, f"{path}:{n}")) for n, line in enumerate(read_text(path).splitlines(), 1)
            if line.strip()]


def read_text(path: Path) -> str:
    """A UTF-8 text file (a leading byte-order mark is dropped); errors name the file.

        read_text(Path("p.jsonl"))  # ProblemFormatError: p.jsonl: not UTF-8 text (byte 0xe9 at offset 17)
    """
    from siakit import reading

    # checked (no device, pipe or folder) and read line by line under a line-length cap
    return reading.read_text(path, "problems file", error=ProblemFormatError)


def _read_hub(dataset: str, split: str) -> list[tuple[str, object]]:
    """[(where, raw record)] from the Hugging Face hub (needs `pip install datasets` and internet)."""
    import datasets  # lazy: heavy, optional, and offline machines never need it

    repo, config = HUB[dataset]
    if dataset == "svamp":  # the hub splits SVAMP 700/300; together they are the 1000 of SVAMP.json
        rows = [dict(r) for s in ("train", "test") for r in datasets.load_dataset(repo, split=s)]
        suffix = [str(r.get("ID", "")).rsplit("-", 1)[-1] for r in rows]  # "chal-17" -> "17"
        if all(s.isdigit() for s in suffix):  # otherwise keep the hub's order
            rows = [r for _, r in sorted(zip(map(int, suffix), rows), key=lambda t: t[0])]
    else:
        rows = [dict(r) for r in datasets.load_dataset(repo, config, split=split)]
    return [(f"hf:{repo}{'/' + config if config else ''} {split} row {i}", r) for i, r in enumerate(rows)]


def _load_user(spec: str) -> list[Problem]:
    path = Path(spec[len(JSONL_PREFIX):]).expanduser()
    if not os.path.lexists(path):
        raise FileNotFoundError(f"{spec}: no such file {path}")
    records = _read_local(path)
    if not records:
        raise ProblemFormatError(f"{path}: no problems (the file is empty)")
    problems = [_parse_user(r, spec, where) for where, r in records]
    first: dict[str, str] = {}
    for (where, _), problem in zip(records, problems):
        if problem.id in first:
            raise ProblemFormatError(f"{where}: duplicate problem id '{problem.id}' (first at {first[problem.id]})")
        first[problem.id] = where
    if len({p.choices is None for p in problems}) > 1:
        raise ProblemFormatError(f"{path}: mixes multiple-choice and open problems; use one kind per file")
    return problems


def load_problems(dataset: str, split: str = "test", n: int | None = None, seed: int | None = None,
                  fields=None) -> list[Problem]:
    """Problems of `dataset` ("gsm8k", "svamp", "arc-easy", "arc-challenge", "jsonl:PATH", a testbed
    task "rg:chain_sum": n spread over its difficulty ladder, see `siakit.testbed.tasks.load_testbed`,
    or a table: a CSV/TSV/parquet/Arrow/JSONL file, a save_to_disk folder or hf:NAME[:CONFIG]:SPLIT,
    read with the column names of `fields`, see `siakit.data.tables`).

    n=None: all. n given, seed=None: the first n in file order. n and seed given: a seeded random
    sample of n (random.Random(seed).sample), returned in file order. n above the size returns all.
    """
    if n is not None and (not isinstance(n, int) or n < 0):
        raise ValueError(f"load_problems: n must be a non-negative int or None, got {n!r}")
    source = source_for(dataset)
    if source is not None:  # generated, not read (the testbed's rg:TASK): it does its own split and n
        return source.load(dataset, split, n, seed)
    if dataset.startswith(JSONL_PREFIX):
        problems = _load_user(dataset)
    elif is_table(dataset):
        problems = load_table(dataset, split, fields)
    else:
        problems = [problem for problem, _ in load_records(dataset, split)]
    if n is None or n >= len(problems):
        return problems
    if seed is None:
        return problems[:n]
    keep = sorted(random.Random(seed).sample(range(len(problems)), n))
    return [problems[i] for i in keep]


def load_records(dataset: str, split: str = "test") -> list[tuple[Problem, dict]]:
    """Every problem of a known benchmark with the raw record it was parsed from, in file order (for
    fields a Problem does not keep, such as GSM8K's worked solution in record["answer"])."""
    _check_name(dataset)
    if split not in SPLITS[dataset]:
        raise ValueError(f"load_problems: {dataset} has no split {split!r}; use one of {SPLITS[dataset]}")
    return [(_parse(dataset, r, i, split, where), r) for i, (where, r) in enumerate(_find(dataset, split))]


def _find(dataset: str, split: str) -> list[tuple[str, object]]:
    tried = []
    for root in data_roots():
        path = root / LOCAL_FILES[dataset].format(split=split)
        if path.is_file():
            return _read_local(path)
        tried.append(f"  {path}: no such file")
    repo, config = HUB[dataset]
    try:
        return _read_hub(dataset, split)
    except ImportError as e:
        tried.append(f"  Hugging Face hub {repo}{' (' + config + ')' if config else ''} split {split}: "
                     f"package `datasets` not importable ({type(e).__name__}: {e})")
    except Exception as e:  # offline, unknown split, hub error ...: report with the rest, do not crash
        tried.append(f"  Hugging Face hub {repo}{' (' + config + ')' if config else ''} split {split}: "
                     f"{type(e).__name__}: {e}")
    raise DataNotFoundError(
        f"no data for {dataset} split {split}. Tried, in order:\n" + "\n".join(tried)
        + "\nSet SIAKIT_DATA to a folder laid out like /work/shared/data, or `pip install datasets` online.")
