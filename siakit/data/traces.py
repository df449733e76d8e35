"""Reasoning traces: the record, step splitting, and the JSONL interchange format.

A trace file has one JSON object per line:

    {"id", "dataset", "model", "prompt", "steps": [...], "cue", "options": [...] | null,
     "gold", "answer", "correct"}

`prompt` is the exact text before the reasoning (chat template already applied) and
`prompt + "".join(steps)` is exactly the text the scorer tokenizes. `options` are the answer strings
scored after the cue (ARC: `" A"`, `" B"`, ...; numeric: `" 42"`, ...); `gold` and `answer` are plain
answer texts (`"B"`, `"42"`): the gold option is the option whose stripped text equals `gold`.
Extra keys are kept in `Trace.meta`.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from typing import Iterable, Iterator

from siakit.data.prompts import CUE
from siakit.files import atomic_write
from siakit.reading import read_lines

REQUIRED = ("id", "prompt", "steps")  # everything else has a sensible default


@dataclass
class Trace:
    id: str                      # unique within a file; names the trace in every error
    prompt: str                  # exact text before the reasoning (chat template applied)
    steps: list[str]             # verbatim step texts: prompt + "".join(steps) == full text
    dataset: str = ""            # e.g. "gsm8k", "arc-easy", or "" for user data
    model: str = ""              # model that generated the trace ("" for human traces)
    cue: str = CUE  # answer cue appended after each prefix by the readout
    options: list[str] | None = None  # answer strings scored after the cue, or None
    gold: str | None = None      # gold answer text ("B", "42"); matches one option after .strip()
    answer: str | None = None    # the trace's own extracted final answer (None: unparsable)
    correct: bool | None = None  # answer graded against gold (None: ungraded)
    meta: dict = field(default_factory=dict)  # any extra keys, round-tripped untouched

    @property
    def text(self) -> str:
        """The full scored text: prompt followed by every step."""
        return self.prompt + "".join(self.steps)

    def to_dict(self) -> dict:
        record = asdict(self)
        meta = record.pop("meta")
        return {**record, **meta}


class TraceFormatError(ValueError):
    """A malformed trace record; the message names the file, line and field."""


def parse_record(record: object, where: str) -> Trace:
    if not isinstance(record, dict):
        raise TraceFormatError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for key in REQUIRED:
        if key not in record:
            raise TraceFormatError(f"{where}: missing required field '{key}'")
    tid = record["id"]
    if not isinstance(tid, (str, int)) or str(tid) == "":
        raise TraceFormatError(f"{where}: field 'id' must be a non-empty string")
    if not isinstance(record["prompt"], str):
        raise TraceFormatError(f"{where} (trace {tid}): field 'prompt' must be a string")
    steps = record["steps"]
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        raise TraceFormatError(f"{where} (trace {tid}): field 'steps' must be a list of strings")
    options = record.get("options")
    if options is not None and (not isinstance(options, list) or not options
                                or not all(isinstance(o, str) and o for o in options)):
        raise TraceFormatError(
            f"{where} (trace {tid}): field 'options' must be null or a non-empty list of non-empty strings")
    if options is not None and len(set(options)) != len(options):
        raise TraceFormatError(f"{where} (trace {tid}): field 'options' has duplicates")
    for key in ("dataset", "model", "cue"):
        if key in record and not isinstance(record[key], str):
            raise TraceFormatError(f"{where} (trace {tid}): field '{key}' must be a string")
    for key in ("gold", "answer"):
        if record.get(key) is not None and (not isinstance(record[key], (str, int, float))
                                            or isinstance(record[key], bool)):
            raise TraceFormatError(f"{where} (trace {tid}): field '{key}' must be a string or null")
        if isinstance(record.get(key), float) and not math.isfinite(record[key]):
            # JSON's NaN/Infinity would be scored as the option " nan"/" inf": never what was meant
            raise TraceFormatError(f"{where} (trace {tid}): field '{key}' is {record[key]!r}, not a finite number")
    if record.get("correct") is not None and not isinstance(record["correct"], bool):
        raise TraceFormatError(f"{where} (trace {tid}): field 'correct' must be true, false or null")
    known = {f for f in Trace.__dataclass_fields__ if f != "meta"}
    return Trace(
        id=str(tid), prompt=record["prompt"], steps=list(steps),
        dataset=record.get("dataset", ""), model=record.get("model", ""),
        cue=record.get("cue", Trace.cue), options=options,
        gold=None if record.get("gold") is None else str(record["gold"]),
        answer=None if record.get("answer") is None else str(record["answer"]),
        correct=record.get("correct"),
        meta={k: v for k, v in record.items() if k not in known},
    )


def iter_traces(path: str | os.PathLike) -> Iterator[Trace]:
    """Yield traces from a JSONL file; a bad line raises naming `path:line` and the field."""
    path = Path(path)
    if not os.path.lexists(path):
        raise FileNotFoundError(f"traces file not found: {path}")
    seen: set[str] = set()
    # checked (no device, pipe or folder) and streamed with a line-length cap: siakit.reading
    for lineno, line in read_lines(path, "traces file", error=TraceFormatError):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise TraceFormatError(f"{where}: invalid JSON ({e.msg} at column {e.colno})") from None
        trace = parse_record(record, where)
        if trace.id in seen:
            raise TraceFormatError(f"{where}: duplicate trace id '{trace.id}'")
        seen.add(trace.id)
        yield trace


def read_traces(path: str | os.PathLike, allow_empty: bool = False) -> list[Trace]:
    """All traces of a JSONL file (see `iter_traces`); a file without any trace is an error naming it
    unless `allow_empty`."""
    traces = list(iter_traces(path))
    if not traces and not allow_empty:
        raise TraceFormatError(f"{path}: no traces (the file is empty)")
    return traces


def append_traces(path: str | os.PathLike, traces: Iterable[Trace]) -> None:
    """Append traces to a JSONL file, one flushed line each (a kill loses at most the line being written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for trace in traces:
            f.write(json.dumps(trace.to_dict(), ensure_ascii=False) + "\n")
            f.flush()


def write_traces(path: str | os.PathLike, traces: Iterable[Trace]) -> None:
    """Write traces atomically (temp file, then rename)."""
    traces = list(traces)
    atomic_write(path, lambda tmp: append_traces(tmp, traces))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def split_steps(text: str, min_lines: int = 3) -> list[str]:
    """Split generated reasoning into verbatim steps, so that `"".join(steps) == text`.

    Steps are lines (each keeps its trailing newline; blank lines stick to the step before). With
    fewer than `min_lines` non-empty lines, falls back to sentences.

    >>> split_steps("a\\nb\\n\\nc")
    ['a\\n', 'b\\n\\n', 'c']
    >>> split_steps("One. Two! Three")
    ['One. ', 'Two! ', 'Three']
    """
    if not text:
        return []
    pieces = text.splitlines(keepends=True)
    if sum(1 for p in pieces if p.strip()) < min_lines:
        cuts = [m.end() for m in _SENTENCE_END.finditer(text)]  # whitespace stays with the sentence before
        bounds = [0] + cuts + [len(text)]
        pieces = [text[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]
    steps: list[str] = []
    for piece in pieces:
        if steps and not piece.strip():
            steps[-1] += piece  # whitespace-only pieces belong to the step before
        else:
            steps.append(piece)
    if len(steps) > 1 and not steps[0].strip():
        steps[1] = steps[0] + steps[1]
        steps.pop(0)
    return steps
