"""Prompts, generation and model loading (one smoke test on the real embedded SmolLM2)."""
import json

import pytest

from siakit.cli import main
from siakit.data.problems import Problem
from siakit.data.prompts import cut_at_stop
from siakit.experiment.generate import encode
from siakit.models.loading import EMBEDDED, load_model
from siakit.data.prompts import CUE, build_prompt, options_for
from siakit.data.traces import read_traces

ARC = Problem(id="x1", dataset="arc-easy", question="Which is a star?", gold="B",
              choices=[("A", "the Moon"), ("B", "the Sun"), ("C", "Mars")])
MATH = Problem(id="m1", dataset="gsm8k", question="What is 2 + 3?", gold="5", choices=None)


def test_few_shot_prompt_for_base_models():
    prompt = build_prompt(MATH, chat=False)
    assert prompt.endswith("Question: What is 2 + 3?\nAnswer:\n")
    assert prompt.count("The answer is") == 3  # two exemplars + the instruction
    arc = build_prompt(ARC, chat=False)
    assert "Question: Which is a star?\nA. the Moon\nB. the Sun\nC. Mars\nAnswer:\n" in arc
    assert options_for(ARC) == [" A", " B", " C"] and options_for(MATH) is None
    assert CUE.strip() == "The answer is"


def test_chat_prompt_needs_a_template():
    class NoTemplate:
        chat_template = None

    with pytest.raises(ValueError, match="no chat template"):
        build_prompt(MATH, NoTemplate(), chat=True)


def test_stop_strings_cut_base_model_rambling():
    assert cut_at_stop("2+3=5\nThe answer is 5.\nQuestion: next") == "2+3=5\nThe answer is 5."


def test_encode_does_not_double_bos():
    class Tok:
        bos_token = "<s>"

        def __call__(self, texts, add_special_tokens, **kw):
            return add_special_tokens

    assert encode(Tok(), ["<s>hi", "<s>yo"]) is False
    assert encode(Tok(), ["hi"]) is True


def test_unknown_model_lists_known_names():
    with pytest.raises(ValueError) as info:
        load_model("no-such-model")
    for name in EMBEDDED:
        assert name in str(info.value)
    assert main(["generate", "--model", "no-such-model", "--dataset", "svamp", "--n", "1",
                 "--out", "/dev/null"]) == 2


def test_missing_gguf_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.gguf"):
        load_model(str(tmp_path / "missing.gguf"))


@pytest.mark.real_model
def test_generate_one_arc_trace_with_real_smollm2(tmp_path, data_root):
    out = tmp_path / "t.jsonl"
    assert main(["generate", "--model", "smollm2-135m-instruct", "--dataset", "arc-easy", "--n", "1",
                 "--max-new-tokens", "48", "--out", str(out)]) == 0
    (trace,) = read_traces(out)
    record = json.loads(out.read_text())
    assert trace.model == "smollm2-135m-instruct" and trace.dataset == "arc-easy"
    assert trace.prompt.startswith("<|im_start|>") and trace.prompt.endswith("<|im_start|>assistant\n")
    assert trace.steps and trace.options == [" A", " B", " C", " D"]
    assert trace.gold in "ABCD" and record["cue"] == CUE
    assert trace.correct == (trace.answer == trace.gold)
    assert 0 < record["n_new_tokens"] <= 48
