"""The scorer's oracle tests: every fast method equals the naive per-prefix loop, on every family.

Random-weight tiny models (siakit.models.tiny) in float32 on CPU; agreement within 1e-4 nats for the readout
entropy, the gold log-probability and the vocab entropy, on traces of 0, 1 and many steps (the long
one crosses the tiny Gemma sliding window of 16 tokens), with single- and multi-token options, and on
packs of traces of different lengths.
"""

import numpy as np
import pytest
import torch

from siakit.scorer import methods
from siakit.scorer.methods import METHODS as REGISTRY
from siakit.models.loading import LoadedModel
from siakit.scorer.layout import layout_trace
from siakit.scorer.score import score_traces
from siakit.models.tiny import FAMILIES, protocol_model, tiny_model, tiny_tokenizer
from siakit.data.traces import Trace

TOL = 1e-4


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py
OPTIONS = [" 8", " 120", " 1000", " B"]  # multi-token numbers and a single-token label


def make_traces():
    long_steps = [f"\nStep {i}: the train travels 60 miles per hour for 2 hours." for i in range(1, 7)]
    return [
        Trace(id="many", prompt="Question: Tom has 3 apples and buys 5 more.", steps=long_steps,
              options=OPTIONS, gold="120", correct=True, dataset="gsm8k"),
        Trace(id="none", prompt="Which is a mammal? (A) shark (B) whale", steps=[], options=OPTIONS,
              gold="B", correct=False),
        Trace(id="one", prompt="Let's think", steps=[" step by step. So 3 + 5 = 8."], options=OPTIONS,
              gold="8", correct=True),
    ]


def _models():
    yield from FAMILIES
    yield "llama-eager"
    yield "protocol"


def _load(name):
    if name == "protocol":
        return LoadedModel(model=protocol_model(), tokenizer=tiny_tokenizer(), name="protocol-gpt")
    if name == "llama-eager":
        return tiny_model("llama", attn_implementation="eager")
    return tiny_model(name)


@pytest.mark.parametrize("name", list(_models()))
def test_every_method_equals_the_naive_loop(name):
    lm = _load(name)
    traces = make_traces()
    ref = score_traces(lm, traces, estimator=("readout", "vocab"), method="naive", progress=False)
    assert list(ref.groupby("id").k.max().loc[["many", "none", "one"]]) == [6, 0, 1]
    # every registered method (the registry, so a new method is tested by adding it there)
    methods = [m for m, spec in REGISTRY.items() if m != "naive" and not (name == "protocol" and spec.needs_cache)]
    assert {"packed", "tree", "batched"} <= set(methods) and (name == "protocol" or "kv-grow" in methods)
    for method in methods:
        got = score_traces(lm, traces, estimator=("readout", "vocab"), method=method, progress=False,
                           pack_tokens=10_000)
        assert (got.method == method).all()
        for col in ("entropy", "gold_logprob"):
            diff = np.nanmax(np.abs(got[col].to_numpy(float) - ref[col].to_numpy(float)))
            assert diff <= TOL, f"{name}/{method}: {col} differs from naive by {diff:.2e}"
        opt = np.abs(np.stack(got.option_logprobs.dropna()) - np.stack(ref.option_logprobs.dropna()))
        assert opt.max() <= TOL, f"{name}/{method}: option log-probs differ by {opt.max():.2e}"


@pytest.mark.parametrize("family", ["gemma2", "llama"])
def test_packs_of_different_lengths_match_single_traces(family):
    lm = tiny_model(family)
    traces = make_traces()
    one_pack = score_traces(lm, traces, method="packed", pack_tokens=10_000, pack_layout="diag", progress=False)
    small_packs = score_traces(lm, traces, method="packed", pack_tokens=1, progress=False)  # one per pack
    rows = score_traces(lm, traces, method="packed", pack_tokens=10_000, pack_layout="rows", progress=False)
    kvtree_rows = methods.run_kvtree(lm.adapter, [layout_trace(lm.tokenizer, t, t.cue, t.options)
                                                  for t in traces], methods.MethodOptions(rows=True))
    assert np.abs(one_pack.entropy - small_packs.entropy).max() <= TOL
    assert np.abs(one_pack.entropy - rows.entropy).max() <= TOL
    assert np.abs(np.concatenate(kvtree_rows[0]) - np.stack(one_pack.option_logprobs)).max() <= TOL


@pytest.mark.parametrize("terminated", [True, False])
def test_readout_matches_a_hand_computation(terminated):
    """h_k and s_k from plain forward passes over `context_k + cue + option`, written out by hand;
    terminated, each option also pays log(1 - p(CONT)) after its last token, CONT read off the raw
    tokens here independently of siakit.scorer.termination."""
    lm = tiny_model("qwen2")
    tok, model = lm.tokenizer, lm.model
    raw = tok.convert_ids_to_tokens(list(range(len(tok))))
    cont = [i for i, r in enumerate(raw) if i not in tok.all_special_ids and not r.startswith("\u0120")
            and tok.decode([i])[:1].isalnum()]
    assert tok.convert_tokens_to_ids("8") in cont and tok.convert_tokens_to_ids("\u01208") not in cont
    trace = Trace(id="h", prompt="Question: 3 + 5?", steps=["\nStep 1: 3 + 5 = 8."], options=[" 8", " 120"],
                  gold="120")
    frame = score_traces(lm, [trace], progress=False, terminated=terminated)
    full = tok(trace.prompt + trace.steps[0], return_offsets_mapping=True)
    offsets = full["offset_mapping"]
    for k, end in enumerate([len(trace.prompt), len(trace.prompt + trace.steps[0])]):
        context = [t for t, (_, e) in zip(full["input_ids"], offsets) if e <= end]  # BOS has e = 0
        assert frame.n_prefix_tokens[k] == len(context)
        cue = tok("\nThe answer is", add_special_tokens=False)["input_ids"]
        logps = []
        for option in trace.options:
            opt = tok(option, add_special_tokens=False)["input_ids"]
            seq = torch.tensor([context + cue + opt])
            with torch.no_grad():
                lp = model(seq).logits[0].float().log_softmax(-1)
            start = len(context) + len(cue)
            total = sum(lp[start + i - 1, t].item() for i, t in enumerate(opt))
            if terminated:
                total += float(np.log1p(-lp[-1].double().exp()[cont].sum().item()))
            logps.append(total)
        assert frame.option_logprobs[k] == pytest.approx(logps, abs=TOL)
        p = np.exp(logps) / np.exp(logps).sum()
        assert frame.coverage[k] == pytest.approx(np.exp(logps).sum(), rel=1e-4)
        assert frame.entropy[k] == pytest.approx(-(p * np.log(p)).sum(), abs=TOL)
        assert frame.gold_logprob[k] == pytest.approx(np.log(p[1]), abs=TOL)
        assert frame.option_probs[k] == pytest.approx(list(p), abs=TOL)
        assert frame.leading_option[k] == trace.options[int(np.argmax(p))].strip()


def test_a_straddling_token_belongs_to_the_later_step():
    tok = tiny_tokenizer(bos=False)
    trace = Trace(id="s", prompt="", steps=["One. ", "Two"])  # " Two" straddles the step boundary
    lay = layout_trace(tok, trace, "\nThe answer is", [" B"])
    offsets = tok("One. Two", return_offsets_mapping=True)["offset_mapping"]
    straddler = offsets[lay.bounds[1]]
    assert straddler[0] < len("One. ") < straddler[1]  # starts in step 1, ends in step 2
    assert lay.bounds[0] == 0 and lay.bounds[2] == len(lay.ids)
    assert all(end <= len("One. ") for _, end in offsets[: lay.bounds[1]])


def test_double_bos_is_avoided_when_the_prompt_starts_with_it():
    tok = tiny_tokenizer(bos=True)
    a = layout_trace(tok, Trace(id="a", prompt="Question:", steps=[" x"]), "\nThe answer is", None)
    b = layout_trace(tok, Trace(id="b", prompt="<|bos|>Question:", steps=[" x"]), "\nThe answer is", None)
    assert a.ids == b.ids and a.ids.count(0) == 1 and a.bounds == b.bounds


def test_flex_block_mask_equals_the_dense_mask():
    from torch.nn.attention.flex_attention import create_mask

    from siakit.scorer.masks import allowed, dense_mask
    from siakit.scorer.packing import build_pack, pack_tensors

    tok = tiny_tokenizer()
    lays = [layout_trace(tok, t, "\nThe answer is", t.options) for t in make_traces()]
    for packs in ([build_pack(lays)], [build_pack([lay]) for lay in lays]):  # one row; a row per trace
        meta = pack_tensors(packs, "cpu")
        n_batch, n = meta.ids.shape
        for window in (None, 16):
            dense = create_mask(lambda b, h, q, kv: allowed(meta, b, q, kv, window), n_batch, None, n, n,
                                device="cpu")
            assert torch.equal(dense, dense_mask(meta, None, window))
