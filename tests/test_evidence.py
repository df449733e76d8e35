"""The lineage's rollout evidence (siakit.testbed.evidence) on synthetic frames with known answers."""
import math

import numpy as np
import pandas as pd

from siakit.data.traces import Trace
from siakit.testbed import evidence


def _trace(i, rung, correct, K=4, wrong=None, cap=False, shift=0):
    meta = {"rung": rung, "hit_cap": cap}
    if wrong:
        meta["first_wrong_line"] = wrong
    steps = [f"{j + shift} + 1 = {j + shift + 1}\n" for j in range(K - 1)] + [f"The answer is {K}."]
    return Trace(id=f"t{i}", prompt="Q", steps=steps, gold=str(K), answer=str(K if correct else K + 1),
                 correct=correct, meta=meta)


def _mid_frame(traces, h):
    """One rollout row per trace at k = round(K / 2) with entropy h[i]."""
    return pd.DataFrame({"id": [t.id for t in traces], "k": [2] * len(traces), "n_steps": [4] * len(traces),
                         "correct": [t.correct for t in traces], "entropy": h, "gold_share": 0.5,
                         "own_answer_share": 0.5, "leading_option": ["2"] * len(traces),
                         "options": [["2", "3"]] * len(traces), "option_probs": [[0.6, 0.4]] * len(traces)})


def test_difficulty_alone_is_caught_by_the_stratified_auroc():
    # rung t2: all correct with h = 0, rung t6: all incorrect with h = 1 -> pooled AUROC 1, yet inside
    # each rung h says nothing; plus a mixed rung t4 where h is pure noise.
    rng = np.random.default_rng(0)
    traces, h = [], []
    for i in range(20):
        traces.append(_trace(i, "t2", True)); h.append(0.0)
        traces.append(_trace(100 + i, "t6", False)); h.append(1.0)
    for i in range(40):
        traces.append(_trace(200 + i, "t4", bool(i % 2))); h.append(float(rng.uniform(0.4, 0.6)))
    sep = evidence.rollout_separability(_mid_frame(traces, h), traces, n_boot=200).set_index(["score", "scope"])
    pooled = sep.loc[("-h^roll at u = 0.5", "pooled"), "auroc"]
    strat = sep.loc[("-h^roll at u = 0.5", "rung-stratified"), "auroc"]
    terms = sep.loc[("-number of terms", "pooled"), "auroc"]
    assert pooled > 0.8 and terms > 0.8          # difficulty alone separates pooled traces
    assert abs(strat - 0.5) < 0.2                # within rungs nothing is left
    assert ("-h^roll at u = 0.5", "rung t4") in sep.index and ("-h^roll at u = 0.5", "rung t2") not in sep.index


def test_capped_traces_are_left_out():
    traces = [_trace(0, "t2", True), _trace(1, "t2", False, cap=True)]
    t = evidence.rollout_table(_mid_frame(traces, [0.1, 0.9]), traces)
    assert t["id"].tolist() == ["t0"]


def _all_frame(traces, h_by_trace, share_by_trace):
    rows = []
    for t in traces:
        for k, (h, g) in enumerate(zip(h_by_trace[t.id], share_by_trace[t.id])):
            rows.append({"id": t.id, "k": k, "n_steps": 4, "correct": t.correct, "entropy": h, "gold_share": g})
    return pd.DataFrame(rows)


def test_rollout_steps_information_and_wrong_line():
    traces = [_trace(i, "t4", True) for i in range(3)] + [_trace(10 + i, "t4", False, wrong=2) for i in range(3)]
    h = {t.id: ([1.0, 0.7, 0.4, 0.1, 0.0] if t.correct else [1.0, 1.0, 1.0, 1.0, 0.0]) for t in traces}
    # incorrect traces lose the gold at line 2: share 0.5 -> 0.1, flat elsewhere
    g = {t.id: ([0.5, 0.6, 0.7, 0.8, 0.9] if t.correct else [0.5, 0.5, 0.1, 0.1, 0.1]) for t in traces}
    out = evidence.rollout_steps(_all_frame(traces, h, g), traces, n_boot=200)
    assert math.isclose(out["info_correct"], 0.3, abs_tol=1e-9)   # reasoning lines k = 1..3 only
    assert math.isclose(out["info_incorrect"], 0.0, abs_tol=1e-9)
    assert math.isclose(out["info_diff"], 0.3, abs_tol=1e-9)
    assert math.isclose(out["wrong_line"], -0.4, abs_tol=1e-9)    # -0.4 at the wrong line vs 0 elsewhere
    assert out["wrong_line_traces"] == 3


def test_cue_vs_rollouts_agreement_and_last_number():
    traces = [_trace(i, "t4", bool(i % 2)) for i in range(6)]
    mid = _mid_frame(traces, [0.2] * 6)
    cue = mid.copy()
    cue["leading_option"] = "2"          # "1 + 1 = 2" is the last number written in C_{1:2}
    mid["leading_option"] = "3"
    mid["options"] = [["3", "2"]] * 6
    out = evidence.cue_vs_rollouts(cue, mid, traces, n_boot=100)
    assert out["leader_agreement"] == 0.0 and out["n_prefixes"] == 6
    assert out["last_number_cue"] == 1.0 and out["last_number_rollouts"] == 0.0
    # {2: .6, 3: .4} against {3: .6, 2: .4}: JS = KL(p || (.5, .5)) = .6 log 1.2 + .4 log .8
    assert math.isclose(out["js_divergence"], 0.6 * math.log(1.2) + 0.4 * math.log(0.8), rel_tol=1e-9)


def test_verdict_table_states_each_prediction():
    rng = np.random.default_rng(1)
    before = [_trace(i, "t4", i % 4 == 0) for i in range(60)]
    end = [_trace(i, "t4", i % 4 != 0) for i in range(60)]
    h_end = [float(rng.uniform(0, 0.3)) if t.correct else float(rng.uniform(0.5, 1.0)) for t in end]
    h_before = [float(rng.uniform(0, 1)) for _ in before]

    def ev(traces, h):
        return {"traces": traces, "rollouts_mid": _mid_frame(traces, h), "rollouts_all": pd.DataFrame()}

    result = {"checkpoints": [{"name": "step0", "stage": "base", "greedy": ev(before, h_before)},
                              {"name": "step32", "stage": "sft", "greedy": ev(end, h_end)}]}
    table = evidence.verdict_table(result, n_boot=200).set_index("claim")
    assert len(table) == 5
    acc = table.iloc[0]
    assert math.isclose(acc["estimate"], 0.5) and acc["verdict"] == "supports"      # 0.25 -> 0.75
    sep = table.iloc[1]
    assert sep["estimate"] == 1.0 and sep["verdict"] == "supports"
    assert table.iloc[3]["verdict"] == "inconclusive (too few traces)"   # no subset rollouts


def test_cue_scores_one_column_per_cue_and_their_table():
    from siakit.models.tiny import tiny_model

    lm = tiny_model("llama")
    traces = [_trace(i, "t4", bool(i % 2), shift=3 * i) for i in range(4)] + [_trace(9, "t4", True, cap=True)]
    frame = evidence.cue_scores(lm, traces, ["\nThe answer is", "\nSo the answer is"])
    assert frame["id"].tolist() == ["t0", "t1", "t2", "t3"]          # the capped trace is left out
    assert list(frame.columns) == ["id", "correct", "The answer is", "So the answer is"]
    assert np.isfinite(frame[["The answer is", "So the answer is"]].to_numpy()).all()
    assert not np.allclose(frame["The answer is"], frame["So the answer is"])   # the cue changes h
    table, corr = evidence.cue_table(frame, n_boot=50)
    assert table["cue"].tolist() == ["The answer is", "So the answer is"] and (table["n"] == 4).all()
    assert np.allclose(np.diag(corr.to_numpy()), 1.0)


def test_verdict_table_without_scorable_traces_is_inconclusive():
    traces = [_trace(i, "t4", False, cap=True) for i in range(4)]
    ev = {"traces": traces, "rollouts_mid": _mid_frame(traces, [0.5] * 4), "rollouts_all": pd.DataFrame()}
    result = {"checkpoints": [{"name": "step0", "stage": "base", "greedy": ev},
                              {"name": "step2", "stage": "sft", "greedy": ev}]}
    table = evidence.verdict_table(result, n_boot=20)
    assert (table.iloc[1:]["verdict"] == "inconclusive (too few traces)").all()
    assert evidence.cue_vs_rollouts(ev["rollouts_mid"], pd.DataFrame(), traces) == {}


def test_mid_summary_on_uncut_traces():
    traces = [_trace(0, "t4", True), _trace(1, "t4", False), _trace(2, "t4", False, cap=True)]
    out = evidence.mid_summary(_mid_frame(traces, [0.1, 0.9, 0.0]), traces, n_boot=20)
    assert (out["n_correct"], out["n_incorrect"]) == (1, 1) and out["auroc"] == 1.0
    assert math.isclose(out["h_correct"], 0.1) and math.isclose(out["h_incorrect"], 0.9)
    assert evidence.mid_summary(pd.DataFrame(), traces) == {}


def test_readout_vs_enumerate_identical_tables_agree_exactly():
    traces = [_trace(i, "t4", bool(i % 2)) for i in range(4)]
    read = _mid_frame(traces, [0.3, 0.4, 0.5, 0.6])
    enum = read.assign(enumerated_mass=0.9, non_numeric_mass=0.06, unexplored_mass=0.04)
    mid = read.assign(entropy=[0.0, 0.0, 1.0, 1.0])
    out = evidence.readout_vs_enumerate(read, enum, mid, traces, n_boot=20).set_index("pair")
    assert out.loc["readout vs enumerate", "same leader"][0] == 1.0
    assert out.loc["readout vs enumerate", "mean |Δh| (nats)"] == 0.0
    assert math.isclose(out.loc["readout vs rollouts", "mean |Δh| (nats)"], 0.4)  # (.3 + .4 + .5 + .4) / 4
    assert math.isclose(out.attrs["unexplored_mass"], 0.04) and out.attrs["last_number_enumerate"]["share"] == 1.0


def test_readout_vs_enumerate_without_traces_is_empty():
    out = evidence.readout_vs_enumerate(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), [])
    assert out.empty and math.isnan(out.attrs["enumerated_mass"]) and out.attrs["last_number_enumerate"]["n"] == 0


def test_lineage_step_shuffle_rescored_by_the_model_and_cached(tmp_path):
    # A lineage result of one checkpoint (a tiny random model saved in its folder): the shuffled copies
    # are scored by that model, compared per group, and a second call reads the stored frame.
    from siakit.models.tiny import tiny_model
    from siakit.scorer.score import ScoreConfig, score_traces

    lm = tiny_model("llama", seed=0)
    lm.model.save_pretrained(tmp_path / "step8")
    lm.tokenizer.save_pretrained(tmp_path / "step8")
    traces = [_trace(i, "t4", bool(i % 2), K=4, shift=i) for i in range(6)] + [_trace(9, "t4", True, cap=True)]
    scores = score_traces(lm, traces, config=ScoreConfig(progress=False))
    result = {"root": str(tmp_path), "config": {"device": "cpu"},
              "checkpoints": [{"name": "step8", "stage": "sft", "greedy": {"traces": traces, "scores": scores}}]}
    null = evidence.lineage_step_shuffle(result, "step8", seed=0, n_boot=100).set_index("group")
    assert null.loc["all", "n"] == 6 and null.loc["correct", "n"] == 3 and null.loc["incorrect", "n"] == 3
    assert math.isclose(null.loc["all", "diff"], null.loc["all", "observed"] - null.loc["all", "shuffled"], abs_tol=1e-9)
    stored = list((tmp_path / "shuffled").glob("step8-*.parquet"))
    assert len(stored) == 1 and set(pd.read_parquet(stored[0])["id"]) == {f"t{i}:steps-shuffled" for i in range(6)}
    again = evidence.lineage_step_shuffle(result, "step8", seed=0, n_boot=100).set_index("group")
    assert again.loc["all", "observed"] == null.loc["all", "observed"]
