"""Toy-world text: the word-level fast tokenizer, token ids, and `Trace` records for the scorer.

Tokens are whitespace-separated words, so `prompt + "".join(steps)` of a `Trace` (every step starts
with a space) tokenizes into exactly the ids a toy model was trained on, with character offsets.
"""
from __future__ import annotations

from siakit.training.toy.world import CUE, Problem, WorldConfig
from siakit.data.traces import Trace


def build_tokenizer(world: WorldConfig):
    """A `PreTrainedTokenizerFast` over `world.vocab` (WordLevel + WhitespaceSplit, built offline).

    build_tokenizer(WorldConfig())("Q 3 : answer 7").input_ids -> [2, 14, 5, 10, 18]
    """
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(world.vocab)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]", pad_token="[PAD]")


class Codec:
    """Token strings <-> ids for one world (the same table as `build_tokenizer`)."""

    def __init__(self, world: WorldConfig):
        self.world = world
        self.itos = world.vocab
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.pad, self.semi, self.answer, self.look = (self.stoi[t] for t in ("[PAD]", ";", "answer", "look"))
        self.digits = [self.stoi[str(d)] for d in range(world.n_answers)]  # answer-option ids, in order

    def encode(self, tokens: list[str]) -> list[int]:
        return [self.stoi[t] for t in tokens]

    def decode(self, ids) -> list[str]:
        return [self.itos[int(i)] for i in ids]


def split_steps(tokens: list[str]) -> list[list[str]]:
    """Reasoning tokens -> steps ending at each `;` (a trailing unfinished step is kept).

    split_steps(["+", "1", "=", "4", ";", "+"]) -> [["+", "1", "=", "4", ";"], ["+"]]
    """
    steps, cur = [], []
    for t in tokens:
        cur.append(t)
        if t == ";":
            steps.append(cur)
            cur = []
    return steps + ([cur] if cur else [])


def make_trace(tid: str, world: WorldConfig, problem: Problem, steps: list[list[str]], answer: int | None,
               model: str = "", **meta) -> Trace:
    """A `Trace` of the toy world: prompt and steps as text, the digits as options, gold = a*."""
    truth = problem.truth(world.n_answers)
    return Trace(id=tid, prompt=" ".join(problem.prompt_tokens()), steps=[" " + " ".join(s) for s in steps],
                 dataset="toy", model=model, cue=CUE, options=world.options, gold=str(truth),
                 answer=None if answer is None else str(answer),
                 correct=None if answer is None else answer == truth, meta=meta)

