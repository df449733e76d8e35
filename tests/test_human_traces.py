"""Human traces in four variants (siakit.human.variants), their cached scoring with a tiny model
(siakit.human.cache) and their statistics (siakit.human.stats)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from siakit.data.problems import Problem
from siakit.human.variants import VARIANTS, as_steps, human_traces, select_problems, shuffle_order, solution_lines


def _record(i: int, a: int, b: int, c: int):
    """A GSM8K-like problem with a three-line solution and a clean corruption (distinct numbers)."""
    x, y = a * b, a * b + c
    answer = (f"Each bag has {a}*{b}=<<{a}*{b}={x}>>{x} apples.\n"
              f"With the extra ones there are {x}+{c}=<<{x}+{c}={y}>>{y} apples.\n"
              f"Two bags hold {y}*2=<<{y}*2={2 * y}>>{2 * y} apples in all.\n#### {2 * y}")
    question = f"A bag has {a} rows of {b} apples and {c} more apples. How many apples are in 2 bags?"
    return Problem(f"toy-{i}", "gsm8k", question, str(2 * y)), {"question": question, "answer": answer}


RECORDS = [_record(i, a, b, c) for i, (a, b, c) in enumerate([(3, 7, 11), (4, 9, 13), (5, 6, 17), (6, 8, 19),
                                                               (7, 9, 23), (3, 11, 29)])]
# One problem with a single-line solution and one without a clean corruption: both must be skipped.
RECORDS += [(Problem("toy-one", "gsm8k", "3 and 4?", "7"), {"answer": "So 3+4=<<3+4=7>>7.\n#### 7"}),
            (Problem("toy-final", "gsm8k", "2, 3?", "8"),
             {"answer": "He has 2*3=<<2*3=6>>6.\nThen 6+1=<<6+1=7>>7.\nSo about 8.\n#### 8"})]


def _traces(n=4, seed=0):
    from siakit.models.tiny import tiny_tokenizer

    selection = select_problems(n, seed, records=RECORDS)
    return selection, human_traces(selection, tiny_tokenizer(), chat=False, seed=seed)


def test_solution_lines_and_steps():
    assert solution_lines("He has 3+4 = <<3+4=7>>7 pens.\n\nSo 7*2=<<7*2=14>>14.\n#### 14") == [
        "He has 3+4 = 7 pens.", "So 7*2=14."]
    assert as_steps(["a", "b", "c"]) == ["a", "\nb", "\nc"]
    with pytest.raises(ValueError, match="####"):
        solution_lines("no final line")


def test_shuffle_order_is_a_seeded_non_identity_permutation():
    for n in (2, 3, 5, 8):
        for seed in range(5):
            order = shuffle_order(n, seed)
            assert sorted(order) == list(range(n)) and order != list(range(n))
            assert order == shuffle_order(n, seed)
    with pytest.raises(ValueError, match="at least 2"):
        shuffle_order(1, 0)


def test_selection_skips_and_is_a_prefix_of_larger_runs():
    small, big = select_problems(3, 0, records=RECORDS), select_problems(5, 0, records=RECORDS)
    ids = [hp.problem.id for hp in big.problems]
    assert [hp.problem.id for hp in small.problems] == ids[:3]
    assert [hp.problem.id for hp in small.partners] == [hp.problem.id for hp in big.partners][:3]
    assert not {"toy-one", "toy-final"} & set(ids)
    reasons = set()
    for seed in range(10):  # skips are counted among the problems examined before the n-th eligible
        every = select_problems(6, seed, records=RECORDS)
        assert every.examined == 6 + sum(every.skipped.values())
        reasons |= set(every.skipped)
    assert reasons == {"one_line", "final_not_last_calc"}
    with pytest.raises(ValueError, match="only 6 of 8"):
        select_problems(7, 0, records=RECORDS)


def test_four_variants_per_problem():
    selection, traces = _traces()
    assert len(traces) == 4 * len(selection.problems) and len({t.id for t in traces}) == len(traces)
    by = {(t.meta["problem_id"], t.meta["variant"]): t for t in traces}
    intact_lines = {hp.problem.id: hp.lines for hp in selection.problems}
    for hp, partner in zip(selection.problems, selection.partners):
        pid = hp.problem.id
        intact, corrupted = by[pid, "intact"], by[pid, "corrupted"]
        shuffled, foreign = by[pid, "shuffled"], by[pid, "foreign"]
        assert {t.prompt for t in (intact, corrupted, shuffled, foreign)} == {intact.prompt}
        assert hp.problem.question in intact.prompt and intact.gold == hp.problem.gold == foreign.gold
        assert intact.steps == as_steps(hp.lines) and intact.correct is True and intact.answer == intact.gold
        assert "<<" not in intact.text and "####" not in intact.text
        # shuffled: the same lines, in another order
        lines = [s.lstrip("\n") for s in shuffled.steps]
        assert sorted(lines) == sorted(hp.lines) and lines != hp.lines
        assert [hp.lines[i] for i in shuffled.meta["order"]] == lines and shuffled.correct is None
        # foreign: another problem's lines, graded against this problem's gold
        assert foreign.meta["foreign_id"] == partner.problem.id != pid
        assert [s.lstrip("\n") for s in foreign.steps] == intact_lines.get(partner.problem.id, partner.lines)
        assert foreign.answer == partner.problem.gold and foreign.correct is False
        # corrupted: the same lines before the wrong step, a different wrong step, a wrong final answer
        k = corrupted.meta["corrupted_step"]
        clines = [s.lstrip("\n") for s in corrupted.steps]
        assert clines[:k] == hp.lines[:k] and clines[k] != hp.lines[k]
        assert len(clines) == len(hp.lines) and corrupted.answer != corrupted.gold and corrupted.correct is False
        assert corrupted.answer in clines[-1] and corrupted.meta["corrupted_to"] in clines[k]


def test_tiny_model_scores_variants_and_cache_reads_them_back(tmp_path, one_thread):
    from siakit.human.cache import HumanRunConfig, load_or_score
    from siakit.human.stats import (at_corruption, final_rows, gain_at_corruption, gain_by_position, paired_auroc,
                                    step_gains, variant_curves, variant_table)
    from siakit.models.tiny import tiny_model

    lm = tiny_model("llama")
    cfg = HumanRunConfig(model=lm.name, n=3, shard=2)
    run = load_or_score(cfg, root=tmp_path, lm=lm, progress=False, records=RECORDS)
    assert run.source == "scored" and run.n == 4 and len(run.traces) == 16  # whole shards: 2 x 2 problems
    scores = run.scores
    assert set(scores["variant"]) == set(VARIANTS)
    assert len(scores) == sum(len(t.steps) + 1 for t in run.traces)
    assert np.isfinite(scores["entropy"]).all() and (scores["entropy"] >= 0).all()
    assert np.isfinite(scores["gold_logprob"]).all() and (scores["gold_logprob"] <= 0).all()
    assert set(run.seconds) == {"part-00000", "part-00002"}
    again = load_or_score(cfg, root=tmp_path, lm=lm, progress=False, records=RECORDS)
    assert again.source == "cache"
    pd.testing.assert_frame_equal(again.scores, scores)
    # a smaller n reads the larger cached run when asked to, and only its own shards otherwise
    assert load_or_score(HumanRunConfig(model=lm.name, n=1, shard=2), root=tmp_path, lm=lm,
                         progress=False, records=RECORDS).n == 4
    assert load_or_score(HumanRunConfig(model=lm.name, n=1, shard=2), root=tmp_path, lm=lm, prefer_larger=False,
                         progress=False, records=RECORDS).n == 2

    finals = final_rows(scores)
    assert len(finals) == 16 and set(finals["variant"]) == set(VARIANTS)
    assert np.allclose(finals["s_final"], [-scores[scores["id"] == i]["gold_logprob"].iloc[-1] for i in finals["id"]])
    gains = step_gains(scores, run.traces)
    flagged = gains[gains["at_corruption"]]
    assert len(flagged) == 4 and set(flagged["variant"]) == {"corrupted"}  # one wrong step per corrupted trace
    steps = {t.id: t.meta["corrupted_step"] for t in run.traces if t.meta["variant"] == "corrupted"}
    assert all(k == steps[i] + 1 for i, k in zip(flagged["id"], flagged["k"]))
    h = scores.sort_values(["id", "k"]).set_index(["id", "k"])["entropy"]
    row = gains.iloc[0]
    assert row["gain_h"] == pytest.approx(h[row["id"], row["k"] - 1] - h[row["id"], row["k"]])
    table = gain_at_corruption(gains, n_boot=50)
    assert set(table["where"]) >= {"corrupted step", "same step, intact twin"} and (table["n"] == 4).any()
    result = paired_auroc(finals, "s_final", n_boot=50)
    assert result["n"] == 4 and 0 <= result["auroc"] <= 1 and result["low"] <= result["auroc"] <= result["high"]
    curves = variant_curves(scores, "surprisal", n_points=3, n_boot=50)
    assert set(curves["variant"]) == set(VARIANTS) and (curves["n"] == 4).all()
    star = at_corruption(scores, run.traces)  # every toy corruption is on line 1 or 2 of 3: k* < K
    assert len(star) == 8 and sorted(star["variant"].unique()) == ["corrupted", "intact"]
    for _, r in star.iterrows():
        k = steps[f"{r['problem_id']}:corrupted"] + 1
        row = scores[(scores["id"] == f"{r['problem_id']}:{r['variant']}") & (scores["k"] == k)].iloc[0]
        assert r["k"] == k < 3 and r["s"] == pytest.approx(-row["gold_logprob"]) and r["h"] == pytest.approx(row["entropy"])
    position = gain_by_position(gains, n_boot=50)
    last = position[(position.variant == "intact") & (position.gain == "gain_s") & (position["where"] == "last line")]
    intact_last = gains[(gains.variant == "intact") & (gains.k == gains.n_steps)]["gain_s"]
    assert last["mean"].iloc[0] == pytest.approx(intact_last.mean()) and last["n"].iloc[0] == 4
    table = variant_table(finals, n_boot=50)
    assert set(table.index) == set(VARIANTS) and (table["n"] == 4).all()
    # the raw log p(gold) recovered from the stored columns equals the scorer's own terminated log-prob
    from siakit.analysis.baselines import raw_gold_logprob
    from siakit.data.answers import normalize_number
    raw = raw_gold_logprob(scores)
    inside = scores[scores["gold_in_set"].astype(bool)]
    assert len(inside) > 0
    for i, r in inside.head(20).iterrows():
        at = [normalize_number(o) for o in r["options"]].index(normalize_number(r["gold"]))
        assert raw[i] == pytest.approx(r["option_logprobs"][at], abs=1e-6)
    assert "gain_raw" in gains and "s_raw" in star and (raw <= 1e-9).all()
    from siakit.human.verdict import stepwise_label, verdict_table
    verdicts = verdict_table(finals, star, gains, run.traces, n_boot=50)
    assert len(verdicts) == 7 and set(verdicts["verdict"]) <= {"supports", "contradicts", "inconclusive"}
    assert verdicts["p_holm"].dropna().ge(verdicts["p"].dropna()).all()
    assert stepwise_label(verdicts)[0] in {"supports", "contradicts", "inconclusive"}


def test_paired_auroc_and_verdict_by_hand():
    from siakit.analysis.stats import wilson_interval as wilson
    from siakit.human.stats import paired_auroc, stepwise_verdict, verdict

    finals = pd.DataFrame({"problem_id": list("aabbcc"), "variant": ["intact", "corrupted"] * 3,
                           "s_final": [0.1, 3.0, 2.0, 1.0, 0.5, 4.0]})
    result = paired_auroc(finals, "s_final", n_boot=200)
    assert result["n"] == 3 and result["auroc"] == pytest.approx(8 / 9)  # 8 of 9 pairs ordered right (2.0 > 1.0)
    assert verdict({"auroc": 0.9, "low": 0.85, "high": 0.95, "half_width": 0.05, "n": 300})[0] == "supports"
    assert verdict({"auroc": 0.2, "low": 0.1, "high": 0.3, "half_width": 0.1, "n": 30})[0] == "contradicts"
    label, text = verdict({"auroc": 0.55, "low": 0.45, "high": 0.65, "half_width": 0.1, "n": 40})
    assert label == "inconclusive" and "misses the 0.07 target" in text and "n = 40" in text
    star = {"auroc": 0.7, "low": 0.6, "high": 0.8, "half_width": 0.1, "n": 40}
    flat = {**star, "auroc": 0.5, "low": 0.45, "high": 0.55}
    assert stepwise_verdict(star, {"mean": 1.0, "low": 0.5, "high": 1.5, "n": 40})[0] == "supports"
    below = {**star, "auroc": 0.3, "low": 0.2, "high": 0.4}
    # symmetric: an AUROC merely "not above 0.5" contradicts nothing; both parts must contradict
    assert stepwise_verdict(flat, {"mean": -1.0, "low": -1.5, "high": -0.5, "n": 40})[0] == "inconclusive"
    assert stepwise_verdict(below, {"mean": -1.0, "low": -1.5, "high": -0.5, "n": 40})[0] == "contradicts"
    assert stepwise_verdict(flat, {"mean": 1.0, "low": 0.5, "high": 1.5, "n": 40})[0] == "inconclusive"
    assert stepwise_verdict(star, {"mean": -1.0, "low": -1.5, "high": -0.5, "n": 40})[0] == "inconclusive"
    assert all(np.isnan(wilson(0, 0)))  # no trials: no interval
    low, high = wilson(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)


def test_chapter_executes_from_a_cached_run(tmp_path, data_root, monkeypatch, one_thread):
    """The chapter reads a cached run (scored here by a tiny model on real GSM8K solutions) end to end."""
    from pathlib import Path

    from conftest import execute_chapter

    from siakit.human.cache import HumanRunConfig, load_or_score, run_path
    from siakit.human.rollouts import HumanRolloutConfig, human_rollouts
    from siakit.models.tiny import tiny_model

    monkeypatch.setenv("SIAKIT_DATA", str(data_root))
    lm = tiny_model("llama")
    cfg = HumanRunConfig(model=lm.name, n=10)
    run = load_or_score(cfg, root=tmp_path / "cache", lm=lm, progress=False)
    # the reader's continuations, made here with the tiny model under the chapter's key (it loads models by spec)
    human_rollouts(lm, run.traces, HumanRolloutConfig(n=3, m=2), run_path(cfg, tmp_path / "cache"), progress=False)
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "05_human_traces.md"
    cells, text = execute_chapter(notebook, tmp_path, cwd=notebook.parents[1], parameters={
        "model": lm.name, "n": 10, "cache_root": str(tmp_path / "cache"), "n_boot": 50, "rollout_n": 3,
        "rollout_m": 2})
    assert "3 mid-solution prefixes, 6 continuations" in text
    assert "10 problems, 40 traces (intact 10, corrupted 10, shuffled 10, foreign 10)" in text
    assert "source: cache" in text
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for c in cells for o in c.get("outputs", []))
    assert "Verdict on stepwise reading: " in html and "n = 10 problems" in html
    assert "copy-last-number AUROC" in html and "Holm p" in html  # the baseline beside the headline
    assert "same leading answer (cue vs continuations)" in html and "cue leader = last number written" in html
    # h_0 is one number per problem: the same prompt and candidate set for all four variants
    md = "".join("".join(o.get("data", {}).get("text/markdown", "")) for c in cells for o in c.get("outputs", []))
    assert "on the 10 problems scored in all four" in md and "within 0.0e+00 nats" in md
    assert sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", [])) >= 3


def test_controls_only_on_the_first_controls_n_problems(tmp_path, one_thread):
    from siakit.human.cache import HumanRunConfig, cache_key, load_or_score
    from siakit.human.stats import final_rows, paired_auroc
    from siakit.models.tiny import tiny_model

    lm = tiny_model("llama")
    cfg = HumanRunConfig(model=lm.name, n=4, shard=2, controls_n=2)
    assert cache_key(cfg) != cache_key(HumanRunConfig(model=lm.name, n=4, shard=2))  # other traces: other key
    run = load_or_score(cfg, root=tmp_path, lm=lm, progress=False, records=RECORDS)
    by_problem = {}
    for t in run.traces:
        by_problem.setdefault(t.meta["problem_id"], set()).add(t.meta["variant"])
    first, later = list(by_problem.values())[:2], list(by_problem.values())[2:]
    assert all(v == set(VARIANTS) for v in first) and all(v == {"intact", "corrupted"} for v in later)
    assert len(run.traces) == 2 * 4 + 2 * 2
    finals = final_rows(run.scores)
    # a control comparison pairs only the problems that have the control
    assert paired_auroc(finals, "s_final", "shuffled", "intact", n_boot=50)["n"] == 2
    assert paired_auroc(finals, "s_final", "corrupted", "intact", n_boot=50)["n"] == 4
    with pytest.raises(ValueError, match="controls_n"):
        load_or_score(HumanRunConfig(model=lm.name, n=4, controls_n=-1), root=tmp_path, lm=lm, records=RECORDS)


def test_cache_key_hashes_every_score_setting_and_the_scorer_version(tmp_path, monkeypatch, one_thread):
    """Changing one ScoreConfig setting (or the scorer version) gives a fresh key: the run is scored again."""
    import dataclasses

    import siakit.scorer.score as score_module
    from siakit.human.cache import HumanRunConfig, cache_key, load_or_score
    from siakit.models.tiny import tiny_model

    lm = tiny_model("llama")
    cfg = HumanRunConfig(model=lm.name, n=1, shard=1, controls_n=0)
    key = cache_key(cfg)
    assert load_or_score(cfg, root=tmp_path, lm=lm, progress=False, records=RECORDS).source == "scored"
    assert load_or_score(cfg, root=tmp_path, lm=lm, progress=False, records=RECORDS).source == "cache"
    fields = {f.name: (f.type, f) for f in dataclasses.fields(score_module.ScoreConfig)}
    changed = dataclasses.make_dataclass("ScoreConfig", [
        (name, typ, dataclasses.field(default=4 if name == "candidate_mentions" else f.default))
        for name, (typ, f) in fields.items()])
    monkeypatch.setattr(score_module, "ScoreConfig", changed)
    assert cache_key(cfg) != key
    assert load_or_score(cfg, root=tmp_path, lm=lm, progress=False, records=RECORDS).source == "scored"
    monkeypatch.undo()
    assert cache_key(cfg) == key
    monkeypatch.setattr(score_module, "SCORER_VERSION", score_module.SCORER_VERSION + 1)
    assert cache_key(cfg) != key


def test_reader_rollouts_from_the_middle_are_cached_and_compared_with_the_cue(tmp_path, one_thread):
    """`siakit.human.rollouts`: M continuations from the mid-solution prefix of the first n intact
    traces; the second call reads the cache (no model needed); the comparison with the cue runs."""
    from siakit.human.rollouts import HumanRolloutConfig, human_rollouts, intact_subset
    from siakit.models.tiny import tiny_model
    from siakit.scorer.score import score_traces
    from siakit.testbed.evidence import cue_vs_rollouts

    _, traces = _traces(4)
    lm = tiny_model("llama")
    cfg = HumanRolloutConfig(n=3, m=2, max_new_tokens=5, batch=4)
    chosen = intact_subset(traces, 3)
    assert [t.meta["variant"] for t in chosen] == ["intact"] * 3
    frame = human_rollouts(lm, traces, cfg, tmp_path, progress=False)
    assert frame["id"].tolist() == [t.id for t in chosen]
    assert frame["k"].tolist() == [int(np.floor(len(t.steps) * 0.5 + 0.5)) for t in chosen]  # u = 0.5
    assert (frame["n_samples"] == 2).all() and (frame["n_rollout_tokens"] <= 2 * 5).all()
    assert len(list(tmp_path.glob("rollouts-*.parquet"))) == 1 and not list(tmp_path.glob("*.tmp"))

    class Refuses:
        name = lm.name

        def __getattr__(self, item):
            raise AssertionError("the cached rollouts should be read, not recomputed")

    again = human_rollouts(Refuses(), traces, cfg, tmp_path, progress=False)
    pd.testing.assert_frame_equal(again, frame)
    assert HumanRolloutConfig(n=3, m=3).key(lm.name, ["a"]) != HumanRolloutConfig(n=3, m=2).key(lm.name, ["a"])
    versus = cue_vs_rollouts(score_traces(lm, chosen, progress=False), frame, chosen, n_boot=50)
    assert 0 <= versus["leader_agreement"] <= 1 and versus["n_prefixes"] == 3
    with pytest.raises(ValueError, match="no intact traces"):
        human_rollouts(lm, [t for t in traces if t.meta["variant"] != "intact"], cfg, tmp_path)
