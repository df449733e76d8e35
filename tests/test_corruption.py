"""The corruption generator: one intermediate GSM8K result changed and propagated (siakit.human.corruption)."""
from __future__ import annotations

from fractions import Fraction

import pytest

from siakit.human.corruption import (NoCleanCorruption, body_lines, check_calcs, corrupt_solution, evaluate, fmt,
                               parse_calcs, to_fraction)

EGGS = ("She has 16 - 3 = <<16-3=13>>13 eggs left.\n"
        "She sells 13 * 2 = $<<13*2=26>>26 of eggs.\n#### 26")
EGGS_Q = "Janet has 16 eggs and eats 3. She sells each egg for $2. How much does she make?"

CHAIN = ("A box holds 2*3=<<2*3=6>>6 pens.\n"
         "With one more pen it holds 6+1=<<6+1=7>>7 pens.\n"
         "Ten boxes hold 7*10=<<7*10=70>>70 pens.\n#### 70")
CHAIN_Q = "A box has 2 rows of 3 pens and one more pen. How many pens are in 10 boxes?"

SALARY = ("He makes 2000*52=$<<2000*52=104000>>104,000 a year\n"
          "So the raise is worth .05*104,000=$<<.05*104000=5200>>5200\n"
          "So he makes 104,000+5200=$<<104000+5200=109200>>109,200 from his salary\n"
          "So in total he made 109,200+5,000=$<<109200+5000=114200>>114,200\n#### 114,200")
SALARY_Q = ("John makes $2000 a week, 52 weeks a year, and gets a 5% raise. He also gets a $5,000 bonus. "
            "How much does he make?")


def test_helpers_exact_arithmetic():
    assert evaluate("16-3-4") == 9 and evaluate("10/4") == Fraction(5, 2)
    assert evaluate(".05*104000") == 5200 and evaluate("(2+3)*4") == 20 and evaluate("3x4") == 12
    assert evaluate("a+1") is None and evaluate("1/0") is None
    assert to_fraction("1,200.50") == Fraction(2401, 2) and to_fraction("abc") is None
    assert fmt(Fraction(5, 2)) == "2.5" and fmt(Fraction(1, 3)) is None
    assert fmt(Fraction(140000), like="130,000") == "140,000" and fmt(Fraction(19), like="18.00") == "19.00"
    assert check_calcs(["3 + 4 = <<3+4=7>>7", "7 * 2 = <<7*2=15>>15"]) == [1]
    assert check_calcs(["3 + 4 = <<3+4=7>>8"]) == [0]  # the number shown must match the result too


def test_two_line_corruption_by_hand():
    for seed in range(6):
        c = corrupt_solution(EGGS, EGGS_Q, seed=seed)
        new = int(c.new)
        assert c.step == 0 and c.calc == 0 and c.old == "13" and new != 13 and new > 0
        assert c.lines[0] == f"She has 16 - 3 = <<16-3={new}>>{new} eggs left."  # the visible wrong step
        assert c.lines[1] == f"She sells {new} * 2 = $<<{new}*2={2 * new}>>{2 * new} of eggs."
        assert c.final == str(2 * new) and c.final != "26"
        assert c.changed == {"13": str(new), "26": str(2 * new)}
        assert check_calcs(c.lines) == [0]  # every line re-verified: only the corrupted one is wrong


def test_chain_propagates_through_every_later_line():
    seen = set()
    for seed in range(12):
        c = corrupt_solution(CHAIN, CHAIN_Q, seed=seed)
        seen.add(c.step)
        calcs = parse_calcs(c.lines)
        if c.step == 0:  # 6 -> x: 7 -> x + 1, 70 -> 10 (x + 1)
            x = int(c.new)
            assert calcs[1].expr == f"{x}+1" and calcs[1].result == x + 1
            assert calcs[2].expr == f"{x + 1}*10" and c.final == str(10 * (x + 1))
            assert c.lines[1].startswith(f"With one more pen it holds {x}+1=")
        else:  # 7 -> y: only the last line moves
            y = int(c.new)
            assert c.step == 1 and c.lines[0] == body_lines(CHAIN)[0]
            assert c.final == str(10 * y) and calcs[2].expr == f"{y}*10"
        assert c.final != "70" and check_calcs(c.lines) == [c.calc]
    assert seen == {0, 1}  # the seed picks among both intermediate results


def test_thousands_commas_and_decimals_kept():
    c = corrupt_solution(SALARY, SALARY_Q, seed=0)
    assert check_calcs(c.lines) == [c.calc]
    assert to_fraction(c.final) != 114200 and c.changed[fmt(Fraction(114200))] == c.final
    # every rewritten number keeps the writer's style: "104,000" style stays comma-grouped
    for old, new in c.changed.items():
        if int(old) >= 100000:
            assert any(fmt(Fraction(int(new)), like="1,000") in line for line in c.lines)
    # lines before the wrong one are untouched
    assert c.lines[: c.step] == body_lines(SALARY)[: c.step]


def test_seeded_and_reproducible():
    assert corrupt_solution(CHAIN, CHAIN_Q, seed=3) == corrupt_solution(CHAIN, CHAIN_Q, seed=3)
    assert corrupt_solution(CHAIN, CHAIN_Q, seed="0:gsm8k-test-1") == corrupt_solution(CHAIN, CHAIN_Q, seed="0:gsm8k-test-1")


@pytest.mark.parametrize("answer, question, reason", [
    ("So 3+4=<<3+4=7>>7.\n#### 7", "", "too_few_calcs"),
    # 13 also appears in the question: rewriting it could change an unrelated number
    (EGGS, "Janet has 16 eggs, eats 3 and has 13 friends.", "no_intermediate"),
    # the final answer is not the last annotation's result
    ("He has 2*3=<<2*3=6>>6.\nThen 6+1=<<6+1=7>>7.\nSo about 8.\n#### 8", "", "final_not_last_calc"),
    ("He has 2*y=<<2*y=6>>6.\nThen 6+1=<<6+1=7>>7.\n#### 7", "", "unparsable"),
])
def test_no_clean_corruption_is_skipped_with_a_reason(answer, question, reason):
    with pytest.raises(NoCleanCorruption) as info:
        corrupt_solution(answer, question)
    assert info.value.reason == reason


def test_real_gsm8k_corruptions_are_consistent(data_root, monkeypatch):
    monkeypatch.setenv("SIAKIT_DATA", str(data_root))
    from siakit.data.problems import load_records

    made = 0
    for problem, record in load_records("gsm8k", "test")[:60]:
        try:
            c = corrupt_solution(record["answer"], problem.question, seed=1)
        except NoCleanCorruption:
            continue
        made += 1
        assert check_calcs(c.lines) == [c.calc]
        assert to_fraction(c.final) != to_fraction(problem.gold)
        assert c.lines[: c.step] == body_lines(record["answer"])[: c.step]
        assert c.lines[c.step] != body_lines(record["answer"])[c.step]
    assert made >= 30  # most GSM8K solutions have a clean corruption (888 of 1319 with seed 0)
