"""Toy world: exact Bayes entropies against brute-force enumeration, the data law's log-probabilities,
the tiny GPT's protocol (masks, cache), training, the scorer bridge, and seeded reproducibility."""
from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict

import numpy as np
import pytest
import torch

from siakit.theory.info import conditional_entropy
from siakit.training.toy.gpt import GPT, GPTConfig
from siakit.training.toy.humans import human_trace, human_traces, unknown_counts
from siakit.training.toy.text import Codec, build_tokenizer, make_trace
from siakit.training.toy.world import Problem, WorldConfig, bayes_curve, unknown_entropy

TINY = WorldConfig(n_terms=2, n_answers=3, hidden_values=2, p_visible=0.5, p_skip=0.3, p_slip=0.2, p_stop=0.25)


def brute_force_complete(w: WorldConfig):
    """Every complete human trace of world `w` as (truth, prefix token tuples per k, probability),
    enumerated naively from the generative story (independent of siakit.training.toy.humans)."""
    K, m, r = w.n_terms, w.n_answers, w.hidden_values
    for x0, vis, vals in itertools.product(range(m), itertools.product([True, False], repeat=K),
                                           itertools.product(range(r), repeat=K)):
        p_q = (1 / m) * math.prod((w.p_visible if v else 1 - w.p_visible) for v in vis) / r**K
        truth = (x0 + sum(vals)) % m
        q_tok = ("Q", str(x0)) + tuple(t for v, x in zip(vis, vals) for t in ("+", str(x) if v else "?")) + (":",)
        # per step: (look?) and the written sum s (any value, slip or not)
        for looks in itertools.product([True, False], repeat=K):
            if any(vis[j] and not looks[j] for j in range(K)):
                continue  # a visible term is always "known"; enumerate its branch once
            for written in itertools.product(range(m), repeat=K):
                p, s, toks = p_q, x0, [q_tok]
                for j in range(K):
                    if vis[j]:
                        add, step = vals[j], ("+", str(vals[j]))
                    elif looks[j]:
                        add, step, p = vals[j], ("+", "look", str(vals[j])), p * (1 - w.p_skip)
                    else:
                        add, step, p = 0, ("+", "skip"), p * w.p_skip
                    right = (s + add) % m
                    p *= (1 - w.p_slip) if written[j] == right else w.p_slip / (m - 1)
                    s = written[j]
                    toks.append(step + ("=", str(s), ";"))
                prefixes = [tuple(t for part in toks[:k + 1] for t in part) for k in range(K + 1)]
                yield truth, prefixes, p


def test_bayes_curve_equals_brute_force_enumeration():
    w = TINY
    joint = [defaultdict(lambda: np.zeros(w.n_answers)) for _ in range(w.n_terms + 1)]
    total = 0.0
    for truth, prefixes, p in brute_force_complete(w):
        total += p
        for k, pre in enumerate(prefixes):
            joint[k][pre][truth] += p
    assert total == pytest.approx(1.0)
    brute = [conditional_entropy(np.array(list(j.values()))) for j in joint]
    assert np.allclose(bayes_curve(w), brute, atol=1e-12)
    assert np.all(np.diff(bayes_curve(w)) <= 1e-12) and bayes_curve(w)[0] > bayes_curve(w)[-1] > 0
    # per prefix: the posterior entropy is H(S_u) with u = hidden terms not looked up
    for k, table in enumerate(joint):
        for pre, row in list(table.items())[:50]:
            post = row / row.sum()
            u = pre.count("?") - pre.count("look")
            assert -(post[post > 0] * np.log(post[post > 0])).sum() == pytest.approx(unknown_entropy(w, u))


def test_human_logprob_is_exact_and_counts_unknowns():
    w = TINY
    probs = {}
    for truth, prefixes, p in brute_force_complete(w):
        probs[prefixes[-1]] = probs.get(prefixes[-1], 0.0) + p
    rng = np.random.default_rng(0)
    for _ in range(40):
        h = human_trace(w, Problem(int(rng.integers(3)), (1, 0), (False, True)), rng, allow_stop=False)
        seq = tuple(h.tokens()[:-2])
        # data-law log-prob = P(question, steps) * P(no stop) * P(guess | steps); the guess follows
        # the written sum plus the u unknown terms, enumerated here by brute force
        u, s_K = h.unknown[-1], int(h.steps[-1][-2])
        law = np.zeros(w.n_answers)
        for extra in itertools.product(range(w.hidden_values), repeat=u):
            law[(s_K + sum(extra)) % w.n_answers] += w.hidden_values ** -u
        expected = math.log(probs[seq]) + math.log(1 - w.p_stop) + math.log(law[h.answer])
        assert h.logprob == pytest.approx(expected, abs=1e-9)
        assert h.unknown == unknown_counts(h.problem, h.steps)
        assert h.unknown[-1] == sum(s[1] == "skip" for s in h.steps)


def test_tokenizer_matches_codec_with_offsets():
    w = WorldConfig()
    tok, codec = build_tokenizer(w), Codec(w)
    for i, h in enumerate(human_traces(w, 20, seed=1)):
        tr = make_trace(str(i), w, h.problem, h.steps, h.answer, model="human")
        enc = tok(tr.text + tr.cue + tr.options[h.answer], return_offsets_mapping=True)
        assert enc.input_ids == codec.encode(h.tokens())
        assert all(tr.text[a:b] == t for (a, b), t in zip(enc.offset_mapping, h.tokens()[:-2]))


def test_gpt_masks_logits_to_keep_and_cache_agree():
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=21, n_layer=2, n_embd=32, n_head=2)).eval()
    ids = torch.randint(0, 21, (2, 9))
    full = m(ids).logits
    causal = torch.ones(9, 9, dtype=torch.bool).tril()[None, None].expand(2, 1, 9, 9)
    assert torch.allclose(m(ids, attention_mask=causal).logits, full, atol=1e-5)
    assert torch.allclose(m(ids, attention_mask=torch.ones(2, 9)).logits, full, atol=1e-5)
    assert torch.allclose(m(ids, logits_to_keep=3).logits, full[:, -3:])
    assert torch.allclose(m(ids, logits_to_keep=torch.tensor([0, 4])).logits, full[:, [0, 4]])
    # a "tree" row: position 8 attends to 0..5 only, with position id 6 = the same as a 7-token prefix
    tree = causal.clone()
    tree[:, :, 8, 6:8] = False
    pos = torch.arange(9).expand(2, 9).clone()
    pos[:, 8] = 6
    alt = ids.clone()
    alt[:, 8] = ids[:, 6]
    out = m(alt, attention_mask=tree, position_ids=pos).logits[:, 8]
    assert torch.allclose(out, m(ids[:, :7]).logits[:, -1], atol=1e-5)
    out = m(ids[:, :5], use_cache=True)
    step = m(ids[:, 5:7], past_key_values=out.past_key_values)
    assert torch.allclose(step.logits, full[:, 5:7], atol=1e-5)


def test_short_training_lowers_heldout_nll():
    from siakit.training.toy.train import TrainConfig, heldout_fit, train_mle

    torch.manual_seed(0)
    w = WorldConfig(n_terms=3)
    codec = Codec(w)
    model = GPT(GPTConfig(vocab_size=len(w.vocab), n_layer=2, n_embd=32, n_head=2))
    held = human_traces(w, 100, seed=2)
    before = heldout_fit(model, codec, held)
    train_mle(model, codec, human_traces(w, 500, seed=1), TrainConfig(steps=40, batch_size=32), 0, progress=False)
    after = heldout_fit(model, codec, held)
    assert after["nll"] < before["nll"] - 0.5 and after["kl"] < before["kl"]
    assert after["nll"] > after["nll_data"] - 0.05  # cannot beat the data law by more than noise


def test_rollout_is_complete_and_uses_true_lookups():
    from siakit.training.toy.rollout import rollout
    from siakit.training.toy.world import sample_problem

    torch.manual_seed(0)
    w = WorldConfig(n_terms=3)
    codec = Codec(w)
    model = GPT(GPTConfig(vocab_size=len(w.vocab), n_layer=1, n_embd=16, n_head=2))
    rng = np.random.default_rng(0)
    problems = [sample_problem(w, rng) for _ in range(16)]
    r = rollout(model, codec, problems, generator=torch.Generator().manual_seed(0))
    assert all(a is not None and 0 <= a < w.n_answers for a in r.answers)
    for p, steps in zip(problems, r.steps):
        for j, step in enumerate(steps[:w.n_terms]):
            for i, t in enumerate(step[:-1]):
                if t == "look":
                    assert step[i + 1] == str(p.values[j])  # the world wrote the true value


def test_scorer_agrees_with_exact_readout():
    from siakit.models.loading import LoadedModel
    from siakit.training.toy.evaluate import own_traces
    from siakit.training.toy.readout import readout_exact, score
    from siakit.training.toy.train import TrainConfig, train_mle
    from siakit.training.toy.world import sample_problem

    torch.manual_seed(1)
    w = WorldConfig(n_terms=3)
    codec = Codec(w)
    model = GPT(GPTConfig(vocab_size=len(w.vocab), n_layer=2, n_embd=32, n_head=2))
    train_mle(model, codec, human_traces(w, 300, seed=1), TrainConfig(steps=20, batch_size=32), 0, progress=False)
    rng = np.random.default_rng(0)
    traces, _ = own_traces(model, codec, [sample_problem(w, rng) for _ in range(12)], 0, "toy")
    lm = LoadedModel(model=model.eval(), tokenizer=build_tokenizer(w), name="toy")
    ours = readout_exact(model, codec, traces).sort_values(["id", "k"]).reset_index(drop=True)
    theirs = score(lm, codec, traces, backend="scorer").sort_values(["id", "k"]).reset_index(drop=True)
    assert list(ours["k"]) == list(theirs["k"]) and len(ours) == sum(len(t.steps) + 1 for t in traces)
    assert np.allclose(ours["entropy"], theirs["entropy"], atol=1e-4)
    assert np.allclose(ours["gold_logprob"], theirs["gold_logprob"], atol=1e-4)


def test_same_seed_same_summary(tmp_path):
    from siakit.training.toy.experiment import preset, run_toy

    a = run_toy(preset("tiny"), tmp_path / "a", progress=False)
    b = run_toy(preset("tiny"), tmp_path / "b", progress=False)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    for key in ("checkpoints", "bayes_curve", "model_curves", "heldout_nll", "accuracy", "rl"):
        assert key in a
    assert len(a["heldout_nll"]) == len(a["checkpoints"]) == len(a["model_curves"])
    assert (tmp_path / "a" / "scores.parquet").exists()
    assert (tmp_path / "a" / "checkpoints" / "rl_final.pt").exists()


def test_cli_rejects_unknown_preset(capsys):
    from siakit.cli import main

    assert main(["toy", "--preset", "huge", "--out", "/tmp/never"]) == 2
    assert "unknown toy preset 'huge'" in capsys.readouterr().err
