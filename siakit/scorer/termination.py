"""The end of an answer: which next tokens would *continue* an option instead of ending it.

An option's terminated probability is that of the option followed by the end of the answer:

    log p_term(o | ctx) = sum_j log p(o_j | ctx, o_<j) + log(1 - sum_{t in CONT} p(t | ctx, o))

CONT is the set of vocabulary tokens whose text begins with a letter or a digit with no leading
space: a digit after " 2" makes " 24", a letter after " A" makes " Apple". Every other token (a space,
".", ",", a newline, the end of text, "%", ")" ...) ends the answer. So p_term(" 2") no longer holds
the mass of " 24". (A "." ends the answer, so " 2" still holds " 2.5"; "," too, so " 1" holds
" 1,000": we write candidates normalised, without thousands commas.)

CONT is read from the RAW token strings (`convert_ids_to_tokens`), because decoding a lone token can
drop its leading space: a raw token starting with `Ġ` (byte-level BPE: GPT-2, SmolLM2, Llama-3,
Qwen) or `▁` (SentencePiece: Gemma, Llama-2) carries a leading space and never continues. For the
rest, the token is decoded and its first character tested with `str.isalnum()` (so a byte-fallback
token such as `<0x37>` counts by the character it stands for, and a lone UTF-8 fragment that decodes
to U+FFFD does not). Special tokens (EOS, ...) never continue. Computed once per tokenizer, cached.

    >>> ids = continuation_ids(tokenizer)          # sorted token ids, e.g. "4", "ly", "0" but not " 4"
    >>> len(ids), tokenizer.convert_ids_to_tokens(list(ids[:3])), tokenizer.convert_tokens_to_ids("Ġ4") in ids
    (131, ['0', '1', '2'], False)
"""
from __future__ import annotations

SPACE_MARKERS = ("\u0120", "\u2581")  # Ġ (byte-level BPE), ▁ (SentencePiece): a leading space
END = -2  # the `target` of a read that adds the log-probability of ending the answer there

_CACHE: dict[int, tuple] = {}  # id(tokenizer) -> (tokenizer, ids); the tokenizer is held so ids stay unique


def continues(raw: str, text: str, special: bool) -> bool:
    """Whether a token with raw string `raw` and decoded `text` would extend an answer.

    continues("4", "4", False) -> True;  continues("Ġ4", " 4", False) -> False
    continues("▁A", "A", False) -> False (decoding dropped the space);  continues(".", ".", False) -> False
    """
    if special or not raw or raw.startswith(SPACE_MARKERS):
        return False
    return bool(text) and text[0].isalnum()


def continuation_ids(tokenizer) -> tuple[int, ...]:
    """Sorted ids of the tokens in CONT for `tokenizer` (cached per tokenizer object)."""
    hit = _CACHE.get(id(tokenizer))
    if hit is not None and hit[0] is tokenizer:
        return hit[1]
    size = len(tokenizer)
    raws = tokenizer.convert_ids_to_tokens(list(range(size)))
    texts = tokenizer.batch_decode([[i] for i in range(size)], skip_special_tokens=False,
                                   clean_up_tokenization_spaces=False)
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    ids = tuple(i for i in range(size) if continues(raws[i] or "", texts[i], i in special))
    if not ids:
        raise ValueError(f"tokenizer {type(tokenizer).__name__}: no token continues an answer; "
                         "cannot score terminated options")
    _CACHE[id(tokenizer)] = (tokenizer, ids)
    return ids


def end_logprob(logp, cont_mask):
    """log(1 - sum_{t in CONT} p(t)) per row, as a log-sum-exp over the tokens NOT in CONT (exact
    where 1 - sum is tiny). `logp` [n, vocab] log-probabilities; `cont_mask` [vocab] bool -> [n]."""
    import torch

    return torch.logsumexp(logp.masked_fill(cont_mask[None, :], float("-inf")), dim=-1)
