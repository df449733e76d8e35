"""Human reasoning traces for supervised fine-tuning: GSM8K train solutions in our chat format.

A GSM8K solution is a few human-written lines with calculator annotations and a final `#### N`:

    "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\\n... \\n#### 72"
 -> "Natalia sold 48/2 = 24 clips in May.\\n... \\nThe answer is 72."

`sft_examples` wraps each one as the assistant turn after the SAME chat prompt the generator uses
(`siakit.data.prompts.build_prompt`), so the model learns to end with our answer cue. The readout's candidate sets are
the scorer's prefix-only sets (`siakit.scorer.candidates`).
"""
from __future__ import annotations

import random
import re

from siakit.data.answers import gsm8k_gold
from siakit.data.problems import Problem, load_records
from siakit.data.prompts import build_prompt
from siakit.models.objectives import Example, collate  # noqa: F401  (the SFT rows, also at this address)

_CALC = re.compile(r"<<[^>]*>>")


def format_solution(answer_field: str) -> str:
    """GSM8K `answer` field -> lines ending in "The answer is N." (annotations removed).

    format_solution("He has 3+4 = <<3+4=7>>7 pens.\\n#### 7") -> "He has 3+4 = 7 pens.\\nThe answer is 7."
    """
    gold = gsm8k_gold(answer_field)
    body = _CALC.sub("", answer_field.rsplit("####", 1)[0]).strip()
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    return "\n".join(lines + [f"The answer is {gold}."])


def gsm8k_solutions(split: str = "train", n: int | None = None, seed: int = 0) -> list[tuple[Problem, str]]:
    """(problem, formatted human solution) pairs of GSM8K (`siakit.data.problems.load_records`: same ids, same
    data roots and errors); n random pairs (seeded) or all."""
    pairs = [(problem, format_solution(record["answer"])) for problem, record in load_records("gsm8k", split)]
    if n is not None and n < len(pairs):
        pairs = random.Random(seed).sample(pairs, n)
    return pairs


def sft_examples(tokenizer, pairs: list[tuple[Problem, str]], max_len: int) -> list[Example]:
    """Tokenized examples no longer than `max_len` tokens (longer ones are skipped, not truncated)."""
    out = []
    for problem, solution in pairs:
        prompt = build_prompt(problem, tokenizer, chat=True)
        mark = "QZXJMARK"
        messages = [{"role": "user", "content": "x"}, {"role": "assistant", "content": mark}]
        full = tokenizer.apply_chat_template(messages, tokenize=False)  # this template's end of turn
        end = full[full.index(mark) + len(mark):]
        end = end[: end.index("\n") + 1] if "\n" in end else end
        text = prompt + solution + end
        enc = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
        if len(enc.input_ids) > max_len:
            continue
        labels = [t if a >= len(prompt) else -100 for t, (a, _) in zip(enc.input_ids, enc.offset_mapping)]
        out.append(Example(problem.id, enc.input_ids, labels))
    return out


def epoch_batches(lengths: list[int], batch_size: int, rng: random.Random, group: int = 8) -> list[list[int]]:
    """One epoch of batches (indices into `lengths`) with little padding: shuffle, cut into groups of
    `group` batches, sort each group by length, batch it, then shuffle the batches. Every example
    appears once; batches are as random as the groups, but rows of one batch have similar lengths, so
    a padded batch wastes little compute (random batches of the testbed's chain solutions: 28% padding).
    Batches of similar rows also change training: the testbed keeps random batches for that reason.

        epoch_batches([5, 1, 4, 2], 2, random.Random(0), group=2) -> [[1, 3], [2, 0]]
    """
    if batch_size < 1 or group < 1:
        raise ValueError(f"batch_size and group must be >= 1, got {batch_size}, {group}")
    order = rng.sample(range(len(lengths)), len(lengths))
    span = batch_size * group
    batches = []
    for start in range(0, len(order), span):
        chunk = sorted(order[start:start + span], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches
