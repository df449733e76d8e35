"""The `Problem` record, its errors and the field parsers that every reader of problems shares
(`siakit.data.problems` for the benchmarks and JSONL, `siakit.data.tables` for tables).

    Problem(id="p1", dataset="jsonl:p.jsonl", question="What is 2 + 3?", gold="5")
    relabel_choices({"label": ["1", "2"], "text": ["x", "y"]}, "2", "p.jsonl:1") -> ([("A", "x"), ("B", "y")], "B")
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from siakit.data.answers import normalize_number


@dataclass
class Problem:
    id: str                                     # unique within a dataset split; names it in errors
    dataset: str                                # "gsm8k", "arc-easy", ..., or "jsonl:PATH"
    question: str                               # the problem text shown to the model
    gold: str                                   # plain gold answer: "42", "3.5" or a label "B"
    choices: list[tuple[str, str]] | None = None  # [(label, text)], labels A, B, C, ...; None if open


class ProblemFormatError(ValueError):
    """A malformed problem record; the message names the file:line (or hub row) and the field."""


class DataNotFoundError(FileNotFoundError):
    """No source had the requested data; the message lists every place tried and why it failed."""


def relabel_choices(raw, gold: str, where: str) -> tuple[list[tuple[str, str]], str]:
    """Relabel options A, B, C, ... by position and map the gold label the same way.

        ({"label": ["1","2","3"], "text": ["x","y","z"]}, "2") -> ([("A","x"),("B","y"),("C","z")], "B")
    """
    if isinstance(raw, dict):
        labels, texts = raw.get("label"), raw.get("text")
        if not isinstance(labels, list) or not isinstance(texts, list) or len(labels) != len(texts):
            raise ProblemFormatError(f"{where}: field 'choices' needs lists 'label' and 'text' of equal length")
        pairs = list(zip(labels, texts))
    elif isinstance(raw, list) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in raw):
        pairs = [tuple(p) for p in raw]
    else:
        raise ProblemFormatError(f"{where}: field 'choices' must be {{'label': [...], 'text': [...]}} or [[label, text], ...]")
    labels = [str(label).strip() for label, _ in pairs]
    if len(pairs) < 2 or len(pairs) > 26 or len(set(labels)) != len(labels):
        raise ProblemFormatError(f"{where}: field 'choices' needs 2-26 distinct labels, got {labels}")
    if str(gold).strip() not in labels:
        raise ProblemFormatError(f"{where}: field 'gold'/'answerKey' {gold!r} is not one of the labels {labels}")
    new = [chr(ord("A") + i) for i in range(len(pairs))]
    return [(n, str(text)) for n, (_, text) in zip(new, pairs)], new[labels.index(str(gold).strip())]


def number_field(value, key: str, where: str) -> str:
    """A numeric gold in its normalised form, or a ProblemFormatError naming `where` and `key`.

        (" 1,000 ", "gold", "p.jsonl:3") -> "1000";  ("nan", "gold", "p.jsonl:3") -> ProblemFormatError
    """
    if isinstance(value, float) and not math.isfinite(value) or (
            isinstance(value, str) and value.strip().lower().lstrip("+-") in ("nan", "inf", "infinity")):
        raise ProblemFormatError(f"{where}: field '{key}' is not a finite number ({value!r})")
    gold = normalize_number(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None
    if gold is None:
        raise ProblemFormatError(f"{where}: field '{key}' is not a number ({value!r})")
    return gold
