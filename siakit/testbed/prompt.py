"""The testbed's prompt: a short system line instead of the model's default one.

SmolLM2's chat template inserts its default system prompt (~20 tokens) when none is given; on a CPU
every token of every training row costs time, so the testbed passes its own short one. Models
without a chat template get a plain "Question: ...\\nAnswer:\\n" prompt.

    build_testbed_prompt(problem, smollm2_tokenizer)
 -> "<|im_start|>system\\nSolve step by step.<|im_end|>\\n<|im_start|>user\\nCalculate 4 - 1.<|im_end|>\\n
     <|im_start|>assistant\\n"
"""
from __future__ import annotations

SYSTEM = "Solve step by step."  # short on purpose (see above); the solutions teach the format


def build_testbed_prompt(problem, tokenizer, chat: bool = True) -> str:
    """The exact text before the reasoning for a testbed problem."""
    if chat and getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": problem.question}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return f"{SYSTEM}\nQuestion: {problem.question}\nAnswer:\n"


def end_of_turn(tokenizer, chat: bool = True) -> str:
    """What follows an assistant message in this tokenizer's chat template ("<|im_end|>\\n" for
    SmolLM2), or the EOS token for a plain prompt: training rows end with it, so generation stops."""
    if not (chat and getattr(tokenizer, "chat_template", None)):
        return tokenizer.eos_token or ""
    mark = "QZXJMARK"
    full = tokenizer.apply_chat_template([{"role": "user", "content": "x"},
                                          {"role": "assistant", "content": mark}], tokenize=False)
    end = full[full.index(mark) + len(mark):]
    return end[: end.index("\n") + 1] if "\n" in end else end
