"""analysis.gate: a run page reads its signatures only when the four rules pass, and says which failed."""
from siakit.analysis.gate import GateRules, cue_share, signature_gate
from siakit.data.traces import Trace


def _trace(i, correct, writes_cue=True):
    end = "The answer is 4." if writes_cue else "So it is 4."
    return Trace(id=str(i), prompt="Q", steps=["2 + 2 = 4.\n", end], dataset="gsm8k", model="m", gold="4",
                 answer="4", correct=correct, cue="\nThe answer is")


def test_cue_share_counts_traces_that_write_the_cue():
    traces = [_trace(0, True), _trace(1, True), _trace(2, False, writes_cue=False), _trace(3, False)]
    assert cue_share(traces) == 0.75 and cue_share([]) is None


def test_a_run_that_passes_every_rule_is_readable():
    traces = [_trace(i, i < 12) for i in range(24)]
    gate = signature_gate(traces, [t.id for t in traces], {"leader_agrees": 0.9, "share_cut": 0.0})
    assert gate["readable"] and gate["failed"] == [] and [r["passed"] for r in gate["rules"]] == [True] * 4


def test_each_failed_rule_is_named_with_its_value():
    # ARC with SmolLM2 as the review found it: leader = answer 0.31, 17 of 32 cut... and few correct traces
    traces = [_trace(i, i < 3, writes_cue=i % 2 == 0) for i in range(32)]
    kept = [t.id for t in traces[:15]]
    gate = signature_gate(traces, kept, {"leader_agrees": 0.31, "share_cut": 17 / 32})
    assert not gate["readable"]
    assert gate["failed"] == ["both classes", "leader = written answer", "few traces cut", "cue format matched"]
    values = {r["rule"]: r["value"] for r in gate["rules"]}
    assert values["both classes"] == "3 correct, 12 incorrect scored traces"
    assert values["leader = written answer"] == "0.31" and values["few traces cut"] == "0.53"
    assert values["cue format matched"] == "0.50 of traces write the cue"
    relaxed = signature_gate(traces, kept, {"leader_agrees": 0.31, "share_cut": 17 / 32},
                             GateRules(min_per_class=3, min_leader_agrees=0.3, max_share_cut=0.6, min_cue_share=0.5))
    assert relaxed["readable"]
    missing = signature_gate(traces, kept, {"leader_agrees": None, "share_cut": None})
    assert {"leader = written answer", "few traces cut"} <= set(missing["failed"])  # n/a never passes
