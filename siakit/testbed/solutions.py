"""Our templated human-style solutions for the testbed: one operation per line, each line checkable.

A chain "4 - 1 + 7" is solved left to right, one operation per line, then the answer cue:

    chain_solution("4 - 1 + 7")  -> Solution(text="4 - 1 = 3\\n3 + 7 = 10\\nThe answer is 10.",
                                             answer="10", slipped_step=None)

Humans slip, and the toy world's human traces do too (siakit.training.toy.humans): with probability
`slip_rate` one line's result is wrong (off by one or two, a dropped ten, or a lost sign), and every
later line carries the wrong total forward correctly, so the final answer is wrong and the wrong step
is known. `check_line` verifies any line of this form, so a model's traces are checkable step by step.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

CUE_LINE = "The answer is {}."
SLIP_OFFSETS = (1, -1, 2, -2, 10, -10)   # arithmetic slips; a sign slip (r -> -r) is the other kind
_TOKEN = re.compile(r"-?\d+|[+-]")
_LINE = re.compile(r"^\s*(-?\d+)\s*([+-])\s*(\d+)\s*=\s*(-?\d+)\s*$")


@dataclass
class Solution:
    text: str                 # the lines joined by "\n", ending "The answer is N."
    answer: str               # the final number the solution states
    slipped_step: int | None  # 1-based line index of the slip (None: a correct solution)


def parse_chain(expression: str) -> tuple[int, list[tuple[str, int]]]:
    """"4 - 1 + 7" -> (4, [("-", 1), ("+", 7)]); a clear error for anything else."""
    tokens = _TOKEN.findall(expression)
    if len(tokens) < 3 or len(tokens) % 2 == 0 or "".join(tokens) != expression.replace(" ", ""):
        raise ValueError(f"not a +/- chain of integers: {expression!r}")
    ops = list(zip(tokens[1::2], map(int, tokens[2::2])))
    if any(op not in "+-" for op, _ in ops):
        raise ValueError(f"not a +/- chain of integers: {expression!r}")
    return int(tokens[0]), ops


def _slip(value: int, rng: random.Random) -> int:
    """A wrong result near `value`: off by 1, 2 or 10, or the sign lost. Never equal to `value`."""
    if value != 0 and rng.random() < 0.2:
        return -value
    return value + rng.choice(SLIP_OFFSETS)


def chain_solution(expression: str, rng: random.Random | None = None, slip_rate: float = 0.0) -> Solution:
    """Solve the chain one operation per line; with probability `slip_rate` one line slips."""
    if not 0.0 <= slip_rate <= 1.0:
        raise ValueError(f"slip_rate must be in [0, 1], got {slip_rate}")
    total, ops = parse_chain(expression)
    rng = rng or random.Random(0)
    slip_at = rng.randrange(len(ops)) if rng.random() < slip_rate else None
    lines = []
    for i, (op, value) in enumerate(ops):
        result = total + value if op == "+" else total - value
        if i == slip_at:
            result = _slip(result, rng)
        lines.append(f"{total} {op} {value} = {result}")
        total = result
    lines.append(CUE_LINE.format(total))
    return Solution("\n".join(lines), str(total), None if slip_at is None else slip_at + 1)


def check_line(line: str) -> bool | None:
    """True/False for a line "a +/- b = r" whose arithmetic is right/wrong; None for any other line.

    check_line("4 - 1 = 3") -> True;  check_line("2 - 9 = -5") -> False;  check_line("The answer is 3.") -> None
    """
    m = _LINE.match(line)
    if not m:
        return None
    a, op, b, r = int(m[1]), m[2], int(m[3]), int(m[4])
    return (a + b if op == "+" else a - b) == r


def first_wrong_line(text: str) -> int | None:
    """1-based index of the first line whose arithmetic is wrong (None: every checkable line is right).

    first_wrong_line("4 - 1 = 3\\n3 + 7 = 11\\nThe answer is 11.") -> 2
    """
    for i, line in enumerate(text.splitlines(), 1):
        if check_line(line) is False:
            return i
    return None


def solution_for(problem, rng: random.Random, slip_rate: float) -> Solution:
    """A templated solution of a testbed problem (chain_sum only: the one task we write solutions for)."""
    meta = getattr(problem, "entry", {}).get("metadata", {})
    if meta.get("source_dataset") != "chain_sum":
        raise ValueError(f"problem {problem.id}: solution templates exist for chain_sum only, "
                         f"not {meta.get('source_dataset') or problem.dataset!r}")
    return chain_solution(meta["expression"], rng, slip_rate)
