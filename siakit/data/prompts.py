"""Chain-of-thought prompts and answer cues per task.

Instruct models get one user turn through their chat template; base models get a few-shot plain-text
prompt (hand-written exemplars, none taken from any test split). Every prompt asks the model to end
with the task's answer cue, and that same cue is what the readout estimator appends after each prefix,
so the cue is recorded with every trace.
"""
from __future__ import annotations

from siakit.data.problems import Problem

CUE = "\nThe answer is"  # appended after each prefix by the readout; the prompts ask for this phrase

NUMERIC_INSTRUCTION = (
    "Solve the following math problem step by step, one short step per line. "
    "On the last line write 'The answer is N.' where N is the final number."
)
CHOICE_INSTRUCTION = (
    "Answer the following multiple-choice question. Reason step by step, one short step per line. "
    "On the last line write 'The answer is X.' where X is the letter of the correct option."
)

# Few-shot exemplars for base models (written for this project).
NUMERIC_SHOTS = [
    ("A baker makes 4 trays of 6 rolls and sells 15 rolls. How many rolls are left?",
     "The baker makes 4 * 6 = 24 rolls.\nAfter selling 15, 24 - 15 = 9 rolls are left.\nThe answer is 9."),
    ("Tom reads 12 pages a day for 5 days, then 8 more pages. How many pages did he read?",
     "In 5 days Tom reads 12 * 5 = 60 pages.\nWith 8 more pages he read 60 + 8 = 68 pages.\nThe answer is 68."),
]
CHOICE_SHOTS = [
    ("Which of these is a source of light?\nA. the Moon\nB. a mirror\nC. the Sun\nD. a window",
     "The Moon and a mirror only reflect light.\nA window lets light through but makes none.\n"
     "The Sun makes its own light.\nThe answer is C."),
    ("What do plants need to make food?\nA. sunlight\nB. sand\nC. plastic\nD. salt",
     "Plants make food by photosynthesis.\nPhotosynthesis uses sunlight, water and carbon dioxide.\n"
     "The answer is A."),
]


def question_text(problem: Problem) -> str:
    """The question with its options listed one per line ("A. text"), as the model sees it."""
    if not problem.choices:
        return problem.question
    return problem.question + "\n" + "\n".join(f"{label}. {text}" for label, text in problem.choices)


def options_for(problem: Problem) -> list[str] | None:
    """Answer strings scored after the cue: `[" A", " B", ...]` for multiple choice, else None.

    Numeric tasks get a candidate set later (the scorer builds it from gold, own answer and samples).
    """
    if not problem.choices:
        return None
    return [f" {label}" for label, _ in problem.choices]


def build_prompt(problem: Problem, tokenizer=None, chat: bool = True) -> str:
    """The exact text before the reasoning.

    With `chat=True` the tokenizer's chat template wraps one user turn (generation prompt added);
    otherwise a few-shot plain-text prompt ending in "Answer:" is returned.
    """
    multiple_choice = bool(problem.choices)  # from the problem itself: no file is re-read per prompt
    instruction = CHOICE_INSTRUCTION if multiple_choice else NUMERIC_INSTRUCTION
    if chat:
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError("chat prompt requested but the tokenizer has no chat template; use chat=False")
        messages = [{"role": "user", "content": f"{instruction}\n\nQuestion: {question_text(problem)}"}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    shots = CHOICE_SHOTS if multiple_choice else NUMERIC_SHOTS
    blocks = [instruction, ""]
    for question, solution in shots:
        blocks += [f"Question: {question}", f"Answer:\n{solution}", ""]
    blocks += [f"Question: {question_text(problem)}", "Answer:\n"]
    return "\n".join(blocks)


# Where a base model's continuation stops: it starts the next few-shot question.
STOP_STRINGS = ["\nQuestion:", "\n\n\n"]


def cut_at_stop(text: str) -> str:
    """A base model runs on into the next few-shot question: keep what comes before it.

        >>> cut_at_stop("18 eggs.\\nQuestion: next")
        '18 eggs.'
    """
    for stop in STOP_STRINGS:
        if stop in text:
            text = text[: text.index(stop)]
    return text
