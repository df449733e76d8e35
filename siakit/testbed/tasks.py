"""Testbed problems from reasoning-gym generators: `rg:NAME` specs, a seed and content split, a ladder.

reasoning-gym (`pip install reasoning-gym`, offline) generates problems procedurally and grades
answers exactly (`dataset.score_answer`). We add three things:

- a **difficulty ladder** per task: rungs of generator settings, hardest last (chain_sum: 2..6 terms
  of one-digit numbers), so a trained model's accuracy spans a range instead of sitting at 0 or 1;
- a **train / test split** that cannot leak: each split draws from its own generator seeds, and a
  problem belongs to a split only if a hash of its question falls in that split's bucket (one in
  five questions is test), so the same question never appears in both;
- distinct evaluation problems (training problems are iid draws, so easy rungs repeat);
- a short question text for chains ("Calculate 4 - 1 + 7."), since every token costs training time.

    load_testbed("rg:chain_sum", "test", n=10)   -> 2 problems per rung, ids "rg:chain_sum-test-t2-0", ...
    [p.rung for p in _]                           -> ['t2', 't2', 't3', 't3', ..., 't6']
    verify(problem, "10")                         -> 1.0 when 10 is right (reasoning-gym's grader)
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache

from siakit.data.problems import Problem
from siakit.data.sources import register_source

PREFIX = "rg:"
SPLITS = ("train", "test")
TEST_BUCKET = 5          # one question in TEST_BUCKET (by hash) is a test question, the others train
SPLIT_SEEDS = {"train": 0, "test": 7_000_003}  # generator seed offsets: the splits never share a stream
RUNG_SEED_STRIDE = 100_003                      # each rung its own generator stream


@dataclass(frozen=True)
class Rung:
    label: str        # short name used in ids and plots ("t3" = 3 terms)
    settings: tuple   # reasoning-gym config overrides as ((key, value), ...), hashable


def _chain(terms: int, digits: int = 1) -> Rung:
    return Rung(f"t{terms}" + (f"d{digits}" if digits > 1 else ""),
                (("min_terms", terms), ("max_terms", terms), ("min_digits", digits), ("max_digits", digits)))


# Ladders, easiest first. chain_sum: one-digit numbers (0-9) joined by + and -, 2 to 6 terms; after a
# short fine-tune SmolLM2-135M gets most 2-term chains and few 6-term ones right. Only ~40 distinct
# 2-term chains are test questions, so large evaluations pick rungs (`rungs=`), e.g. the harder ones.
LADDERS: dict[str, list[Rung]] = {
    "chain_sum": [_chain(t) for t in (2, 3, 4, 5, 6)],
    "basic_arithmetic": [Rung("default", ())],
}
# Harder rungs for a better-trained model (GPU scale), selectable by label but not in the default ladder:
# two-digit numbers (10-99) with 3 to 6 terms, and 8 one-digit terms.
EXTRA_RUNGS: dict[str, list[Rung]] = {
    "chain_sum": [_chain(8)] + [_chain(t, 2) for t in (3, 4, 5, 6)],
}


@dataclass
class TestbedProblem(Problem):
    rung: str = ""                    # ladder rung label ("t3")
    level: int = 0                    # rung index, 0 = easiest
    entry: dict = field(default_factory=dict)  # the reasoning-gym item (question, answer, metadata)


def parse_spec(spec: str) -> str:
    """`"rg:chain_sum"` -> `"chain_sum"`; a clear error for anything else."""
    if not isinstance(spec, str) or not spec.startswith(PREFIX) or len(spec) <= len(PREFIX):
        raise ValueError(f"testbed spec must look like 'rg:TASK' (e.g. rg:chain_sum), got {spec!r}")
    name = spec[len(PREFIX):]
    import reasoning_gym  # noqa: F401  (a missing package gets the install hint below)

    from reasoning_gym.factory import DATASETS
    if name not in DATASETS:
        raise ValueError(f"{spec}: reasoning-gym has no task {name!r}; e.g. {', '.join(sorted(DATASETS)[:6])}, ...")
    return name


def ladder(name: str) -> list[Rung]:
    """The task's default rungs, easiest first (a task without a ladder of ours: one rung, the defaults)."""
    return LADDERS.get(name, [Rung("default", ())])


def all_rungs(name: str) -> list[Rung]:
    """Default rungs, then the extra harder ones; a rung's `level` is its index here."""
    return ladder(name) + EXTRA_RUNGS.get(name, [])


def split_of(question: str) -> str:
    """Which split a question belongs to, by a stable hash of its text.

    split_of("Calculate 4 - 1.") -> "train" or "test", the same on every machine
    """
    digest = int(hashlib.sha1(question.encode()).hexdigest(), 16)
    return "test" if digest % TEST_BUCKET == 0 else "train"


@lru_cache(maxsize=64)
def _dataset(name: str, settings: tuple, seed: int, size: int):
    import reasoning_gym

    return reasoning_gym.create_dataset(name, seed=seed, size=size, **dict(settings))


def question_of(name: str, entry: dict) -> str:
    """Our question text: chains as "Calculate 4 - 1 + 7." (short), other tasks verbatim."""
    if name == "chain_sum":
        return f"Calculate {entry['metadata']['expression']}."
    return entry["question"]


def _rung_problems(name: str, spec: str, split: str, level: int, rung: Rung, n: int, seed: int,
                   max_draws: int) -> list[TestbedProblem]:
    base = seed * 1_000_003 + SPLIT_SEEDS[split] + level * RUNG_SEED_STRIDE
    dataset = _dataset(name, rung.settings, base, max_draws)
    distinct = split == "test"  # evaluation problems are distinct; training ones are iid draws
    out, seen = [], set()
    for idx in range(max_draws):
        if len(out) == n:
            break
        entry = dataset[idx]
        question = question_of(name, entry)
        if split_of(question) != split or (distinct and question in seen):
            continue
        seen.add(question)
        out.append(TestbedProblem(id=f"{spec}-{split}-{rung.label}-{len(out)}", dataset=spec, question=question,
                                  gold=str(entry["answer"]), rung=rung.label, level=level, entry=entry))
    if len(out) < n:
        raise ValueError(f"{spec} split {split} rung {rung.label}: only {len(out)} distinct problems in "
                         f"{max_draws} draws, asked for {n}; ask for fewer or use a harder rung")
    return out


def load_testbed(spec: str, split: str = "test", n: int | None = None, seed: int | None = None,
                 rungs: list[str] | None = None) -> list[TestbedProblem]:
    """`n` problems of `spec` ("rg:chain_sum") from `split`, spread evenly over the ladder's rungs
    (earlier rungs take the remainder), easiest rung first. n=None: 100 per rung. `seed` picks other
    problems of the same split (None = 0). `rungs`: these rung labels, in this order, from the default
    ladder and the extra rungs (None: the default ladder)."""
    name = parse_spec(spec)
    if split not in SPLITS:
        raise ValueError(f"{spec}: no split {split!r}; use one of {SPLITS}")
    if n is not None and (not isinstance(n, int) or n < 0):
        raise ValueError(f"{spec}: n must be a non-negative int or None, got {n!r}")
    every = {r.label: (i, r) for i, r in enumerate(all_rungs(name))}
    unknown = [r for r in (rungs or []) if r not in every]
    if unknown or (rungs is not None and not rungs):
        raise ValueError(f"{spec}: unknown rung(s) {unknown or rungs}; rungs are {list(every)}")
    chosen = [every[r.label] for r in ladder(name)] if rungs is None else [every[r] for r in rungs]
    total = 100 * len(chosen) if n is None else n
    counts = [total // len(chosen) + (j < total % len(chosen)) for j in range(len(chosen))]
    problems = []
    for (level, rung), count in zip(chosen, counts):
        problems += _rung_problems(name, spec, split, level, rung, count, seed or 0, max(50 * count, 200))
    return problems


def verify(problem: TestbedProblem, answer: str | None) -> float:
    """reasoning-gym's exact grade of `answer` for this problem (1.0 right, 0.0 wrong or missing)."""
    if answer is None:
        return 0.0
    name = parse_spec(problem.dataset)
    rung = all_rungs(name)[problem.level]
    import reasoning_gym

    grader = reasoning_gym.create_dataset(name, seed=0, size=1, **dict(rung.settings))
    return float(grader.score_answer(str(answer), problem.entry))


register_source(PREFIX, load_testbed)  # load_problems("rg:chain_sum") asks this module (siakit.data.sources)
