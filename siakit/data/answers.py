"""Final answers: extract them from generated traces, normalise numbers, grade against gold.

Pure python (`re`, `decimal`, `fractions` only). Answers are plain texts: numbers normalised to
their shortest exact decimal form (`"1000"`, `"3.5"`, `"-2"`), option labels upper-case (`"B"`).

    >>> extract_answer("3 + 4 = 7. The answer is 7.")
    '7'
    >>> extract_answer("Cells are tiny, so the answer is (B).", ["A", "B", "C", "D"])
    'B'
    >>> grade("$1,000.00", "1000")
    True
"""
from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

# A number token: thousands groups must be exact ("1,000" yes, "3,4" no, read as 3 then 4); a minus
# sign only when not glued to a preceding digit ("5-3" is not -3).
_NUM = r"(?<![\d.])-?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
_NUM_RE = re.compile(_NUM)
_FRACTION_RE = re.compile(r"^\s*(-?\d+)\s*/\s*(\d+)\s*$")
# "The answer is X", "answer: X", "Final Answer is X", "answer = X" (case-insensitive cue word).
# The lookahead captures the rest of the line without consuming it, so a later cue on the same line
# ("The answer is 5. No, the answer is 6.") is still found.
_CUE_RE = re.compile(r"(?i:answer)\s*(?:(?i:is|would be|will be)\b\s*:?|:|=)[ \t*:]*(?=([^\n]*))")
_FRAC_RE = re.compile(r"\\d?frac\s*\{\s*(-?\d+)\s*\}\s*\{\s*(\d+)\s*\}")  # \frac{1}{2} -> 1/2
_BOXED_RE = re.compile(r"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
_TOL = 1e-6  # relative tolerance for numeric equality: only matters for fractions like 1/3


def _format_decimal(d: Decimal) -> str:
    """Decimal -> shortest exact text: Decimal('18.00') -> '18', Decimal('3.50') -> '3.5'."""
    if d == d.to_integral_value():
        return str(int(d))
    return format(d.normalize(), "f")


def normalize_number(s: str | int | float | None) -> str | None:
    """First number in `s` as a normalised string, or None when there is none.

    Strips currency signs, thousands commas, units/words, percent signs and trailing zeros;
    a bare fraction "a/b" is evaluated.

        "$18.00" -> "18"    "1,000 apples" -> "1000"    "3.50" -> "3.5"    "-7" -> "-7"
        "45%" -> "45"       "25.0" -> "25"              "3/4" -> "0.75"    "no idea" -> None
    """
    if s is None:
        return None
    if isinstance(s, bool):
        raise TypeError("normalize_number: got a bool, expected a string or number")
    if isinstance(s, (int, float)):
        if isinstance(s, float) and not math.isfinite(s):
            return None
        return _format_decimal(Decimal(repr(s)))
    text = str(s).replace("$", "").replace("\u2212", "-")  # unicode minus from some tokenizers
    frac = _FRACTION_RE.match(text)
    if frac:
        value = Fraction(int(frac.group(1)), int(frac.group(2))) if int(frac.group(2)) else None
        if value is None:
            return None
        if value.denominator == 1:
            return str(value.numerator)
        return _format_decimal(Decimal(format(float(value), ".12g")))
    match = _NUM_RE.search(text)
    if not match:
        return None
    try:
        return _format_decimal(Decimal(match.group(0).replace(",", "")))
    except InvalidOperation:  # pragma: no cover - the regex only admits valid decimals
        return None


def normalize_answer(text: str) -> str:
    """The form two answers are compared in: stripped text, numbers normalised.

    normalize_answer("$1,000.00") -> "1000"; normalize_answer(" B") -> "B".
    """
    stripped = str(text).strip()
    number = normalize_number(stripped) if any(ch.isdigit() for ch in stripped) else None
    return number if number is not None else stripped


def _label_pattern(labels: list[str]) -> str:
    return "(" + "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True)) + ")"


def _ends_with_option_list(lines: list[str], lab: str) -> bool:
    """Whether the last two lines are two different options written out ("C. Mars", "D) Venus").

        _ends_with_option_list(["Options:", "A. Sun", "B. Moon"], "([AB])") -> True
    """
    item = re.compile(r"^\(?" + lab + r"[.):]\s+\S")
    heads = [item.match(line) for line in lines[-2:]]
    return len(heads) == 2 and all(heads) and heads[0].group(1) != heads[1].group(1)


def _extract_choice(text: str, labels: list[str]) -> str | None:
    """Option label from a trace: cue, then \\boxed{}, then a label ending the trace."""
    lab = _label_pattern(labels)
    # 1. "answer is (B)", "answer: B", "answer is option C", "**Answer:** D" -> last one wins.
    cue = re.compile(
        r"(?i:answer)\**\s*(?:(?i:is|would be|will be)\b\s*:?|:|=)[ \t*:]*"
        r"(?:(?i:option|choice)\s*)?\(?" + lab + r"(?![A-Za-z0-9])"
    )
    found = cue.findall(text)
    if found:
        return found[-1]
    boxed = re.findall(r"\\boxed\s*\{\s*(?:\\text\{)?\(?" + lab + r"\)?\}?\s*\}", text)
    if boxed:
        return boxed[-1]
    # 2. the last line starts with a label: "B) microscope", "(B)", "B." or just "B" -- unless the text
    #    ends by listing the options ("C. Mars" / "D. Venus" on the last two lines): a model that only
    #    repeats the list has not answered, and its last letter is not its choice.
    lines = [line.strip(" *\t") for line in text.strip().splitlines() if line.strip(" *\t")]
    if _ends_with_option_list(lines, lab):
        return None
    if lines:
        head = re.match(r"^(?:\(" + lab + r"\)|" + lab + r"(?:[.):](?:\s|$)|$))", lines[-1])
        if head:
            return next(g for g in head.groups() if g)
    # 3. a standalone label closes the text: "... so it is B." / "... (C)".
    tail = re.search(r"(?<![A-Za-z0-9])\(?" + lab + r"\)?[.!]?\s*$", text)
    return tail.group(1) if tail else None


def _number_at(text: str, start: int) -> tuple[str, int] | None:
    """(normalised value, end index in `text`) of the first number in text[start:] on its line, or
    None. A number directly followed by "%" (or " percent") keeps the sign: "25%"."""
    line_end = text.find("\n", start)
    line = text[start: len(text) if line_end < 0 else line_end]
    clean = line.replace("$", " ").replace("\u2212", "-")  # same length: positions stay valid
    m = _NUM_RE.search(clean)
    if not m:
        return None
    value = normalize_number(m.group(0))
    if value is None:  # pragma: no cover - the regex only admits valid decimals
        return None
    end = start + m.end()
    if re.match(r"\s*(?:%|percent\b)", text[end:]):
        value += "%"
    return value, end


# What may follow the last number when no cue or box marks the answer: up to three unit words
# ("7 apples", "18 dollars per day") and an end of sentence, then nothing: the number closes the text.
_CLOSING_RE = re.compile(r"\s*(?:[A-Za-z]+\s*){0,3}[.!]?\s*$")


def extract_answer(text: str, choices: list[str] | None = None, truncated: bool = False) -> str | None:
    """Final answer of a generated trace, normalised, or None when there is no answer.

    Numeric (choices=None), the rules in order:
      1. the last "The answer is X" / "answer: X" or \\boxed{X}, whichever comes last;
      2. failing both, the last number of the text, but only when it closes the text: nothing after it
         but at most three unit words and an end of sentence ("so 3 + 4 = 7 apples."). A number in
         passing ("... 2.5% increase in the market", "25 students enrolled in dance, and the rest")
         is no answer;
      3. a percentage keeps its sign ("The answer is 60%." -> "60%", which `grade` accepts for a gold
         of 60 or of 0.6);
      4. `truncated=True` (generation stopped at its length cap): a number that touches the end of
         the text may be cut ("... The answer is 12" of 120) and counts for nothing, and so does
         rule 2 (the closing sentence is incomplete).
        "so 3*4=12. The answer is $12.00." -> "12"     "x = \\boxed{1,024}" -> "1024"
        "I get 5, then 7" -> "7"                      "I don't know" -> None
        "It rose by 25% in the first year and" -> None
    Multiple choice (choices = option labels, e.g. ["A","B","C","D"]): the label after an answer cue
    ("The answer is (B)", "answer: B"), inside \\boxed{}, starting the last line ("B) microscope"),
    or standing alone at the very end ("... so C."). Only listed labels count, matched case-sensitively
    (so the article "a" is never read as option A).
        ("The answer is (B).", ["A","B","C","D"]) -> "B"    ("Hmm.", ["A","B"]) -> None
    """
    if text is None:
        return None
    if choices is not None:
        labels = [str(c).strip() for c in choices if str(c).strip()]
        if not labels:
            raise ValueError("extract_answer: `choices` is empty; pass option labels like ['A','B']")
        return _extract_choice(text, labels)
    tail = len(text.rstrip())
    marks = []  # (position, normalised answer) for every parsable cue or box
    for m in _CUE_RE.finditer(text):
        found = _number_at(text, m.start(1))
        if found is not None and not (truncated and found[1] >= tail):
            marks.append((m.start(), found[0]))
    for m in _BOXED_RE.finditer(text):
        value = normalize_number(_FRAC_RE.sub(r"\1/\2", m.group(1)).strip())
        if value is not None and not (truncated and m.end() >= tail):
            marks.append((m.start(), value))
    if marks:
        return max(marks)[1]
    if truncated:
        return None
    clean = text.replace("$", " ")
    numbers = list(_NUM_RE.finditer(clean))
    if not numbers:
        return None
    last = numbers[-1]
    rest = text[last.end():]
    if rest.lstrip().startswith("%") or not _CLOSING_RE.match(rest):
        return None
    return normalize_number(last.group(0))


def _close(a: str, b: str) -> bool:
    x, y = Decimal(a), Decimal(b)
    return x == y or abs(x - y) <= Decimal(str(_TOL)) * max(Decimal(1), abs(y))


def grade(answer: str | None, gold: str, multiple_choice: bool = False) -> bool:
    """True when `answer` equals `gold`: labels case-insensitively, numbers after normalisation.
    A percentage answer ("60%") matches a gold of 60 or of 0.6 (as math-verify grades it).

        ("$1,000", "1000") -> True    ("25.0", "25") -> True    (None, "3") -> False
        ("60%", "0.6") -> True        ("60%", "60") -> True      ("60", "0.6") -> False
        ("b", "B", multiple_choice=True) -> True    ("(C)", "B", multiple_choice=True) -> False
    A gold that is not a number (numeric mode) raises ValueError: that is a data bug, not a miss.
    """
    if answer is None:
        return False
    if multiple_choice:
        return str(answer).strip().strip("()").upper() == str(gold).strip().strip("()").upper()
    gold_n = normalize_number(gold)
    if gold_n is None:
        raise ValueError(f"grade: gold {gold!r} is not a number (use multiple_choice=True for labels)")
    answer_n = normalize_number(answer)
    if answer_n is None:
        return False
    if _close(answer_n, gold_n):
        return True
    if str(answer).strip().endswith("%"):
        return _close(_format_decimal(Decimal(answer_n) / 100), gold_n)
    return False


def gsm8k_gold(answer_field: str) -> str:
    """The GSM8K final answer: text after the last '####', stripped, commas removed.

        "He has 36 - 5 = 31 left.\\n#### 31" -> "31"     "... #### 1,000" -> "1000"
    """
    if "####" not in answer_field:
        raise ValueError(f"gsm8k_gold: no '####' in answer field {answer_field[-80:]!r}")
    gold = answer_field.rsplit("####", 1)[1].strip().replace(",", "")
    if not gold:
        raise ValueError(f"gsm8k_gold: nothing after the last '####' in {answer_field[-80:]!r}")
    return gold


def grade_summary(answers: list[str | None], golds: list[str], multiple_choice: bool = False) -> dict:
    """Counts over a set of traces. An unparsable answer (None) is incorrect, and also counted in
    `unparsable` (so incorrect = n - correct, unparsable <= incorrect). accuracy = correct / n
    (NaN for n = 0).

        (["42", None, "7"], ["42", "1", "8"]) -> {n: 3, correct: 1, incorrect: 2, unparsable: 1,
                                                 accuracy: 0.333...}
    """
    answers, golds = list(answers), list(golds)
    if len(answers) != len(golds):
        raise ValueError(f"grade_summary: {len(answers)} answers but {len(golds)} golds")
    correct = sum(grade(a, g, multiple_choice) for a, g in zip(answers, golds))
    n = len(answers)
    return {
        "n": n,
        "correct": correct,
        "incorrect": n - correct,
        "unparsable": sum(a is None for a in answers),
        "accuracy": correct / n if n else float("nan"),
    }


_NUMBER_IN_TEXT = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")


def numbers_in(text: str) -> list[str]:
    """Normalised numbers in order of appearance: numbers_in("3 pens, 1,200 cats") -> ["3", "1200"]."""
    out = []
    for m in _NUMBER_IN_TEXT.finditer(text):
        value = normalize_number(m.group())
        if value is not None:
            out.append(value)
    return out


# Labels, not quantities: "Step 2", "step 2:", "Step #2", and list markers "2." / "2)" opening a line.
_LABEL_RE = re.compile(r"(?i:\bstep)\s*#?\s*\d+|(?m:^[ \t]*\d+[.)](?=\s))")


def mentioned_numbers(text: str) -> list[str]:
    """`numbers_in`, without step labels and list markers (they are not candidate answers).

    mentioned_numbers("Step 1: 3 + 5 = 8.\\n2. Then 8 * 2 = 16") -> ["3", "5", "8", "8", "2", "16"]
    """
    return numbers_in(_LABEL_RE.sub(lambda m: " " * len(m.group()), text))
