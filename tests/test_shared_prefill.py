"""Shared-prefill sampling: the same tokens as separate prefills and as a cache-free replay."""
import pytest
import torch

from siakit.models.shared_prefill import _draw, row_seed, sample_continuations
from siakit.models.tiny import tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def _replay(lm, context, seed, row, n_new):
    """The same row sampled without cache, padding or batching: a full forward per token."""
    g = torch.Generator().manual_seed(row_seed(seed, row))
    ids, out = list(context), []
    for _ in range(n_new):
        with torch.no_grad():
            logits = lm.model(torch.tensor([ids])).logits[:, -1]
        nxt = int(_draw(logits, [g], 1.0)[0])
        out.append(nxt)
        if nxt == lm.tokenizer.eos_token_id:
            break
        ids.append(nxt)
    return out


@pytest.mark.parametrize("family", ["llama", "gpt2", "gemma2"])
def test_shared_equals_separate_and_a_cache_free_replay(family):
    lm = tiny_model(family)
    tok = lm.tokenizer
    contexts = [tok("Step 1: Tom has 3 apples and buys")["input_ids"], tok("Question: 3 + 5?")["input_ids"],
                tok("The answer is")["input_ids"]]  # different lengths: left padding inside a batch
    counts, seeds = [5, 3, 2], [0, 1, 2]
    stats = {}
    shared = sample_continuations(lm, contexts, counts, seeds, 10, batch_rows=4, stats=stats)
    separate = sample_continuations(lm, contexts, counts, seeds, 10, batch_rows=32, shared=False)
    assert [[c.tokens for c in job] for job in shared] == [[c.tokens for c in job] for job in separate]
    assert [len(job) for job in shared] == counts
    for j, r in ((0, 0), (0, 4), (1, 2), (2, 1)):
        assert shared[j][r].tokens == _replay(lm, contexts[j], seeds[j], r, 10), (j, r)
    assert stats["new_tokens"] == sum(len(c.tokens) for job in shared for c in job)
    # shared: each context prefilled once per batch it appears in (batches of 4 rows: 3 batches)
    assert stats["prefill_tokens"] < sum(n * len(c) for n, c in zip(counts, contexts))
    assert all(not c.ended and len(c.tokens) == 10 for job in shared for c in job if tok.eos_token_id not in c.tokens)


def test_rows_batches_and_errors():
    assert row_seed(0, 0) == 0 and row_seed(0, 1) != row_seed(1, 0)
    lm = tiny_model("llama")
    with pytest.raises(ValueError, match="temperature"):
        sample_continuations(lm, [[0, 5]], [2], [0], 4, temperature=-1)
    with pytest.raises(ValueError, match="2 contexts, 1 counts"):
        sample_continuations(lm, [[0], [0]], [2], [0], 4)
    with pytest.raises(ValueError, match="empty"):
        sample_continuations(lm, [[]], [1], [0], 4)


def test_generate_samples_several_traces_per_problem_with_one_prefill():
    from siakit.data.problems import Problem
    from siakit.experiment.generate import generate_traces

    lm = tiny_model("llama")
    problems = [Problem("p1", "gsm8k", "Tom has 3 apples and buys 5 more?", "8"),
                Problem("p2", "gsm8k", "3 + 4?", "7")]
    kw = dict(max_new_tokens=6, temperature=1.0, samples=3, progress=False)
    a = generate_traces(lm, problems, batch_size=6, **kw)
    b = generate_traces(lm, problems, batch_size=3, **kw)  # one problem per batch: same samples
    assert [t.id for t in a] == ["p1#0", "p1#1", "p1#2", "p2#0", "p2#1", "p2#2"]
    assert [t.steps for t in a] == [t.steps for t in b] and len({"".join(t.steps) for t in a}) > 1
    assert all(t.prompt == a[0].prompt for t in a[:3]) and a[0].gold == "8" and a[3].gold == "7"
    with pytest.raises(ValueError, match="temperature > 0"):
        generate_traces(lm, problems, max_new_tokens=4, temperature=0.0, samples=2, progress=False)


def test_per_job_caps_cut_the_same_samples_shorter():
    lm = tiny_model("llama")
    contexts = [[0, 5, 9], [0, 7]]
    long = sample_continuations(lm, contexts, [3, 3], [4, 5], 8)
    short = sample_continuations(lm, contexts, [3, 3], [4, 5], [3, 5])
    for job, cap in zip(range(2), (3, 5)):
        for a, b in zip(long[job], short[job]):
            assert b.tokens == a.tokens[:cap] and len(b.tokens) <= cap
            assert b.ended == (bool(b.tokens) and b.tokens[-1] == lm.tokenizer.eos_token_id)


def _replay_greedy(lm, context, n_new):
    ids, out = list(context), []
    for _ in range(n_new):
        with torch.no_grad():
            nxt = int(lm.model(torch.tensor([ids])).logits[0, -1].argmax())
        out.append(nxt)
        if nxt == lm.tokenizer.eos_token_id:
            break
        ids.append(nxt)
    return out


@pytest.mark.parametrize("family", ["llama", "gemma2"])
def test_continuous_batching_refills_the_batch_and_keeps_every_row(family):
    """Rows of very different lengths (caps 2..12, EOS forced on some) through a batch of 3: queued
    rows are stacked onto a running batch (more prefills than a batch-at-a-time run would make) and
    every row equals its cache-free replay, sampled and greedy."""
    lm = tiny_model(family)
    eos = lm.tokenizer.eos_token_id
    contexts = [[1, 5, 9, 11, 3], [1, 7], [1, 4, 4], [1, 8, 2, 6, 6, 6, 2], [1, 3, eos]]
    counts, seeds, caps = [3, 2, 4, 1, 2], [3, 4, 5, 6, 7], [2, 12, 5, 9, 3]
    stats = {}
    got = sample_continuations(lm, contexts, counts, seeds, caps, batch_rows=3, stats=stats)
    assert stats["prefills"] > -(-sum(counts) // 3)  # refills happened while rows were still decoding
    for j, n in enumerate(counts):
        for r in range(n):
            assert got[j][r].tokens == _replay(lm, contexts[j], seeds[j], r, caps[j]), (j, r)
    greedy = sample_continuations(lm, contexts, counts, seeds, caps, temperature=0.0, batch_rows=2)
    for j, n in enumerate(counts):
        assert all(c.tokens == _replay_greedy(lm, contexts[j], caps[j]) for c in greedy[j]), j


def test_stack_caches_pads_the_shorter_cache_on_the_left():
    from transformers import DynamicCache

    from siakit.models.adapter import ModelAdapter

    a, b = DynamicCache(), DynamicCache()
    a.update(torch.ones(2, 1, 3, 4), torch.ones(2, 1, 3, 4), 0)
    b.update(torch.full((1, 1, 5, 4), 2.0), torch.full((1, 1, 5, 4), 2.0), 0)
    assert ModelAdapter.can_stack_caches(a) and not ModelAdapter.can_stack_caches(DynamicCache())
    merged = ModelAdapter.stack_caches(a, b)
    keys = merged.layers[0].keys
    assert keys.shape == (3, 1, 5, 4)
    assert keys[:2, :, :2].abs().sum() == 0 and bool((keys[:2, :, 2:] == 1).all()) and bool((keys[2] == 2).all())


def test_continuous_bench_rows(monkeypatch):
    """`siakit bench --continuous`: both schedules on the lineage's prompts, one row per decode."""
    import siakit.models.loading as loading
    from siakit.bench.continuous import continuous_batching

    monkeypatch.setattr(loading, "load_model", lambda spec, **kw: tiny_model("llama"))
    rows = continuous_batching("tiny", n=6, m=2, max_new_tokens=6, batch_rows=4)
    assert [r["decode"] for r in rows] == ["greedy traces", "rollouts from the middle, M = 2, temperature 1"]
    assert rows[0]["rows"] == 6 and rows[1]["rows"] == 12
    assert all(r["same_rows"] == 1.0 and r["speedup"] > 0 and r["new_tokens"] > 0 for r in rows)
    assert rows[1]["continuous_prefills"] >= rows[1]["batch_prefills"] >= 3  # 12 rows in batches of 4
