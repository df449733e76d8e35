"""The testbed: rg: loading (spec, seed split, ladder), solution templates (checkable lines, slips),
generation and grading, per-checkpoint metrics, and the lineage pipeline end to end on a tiny model
(checkpoints cached and reused)."""
from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("reasoning_gym", reason="the testbed needs reasoning-gym (pip install -e '.[testbed]')")

from siakit.data.problems import is_multiple_choice, load_problems  # noqa: E402
from siakit.testbed.metrics import auroc_half_width, checkpoint_metrics, rung_accuracy, wilson  # noqa: E402
from siakit.testbed.solutions import (check_line, chain_solution, first_wrong_line, parse_chain,  # noqa: E402
                                      solution_for)
from siakit.testbed.tasks import ladder, load_testbed, split_of, verify  # noqa: E402
from siakit.data.traces import Trace  # noqa: E402


# ---- loader ---------------------------------------------------------------------------------------

def test_rg_spec_loads_through_data_with_ladder_and_exact_golds():
    problems = load_problems("rg:chain_sum", "test", n=10)
    assert [p.rung for p in problems] == ["t2", "t2", "t3", "t3", "t4", "t4", "t5", "t5", "t6", "t6"]
    assert not is_multiple_choice("rg:chain_sum")
    for p in problems:
        terms = p.entry["metadata"]["num_terms"]
        assert p.rung == f"t{terms}" and p.question == f"Calculate {p.entry['metadata']['expression']}."
        assert str(eval(p.entry["metadata"]["expression"])) == p.gold  # noqa: S307 (our own digits)
        assert verify(p, p.gold) == 1.0 and verify(p, str(int(p.gold) + 1)) == 0.0 and verify(p, None) == 0.0
    assert len({p.id for p in problems}) == 10


def test_split_is_disjoint_deterministic_and_seeded():
    test = load_testbed("rg:chain_sum", "test", n=100)
    train = load_testbed("rg:chain_sum", "train", n=500)
    assert not {p.question for p in test} & {p.question for p in train}
    assert all(split_of(p.question) == "test" for p in test) and all(split_of(p.question) == "train" for p in train)
    assert len({p.question for p in test}) == 100  # evaluation problems are distinct
    again = load_testbed("rg:chain_sum", "test", n=100)
    assert [p.question for p in again] == [p.question for p in test]
    other = load_testbed("rg:chain_sum", "test", n=100, seed=1)
    assert [p.question for p in other] != [p.question for p in test]


def test_ladder_rungs_get_harder_and_can_be_selected():
    rungs = [r.label for r in ladder("chain_sum")]
    assert rungs == ["t2", "t3", "t4", "t5", "t6"]
    only = load_testbed("rg:chain_sum", "test", n=6, rungs=["t5"])
    assert {p.rung for p in only} == {"t5"} and all(p.question.count(" ") == 9 for p in only)
    hard = load_testbed("rg:chain_sum", "test", n=4, rungs=["t6d2", "t3"])  # extra rungs, in the order given
    assert [p.rung for p in hard] == ["t6d2", "t6d2", "t3", "t3"]
    assert all(10 <= int(x) <= 99 for x in hard[0].entry["metadata"]["expression"].split(" ")[::2])
    assert verify(hard[0], hard[0].gold) == 1.0
    with pytest.raises(ValueError, match="unknown rung"):
        load_testbed("rg:chain_sum", "test", n=2, rungs=["t99"])


def test_bad_specs_are_named():
    with pytest.raises(ValueError, match="rg:nope"):
        load_problems("rg:nope")
    with pytest.raises(ValueError, match="no split 'dev'"):
        load_testbed("rg:chain_sum", "dev", n=2)
    with pytest.raises(ValueError, match="only .* distinct problems"):
        load_testbed("rg:chain_sum", "test", n=400, rungs=["t2"])  # 2-term chains: ~40 test questions


# ---- solution templates ---------------------------------------------------------------------------

def test_chain_solution_one_checkable_operation_per_line():
    s = chain_solution("4 - 1 + 7")
    assert s.text == "4 - 1 = 3\n3 + 7 = 10\nThe answer is 10." and s.answer == "10" and s.slipped_step is None
    assert parse_chain("5 - 9 + 3") == (5, [("-", 9), ("+", 3)])
    assert check_line("-4 + 3 = -1") is True and check_line("2 - 9 = -5") is False
    assert check_line("The answer is 3.") is None
    with pytest.raises(ValueError, match="not a"):
        parse_chain("4 * 2")


def test_every_line_verifies_and_answers_are_right_unless_slipped():
    problems = load_testbed("rg:chain_sum", "train", n=200)
    rng = random.Random(0)
    for p in problems:
        s = solution_for(p, rng, slip_rate=0.3)
        lines = s.text.splitlines()
        assert lines[-1] == f"The answer is {s.answer}." and len(lines) == p.entry["metadata"]["num_terms"]
        checks = [check_line(line) for line in lines[:-1]]
        if s.slipped_step is None:
            assert all(checks) and s.answer == p.gold
        else:
            assert checks.count(False) == 1 and first_wrong_line(s.text) == s.slipped_step
            assert s.answer != p.gold
            for prev, line in zip(lines, lines[1:-1]):  # the wrong total is carried forward
                assert line.split(" ")[0] == prev.split(" = ")[1]


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5])
def test_slip_rate_is_honoured(rate):
    rng = random.Random(1)
    slips = sum(chain_solution("1 + 2 + 3 + 4", rng, rate).slipped_step is not None for _ in range(2000))
    p, low, high = wilson(slips, 2000)
    assert low <= rate <= high or (rate == 0.0 and slips == 0)


# ---- metrics --------------------------------------------------------------------------------------

def test_wilson_and_half_width():
    p, low, high = wilson(17, 32)
    assert p == pytest.approx(0.53125) and low == pytest.approx(0.3647, abs=1e-3) and high == pytest.approx(0.6910, abs=1e-3)
    assert wilson(0, 10)[1] == 0.0 and np.isnan(wilson(0, 0)[0])
    assert 0.05 < auroc_half_width(100, 100) < 0.08 and auroc_half_width(400, 400) < auroc_half_width(100, 100)


def _synthetic(n=40):
    """Readout rows of n traces: correct ones fall to 0 entropy, incorrect ones stay at log 3."""
    rows, traces = [], []
    for i in range(n):
        correct = i % 2 == 0
        h = [1.0, 0.5, 0.0] if correct else [1.0, 1.0, 1.0]
        for k, e in enumerate(h):
            rows.append({"id": f"t{i}", "k": k, "entropy": e, "gold_logprob": -e, "n_options": 3, "n_steps": 2,
                         "correct": correct, "option_probs": None, "leading_option": "5" if correct else "6",
                         "gold": "5", "answer": "5" if correct else "6", "n_prefix_tokens": 10 + k})
        traces.append(Trace(f"t{i}", "p", ["1 + 4 = 5\n", "The answer is 5."], correct=correct,
                            answer="5" if correct else "6", meta={"rung": "t2", "level": 0, "hit_cap": False,
                                                                 "first_wrong_line": None if correct else 1}))
    return pd.DataFrame(rows), traces


def test_checkpoint_metrics_on_a_known_table():
    scores, traces = _synthetic()
    m = checkpoint_metrics(scores, traces, n_boot=200)
    assert m["n"] == 40 and m["accuracy"] == 0.5 and m["n_correct_scored"] == 20
    assert m["auroc_u05"] == 1.0 and m["auroc_u1"] == 1.0 and m["auroc_u1_low"] == 1.0
    assert m["info_per_step_correct"] == pytest.approx(0.5) and m["info_per_step_incorrect"] == pytest.approx(0.0)
    assert m["locked_correct"] == 1.0 and m["locked_incorrect"] == 0.0
    assert m["leader_agrees"] == 1.0 and m["wrong_step_n"] == 20
    assert m["surprisal_jump_wrong_step"] == pytest.approx(0.0)
    assert rung_accuracy(traces)[["rung", "n", "accuracy"]].values.tolist() == [["t2", 40, 0.5]]
    # baselines beside the headline: one rung, so within-rung = stratified = pooled; trivial scores are chance
    assert m["auroc_u05_strat"] == 1.0 and m["auroc_u05_t2"] == 1.0
    assert m["auroc_terms"] == 0.5 and m["auroc_K"] == 0.5
    assert 0 <= m["last_number_share"] <= 1 and m["last_number_share_n"] == 40  # k = 1 of 40 two-step traces
    assert np.isnan(m["ece"])  # this table stores no readout distributions: no calibration to read


def test_capped_traces_leave_the_signatures():
    scores, traces = _synthetic(4)
    for t in traces[:2]:
        t.meta["hit_cap"] = True
    m = checkpoint_metrics(scores, traces, n_boot=50)
    assert m["n"] == 4 and m["n_scored"] == 2 and m["hit_cap"] == 0.5
    assert m["accuracy_scored"] == sum(t.correct for t in traces[2:]) / 2 and m["accuracy_scored_n"] == 2


# ---- generation and the lineage pipeline ----------------------------------------------------------

class _Scripted:
    """A stand-in model (the scorer's model protocol) whose greedy continuation of the i-th prompt is
    the i-th given solution (to test grading, not a model): its logits put all mass on the script's
    next token. Generation asks for one job at a time (no KV cache), so a call whose input is not
    longer than the previous one starts the next script."""

    def __init__(self, tokenizer, texts):
        import torch

        self.tokenizer, self.texts, self.torch = tokenizer, texts, torch
        self.device = torch.device("cpu")
        self.job, self.start, self.seen = -1, 0, 10 ** 9

    def __call__(self, input_ids, attention_mask=None, position_ids=None, logits_to_keep=None):
        from types import SimpleNamespace

        n = input_ids.shape[1]
        if n <= self.seen:
            self.job, self.start = self.job + 1, n
        self.seen = n
        end = [] if getattr(self, "cut", False) else [self.tokenizer.eos_token_id]  # cut: the cap stopped it
        script = self.tokenizer(self.texts[self.job]).input_ids + end
        step = n - self.start
        logits = self.torch.zeros(1, n, len(self.tokenizer))  # [batch, pos, vocab]; only the last is read
        logits[0, -1, script[step] if step < len(script) else self.tokenizer.pad_token_id] = 50.0
        return SimpleNamespace(logits=logits)


def test_generate_grades_exactly_and_finds_the_wrong_line():
    from siakit.models.loading import LoadedModel
    from siakit.testbed.generate import generate_testbed
    from siakit.models.tiny import tiny_tokenizer

    problems = load_testbed("rg:chain_sum", "test", n=2, rungs=["t3"])
    good = chain_solution(problems[0].entry["metadata"]["expression"]).text
    bad = chain_solution(problems[1].entry["metadata"]["expression"], random.Random(3), slip_rate=1.0)
    tok = tiny_tokenizer(bos=False)
    lm = LoadedModel(model=_Scripted(tok, [good, bad.text]), tokenizer=tok, name="scripted")
    lm.model.parameters = lambda: iter([lm.model.torch.zeros(1)])
    n_cut = len(tok(good.rstrip(".")).input_ids)  # the cap that cuts the script right after its last number
    traces = generate_testbed(lm, problems, max_new_tokens=40, progress=False)
    assert [t.correct for t in traces] == [True, False]
    assert traces[0].meta["first_wrong_line"] is None and traces[1].meta["first_wrong_line"] == bad.slipped_step
    assert "".join(traces[0].steps) == good and len(traces[0].steps) == 3 and not traces[0].meta["hit_cap"]
    # cut by the token cap right after its last number: graded as siakit generate grades (no answer)
    lm.model.texts, lm.model.cut, lm.model.job, lm.model.seen = [good.rstrip(".")], True, -1, 10 ** 9
    # "... The answer is 3" cut by the cap: maybe 30 cut short
    cut = generate_testbed(lm, problems[:1], max_new_tokens=n_cut, progress=False)[0]
    assert cut.meta["hit_cap"] and cut.answer is None and not cut.correct


def test_lineage_end_to_end_on_a_tiny_model_and_reuses_its_cache(tmp_path, monkeypatch, one_thread):
    from siakit.testbed import lineage, train
    from siakit.models.tiny import tiny_model

    cfg = lineage.LineageConfig(model="tiny-llama", steps=2, batch_size=4, n_eval=5, max_new_tokens=8,
                                checkpoints=(0.0, 0.5, 1.0), cache_root=str(tmp_path), threads=1)
    result = lineage.run_lineage(cfg, lm=tiny_model("llama"), progress=False)
    assert [c["name"] for c in result["checkpoints"]] == ["step0", "step1", "step2"]
    assert len(result["train_log"]["losses"]) == 2 and result["train_log"]["n_rows"] == 8
    first = result["checkpoints"][0]["greedy"]
    assert [t.id for t in first["traces"]] == [t.id for t in result["checkpoints"][-1]["greedy"]["traces"]]
    assert first["metrics"]["n"] == 5 and set(first["scores"]["k"]) >= {0}
    root = tmp_path / cfg.train_key()
    assert all((root / f"step{s}" / "config.json").exists() for s in (0, 1, 2))
    # before training and after differ: the fine-tune changed the weights
    from safetensors.torch import load_file
    w0, w2 = load_file(root / "step0" / "model.safetensors"), load_file(root / "step2" / "model.safetensors")
    assert any(not (w0[k] == w2[k]).all() for k in w0)

    def refuse(*args, **kwargs):
        raise AssertionError("training ran again although its checkpoints are cached")
    monkeypatch.setattr(train, "train_with_checkpoints", refuse)
    again = lineage.run_lineage(cfg, progress=False)  # no model passed: nothing to load, all cached
    assert again["train_log"] == result["train_log"]
    assert again["checkpoints"][1]["greedy"]["metrics"] == result["checkpoints"][1]["greedy"]["metrics"]
    assert lineage.LineageConfig(steps=3).train_key() != lineage.LineageConfig().train_key()
    # rollouts: every trace at its mid prefix (M = 4), every prefix of the subset (all 5 here, M = 8)
    mid, every = first["rollouts_mid"], first["rollouts_all"]
    n_steps = {t.id: len(t.steps) for t in first["traces"]}
    assert sorted(mid["id"]) == sorted(n_steps) and (mid["n_samples"] == 4).all()
    assert all(k == int(n_steps[i] / 2 + 0.5) for i, k in zip(mid["id"], mid["k"]))
    assert len(every) == sum(K + 1 for K in n_steps.values()) and (every["n_samples"] == 8).all()
    assert first["timing"]["rollouts_mid_tokens"] == mid["n_rollout_tokens"].sum() > 0
    assert first["rollout_metrics"]["mid"]["n"] == 5 and "auroc_mid" in first["rollout_metrics"]["mid"]
    # rollout sizes change neither the training key nor the evaluation key: only the rollouts rerun
    fewer = lineage.LineageConfig(**{**cfg.__dict__, "rollout_m": 2, "rollout_subset": 0})
    assert (fewer.train_key(), fewer.eval_key(0.0)) == (cfg.train_key(), cfg.eval_key(0.0))
    assert fewer.rollout_key() != cfg.rollout_key()
    from siakit.testbed import generate
    monkeypatch.setattr(generate, "generate_testbed", refuse)
    third = lineage.run_lineage(fewer, progress=False)["checkpoints"][0]["greedy"]
    assert (third["rollouts_mid"]["n_samples"] == 2).all() and third["rollouts_all"].empty
    assert third["scores"].equals(again["checkpoints"][0]["greedy"]["scores"])  # read back, not re-scored
    # every readout setting is in the evaluation key: changing one re-scores
    from siakit.scorer.score import ScoreConfig
    before = cfg.eval_key(0.0)
    monkeypatch.setattr(lineage.LineageConfig, "score_config", lambda self: ScoreConfig(candidate_mentions=4))
    assert cfg.eval_key(0.0) != before and cfg.train_key() == fewer.train_key()


def test_rl_step_runs_and_checks_its_arguments(one_thread):
    from siakit.testbed.rl import RLConfig, reinforce_lm
    from siakit.models.tiny import tiny_model

    lm = tiny_model("llama")
    problems = load_testbed("rg:chain_sum", "train", n=4)
    history = reinforce_lm(lm, problems, RLConfig(steps=1, questions=2, samples=2, max_new_tokens=6, lr=1e-2),
                           progress=False)
    assert [h["step"] for h in history] == [1] and 0.0 <= history[0]["reward"] <= 1.0
    assert history[0]["kl"] == pytest.approx(0.0, abs=1e-4)  # the first update starts at the reference
    with pytest.raises(ValueError, match="leave-one-out"):
        reinforce_lm(lm, problems, RLConfig(samples=1), progress=False)
    with pytest.raises(ValueError, match="fewer than questions=8"):
        reinforce_lm(lm, problems, RLConfig(), progress=False)


def test_rl_step_rewards_the_verifier_and_moves_towards_the_correct_trace(one_thread, monkeypatch):
    """A fixed case: per problem one trace that states the gold answer and one that states gold + 1.
    reasoning-gym's verifier grades them 1 and 0, so the reward is 0.5 exactly; the step moves the
    weights, and in the direction that makes the correct trace more likely relative to the wrong one."""
    import torch

    from siakit.testbed import rl
    from siakit.testbed.prompt import build_testbed_prompt
    from siakit.models.tiny import tiny_model

    torch.manual_seed(0)
    lm = tiny_model("llama")
    problems = load_testbed("rg:chain_sum", "train", n=2)
    golds = [str(p.gold) for p in problems]
    assert all(g.lstrip("-").isdigit() for g in golds), golds

    def fixed(lm_, batch, *args, **kwargs):  # [p0, p0, p1, p1] -> [right, wrong, right, wrong]
        out = []
        for i, p in enumerate(batch):
            answer = str(int(p.gold) + (i % 2))
            out.append(Trace(id=f"{p.id}-{i}", prompt=build_testbed_prompt(p, lm_.tokenizer, lm_.chat),
                             steps=[f"The answer is {answer}."], gold=p.gold, answer=answer,
                             correct=verify(p, answer) == 1.0))
        return out

    monkeypatch.setattr(rl, "generate_testbed", fixed)
    traces = fixed(lm, [p for p in problems for _ in range(2)])
    assert [t.correct for t in traces] == [True, False, True, False]
    rows = rl._rows(lm.tokenizer, traces, lm.chat)
    with torch.no_grad():
        margin0 = rl.sequence_logprob(lm.model, rows, lm.tokenizer.pad_token_id).view(2, 2)
    before = [p.detach().clone() for p in lm.model.parameters()]
    history = rl.reinforce_lm(lm, problems, rl.RLConfig(steps=1, questions=2, samples=2, lr=1e-3, beta=0.0),
                              progress=False)
    assert history[0]["reward"] == 0.5
    assert history[0]["kl"] == pytest.approx(0.0, abs=1e-5)
    moved = [not torch.equal(b, p) for b, p in zip(before, lm.model.parameters())]
    assert sum(moved) >= len(moved) // 2, f"only {sum(moved)} of {len(moved)} tensors changed"
    with torch.no_grad():
        margin1 = rl.sequence_logprob(lm.model, rows, lm.tokenizer.pad_token_id).view(2, 2)
    # log p(right) - log p(wrong) grows for both problems
    assert ((margin1[:, 0] - margin1[:, 1]) > (margin0[:, 0] - margin0[:, 1])).all()


def test_lineage_chapter_executes_on_a_tiny_chat_model(tmp_path):
    from pathlib import Path

    from conftest import execute_chapter
    from test_sft import chat_tiny

    lm = chat_tiny()
    model_dir = tmp_path / "tiny_chat"
    lm.model.save_pretrained(model_dir)
    lm.tokenizer.save_pretrained(model_dir)
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "04_testbed_lineage.md"
    cells, text = execute_chapter(notebook, tmp_path, {
        "model": str(model_dir), "steps": 2, "batch_size": 2, "n_eval": 5, "max_new_tokens": 8,
        "checkpoints": [0.0, 1.0], "cache_root": str(tmp_path / "cache"), "toy_summary": str(tmp_path / "none")})
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for c in cells for o in c.get("outputs", []))
    assert "cache key" in text and "Verdict: inconclusive" in html  # random weights: nothing to separate
    assert not [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert (tmp_path / "cache").is_dir() and any((tmp_path / "cache").glob("*/step2/config.json"))


def test_generate_greedy_equals_transformers_generate_and_repeats_draw_new_samples(one_thread):
    """Continuous batching changes nothing a trace says: greedy traces equal transformers' own
    `generate` (one prompt at a time), whatever the batch; a repeated problem at temperature 1 draws
    its own sample (RL's groups)."""
    import torch

    from siakit.experiment.generate import encode
    from siakit.models.tiny import tiny_model
    from siakit.testbed.generate import generate_testbed

    lm = tiny_model("llama")
    problems = load_testbed("rg:chain_sum", "test", n=5)
    a = generate_testbed(lm, problems, max_new_tokens=9, batch_size=2, progress=False)
    b = generate_testbed(lm, problems, max_new_tokens=9, batch_size=16, progress=False)
    assert [t.steps for t in a] == [t.steps for t in b]
    tok = lm.tokenizer
    for problem, trace in zip(problems, a):
        ids = torch.tensor(encode(tok, [trace.prompt])["input_ids"])
        with torch.no_grad():
            out = lm.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=9, do_sample=False,
                                    pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        text = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True).rstrip("\n")
        new = out[0, ids.shape[1]:].tolist()
        if tok.eos_token_id in new:  # transformers pads a finished row; count up to its EOS
            new = new[:new.index(tok.eos_token_id) + 1]
        assert "".join(trace.steps) == text and trace.meta["n_new_tokens"] == len(new), problem.id
    twice = generate_testbed(lm, [problems[0]] * 3, max_new_tokens=9, temperature=1.0, progress=False)
    assert len({"".join(t.steps) for t in twice}) > 1 and len({t.meta["seed"] for t in twice}) == 3
