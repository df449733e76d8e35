"""GSM8K calculator annotations `<<expr=result>>`: found, evaluated exactly, checked, and numbers written
back in the style of the text (thousands commas, fixed decimals). The ground on which a solution is
corrupted (siakit.human.corruption).

    check_calcs(["3 + 4 = <<3+4=7>>7", "7 * 2 = <<7*2=15>>15"]) -> [1]   (the second is wrong)
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from fractions import Fraction

CALC = re.compile(r"<<([^<>=]*)=([^<>]*)>>")  # a calculator annotation: <<expr=result>>
# A number as written in text: thousands groups ("130,000"), decimals; no sign (a "-" is an operator).
NUMBER = re.compile(r"(?<![\d.])(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?![\d])")


@dataclass
class Calc:
    line: int            # index of the solution line (non-empty lines, `####` line excluded)
    start: int           # span of "<<...>>" within that line
    end: int
    expr: str            # left of "=", e.g. "16-3-4"
    result: Fraction | None  # right of "=", parsed (None: not a number)
    value: Fraction | None   # expr evaluated exactly (None: not parsable)


def to_fraction(text: str) -> Fraction | None:
    """Exact value of a written number, or None.  to_fraction("1,200.50") -> Fraction(2401, 2)"""
    text = text.strip().replace(",", "").replace("$", "")
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def evaluate(expr: str) -> Fraction | None:
    """Exact value of an arithmetic expression (+ - * / ** and parentheses), or None.

    evaluate("16-3-4") -> Fraction(9, 1);  evaluate("10/4") -> Fraction(5, 2);  evaluate("x+1") -> None
    """
    text = expr.replace(",", "").replace("$", "").replace("\u00d7", "*").replace("x", "*").strip()
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return None

    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return to_fraction(repr(node.value)) if isinstance(node.value, float) else Fraction(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = walk(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            a, b = walk(node.left), walk(node.right)
            op = type(node.op)
            if op is ast.Add:
                return a + b
            if op is ast.Sub:
                return a - b
            if op is ast.Mult:
                return a * b
            if op is ast.Div:
                return a / b
            if op is ast.Pow and b.denominator == 1 and abs(b) <= 10:
                return a ** int(b)
        raise ValueError("unsupported")

    try:
        return walk(tree)
    except (ValueError, ZeroDivisionError, TypeError):
        return None


def fmt(value: Fraction, like: str = "") -> str | None:
    """A Fraction written as a finite decimal, in the style of the token `like` (thousands commas,
    fixed decimals), or None if it has no finite decimal form.

    fmt(Fraction(5, 2)) -> "2.5";  fmt(Fraction(140000), like="130,000") -> "140,000";
    fmt(Fraction(19), like="18.00") -> "19.00";  fmt(Fraction(1, 3)) -> None
    """
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    if den != 1:
        return None
    decimals = 0
    while (value * 10 ** decimals).denominator != 1:
        decimals += 1
    if "." in like:
        decimals = max(decimals, len(like.split(".")[1]))
    scaled = abs(value) * 10 ** decimals
    whole, frac = divmod(int(scaled), 10 ** decimals)
    text = f"{whole:,}" if "," in like else str(whole)
    if decimals:
        text += "." + str(frac).rjust(decimals, "0")
    return ("-" if value < 0 else "") + text


def body_lines(answer_field: str) -> list[str]:
    """The solution's non-empty lines before the `####` line, stripped (annotations kept)."""
    body = answer_field.rsplit("####", 1)[0]
    return [line.strip() for line in body.splitlines() if line.strip()]


def parse_calcs(lines: list[str]) -> list[Calc]:
    """Every calculator annotation of the lines, in reading order."""
    return [Calc(i, m.start(), m.end(), m.group(1), to_fraction(m.group(2)), evaluate(m.group(1)))
            for i, line in enumerate(lines) for m in CALC.finditer(line)]


def values_in(text: str) -> list[Fraction]:
    """The numbers written in `text`, exactly.  values_in("3 apples at $1,200.5") -> [3, 2401/2]"""
    return [v for v in (to_fraction(t) for t in NUMBER.findall(text)) if v is not None]


def _shown(line: str, calc: Calc) -> Fraction | None:
    """The number written right after an annotation ("<<9*2=18>>18", "<<..>>$18"), if any."""
    m = re.match(r"\s*\$?\s*(" + NUMBER.pattern + ")", line[calc.end:])
    return to_fraction(m.group(1)) if m else None


def check_calcs(lines: list[str]) -> list[int]:
    """Indices of annotations that are wrong: the expression does not evaluate to the result, or the
    number written after it differs from the result. A clean corruption has exactly one.

    check_calcs(["3 + 4 = <<3+4=7>>7", "7 * 2 = <<7*2=15>>15"]) -> [1]
    """
    return [i for i, c in enumerate(parse_calcs(lines))
            if c.value is None or c.result is None or c.value != c.result or _shown(lines[c.line], c) != c.result]
