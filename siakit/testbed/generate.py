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
    """One trace per problem (greedy when temperature == 0, else sampled with seed + batch index)."""
    import torch

    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    tok = lm.tokenizer
    tok.padding_side = "left"  # decoder-only generation needs the prompts flush right
    traces = []
    bar = progress_bar(total=len(problems), desc=f"generate {model_name or lm.name}", unit="trace", enabled=progress)
    for b in range(0, len(problems), batch_size):
        batch = problems[b:b + batch_size]
        prompts = [build_testbed_prompt(p, tok, lm.chat) for p in batch]
        inputs = encode(tok, prompts, return_tensors="pt", padding=True).to(lm.device)
        torch.manual_seed(seed + b // batch_size)
        sampling = temperature > 0
        started = time.perf_counter()
        with torch.no_grad():
            out = lm.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=sampling,
                                    temperature=temperature if sampling else None, top_p=None, top_k=None,
                                    pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        seconds = time.perf_counter() - started
        for problem, prompt, tokens in zip(batch, prompts, out[:, inputs["input_ids"].shape[1]:]):
            ids = tokens.tolist()
            ended = tok.eos_token_id in ids
            n_new = ids.index(tok.eos_token_id) + 1 if ended else len(ids)
            text = tok.decode(ids[:n_new], skip_special_tokens=True).rstrip("\n")
            answer = extract_answer(text, truncated=not ended)
            traces.append(Trace(
                id=problem.id, prompt=prompt, steps=split_steps(text, min_lines=1), dataset=problem.dataset,
                model=model_name or lm.name, cue=CUE, options=None, gold=problem.gold, answer=answer,
                correct=verify(problem, answer) == 1.0,
                meta={"question": problem.question, "rung": problem.rung, "level": problem.level,
                      "n_new_tokens": n_new, "hit_cap": not ended, "first_wrong_line": first_wrong_line(text),
                      "temperature": temperature, "seed": seed + b // batch_size,
                      "batch_seconds": round(seconds, 3)}))
        bar.update(len(batch))
    bar.close()
    return traces
