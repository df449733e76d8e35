"""Shared-prefill sampling: the same tokens as separate prefills and as a cache-free replay."""
import pytest
import torch

from siakit.models.shared_prefill import _draw, _units, row_seed, sample_continuations
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
    assert _units([3, 2], 4) == [[(0, 0), (0, 1), (0, 2), (1, 0)], [(1, 1)]]
    assert row_seed(0, 0) == 0 and row_seed(0, 1) != row_seed(1, 0)
    lm = tiny_model("llama")
    with pytest.raises(ValueError, match="temperature"):
        sample_continuations(lm, [[0, 5]], [2], [0], 4, temperature=0)
    with pytest.raises(ValueError, match="2 contexts, 1 counts"):
        sample_continuations(lm, [[0], [0]], [2], [0], 4)
    with pytest.raises(ValueError, match="empty"):
        sample_continuations(lm, [[]], [1], [0], 4)
