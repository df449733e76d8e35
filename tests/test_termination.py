"""Terminated options: an answer that is a token-prefix of another no longer steals its mass.

The CONT set on the tiny tokenizer (fast) and, on the real SmolLM2 tokenizer, which splits every digit
(" 24" = "Ġ", "2", "4"), the pairs " 2"/" 24", " 7"/" 75", " 15"/" 150" (marked real_model).
"""
import numpy as np
import pytest

from siakit.data.traces import Trace
from siakit.models.tiny import tiny_tokenizer
from siakit.scorer.score import score_traces
from siakit.scorer.termination import continuation_ids, continues

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def test_continues_reads_the_raw_token():
    assert continues("4", "4", False) and continues("ly", "ly", False)
    assert not continues("\u01204", " 4", False)     # byte-level BPE leading space
    assert not continues("\u2581A", "A", False)      # SentencePiece: decoding dropped the space
    assert not continues(".", ".", False) and not continues("\u010a", "\n", False)
    assert not continues("<|eos|>", "<|eos|>", True) and not continues("%", "%", False)


def test_continuation_ids_of_the_tiny_tokenizer_are_cached():
    tok = tiny_tokenizer()
    ids = continuation_ids(tok)
    raw = dict(zip(tok.convert_ids_to_tokens(list(ids)), ids))
    assert "8" in raw and "\u01208" not in raw and "." not in raw and "<|eos|>" not in raw
    assert continuation_ids(tok) is ids  # computed once per tokenizer


@pytest.fixture(scope="module")
def smollm():
    from siakit.models.loading import load_model

    return load_model("smollm2-135m-instruct")


def _trace(answer: str, other: str, **kw) -> Trace:
    a = int(answer)
    prompt = f"Question: Tom has {a - 3} marbles and finds 3 more. How many marbles does he have now?\n"
    steps = [f"Answer: Tom starts with {a - 3} marbles.", f" {a - 3} + 3 = {answer}.",
             f" So the answer is {answer}."]
    return Trace(id=f"t{answer}", prompt=prompt, steps=steps, options=[f" {other}", f" {answer}"],
                 gold=answer, **kw)


@pytest.mark.real_model
@pytest.mark.parametrize("short,long_", [("2", "24"), ("7", "75"), ("15", "150")])
def test_a_token_prefix_no_longer_steals_the_longer_answer(smollm, short, long_):
    trace = _trace(long_, short)
    ids = smollm.tokenizer([f" {short}", f" {long_}"], add_special_tokens=False)["input_ids"]
    assert ids[1][: len(ids[0])] == ids[0]  # " short" is a token-prefix of " long"
    old = score_traces(smollm, [trace], terminated=False, progress=False)
    new = score_traces(smollm, [trace], progress=False)
    K = len(trace.steps)
    # without an end, p(" short") contains p(" long"): the prefix leads, at every k
    assert all(lp[0] >= lp[1] for lp in old.option_logprobs)
    # terminated, the stated answer leads once the trace has written it, with most of the mass
    last = new[new.k == K].iloc[0]
    assert last.leading_option == long_ and last.option_probs[1] > 0.8
    assert last.gold_logprob > np.log(0.8) and last.entropy < old[old.k == K].entropy.iloc[0] + 1e-9
    assert last.option_logprobs[0] < old[old.k == K].option_logprobs.iloc[0][0]  # " short" lost " long"'s mass


@pytest.mark.real_model
def test_the_stated_answer_leads_a_prefix_built_set(smollm):
    """The set is built from the prefix (the question says 21 and 3, the steps 24): " 2" is no
    candidate here, so put one in the question; the stated 24 must lead at k = K."""
    trace = Trace(id="m", prompt="Question: Tom has 21 marbles, finds 3 more and gives 2 away... no, "
                  "he keeps them. How many marbles does he have now?\n",
                  steps=["Answer: 21 + 3 = 24.", " So the answer is 24."], gold="24",
                  meta={"question": "Tom has 21 marbles, finds 3 more and gives 2 away... no, he keeps them."})
    frame = score_traces(smollm, [trace], progress=False)
    last = frame[frame.k == 2].iloc[0]
    assert " 2" in last.options and " 24" in last.options and last.candidates == "prefix"
    assert last.leading_option == "24" and 0 < last.coverage <= 1
    old = score_traces(smollm, [trace], progress=False, terminated=False)
    assert old[old.k == 2].leading_option.iloc[0] == "2"  # the defect this fixes
