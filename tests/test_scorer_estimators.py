"""Estimators (candidate sets, sampling against an enumerated truth) and the scorer's bad-input errors."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from siakit.scorer import methods
from siakit.scorer.estimators import candidate_options, empirical_summary, extract, gold_index
from siakit.models.loading import LoadedModel
from siakit.scorer.score import score_traces
from siakit.models.tiny import tiny_model, tiny_tokenizer
from siakit.data.traces import Trace


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(scope="module")
def lm():
    return tiny_model("llama")


def _trace(**kw):
    base = dict(id="t1", prompt="Question: 3 + 5?", steps=["\nStep 1: 3 + 5 = 8.", "\nSo 8."],
                options=[" 8", " 120"], gold="8", answer="8", correct=True, dataset="gsm8k")
    return Trace(**{**base, **kw})


def test_gold_matching_and_candidate_sets():
    assert gold_index([" 12", " 8.0"], "8") == 1 and gold_index([" A", " B"], "B") == 1
    assert gold_index([" A", " B"], "C") is None and gold_index([" A"], None) is None
    assert candidate_options("8", "8.0", ["12", None, "$1,000"]) == [" 8", " 12", " 1000"]
    s = empirical_summary(["8", "8", "12", None], "8")
    assert s["options"] == ["8", "12", "<none>"] and s["probs"] == [0.5, 0.25, 0.25]
    assert s["entropy"] == pytest.approx(-(0.5 * np.log(0.5) + 0.5 * np.log(0.25)))
    assert empirical_summary(["3"], "8")["gold_logprob"] == -np.inf
    mm = empirical_summary(["8", "12"], "8", miller_madow=True)["entropy"]
    assert mm == pytest.approx(np.log(2) + 1 / 4)


def test_candidate_set_from_gold_own_answer_and_samples(lm):
    t = _trace(options=None, answer="5")
    frame = score_traces(lm, [t], candidate_samples=3, candidate_max_new_tokens=4, progress=False)
    options = frame.options[0]
    assert options[:2] == [" 8", " 5"] and frame.n_options[0] == len(options) >= 2
    again = score_traces(lm, [t], candidate_samples=3, candidate_max_new_tokens=4, progress=False)
    assert list(again.options[0]) == list(options)  # seeded
    assert np.allclose(frame.option_probs[0].sum() if hasattr(frame.option_probs[0], "sum")
                       else sum(frame.option_probs[0]), 1.0)


def test_sampling_converges_to_the_enumerated_answer_entropy(lm):
    """Two-token continuations of a tiny model: enumerate all V^2 of them for the exact answer law."""
    tok, model = lm.tokenizer, lm.model
    trace = _trace(options=None, steps=[], prompt="Step 1: Tom has 3 apples and buys")
    context = tok(trace.prompt)["input_ids"]
    with torch.no_grad():
        p1 = model(torch.tensor([context])).logits[0, -1].double().softmax(-1)
        vocab = p1.shape[0]
        batch = torch.tensor([context + [t] for t in range(vocab)])
        p2 = model(batch).logits[:, -1].double().softmax(-1)  # [V, V]
    law: dict = {}
    for t1 in range(vocab):
        if t1 == tok.eos_token_id:  # generation stops: empty continuation, no answer
            law["<none>"] = law.get("<none>", 0.0) + float(p1[t1])
            continue
        texts = tok.batch_decode([[t1, t2] for t2 in range(vocab)], skip_special_tokens=True)
        for t2, text in enumerate(texts):
            answer = extract(text, None) or "<none>"
            law[answer] = law.get(answer, 0.0) + float(p1[t1] * p2[t1, t2])
    probs = np.array(list(law.values()))
    exact = float(-(probs * np.log(probs)).sum())
    frame = score_traces(lm, [trace], estimator="sampling", samples=4000, max_new_tokens=2, progress=False)
    assert frame.k.tolist() == [0] and frame.n_samples[0] == 4000
    got = dict(zip(frame.options[0], frame.option_probs[0]))
    assert abs(frame.entropy[0] - exact) < 0.05, (frame.entropy[0], exact)
    assert abs(got.get("8", 0.0) - law.get("8", 0.0)) < 0.02  # the gold answer's frequency too
    assert frame.gold_logprob[0] == pytest.approx(np.log(got["8"])) if "8" in got else True


def test_empty_steps_score_only_k0(lm):
    frame = score_traces(lm, [_trace(steps=[])], estimator=("readout", "vocab"), progress=False)
    assert frame.k.tolist() == [0, 0] and frame.n_steps.tolist() == [0, 0]


def test_overlong_trace_is_an_error_naming_it_unless_truncated():
    lm = tiny_model("gpt2", max_positions=40)
    long = _trace(id="long-one", steps=[f"\nStep {i}: 3 + 5 = 8." for i in range(8)])
    with pytest.raises(ValueError, match=r"trace long-one: \d+ tokens .* context of 40"):
        score_traces(lm, [long], progress=False)
    frame = score_traces(lm, [long], truncate=True, progress=False)
    assert 0 < frame.k.max() < 8 and frame.n_prefix_tokens.max() < 40 and (frame.n_steps == 8).all()


def test_option_errors_are_clear(lm):
    with pytest.raises(ValueError, match=r"trace t1: gold '7' is not among its options"):
        score_traces(lm, [_trace(gold="7")], progress=False)
    with pytest.raises(ValueError, match="trace t1: readout needs options"):
        score_traces(lm, [_trace(options=None, gold=None, answer=None)], progress=False)
    frame = score_traces(lm, [_trace(options=None, gold=None, answer=None)], estimator="vocab", progress=False)
    assert len(frame) == 3 and frame.entropy.notna().all() and frame.gold_logprob.isna().all()
    with pytest.raises(ValueError, match="unknown estimator 'entropy'"):
        score_traces(lm, [_trace()], estimator="entropy")
    with pytest.raises(ValueError, match="unknown method 'fast'"):
        score_traces(lm, [_trace()], method="fast")


class NaNModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, attention_mask=None, position_ids=None, logits_to_keep=None):
        logits = torch.zeros(*input_ids.shape, 384)
        logits[..., 5] = float("nan")
        return SimpleNamespace(logits=logits if logits_to_keep is None else logits[:, logits_to_keep])


def test_nan_logits_name_the_trace():
    lm = LoadedModel(model=NaNModel(), tokenizer=tiny_tokenizer(), name="nan")
    with pytest.raises(FloatingPointError, match="trace t1"):
        score_traces(lm, [_trace()], progress=False)


def test_out_of_memory_splits_the_pack_and_loses_nothing(lm, monkeypatch):
    traces = [_trace(id=f"t{i}", steps=["\nStep."] * (i + 1)) for i in range(4)]
    expected = score_traces(lm, traces, pack_tokens=100_000, progress=False)
    real, sizes = methods.run_tree, []

    def flaky(model, layouts, *args, **kwargs):
        sizes.append(len(layouts))
        if len(layouts) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(model, layouts, *args, **kwargs)

    monkeypatch.setitem(methods.METHODS, "packed", methods.METHODS["packed"].__class__(
        flaky, tree=True, needs_cache=False, packs=True))
    got = score_traces(lm, traces, pack_tokens=100_000, progress=False)
    assert sizes[0] == 4 and sizes.count(1) == 4
    assert got.id.tolist() == expected.id.tolist()
    assert np.abs(got.entropy - expected.entropy).max() < 1e-5


def test_models_without_custom_masks_fall_back_and_say_so(lm, monkeypatch):
    from dataclasses import replace

    # a flash-attention model: its adapter reports no custom-mask support
    monkeypatch.setitem(lm.__dict__, "_adapter", replace(lm.adapter, mask_form="none"))
    frame = score_traces(lm, [_trace()], progress=False)
    assert (frame.method == "kv-fallback").all()
    exact = score_traces(lm, [_trace()], method="naive", progress=False)
    assert np.abs(frame.entropy - exact.entropy).max() < 1e-4


def test_numeric_candidates_include_mentioned_numbers(lm):
    """Without options a correct trace would have |A| = 1 (h_k = 0); mentioned numbers widen the set."""
    assert candidate_options("8", "8", [], ["3", "5", "8", "9"], limit=3) == [" 8", " 3", " 5"]
    trace = _trace(options=None, meta={"question": "3 + 5?"})
    frame = score_traces(lm, [trace], progress=False)
    assert (frame.n_options == 4).all() and list(frame.options.iloc[0]) == [" 8", " 3", " 5", " 1"]
    assert (frame.entropy > 0).all()
    narrow = score_traces(lm, [trace], candidate_mentions=0, progress=False)
    assert (narrow.n_options == 1).all() and (narrow.entropy == 0).all()
