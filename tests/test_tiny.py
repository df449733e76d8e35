"""The offline tiny tokenizer and random-weight models every scorer test runs on."""
import pytest
import torch

from siakit.models.tiny import FAMILIES, VOCAB_SIZE, tiny_config, tiny_model, tiny_tokenizer


def test_tokenizer_is_deterministic_fast_and_offline():
    a, b = tiny_tokenizer(), tiny_tokenizer()
    text = "Step 1: Tom has 3 apples.\nThe answer is 42."
    assert a.is_fast and a(text)["input_ids"] == b(text)["input_ids"]
    assert len(a) == VOCAB_SIZE
    enc = a(text, return_offsets_mapping=True)
    assert enc["input_ids"][0] == 0 and enc["offset_mapping"][0] == (0, 0)  # BOS in front
    assert enc["offset_mapping"][-1][1] == len(text)
    assert a.decode(enc["input_ids"], skip_special_tokens=True) == text
    plain = tiny_tokenizer(bos=False)(text)["input_ids"]
    assert plain == enc["input_ids"][1:]
    # the scorer needs both single- and multi-token answers
    assert len(a(" B", add_special_tokens=False)["input_ids"]) == 1
    assert len(a(" 137", add_special_tokens=False)["input_ids"]) > 1


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_builds_and_runs(family):
    lm = tiny_model(family)
    ids = torch.tensor([lm.tokenizer("The answer is 8")["input_ids"]])
    with torch.no_grad():
        logits = lm.model(ids).logits
    assert logits.shape == (1, ids.shape[1], VOCAB_SIZE) and torch.isfinite(logits).all()
    again = tiny_model(family).model  # seeded: the same weights every time
    assert all(torch.equal(p, q) for p, q in zip(lm.model.parameters(), again.parameters()))


def test_unknown_family_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown tiny model family 'bert'"):
        tiny_config("bert")
