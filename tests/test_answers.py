"""Answer extraction, number normalisation and grading on hand-written edge cases."""
import math

import pandas as pd
import pytest

from siakit.data.answers import extract_answer, grade, grade_summary, gsm8k_gold, normalize_number

ABCD = ["A", "B", "C", "D"]


@pytest.mark.parametrize("text, expected", [
    ("42", "42"), ("1,000", "1000"), ("1,234,567", "1234567"), ("3.50", "3.5"), ("$18.00", "18"),
    ("25.0", "25"), ("0.00", "0"), ("-7", "-7"), ("-3.25", "-3.25"), ("-0.0", "0"), ("45%", "45"),
    ("12.5%", "12.5"), ("18 dollars", "18"), ("about 7 apples", "7"), ("$ 1,000.50", "1000.5"),
    (".5", "0.5"), ("007", "7"), ("3/4", "0.75"), ("6/3", "2"), ("-1/2", "-0.5"), ("1/3", "0.333333333333"),
    ("\u22125", "-5"), ("no number", None), ("", None), (None, None), (25.0, "25"), (7, "7"), (2.5, "2.5"),
    (float("nan"), None), ("5-3", "5"), ("3,4", "3"), ("1/0", None),
])
def test_normalize_number(text, expected):
    assert normalize_number(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("3 + 4 = 7. The answer is 7.", "7"),
    ("The answer is $1,000.", "1000"),
    ("The answer is: 18 dollars", "18"),
    ("So the final answer is 12.50", "12.5"),
    ("Answer: 42", "42"),
    ("answer: -3", "-3"),
    ("**Answer:** 9", "9"),
    ("The answer is 5. Let me recheck... The answer is 6.", "6"),       # last cue wins
    ("The answer is 5, but \\boxed{6}", "6"),                           # the later marker wins
    ("\\boxed{6}. The answer is 7", "7"),
    ("so x = \\boxed{1,024}", "1024"),
    ("\\boxed{\\frac{1}{2}} hmm 3", "0.5"),                            # LaTeX fraction in a box
    ("\\boxed{\\text{none}} hmm 3", "3"),                              # unparsable box -> last number
    ("I get 5 apples, then 7 apples.", "7"),                          # no cue: last number
    ("The answer is 50%.", "50%"),                                    # a percentage keeps its sign
    ("It rose by 2.5% increase in the electronics", None),            # a percentage in passing
    ("So 25 students enrolled in hip-hop dance, and the rest in jazz", None),  # a number in passing
    ("The answer is 120.\n\nThe answer is 12", "12"),                   # complete text: the last cue
    ("The answer isn't 5, it's 6", "6"),                              # "isn't" is not a cue
    ("10 - 3 = 7", "7"),
    ("She pays $18.00 in total", "18"),
    ("The answer is the number of eggs, 16.", "16"),
    ("I cannot solve this.", None),
    ("", None),
    ("The answer is unknown", None),
])
def test_extract_numeric(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("The answer is 120.\n\nThe answer is 12", "120"),   # cut at the length cap: "12" may be "120"
    ("So, 950 + 950 = 1800", None),                     # no cue, and the closing sentence is cut
    ("The answer is 7. Let me check: 3 + 4 =", "7"),
    ("\\boxed{6}", None),
])
def test_extract_from_truncated_text(text, expected):
    assert extract_answer(text, truncated=True) == expected


@pytest.mark.parametrize("text, expected", [
    ("Cells are tiny, so the answer is (B).", "B"),
    ("The answer is C", "C"),
    ("answer: D", "D"),
    ("Answer: (A)", "A"),
    ("**Answer:** D", "D"),
    ("The correct answer is option C.", "C"),
    ("The answer is B. Wait, no. The answer is D.", "D"),
    ("\\boxed{C}", "C"),
    ("\\boxed{\\text{B}}", "B"),
    ("Let me think.\nB) microscope", "B"),
    ("Reasoning...\n(C) ruler", "C"),
    ("Reasoning...\nD.", "D"),
    ("so it must be A.", "A"),
    ("so it must be (C)", "C"),
    ("The answer is a bird", None),            # lower-case article is not option A
    ("A cell divides into two.", None),        # sentence starting with "A" is not a label
    ("The answer is E", None),                 # E is not among ABCD
    ("I am not sure.", None),
])
def test_extract_choice(text, expected):
    assert extract_answer(text, ABCD) == expected


def test_extract_choice_five_and_three_options():
    assert extract_answer("The answer is E.", list("ABCDE")) == "E"
    assert extract_answer("The answer is D.", list("ABC")) is None


def test_extract_choice_rejects_empty_labels():
    with pytest.raises(ValueError, match="choices"):
        extract_answer("The answer is A", [])


@pytest.mark.parametrize("answer, gold, mc, expected", [
    ("42", "42", False, True), ("$1,000", "1000", False, True), ("25.0", "25", False, True),
    ("3.50", "3.5", False, True), ("18 dollars", "18", False, True), ("-5", "5", False, False),
    ("41", "42", False, False), ("0.333333333333", "1/3", False, True), ("0.33", "1/3", False, False),
    ("no", "3", False, False), (None, "3", False, False), ("1000000", "1,000,000", False, True),
    ("b", "B", True, True), ("(C)", "C", True, True), ("C", "B", True, False), (None, "A", True, False),
    (" D ", "D", True, True), ("60%", "0.6", False, True), ("60%", "60", False, True), ("60", "0.6", False, False),
])
def test_grade(answer, gold, mc, expected):
    assert grade(answer, gold, multiple_choice=mc) is expected


def test_grade_bad_gold_names_it():
    with pytest.raises(ValueError, match="'B'"):
        grade("3", "B")


@pytest.mark.parametrize("field, expected", [
    ("He has 36 - 5 = <<36-5=31>>31 left.\n#### 31", "31"),
    ("x\n#### 1,000", "1000"),
    ("#### 3 #### -4", "-4"),
    ("####  7  \n", "7"),
])
def test_gsm8k_gold(field, expected):
    assert gsm8k_gold(field) == expected


@pytest.mark.parametrize("field", ["no marker 31", "text ####   "])
def test_gsm8k_gold_errors(field):
    with pytest.raises(ValueError, match="####"):
        gsm8k_gold(field)


def test_grade_summary_counts_unparsable_as_incorrect():
    s = grade_summary(["42", None, "7", "$8.00"], ["42", "1", "8", "8"])
    assert s == {"n": 4, "correct": 2, "incorrect": 2, "unparsable": 1, "accuracy": 0.5}
    mc = grade_summary(["A", "b", None], ["A", "C", "B"], multiple_choice=True)
    assert (mc["correct"], mc["incorrect"], mc["unparsable"]) == (1, 2, 1)
    assert math.isnan(grade_summary([], [])["accuracy"])
    with pytest.raises(ValueError, match="2 answers but 1 golds"):
        grade_summary(["1", "2"], ["1"])


def test_grading_cross_check_against_math_verify():
    import math_verify  # noqa: F401  (the `grading` extra, which `make install` installs: never a skip)
    from siakit.data.grading_check import compare_grading
    from siakit.data.traces import Trace

    traces = [Trace(id="pct", prompt="", steps=["So 3 of 5 is 60%.", " The answer is 60%."], gold="0.6",
                    answer="60", correct=False),
              Trace(id="passing", prompt="", steps=["Sales rose by 2.5% increase in the electronics"], gold="2.5",
                    answer="2.5", correct=True),
              Trace(id="cut", prompt="", steps=["The answer is 120.", "\nThe answer is 12"], gold="12", answer="12",
                    correct=True, meta={"n_new_tokens": 256}),
              Trace(id="mc", prompt="", steps=["B"], options=[" A", " B"], gold="B")]
    t = compare_grading(traces, max_new_tokens=256).set_index("id")
    assert list(t.index) == ["pct", "passing", "cut"]  # multiple choice is skipped
    assert t.at["pct", "correct"] and t.at["pct", "mv_correct"] and t.at["pct", "changed"]  # adopted
    assert pd.isna(t.at["passing", "answer"]) and not t.at["passing", "correct"] and t.at["passing", "mv_correct"]
    assert t.at["cut", "truncated"] and t.at["cut", "answer"] == "120" and not t.at["cut", "correct"]
    assert t["changed"].sum() == 3 and (~t["agree"]).sum() == 2


def test_a_trace_that_only_repeats_the_options_has_no_answer():
    labels = ["A", "B", "C", "D"]
    listing = "Which is a star?\nA. the Moon\nB. the Sun\nC. Mars\nD. Venus"
    assert extract_answer(listing, labels) is None  # not "D": the last letter of a list is no choice
    assert extract_answer(listing.replace("Which is a star?", "The answer is B."), labels) == "B"
    assert extract_answer("B) the Sun", labels) == "B" and extract_answer("A. Moon\nB. Sun\nB", labels) == "B"
