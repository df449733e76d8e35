"""Human reasoning traces read by a model: GSM8K test solutions in four variants (ours).

Each GSM8K test solution becomes traces in siakit's traces format (`siakit.data.traces`), one per variant:

- `intact`: the human lines as steps, `<<...>>` annotations stripped, the `#### N` line removed;
- `corrupted`: one intermediate result changed and propagated (`siakit.human.corruption`); the wrong step
  is known (`corrupted_step`, 0-based, so it enters the prefix at k = corrupted_step + 1) and the
  final answer follows it, so the trace is internally consistent but wrong;
- `shuffled`: the intact lines in a seeded random order (never the identity);
- `foreign`: the lines of another problem's solution (the next eligible problem in the seeded order).

The prompt is siakit's own chat prompt (`siakit.data.prompts.build_prompt`), the cue the usual
`"\\nThe answer is"`, the gold the GSM8K answer. Step i > 0 starts with the newline that ends line
i - 1, so every prefix ends at the end of a line and the cue always opens a fresh line.

    >>> solution_lines("He has 3+4 = <<3+4=7>>7 pens.\\nSo 7*2=<<7*2=14>>14.\\n#### 14")
    ['He has 3+4 = 7 pens.', 'So 7*2=14.']
    >>> as_steps(['a', 'b', 'c'])
    ['a', '\\nb', '\\nc']

Problems enter in a seeded order of the test split, skipping those with no clean corruption (the
skips are counted by reason), so a run of n problems is a prefix of a run of more problems with the
same seed: the cache (`siakit.human.cache`) exploits that.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from siakit.human.calcs import CALC, body_lines
from siakit.human.corruption import Corruption, NoCleanCorruption, corrupt_solution
from siakit.data.problems import Problem, load_records
from siakit.data.prompts import CUE, build_prompt
from siakit.data.traces import Trace

VARIANTS = ("intact", "corrupted", "shuffled", "foreign")
CONTROLS = ("shuffled", "foreign")  # the counterfactual controls (HumanRunConfig.controls_n problems get them)


@dataclass
class HumanProblem:
    problem: Problem          # the GSM8K test problem (id, question, gold)
    lines: list[str]          # the human solution lines, annotations stripped
    corruption: Corruption    # its clean corruption (annotated lines, wrong step, wrong final answer)


@dataclass
class Selection:
    problems: list[HumanProblem]       # eligible problems, in the seeded order
    partners: list[HumanProblem]       # partners[i]: whose lines the foreign variant of problems[i] reads
    examined: int                      # problems looked at to find them
    skipped: Counter = field(default_factory=Counter)  # reason -> count among the examined


def strip_calcs(line: str) -> str:
    """A solution line without calculator annotations.  strip_calcs("4*2=<<4*2=8>>8 m") -> "4*2=8 m" """
    return CALC.sub("", line).strip()


def solution_lines(answer_field: str) -> list[str]:
    """GSM8K `answer` field -> its non-empty lines, annotations stripped, the `####` line dropped."""
    if "####" not in answer_field:
        raise ValueError(f"solution_lines: no '####' line in {answer_field[-80:]!r}")
    return [line for line in (strip_calcs(x) for x in body_lines(answer_field)) if line]


def as_steps(lines: list[str]) -> list[str]:
    """Trace steps from lines: every step after the first starts with a newline.  ['a', 'b'] -> ['a', '\\nb']"""
    return [line if i == 0 else "\n" + line for i, line in enumerate(lines)]


def shuffle_order(n: int, seed) -> list[int]:
    """A seeded permutation of range(n) that is not the identity (n >= 2).

    sorted(shuffle_order(4, 0)) -> [0, 1, 2, 3];  shuffle_order(4, 0) != [0, 1, 2, 3]
    """
    if n < 2:
        raise ValueError(f"shuffle_order: need at least 2 steps to shuffle, got {n}")
    rng, order = random.Random(seed), list(range(n))
    while order == sorted(order):
        rng.shuffle(order)
    return order


def select_problems(n: int, seed: int = 0, split: str = "test", records=None) -> Selection:
    """The first `n` GSM8K problems (seeded order) with >= 2 solution lines and a clean corruption.

    `records` (pairs from `siakit.data.problems.load_records`) replaces the data files, for tests.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"select_problems: n must be a positive int, got {n!r}")
    records = list(records if records is not None else load_records("gsm8k", split))
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    eligible, skipped, examined = [], Counter(), 0
    for i in order:
        if len(eligible) > n:  # one beyond n: the last selected problem's foreign partner
            break
        counting = len(eligible) < n  # skips are counted among the problems examined for the n
        problem, record = records[i]
        examined += counting
        lines = solution_lines(record["answer"])
        if len(lines) < 2:
            skipped.update(["one_line"] * counting)
            continue
        try:
            corruption = corrupt_solution(record["answer"], problem.question, seed=f"{seed}:{problem.id}")
        except NoCleanCorruption as e:
            skipped.update([e.reason] * counting)
            continue
        eligible.append(HumanProblem(problem, lines, corruption))
    if len(eligible) < n:
        raise ValueError(f"select_problems: only {len(eligible)} of {len(records)} GSM8K {split} problems "
                         f"have a clean corruption; asked for n={n}")
    partners = eligible[1:] + eligible[:1]  # the next eligible problem (wraps only when all are used)
    return Selection(eligible[:n], partners[:n], examined, skipped)


def _trace(hp: HumanProblem, variant: str, prompt: str, lines: list[str], answer: str, cue: str, **meta) -> Trace:
    p = hp.problem
    return Trace(id=f"{p.id}:{variant}", prompt=prompt, steps=as_steps(lines), dataset="gsm8k", model="",
                 cue=cue, options=None, gold=p.gold, answer=answer, correct=answer == p.gold,
                 meta={"variant": variant, "problem_id": p.id, "question": p.question, "human": True, **meta})


def variant_traces(hp: HumanProblem, partner: HumanProblem, prompt: str, seed: int = 0,
                   variants=VARIANTS, cue: str = CUE) -> list[Trace]:
    """The traces of one problem, one per variant (ids `<problem id>:<variant>`).

    `correct` is the trace's own final answer against the gold: True for intact, False for corrupted,
    the partner's answer graded for foreign, and None for shuffled (its last line is not its answer).
    """
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise ValueError(f"variant_traces: unknown variant(s) {sorted(unknown)}; use {VARIANTS}")
    if partner.problem.id == hp.problem.id:
        raise ValueError(f"variant_traces: problem {hp.problem.id} cannot be its own foreign partner")
    out = []
    for variant in variants:
        if variant == "intact":
            out.append(_trace(hp, variant, prompt, hp.lines, hp.problem.gold, cue))
        elif variant == "corrupted":
            c = hp.corruption
            lines = [strip_calcs(line) for line in c.lines]
            out.append(_trace(hp, variant, prompt, lines, c.final, cue, corrupted_step=c.step,
                              corrupted_from=c.old, corrupted_to=c.new, changed=c.changed))
        elif variant == "shuffled":
            order = shuffle_order(len(hp.lines), f"{seed}:{hp.problem.id}:shuffle")
            trace = _trace(hp, variant, prompt, [hp.lines[i] for i in order], hp.problem.gold, cue, order=order)
            trace.correct = None
            out.append(trace)
        else:
            out.append(_trace(hp, variant, prompt, partner.lines, partner.problem.gold, cue,
                              foreign_id=partner.problem.id))
    return out


def human_traces(selection: Selection, tokenizer, chat: bool = True, seed: int = 0, variants=VARIANTS,
                 cue: str = CUE) -> list[Trace]:
    """Every variant trace of every selected problem, problem by problem, with siakit's prompt for
    the model that will read them (`chat`: the tokenizer's chat template, else few-shot plain text)."""
    traces = []
    for hp, partner in zip(selection.problems, selection.partners):
        prompt = build_prompt(hp.problem, tokenizer, chat=chat)
        traces += variant_traces(hp, partner, prompt, seed, variants, cue)
    return traces
