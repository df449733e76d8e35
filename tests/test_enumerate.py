"""The `enumerate` estimator: equal to brute force on a tiny model, masses that sum to 1, and on
SmolLM2 the frequencies of answers sampled after the cue within binomial intervals of its numbers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from siakit.data.traces import Trace
from siakit.scorer.enumeration import EnumerateOptions, enumerate_layout
from siakit.scorer.enumeration_summary import entropy_interval
from siakit.scorer.layout import layout_trace
from siakit.scorer.numeric_grammar import (CUR, LEAD, NUM, SEP, SPACE, START, answer_key, gold_prefix,
                                           numeric_grammar, step, token_texts)

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py

CUE = "\nThe answer is"


def _trace(**kw):
    return Trace(id="t", prompt="Question: Tom has 3 apples and buys 5 more. How many?\nAnswer:",
                 steps=[" Tom has 3 apples.", " So 3 + 5 = 8."], gold="8", **kw)


def test_the_grammar_reads_token_texts():
    assert step(START, " 4") == (NUM, 1) and step(NUM, ".5") == (NUM, 1) and step(NUM, ". ") is None
    assert step(START, ":") == (LEAD, 0) and step(LEAD, " ") == (SPACE, 0) and step(SPACE, "$") == (CUR, 0)
    assert step(NUM, ",") == (SEP, 0) and step(SEP, "x") is None and step(START, "4") is None
    assert step(SPACE, "-", symbols="") is None and step(START, ":", leads=()) is None
    assert answer_key(": $1,000") == "1000" and answer_key(" 2.50") == "2.5" and answer_key(" -3") == "-3"
    assert gold_prefix(" 1,0", "1000") and not gold_prefix(" 2", "12") and gold_prefix(":", "5")


def _brute_force(lm, lay, k, texts, leads, symbols, max_digits):
    """Every grammar path after context_k + cue with at most `max_digits` digits, each scored by a plain
    forward pass of the whole sequence (no cache, no tree mask, no search); the answer masses by the
    definition in `siakit.scorer.enumeration`. Returns (answers, non_numeric, capped)."""
    import torch

    cont = np.zeros(len(texts), dtype=bool)
    cont[list(numeric_grammar(lm.tokenizer, leads, symbols).cont)] = True
    cand = [i for i, t in enumerate(texts) if t and set(t) <= set("0123456789.,-$: ")]
    paths, todo = [], [((), "", START, 0)]
    while todo:  # depth-first over the grammar, cut where a token would pass max_digits
        toks, text, state, digits = todo.pop()
        kids = [(i, *r) for i in cand if (r := step(state, texts[i], leads, symbols)) is not None]
        paths.append((toks, text, state, digits, kids))
        todo += [(toks + (i,), text + texts[i], s, digits + d) for i, s, d in kids if digits + d <= max_digits]
    head = lay.ids[: lay.bounds[k]] + lay.cue
    logp = {}
    for length in sorted({len(p[0]) for p in paths}):
        group = [p[0] for p in paths if len(p[0]) == length]
        with torch.no_grad():
            out = lm.model(torch.tensor([head + list(t) for t in group])).logits[:, -1].float().log_softmax(-1)
        logp.update({t: out[j].double().numpy() for j, t in enumerate(group)})
    answers, non_numeric, capped = {}, 0.0, 0.0
    for toks, text, state, digits, kids in paths:
        mass = math.exp(sum(logp[toks[:j]][toks[j]] for j in range(len(toks))))
        p = np.exp(logp[toks])
        kid_ids = np.array([i for i, _, _ in kids], dtype=int)
        in_kids = np.zeros(len(texts), dtype=bool)
        in_kids[kid_ids] = True
        capped += mass * sum(p[i] for i, _, d in kids if digits + d > max_digits)
        if state == NUM:
            key = answer_key(text, leads)
            answers[key] = answers.get(key, 0.0) + mass * p[~cont & ~in_kids].sum()
            non_numeric += mass * p[cont & ~in_kids].sum()
        elif state == SEP:
            key = answer_key(text.rstrip(".,"), leads)
            answers[key] = answers.get(key, 0.0) + mass * (1 - p[in_kids].sum())
        else:
            non_numeric += mass * (1 - p[in_kids].sum())
    return answers, non_numeric, capped


@pytest.mark.parametrize("leads,symbols,max_digits", [((), "", 3), ((":",), "$-.,", 1)],
                         ids=["every-number-up-to-3-digits", "signs-separators-leads"])
def test_enumerate_equals_brute_force_on_a_tiny_model(leads, symbols, max_digits):
    from siakit.models.tiny import tiny_model

    lm = tiny_model("llama")
    lay = layout_trace(lm.tokenizer, _trace(), CUE, None)
    grammar = numeric_grammar(lm.tokenizer, leads, symbols)
    opts = EnumerateOptions(epsilon=0.0, max_nodes=10 ** 6, width=10 ** 6, max_digits=max_digits, leads=leads)
    rows = enumerate_layout(lm.adapter, grammar, lay, "8", opts)
    texts = token_texts(lm.tokenizer)
    for k in range(len(lay.bounds)):
        answers, non_numeric, capped = _brute_force(lm, lay, k, texts, leads, symbols, max_digits)
        row = rows[k]
        got = dict(zip(row["options"], np.exp(row["option_logprobs"])))
        assert set(got) == set(answers) and len(got) >= (100 if max_digits == 3 else 10)
        for key, value in answers.items():
            assert got[key] == pytest.approx(value, rel=1e-4, abs=1e-12), key
        assert row["non_numeric_mass"] == pytest.approx(non_numeric, rel=1e-5)
        assert row["unexplored_mass"] == pytest.approx(capped, rel=1e-4, abs=1e-12)
        total = row["enumerated_mass"] + row["non_numeric_mass"] + row["unexplored_mass"]
        assert total == pytest.approx(1.0, abs=1e-5)
        assert row["gold_logprob_raw"] == pytest.approx(math.log(answers["8"]), abs=1e-4)
        p = np.array(list(answers.values()))
        assert row["entropy"] == pytest.approx(float(-(p / p.sum() * np.log(p / p.sum())).sum()), abs=1e-5)
        assert row["entropy_low"] <= row["entropy"] <= row["entropy_high"]


def test_the_search_is_gold_blind_and_the_gold_is_read_beside_it():
    """Whatever the gold (or none), and with or without prefetching, the search finds the same answers,
    masses and h_k, so an early exit may decide with them; the gold's raw log-probability is still
    exact when the search stops long before reaching it (checked against the exhaustive search)."""
    from siakit.analysis.early_exit import check_prefix_only
    from siakit.models.tiny import tiny_model
    from siakit.scorer.score import score_traces

    lm = tiny_model("llama")
    lay = layout_trace(lm.tokenizer, _trace(), CUE, None)
    grammar = numeric_grammar(lm.tokenizer, (), "")
    small = EnumerateOptions(epsilon=1e-5, max_nodes=30, width=8, max_digits=3, leads=())
    exact = EnumerateOptions(epsilon=0.0, max_nodes=10 ** 6, width=10 ** 6, max_digits=3, leads=())
    encode = lambda text: lm.tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    blind = ("entropy", "options", "option_probs", "enumerated_mass", "non_numeric_mass", "unexplored_mass",
             "n_nodes", "entropy_low", "entropy_high")
    base = enumerate_layout(lm.adapter, grammar, lay, None, small)
    for gold in ("8", "907", "31"):
        full = enumerate_layout(lm.adapter, grammar, lay, gold, exact)
        for prefetch in (None, [[encode(" " + gold), encode(" 3")]] * len(lay.bounds)):
            rows = enumerate_layout(lm.adapter, grammar, lay, gold, small, prefetch)
            for k, (row, ref) in enumerate(zip(rows, base)):
                for col in blind:
                    assert row[col] == pytest.approx(ref[col], abs=1e-6, nan_ok=True), (gold, prefetch is not None, k, col)
                assert row["n_nodes"] <= 30 and row["n_gold_nodes"] >= len(encode(" " + gold))
                assert row["gold_in_set"] == (gold in ref["options"])
                assert row["gold_logprob_raw"] == pytest.approx(full[k]["gold_logprob_raw"], abs=1e-3)  # float32 passes
    assert any(gold not in r["options"] for gold in ("907",) for r in base)  # a gold the search never saw
    frame = score_traces(lm, [_trace()], estimator="enumerate", progress=False, enumerate_max_nodes=6)
    check_prefix_only(frame)  # the early exit takes gold-blind rows ...
    with pytest.raises(ValueError, match="older search"):
        check_prefix_only(frame.drop(columns="n_gold_nodes"))  # ... and refuses the older search's


def test_the_entropy_interval():
    assert entropy_interval(np.array([0.5, 0.5]), 0.0, 30.0) == pytest.approx((math.log(2), math.log(2)))
    low, high = entropy_interval(np.array([0.45, 0.45]), 0.1, 30.0)
    assert low == pytest.approx(-(0.55 * math.log(0.55) + 0.45 * math.log(0.45)))  # all of it on one answer
    lam = 0.1
    assert high == pytest.approx(-(lam * math.log(lam) + (1 - lam) * math.log(1 - lam)) + 0.9 * math.log(2) + lam * 30)


def test_score_traces_enumerate_rows_and_choices_are_exact():
    from siakit.models.tiny import tiny_model
    from siakit.scorer.score import score_traces

    lm = tiny_model("llama")
    frame = score_traces(lm, [_trace()], estimator="enumerate", progress=False, enumerate_max_nodes=40)
    assert len(frame) == 3 and set(frame["method"]) == {"enumerate"}
    total = frame["enumerated_mass"] + frame["non_numeric_mass"] + frame["unexplored_mass"]
    assert np.allclose(total, 1.0, atol=1e-5)
    assert (frame["n_nodes"] <= 40).all()  # the budget (the gold's shadow path is outside it)
    assert np.isfinite(frame["gold_logprob_raw"]).all() and (frame["gold_logprob"] <= 1e-9).all()
    exact = dict(enumerate_epsilon=0.0, enumerate_max_digits=1, enumerate_max_nodes=10 ** 6, progress=False)
    fetched = score_traces(lm, [_trace()], estimator="enumerate", enumerate_prefetch=True, **exact)
    searched = score_traces(lm, [_trace()], estimator="enumerate", enumerate_prefetch=False, **exact)
    assert (fetched["n_nodes"] == searched["n_nodes"]).all()  # the same tree, every node once
    assert np.allclose(fetched["entropy"], searched["entropy"], atol=1e-6)  # prefetching changes no number
    assert np.allclose(fetched["gold_logprob_raw"], searched["gold_logprob_raw"], atol=1e-6)
    choices = Trace(id="c", prompt="Which is a mammal? (A) shark (B) whale\nAnswer:", steps=[" A whale."],
                    options=[" A", " B"], gold="B")
    both = score_traces(lm, [choices], estimator=("readout", "enumerate"), progress=False)
    read, enum = both[both.estimator == "readout"], both[both.estimator == "enumerate"]
    assert np.allclose(read["entropy"].values, enum["entropy"].values)
    assert (enum["unexplored_mass"] == 0).all() and np.allclose(enum["entropy_low"], enum["entropy"])


@pytest.fixture(scope="module")
def smollm():
    from siakit.models.loading import load_model

    return load_model("smollm2-135m-instruct")


def _sample_after_cue(lm, head, draws, leads, seed=0, max_tokens=8):
    """`draws` answers sampled after `head` (context + cue) from the model's own law, token by token:
    at each node of the sampled tree the draws that reached it are split multinomially over the
    next-token distribution (one plain forward pass per distinct node, no cache), and a draw stops
    where its text leaves the numeric grammar. Returns {answer key or "<non-numeric>": count}."""
    import torch

    texts = token_texts(lm.tokenizer)
    rng = np.random.default_rng(seed)
    counts, level = {}, [((), "", START, draws)]
    for _ in range(max_tokens):
        if not level:
            break
        with torch.no_grad():
            out = lm.model(torch.tensor([head + list(t) for t, *_ in level])).logits[:, -1].float().softmax(-1)
        nxt = {}
        for j, (toks, text, state, n) in enumerate(level):
            p = out[j].double().numpy()
            split = rng.multinomial(n, p / p.sum())
            for tok in np.flatnonzero(split):
                res = step(state, texts[tok], leads)
                if res is not None:
                    key = toks + (int(tok),)
                    nxt[key] = (key, text + texts[tok], res[0], nxt.get(key, (0, 0, 0, 0))[3] + int(split[tok]))
                    continue
                # the draw leaves the grammar: it ended a number (after a digit, or a separator then
                # not a digit) or it is not numeric
                if state == NUM and not (texts[tok][:1].isalnum() and not texts[tok].startswith(" ")):
                    outcome = answer_key(text, leads)
                elif state == SEP:
                    outcome = answer_key(text.rstrip(".,"), leads)
                else:
                    outcome = "<non-numeric>"
                counts[outcome] = counts.get(outcome, 0) + int(split[tok])
        level = list(nxt.values())
    counts["<unfinished>"] = sum(n for *_, n in level)
    return counts


def test_cue_sampling_agrees_with_enumerate_on_smollm2(smollm):
    lm, draws = smollm, 2000
    lay = layout_trace(lm.tokenizer, _trace(), CUE, None)
    rows = enumerate_layout(lm.adapter, numeric_grammar(lm.tokenizer), lay, "8", EnumerateOptions(epsilon=0.002))
    k = 1
    head = lay.ids[: lay.bounds[k]] + lay.cue
    counts = _sample_after_cue(lm, head, draws, (":",))
    row = rows[k]
    probs = dict(zip(row["options"], np.exp(row["option_logprobs"])))
    probs["<non-numeric>"] = row["non_numeric_mass"]
    checked = 0
    for key, p in probs.items():
        if p < 0.02:
            continue
        n = counts.get(key, 0)
        half = 3.3 * math.sqrt(p * (1 - p) / draws)  # a 99.9% binomial interval around p
        assert abs(n / draws - p) <= half + 1e-9, (key, n / draws, p)
        checked += 1
    assert checked >= 3
    assert counts["<unfinished>"] <= 0.01 * draws
