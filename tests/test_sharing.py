"""One token forest: prompt sharing gives the numbers of scoring each trace alone, on every family and
method, and the single mask rule is the ancestor relation of the forest."""
import numpy as np
import pandas as pd
import pytest
import torch

from siakit.data.traces import Trace
from siakit.models.tiny import tiny_tokenizer
from siakit.scorer import methods
from siakit.scorer.layout import layout_trace
from siakit.scorer.mask_cost import BLOCK_MASKS, MASK_CLOCK
from siakit.scorer.masks import dense_mask, flex_block_mask
from siakit.scorer.methods import METHODS as REGISTRY
from siakit.scorer.packing import Forest, build_pack, pack_tensors, prompt_groups
from siakit.scorer.score import score_traces
from tests.test_scorer import OPTIONS, TOL, _load, _models

pytestmark = pytest.mark.usefixtures("one_thread")
SHARE_TOL = 1e-5  # shared against alone: the same tokens, only float rounding differs
APPLES = "Question: Tom has 3 apples and buys 5 more."
STEPS = ["\nStep 1: Tom starts with 3 apples.", "\nStep 2: He buys 5 more, so 3 + 5 = 8."]


def shared_traces():
    """Two prompt groups, interleaved in the input: four variants of the apples question (one with
    no steps, two with a common first step) and two of the mammal question."""
    mammal = "Which is a mammal? (A) shark (B) whale"
    return [
        Trace(id="a-intact", prompt=APPLES, steps=STEPS, options=OPTIONS, gold="8"),
        Trace(id="m-1", prompt=mammal, steps=[" The whale breathes air."], options=OPTIONS, gold="B"),
        Trace(id="a-shuffled", prompt=APPLES, steps=STEPS[::-1], options=OPTIONS, gold="8"),
        Trace(id="a-empty", prompt=APPLES, steps=[], options=OPTIONS, gold="8"),
        Trace(id="m-2", prompt=mammal, steps=[" A shark is a fish."], options=OPTIONS, gold="B"),
        Trace(id="a-corrupted", prompt=APPLES, steps=[STEPS[0], "\nStep 2: so 3 + 5 = 9."], options=OPTIONS,
              gold="8"),
    ]


def _values(frame):
    return np.concatenate([frame.entropy.to_numpy(float), frame.gold_logprob.to_numpy(float),
                           np.stack(frame.option_logprobs.dropna()).ravel()])


@pytest.mark.parametrize("name", list(_models()))
def test_prompt_sharing_equals_each_trace_alone_and_naive(name):
    lm = _load(name)
    traces = shared_traces()
    alone = {t.id: score_traces(lm, [t], estimator=("readout", "vocab"), method="naive", progress=False)
             for t in traces}
    ref = _values(pd.concat([alone[t.id] for t in traces]))
    for method, spec in REGISTRY.items():
        if method == "naive" or (name == "protocol" and spec.needs_cache):
            continue
        for layout in ("rows", "diag"):
            if layout == "diag" and method != "packed":
                continue
            got = score_traces(lm, traces, estimator=("readout", "vocab"), method=method, progress=False,
                               pack_tokens=10_000, pack_layout=layout)
            assert list(got.id.unique()) == [t.id for t in traces]  # input order
            diff = np.nanmax(np.abs(_values(got) - ref))
            assert diff <= TOL, f"{name}/{method}/{layout}: {diff:.2e} from naive"
            if spec.tree:  # shared against the same method on each trace alone
                solo = _values(pd.concat([score_traces(lm, [t], estimator=("readout", "vocab"), method=method,
                                                       progress=False) for t in traces]))
                diff = np.nanmax(np.abs(_values(got) - solo))
                assert diff <= SHARE_TOL, f"{name}/{method}/{layout}: {diff:.2e} shared vs alone"
    lays = [layout_trace(lm.tokenizer, t, t.cue, t.options) for t in traces]
    ref = methods.run_naive(lm.adapter, lays)
    for cascade in (False, "always") if lm.adapter.supports_kv_cache else (False,):  # both cuts, whatever cascade_pays says
        for rows in (True, False):
            got = methods.run_tree(lm.adapter, lays, methods.MethodOptions(rows=rows, cascade=cascade))
            for a, b in zip(got[0] + got[1], ref[0] + ref[1]):
                assert np.nanmax(np.abs(a - b)) <= TOL, f"{name}: cascade={cascade} rows={rows}"


def test_kvtree_with_a_shared_trunk_runs_the_trunk_under_the_tree_mask():
    lm = _load("gemma2")  # sliding window 16 on the shared trunk
    lays = [layout_trace(lm.tokenizer, t, t.cue, t.options) for t in shared_traces()]
    packs = methods._packs(lays, methods.MethodOptions(rows=True))
    assert len(packs) == 2 and not packs[0].chain
    ref = methods.run_naive(lm.adapter, lays)
    got = methods.run_kvtree(lm.adapter, lays, methods.MethodOptions(rows=True))
    for a, b in zip(got[0] + got[1], ref[0] + ref[1]):
        assert np.nanmax(np.abs(a - b)) <= TOL


def test_shared_prompt_is_fed_once_and_the_mask_is_the_ancestor_relation():
    tok = tiny_tokenizer()
    traces = shared_traces()
    lays = [layout_trace(tok, t, t.cue, t.options) for t in traces]
    assert prompt_groups(lays) == [[0, 2, 3, 5], [1, 4]]
    group = [lays[i] for i in (0, 2, 3, 5)]
    shared, separate = build_pack(group), build_pack(group, share=False)
    prompt = group[0].bounds[0]
    assert len(separate.input_ids) - len(shared.input_ids) >= 3 * prompt  # the prompt fed once, not 4x
    assert separate.chain is False and shared.chain is False and build_pack(group[:1]).chain
    # the rule order[kv] <= order[q] < subtree_end[kv] is exactly "kv is q or an ancestor of q"
    f = shared.forest
    order = f.numbering()[0]
    node_of = dict(enumerate(sorted(range(len(f.ids)), key=lambda n: (not f.trunk[n], order[n]))))
    mask = dense_mask(pack_tensors([shared], "cpu"))[0, 0]
    for q in range(len(shared.input_ids)):
        seen, n = set(), node_of[q]
        while n >= 0:
            seen.add(n)
            n = f.parent[n]
        expected = torch.tensor([node_of[kv] in seen for kv in range(len(shared.input_ids))])
        assert torch.equal(mask[q], expected), q
    assert sorted(shared.order) == list(range(len(shared.input_ids)))  # one number per token


def test_forest_paths_merge_like_a_trie_and_number_depth_first():
    f = Forest()
    assert f.add_path(-1, [5, 6, 7], trunk=True) == [0, 1, 2]
    assert f.add_path(1, [9]) == [3]
    assert f.add_path(-1, [5, 6, 8], trunk=True) == [0, 1, 4]
    assert f.add_path(-1, [5], trunk=True, tree=1) == [5]  # another tree never merges
    assert f.depth == [0, 1, 2, 2, 2, 0]
    order, end = f.numbering()
    assert order == [0, 1, 3, 2, 4, 5] and end == [5, 5, 4, 3, 5, 6]


def test_block_masks_are_cached_per_forest_shape_and_clocked():
    tok = tiny_tokenizer()
    lays = [layout_trace(tok, t, t.cue, t.options) for t in shared_traces()]
    meta = pack_tensors([build_pack(lays)], "cpu")
    BLOCK_MASKS.clear()
    MASK_CLOCK.reset()
    first = flex_block_mask(meta)
    again = flex_block_mask(pack_tensors([build_pack(lays)], "cpu"))  # a new pack, the same forest
    assert again is first and MASK_CLOCK.built == 1 and MASK_CLOCK.reused == 1 and MASK_CLOCK.seconds > 0
    other = flex_block_mask(pack_tensors([build_pack(lays[:2])], "cpu"))
    assert other is not first and MASK_CLOCK.built == 2


def test_sharing_bench_row_counts_tokens_and_agrees_with_naive():
    from siakit.bench.sharing import measure

    lm = _load("qwen2")
    row = measure(lm, shared_traces(), "tree", "a")
    assert row["traces"] == 6 and row["prompts"] == 2 and row["prefixes"] == 3 + 2 + 3 + 1 + 2 + 3
    assert row["tokens_shared"] < row["tokens_separate"] < row["tokens_naive"]
    assert row["token_ratio"] == pytest.approx(row["tokens_separate"] / row["tokens_shared"], abs=1e-3)
    assert row["max_dh_shared"] <= TOL and row["max_dh_separate"] <= TOL
    assert row["max_dh_shared_vs_separate"] <= SHARE_TOL
    assert row["mask_seconds_shared"] > 0 and row["mask_seconds_naive"] == 0
    assert "call" not in vars(lm.adapter)  # the token counter is removed again


def test_cascade_feeds_the_prompt_once_and_equals_the_one_pass_tree():
    from siakit.scorer.cascade import cascade_cut, common_prefix

    lm = _load("gemma3")  # mixed sliding/full layers: the row pass takes a mask dict
    lays = [layout_trace(lm.tokenizer, t, t.cue, t.options) for t in shared_traces()]
    group = [lays[i] for i in (0, 2, 3, 5)]
    cut = cascade_cut(group, [0, 2, 3, 5])
    assert len(cut.stem) > common_prefix(group) >= group[0].bounds[0]  # + the shared first step
    assert len(cut.rows) == 3  # intact and corrupted share their first step: one subtree, one row
    assert sorted([n for r in cut.rows for n in r] + cut.stem) == list(range(len(cut.ids)))  # each node once
    one_pass = methods.run_tree(lm.adapter, lays, methods.MethodOptions(cascade=False))
    cascade = methods.run_tree(lm.adapter, lays, methods.MethodOptions(cascade="always"))
    for a, b in zip(one_pass[0] + one_pass[1], cascade[0] + cascade[1]):
        assert np.nanmax(np.abs(a - b)) <= SHARE_TOL
