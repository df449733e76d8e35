"""Traces of one checkpoint on testbed problems: generate with the testbed prompt, grade exactly.

Like `siakit.generate.generate_traces`, but with the testbed's short prompt (`siakit.testbed.prompt`),
reasoning-gym's grader (`siakit.testbed.tasks.verify`), steps split per line (a 2-term chain has two
lines, which the generic splitter would cut into sentences) and per-trace diagnostics in `meta`:
rung, level, whether the trace hit the token cap, and the first line whose arithmetic is wrong.
A trace cut by the token cap is graded as `siakit generate` grades one (`truncated=True`: a number
touching the end of the text may be cut short and counts for nothing).

    generate_testbed(lm, problems, max_new_tokens=64)   -> [Trace(id="rg:chain_sum-test-t2-0", steps=
        ["2 - 3 = -1\\n", "The answer is -1."], answer="-1", correct=True, meta={"rung": "t2", ...}), ...]
"""
from __future__ import annotations

import time

from siakit.data.answers import extract_answer
from siakit.experiment.generate import encode
from siakit.progress import progress_bar
from siakit.data.prompts import CUE
from siakit.testbed.prompt import build_testbed_prompt
from siakit.testbed.solutions import first_wrong_line
from siakit.testbed.tasks import verify
from siakit.data.traces import Trace, split_steps

# Bumped whenever the grading of testbed traces changes (2: truncated traces graded as `siakit
# generate` grades them). The lineage's evaluation cache keys on it.
GRADING_VERSION = 2


def generate_testbed(lm, problems, max_new_tokens: int = 64, temperature: float = 0.0, seed: int = 0,
                     batch_size: int = 16, progress: bool = True, model_name: str | None = None) -> list[Trace]:
    """One trace per problem: greedy when temperature == 0, else sampled with the problem's own seed
    (`problem_seed(seed, id)`; the i-th repeat of a problem, i >= 1, uses id#i), so a trace does not
    depend on batching. Decoded with continuous
    batching (`siakit.models.shared_prefill`, `batch_size` rows at once): a finished trace's place
    goes to the next problem instead of idling until the batch's longest trace ends."""
    from siakit.experiment.generate import problem_seed
    from siakit.models.shared_prefill import sample_continuations

    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    tok = lm.tokenizer
    prompts = [build_testbed_prompt(p, tok, lm.chat) for p in problems]
    contexts = encode(tok, prompts)["input_ids"] if prompts else []
    seen: dict[str, int] = {}  # a problem asked several times (RL's samples) draws a new seed each time
    seeds = []
    for p in problems:
        seen[p.id] = seen.get(p.id, -1) + 1
        seeds.append(problem_seed(seed, p.id if seen[p.id] == 0 else f"{p.id}#{seen[p.id]}"))
    bar = progress_bar(total=len(problems), desc=f"generate {model_name or lm.name}", unit="trace", enabled=progress)
    started = time.perf_counter()
    rows = sample_continuations(lm, contexts, [1] * len(problems), seeds, max_new_tokens, temperature,
                                batch_rows=batch_size, bar=bar) if problems else []
    seconds = time.perf_counter() - started
    bar.close()
    traces = []
    for problem, prompt, seed_p, (row,) in zip(problems, prompts, seeds, rows):
        text = tok.decode(row.tokens, skip_special_tokens=True).rstrip("\n")
        answer = extract_answer(text, truncated=not row.ended)
        traces.append(Trace(
            id=problem.id, prompt=prompt, steps=split_steps(text, min_lines=1), dataset=problem.dataset,
            model=model_name or lm.name, cue=CUE, options=None, gold=problem.gold, answer=answer,
            correct=verify(problem, answer) == 1.0,
            meta={"question": problem.question, "rung": problem.rung, "level": problem.level,
                  "n_new_tokens": len(row.tokens), "hit_cap": not row.ended, "first_wrong_line": first_wrong_line(text),
                  "temperature": temperature, "seed": seed_p if temperature > 0 else seed,
                  "seconds_per_trace": round(seconds / max(len(problems), 1), 3)}))
    return traces
