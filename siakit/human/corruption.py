"""Corrupting a GSM8K human solution: one intermediate result changed and propagated (ours).

A GSM8K solution marks every calculation with a calculator annotation `<<expr=result>>`, followed by
the result as the reader sees it. That makes a *known* wrong step possible: change the result of one
calculation whose value is used later, then recompute every later calculation that uses it (and
everything downstream of those), rewriting the numbers the reader sees. The corrupted solution is
internally consistent except at the one wrong step, and its final answer is wrong:

    "She has 16 - 3 = <<16-3=13>>13 eggs.\\nShe sells 13 * 2 = <<13*2=26>>26 dollars.\\n#### 26"
 -> "She has 16 - 3 = <<16-3=14>>14 eggs.\\nShe sells 14 * 2 = <<14*2=28>>28 dollars."   final 28,
    wrong step: line 0 (every other annotation still evaluates to its result).

A problem has no *clean* corruption (and is skipped, with a reason) when an annotation cannot be
parsed, when a value to change also appears somewhere else (in the question, earlier in the
solution, or as another calculation's result), so that rewriting it could touch an unrelated
number, when the change does not reach the final answer, or when the propagated numbers stop
looking like the originals (an integer becoming a fraction, a count going negative). Limitation: a
result used later without an annotation *and* in a transformed form (a 0.5 reused as "50%") is not
propagated; the consistency check only sees annotated arithmetic.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

from siakit.data.answers import gsm8k_gold
from siakit.human.calcs import CALC, Calc  # noqa: F401  (re-exported: older imports)
from siakit.human.calcs import NUMBER, body_lines, check_calcs, evaluate, fmt, parse_calcs, to_fraction, values_in

MAX_DECIMALS = 2  # a propagated non-integer result may have at most this many decimals (money)
MULTIPLIERS = [1, 2, 3, 4, 5, 6, 7, 8, 9]  # |new - old| = multiplier x unit (see _unit)


@dataclass
class Corruption:
    lines: list[str]      # corrupted solution lines, annotations kept
    step: int             # index of the wrong line (0-based)
    calc: int             # index of the wrong annotation among all annotations
    old: str              # its true result ("13") and the written wrong one ("14")
    new: str
    final: str            # the corrupted final answer (differs from the gold)
    changed: dict = field(default_factory=dict)  # every rewritten value: {"13": "14", "26": "28"}


class NoCleanCorruption(ValueError):
    """The solution has no clean corruption; `reason` says why (one of a few short codes)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def _unit(value: Fraction) -> Fraction:
    """Size of a plausible slip: 1 for small integers, 10 for hundreds, 0.1 for 2.5, 0.01 for 0.25."""
    if value.denominator != 1:
        decimals = 0
        while (value * 10 ** decimals).denominator != 1:
            decimals += 1
        return Fraction(1, 10 ** decimals)
    return Fraction(10) ** max(0, len(str(abs(value.numerator))) - 2)


def _substitute(text: str, mapping: dict) -> str:
    """Rewrite every number token of `text` whose value is a key of `mapping`, in the token's style."""
    def swap(m):
        value = to_fraction(m.group())
        return fmt(mapping[value], m.group()) if value in mapping else m.group()
    return NUMBER.sub(swap, text) if mapping else text


def _nice(new: Fraction, old: Fraction) -> bool:
    """A propagated value that looks like the original: integer stays integer, sign kept, few decimals."""
    if old.denominator == 1 and new.denominator != 1:
        return False
    if (old >= 0) != (new >= 0) or (old > 0 and new == 0):
        return False
    return fmt(new) is not None and len((fmt(new) + ".").split(".")[1]) <= max(MAX_DECIMALS, len((fmt(old) + ".").split(".")[1]))


def _propagate(lines, calcs, j, new_value, seen_before, all_values) -> Corruption:
    """Rewrite lines with annotation j's result set to `new_value`; raise NoCleanCorruption if unclean."""
    mapping: dict[Fraction, Fraction] = {}
    out = list(lines)
    for li in range(calcs[j].line, len(lines)):
        line, pieces, pos = lines[li], [], 0
        for i, c in ((i, c) for i, c in enumerate(calcs) if c.line == li):
            pieces.append(_substitute(line[pos:c.start], mapping))
            if i < j:
                pieces.append(line[c.start:c.end])
            else:
                expr = c.expr if i == j else _substitute(c.expr, mapping)
                value = new_value if i == j else evaluate(expr)
                if value is None:
                    raise NoCleanCorruption("unparsable", f"annotation {c.expr!r}")
                if value != c.result:
                    if c.result in mapping or seen_before[i] or not _nice(value, c.result) or value in all_values:
                        raise NoCleanCorruption("ambiguous", f"value {fmt(c.result)} -> {fmt(value)}")
                    mapping[c.result] = value
                pieces.append(f"<<{expr}={fmt(value)}>>")
            pos = c.end
        pieces.append(_substitute(line[pos:], mapping))
        out[li] = "".join(pieces)
    c = calcs[j]
    return Corruption(out, c.line, j, fmt(c.result), fmt(new_value), "",
                      {fmt(k): fmt(v) for k, v in mapping.items()})


class Sites(NamedTuple):
    """Where a solution can be corrupted cleanly, and what its rewrites must avoid."""
    candidates: list[int]     # indices of intermediate annotations that may be changed
    seen_before: list[bool]   # per annotation: its result appears before it ends (rewriting it is ambiguous)
    all_values: set           # every number of the question and the solution (a new value must be none)


def corruption_sites(lines: list[str], calcs: list, question: str) -> Sites:
    """The annotations whose result may change: used by a later annotation, unambiguous, and before
    any slip of the human's own (nothing after a slip can be changed)."""
    all_values = set(values_in(question)) | {v for line in lines for v in values_in(line)}
    # seen_before[i]: annotation i's result already appears before its own annotation ends (in the
    # question, earlier text or operands) or is another annotation's result: rewriting it is ambiguous.
    results = [c.result for c in calcs]
    seen_before = []
    for i, c in enumerate(calcs):
        earlier = "\n".join(lines[: c.line] + [lines[c.line][: c.start], c.expr])  # up to its "="
        seen_before.append(c.result in set(values_in(question)) | set(values_in(earlier))
                           or results.count(c.result) > 1)
    used_later = [any(c.result in values_in(d.expr) for d in calcs[i + 1:]) for i, c in enumerate(calcs)]
    wrong = check_calcs(lines)  # the human's own slips and roundings: nothing after them can be changed
    candidates = [i for i in range(len(calcs) - 1) if used_later[i] and not seen_before[i]
                  and not any(w >= i for w in wrong)]
    return Sites(candidates, seen_before, all_values)


def corrupt_solution(answer_field: str, question: str = "", seed: int | str = 0, max_tries: int = 40) -> Corruption:
    """One clean corruption of a GSM8K `answer` field (seeded), or NoCleanCorruption with a reason.

    The wrong annotation is an intermediate one (its value is used by a later annotation); its
    result moves by a multiple of a slip-sized unit; the change is propagated and must reach the
    final answer. `question` is the problem text (its numbers must not collide with changed values).
    """
    gold = to_fraction(gsm8k_gold(answer_field))
    lines = body_lines(answer_field)
    calcs = parse_calcs(lines)
    if len(calcs) < 2:
        raise NoCleanCorruption("too_few_calcs", f"{len(calcs)} annotation(s)")
    if any(c.value is None or c.result is None for c in calcs):
        raise NoCleanCorruption("unparsable", "an annotation is not plain arithmetic")
    sites = corruption_sites(lines, calcs, question)
    if not sites.candidates:
        raise NoCleanCorruption("no_intermediate", "no unambiguous intermediate result used later")
    if gold is None or gold != calcs[-1].result:
        raise NoCleanCorruption("final_not_last_calc", "the final answer is not the last annotation's result")
    return _first_clean(lines, calcs, sites, gold, random.Random(seed), max_tries)


def _first_clean(lines: list[str], calcs: list, sites: Sites, gold, rng: random.Random, max_tries: int) -> Corruption:
    """Try slip-sized changes at the candidate sites in a seeded order; the first whose propagation
    changes the final answer and leaves exactly one wrong annotation, else NoCleanCorruption."""
    candidates = list(sites.candidates)
    rng.shuffle(candidates)
    reasons, tries = [], 0
    for j in candidates:
        old = calcs[j].result
        deltas = [s * m * _unit(old) for m in MULTIPLIERS for s in (1, -1)]
        rng.shuffle(deltas)
        for delta in deltas:
            tries += 1
            if tries > max_tries:
                break
            new = old + delta
            if new in sites.all_values or not _nice(new, old):
                continue
            try:
                corruption = _propagate(lines, calcs, j, new, sites.seen_before, sites.all_values)
            except NoCleanCorruption as e:
                reasons.append(e.reason)
                continue
            if gold not in {to_fraction(k) for k in corruption.changed}:
                reasons.append("final_unchanged")
                continue
            if check_calcs(corruption.lines) != [j]:
                reasons.append("inconsistent")
                continue
            corruption.final = corruption.changed[fmt(gold)]
            return corruption
    reason = max(set(reasons), key=reasons.count) if reasons else "no_value"
    raise NoCleanCorruption(reason, f"{tries} tries")
