"""The block-sparse tree pass: FlexAttention BlockMask over bucketed packs, mask choice per device,
and the compiled forward.

FlexAttention runs on CPU, but transformers compiles it to a C++ kernel per shape (minutes for these
tests on a shared 2-core machine). The agreement tests therefore run transformers' flex path with
torch's *eager* flex_attention (same BlockMask, same mask_mod, scores materialised: fast at tiny
sizes); `test_compiled_flex_kernel_equals_naive` runs the compiled kernel once when
SIAKIT_SLOW_TESTS=1 (about 2-4 minutes on CPU).
"""
import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from siakit.models.tiny import tiny_model, tiny_tokenizer
from siakit.scorer import methods
from siakit.scorer.buckets import bucket_length, pad_columns
from siakit.scorer.layout import layout_trace
from siakit.scorer.masks import dense_mask, resolve_mask
from siakit.scorer.packing import build_pack, pack_tensors
from siakit.scorer.score import score_traces
from tests.test_scorer import TOL, make_traces

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def eager_flex(monkeypatch):
    """transformers' flex_attention path calling torch's flex_attention uncompiled."""
    import transformers.integrations.flex_attention as hf_flex
    from torch.nn.attention.flex_attention import flex_attention

    def eager(query, key, value, training=False, **kwargs):
        return flex_attention(query, key, value, **kwargs)

    monkeypatch.setattr(hf_flex, "compile_friendly_flex_attention", eager)


def _layouts(lm):
    return [layout_trace(lm.tokenizer, t, "\nThe answer is", t.options) for t in make_traces()]


def _max_diff(a, b):
    return max(float(np.nanmax(np.abs(x - y))) for x, y in zip(a, b))


def test_bucket_lengths_are_few_multiples_of_128():
    assert [bucket_length(n) for n in (1, 128, 129, 300, 1156, 4096, 4200, 16640)] == \
        [128, 128, 256, 384, 1280, 4096, 4352, 17408]
    lengths = {bucket_length(n) for n in range(1, 20_000)}
    assert all(b % 128 == 0 for b in lengths) and len(lengths) < 80
    assert all(bucket_length(n) <= max(1.07 * n, n + 127) for n in range(1, 20_000, 7))
    with pytest.raises(ValueError, match="at least one token"):
        bucket_length(0)


def test_padding_columns_changes_no_real_attention():
    lays = _layouts(SimpleNamespace(tokenizer=tiny_tokenizer()))
    for packs in ([build_pack(lays)], [build_pack([lay]) for lay in lays]):
        meta = pack_tensors(packs, "cpu")
        n = meta.ids.shape[1]
        padded = pad_columns(meta, bucket_length(n))
        assert padded.ids.shape[1] == bucket_length(n) > n
        before, after = dense_mask(meta), dense_mask(padded)
        assert torch.equal(after[..., :n, :n], before)     # real tokens: the same mask
        assert not after[..., :n, n:].any()                # no real token sees a pad
        pads = after[..., n:, :]                            # a pad sees exactly itself
        assert torch.equal(pads.sum(-1), torch.ones_like(pads.sum(-1)))
        assert pads[..., torch.arange(pads.shape[-2]), n + torch.arange(pads.shape[-2])].all()


def test_auto_mask_is_flex_only_on_cuda_for_flex_models():
    from dataclasses import fields

    real = tiny_model("llama").adapter

    def fake(form, device):  # the real adapter with another mask form, reporting `device` (the model stays put)
        class OnDevice(type(real)):
            pass
        OnDevice.device = torch.device(device)
        return OnDevice(**{**{f.name: getattr(real, f.name) for f in fields(real)}, "mask_form": form})

    assert resolve_mask(fake("flex", "cuda"), "auto") == "flex"
    assert resolve_mask(fake("flex", "cpu"), "auto") == "dense"
    assert resolve_mask(fake("bool", "cuda"), "auto") == "dense"
    assert resolve_mask(fake("bool", "cpu"), "dense") == "dense"
    with pytest.raises(ValueError, match="flex_attention"):
        resolve_mask(fake("bool", "cuda"), "flex")
    with pytest.raises(ValueError, match="unknown mask 'sparse'"):
        resolve_mask(fake("flex", "cuda"), "sparse")


def test_flex_tree_pass_equals_naive_in_float32(eager_flex):
    """BlockMask over bucketed packs (one row per trace, and one block-diagonal row): <= 1e-4 nats."""
    lm = tiny_model("llama", attn_implementation="flex_attention")
    assert lm.adapter.mask_form == "flex"
    lays = _layouts(lm)
    ref = methods.run_naive(lm.adapter, lays)
    for rows, bucket in ((True, 128), (False, 128), (True, 0)):  # bucket 0: unpadded
        got = methods.run_tree(lm.adapter, lays, methods.MethodOptions(mask="flex", rows=rows, bucket=bucket))
        assert _max_diff(got[0], ref[0]) <= TOL, f"rows={rows}: option log-probs"
        assert _max_diff(got[1], ref[1]) <= TOL, f"rows={rows}: vocab entropy"


def test_flex_with_sliding_windows_equals_naive(eager_flex):
    """Gemma-3's mixed sliding/full layers get two BlockMasks (the long trace crosses the window 16)."""
    lm = tiny_model("gemma3", attn_implementation="flex_attention")
    lays = _layouts(lm)
    ref = methods.run_naive(lm.adapter, lays)
    got = methods.run_tree(lm.adapter, lays, methods.MethodOptions(mask="flex", rows=True))
    assert _max_diff(got[0], ref[0]) <= TOL and _max_diff(got[1], ref[1]) <= TOL


def test_a_flex_model_on_cpu_scores_with_the_dense_additive_mask(eager_flex):
    """auto picks dense on CPU; on the flex_attention path transformers *adds* a dense mask to the
    scores, so the mask must be additive (a bool mask would add 0/1 and leak every token)."""
    lm = tiny_model("llama", attn_implementation="flex_attention")
    sdpa = tiny_model("llama")
    traces = make_traces()
    got = score_traces(lm, traces, estimator=("readout", "vocab"), method="packed", progress=False)
    ref = score_traces(sdpa, traces, estimator=("readout", "vocab"), method="naive", progress=False)
    for col in ("entropy", "gold_logprob"):
        assert np.nanmax(np.abs(got[col].to_numpy(float) - ref[col].to_numpy(float))) <= TOL, col


def test_compiled_forward_is_wired_and_agrees():
    """compile="eager" (dynamo without a code generator) goes through the same wiring as "inductor"."""
    lm = tiny_model("llama")
    lays = _layouts(lm)
    ref = methods.run_naive(lm.adapter, lays)
    got = methods.run_tree(lm.adapter, lays, methods.MethodOptions(compile="eager"))
    assert getattr(lm.model, "_siakit_compiled", None) == "eager"
    assert _max_diff(got[0], ref[0]) <= TOL and _max_diff(got[1], ref[1]) <= TOL
    with pytest.raises(ValueError, match="unknown compile backend"):
        methods.run_tree(lm.adapter, lays, methods.MethodOptions(compile="tensorrt"))
    fresh = tiny_model("llama")  # ScoreConfig.compile reaches the tree pass
    got = score_traces(fresh, make_traces(), method="packed", compile="eager", progress=False)
    want = score_traces(fresh, make_traces(), method="naive", progress=False)
    assert getattr(fresh.model, "_siakit_compiled", None) == "eager"
    assert np.nanmax(np.abs(got.entropy.to_numpy(float) - want.entropy.to_numpy(float))) <= TOL


@pytest.mark.skipif(os.environ.get("SIAKIT_SLOW_TESTS") != "1", reason="compiles FlexAttention to C++ "
                    "(minutes on CPU); set SIAKIT_SLOW_TESTS=1")
def test_compiled_flex_kernel_equals_naive():
    """The real compiled FlexAttention kernel (block skipping included) on two bucketed shapes: the
    second shape must compile statically (torch 2.13's CPU template fails on dynamic shapes)."""
    lm = tiny_model("llama", attn_implementation="flex_attention")
    lays = _layouts(lm)
    ref = methods.run_naive(lm.adapter, lays)
    for rows in (True, False):
        got = methods.run_tree(lm.adapter, lays, methods.MethodOptions(mask="flex", rows=rows))
        assert _max_diff(got[0], ref[0]) <= TOL and _max_diff(got[1], ref[1]) <= TOL
