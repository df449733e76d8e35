"""The grammar of a numeric answer after the cue, on the vocabulary: which tokens may come next.

The text after the cue (e.g. "\\nThe answer is") is a numeric answer when it reads

    [lead] " " ["$"] ["-"] ["$"] digits ( ("." | ",") digits )*

where `lead` is one of a few allowed strings (default ":", since "The answer is: 42" states 42 too).
A separator ("." or ",") is a node of the trie only on the way to a digit: "42." followed by anything
but a digit ends the answer 42. A character automaton (states below) runs over each token's text, so
multi-character tokens (" 4", "00", ".5", " -") are handled the same way as single digits.

    >>> g = numeric_grammar(tokenizer)                    # cached per (tokenizer, leads)
    >>> [(g.texts[t], STATES[s], d) for t, s, d in g.children[START][:4]]   # (token, next state, digits added)
    [(':', 'LEAD', 0), (' ', 'SPACE', 0), (' 1', 'NUM', 1), (' 2', 'NUM', 1)]
    >>> answer_key(": $1,000")                            # the normalised value of a node's text
    '1000'

States: START (nothing yet), LEAD (after a lead), SPACE (after the space), CUR / SIGN / CURSIGN (after
"$", "-", both), NUM (the text ends in a digit: a complete number), SEP (after a separator).
"""
from __future__ import annotations

from dataclasses import dataclass

START, LEAD, SPACE, CUR, SIGN, CURSIGN, NUM, SEP = range(8)
STATES = ("START", "LEAD", "SPACE", "CUR", "SIGN", "CURSIGN", "NUM", "SEP")
_ALPHABET = set("0123456789.,-$: ")


def step(state: int, text: str, leads: tuple = (":",), symbols: str = "$-.,") -> tuple[int, int] | None:
    """Run the automaton from `state` over `text`; (end state, digits read) or None if rejected.

    step(START, " 4") -> (NUM, 1);  step(NUM, ".5") -> (NUM, 1);  step(NUM, ". ") -> None
    step(START, ":") -> (LEAD, 0);  step(SPACE, "$") -> (CUR, 0);  step(SPACE, "-", symbols="") -> None
    `symbols`: which of "$", "-", ".", "," the grammar allows (all by default; "" = plain digits).
    """
    digits, i = 0, 0
    if state == START:  # a lead is matched as a whole string
        for lead in sorted(leads, key=len, reverse=True):
            if lead and text.startswith(lead):
                state, i = LEAD, len(lead)
                break
    for ch in text[i:]:
        if ch.isdigit() and ch in "0123456789":
            if state in (SPACE, CUR, SIGN, CURSIGN, NUM, SEP):
                state, digits = NUM, digits + 1
                continue
            return None
        if ch in "$-.," and ch not in symbols:
            return None
        nxt = {(START, " "): SPACE, (LEAD, " "): SPACE, (SPACE, "$"): CUR, (SPACE, "-"): SIGN,
               (CUR, "-"): CURSIGN, (SIGN, "$"): CURSIGN, (NUM, "."): SEP, (NUM, ","): SEP}.get((state, ch))
        if nxt is None:
            return None
        state = nxt
    return state, digits


def token_texts(tokenizer) -> list[str]:
    """The text of every token as it reads inside a sequence: a raw token with a leading-space marker
    (`Ġ`, `▁`) keeps its space even where decoding a lone token drops it."""
    from siakit.scorer.termination import SPACE_MARKERS

    size = len(tokenizer)
    raws = tokenizer.convert_ids_to_tokens(list(range(size)))
    texts = tokenizer.batch_decode([[i] for i in range(size)], skip_special_tokens=False,
                                   clean_up_tokenization_spaces=False)
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    out = []
    for i, (raw, text) in enumerate(zip(raws, texts)):
        if i in special:
            out.append("")
        elif (raw or "").startswith(SPACE_MARKERS) and not text.startswith(" "):
            out.append(" " + text)
        else:
            out.append(text)
    return out


@dataclass(frozen=True)
class NumericGrammar:
    leads: tuple                 # allowed strings between the cue and the space (":" by default)
    symbols: str                 # which of "$", "-", ".", "," may appear (all by default)
    children: tuple              # per state: tuple of (token id, next state, digits added)
    cont: tuple                  # CONT ids (`siakit.scorer.termination`): tokens that continue an answer
    texts: tuple                 # token id -> text (only the tokens of `children`; others "")


_CACHE: dict = {}


def numeric_grammar(tokenizer, leads: tuple = (":",), symbols: str = "$-.,") -> NumericGrammar:
    """The grammar's children per state for `tokenizer` (cached per tokenizer object, leads, symbols)."""
    from siakit.scorer.termination import continuation_ids

    leads = tuple(leads)
    hit = _CACHE.get((id(tokenizer), leads, symbols))
    if hit is not None and hit[0] is tokenizer:
        return hit[1]
    texts = token_texts(tokenizer)
    lead_chars = set("".join(leads))
    children = [[] for _ in STATES]
    keep = {}
    for i, text in enumerate(texts):
        if not text or not set(text) <= (_ALPHABET | lead_chars):
            continue
        for state in range(len(STATES)):
            res = step(state, text, leads, symbols)
            if res is not None:
                children[state].append((i, res[0], res[1]))
                keep[i] = text
    if not children[START]:
        raise ValueError(f"tokenizer {type(tokenizer).__name__}: no token starts a numeric answer")
    grammar = NumericGrammar(leads=leads, symbols=symbols, children=tuple(tuple(c) for c in children),
                             cont=continuation_ids(tokenizer),
                             texts=tuple(keep.get(i, "") for i in range(len(texts))))
    _CACHE[(id(tokenizer), leads, symbols)] = (tokenizer, grammar)
    return grammar


def answer_key(text: str, leads: tuple = (":",)) -> str:
    """The answer a complete node's text stands for: lead and space stripped, normalised as the
    scorer compares numbers ("$1,000.00" -> "1000"; "-3" -> "-3"; "007" -> "7").

    answer_key(": $1,000") -> "1000";  answer_key(" 2.50") -> "2.5"
    """
    from siakit.data.answers import normalize_answer

    for lead in sorted(leads, key=len, reverse=True):
        if lead and text.startswith(lead):
            text = text[len(lead):]
            break
    return normalize_answer(text.strip())


def gold_prefix(text: str, gold_digits: str | None, leads: tuple = (":",)) -> bool:
    """Whether a node's text could still become the gold: its sign and digits (lead, space, "$" and
    thousands commas dropped) are a prefix of the gold's. `gold_digits` is the normalised gold.

    gold_prefix(" 1,0", "1000") -> True;  gold_prefix(" 2", "12") -> False;  gold_prefix(":", "5") -> True
    """
    if not gold_digits:
        return False
    for lead in sorted(leads, key=len, reverse=True):
        if lead and text.startswith(lead):
            text = text[len(lead):]
            break
    core = text.strip().replace("$", "").replace(",", "")
    return gold_digits.startswith(core)
