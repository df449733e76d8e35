"""Can a run's signatures be read? Four rules, checked before any signature is shown.

A signature (separability, lock-in, curves by correctness) says something about a model only when both
groups have enough traces, the readout reads the answer the model wrote, few traces were cut off, and
the model writes its answer in the cue's format. `signature_gate` checks the four rules of
`GateRules` and says, for each, its value, whether it passed, and what a failure means:

    >>> from siakit.analysis.diagnostics import run_diagnostics
    >>> gate = signature_gate(traces, ["t0", "t1", "t2"], run_diagnostics(traces, scores, max_new_tokens=160))
    >>> gate["readable"], gate["failed"]          # 2 correct and 1 incorrect kept; leaders agree on half
    (False, ['both classes', 'leader = written answer'])

Run pages state the verdict first and fold the signature panels under a warning when it is False;
the runs index marks the run.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class GateRules:
    min_per_class: int = 10        # scored traces needed in each of the correct and incorrect groups
    min_leader_agrees: float = 0.8  # share of traces whose readout leader at k = K is their written answer
    max_share_cut: float = 0.25     # largest share of traces cut at the token cap
    min_cue_share: float = 0.8      # share of traces that write the cue's phrase (the answer format)


def cue_share(traces) -> float | None:
    """Share of traces whose own text contains their cue's phrase (case and spacing ignored), None
    without traces or cues.

        cue_share([Trace(steps=["2 + 2 = 4.\\n", "The answer is 4."], cue="\\nThe answer is"), ...]) -> 1.0
    """
    with_cue = [t for t in traces if (t.cue or "").strip()]
    if not with_cue:
        return None
    norm = lambda text: " ".join(str(text).lower().split())  # noqa: E731
    return sum(norm(t.cue) in norm("".join(t.steps)) for t in with_cue) / len(with_cue)


def signature_gate(traces, kept_ids, diagnostics: dict, rules: GateRules = GateRules()) -> dict:
    """The four rules on one run: `traces` (all of them), `kept_ids` (ids of the scored traces the
    signatures read) and `diagnostics` (`run_diagnostics`). Returns {"readable", "failed" (rule
    names), "rules": [{"rule", "value", "needed", "passed", "meaning"}], "thresholds"}, JSON-ready."""
    traces = list(traces)
    kept = {str(i) for i in kept_ids}
    n_correct = sum(1 for t in traces if str(t.id) in kept and t.correct is True)
    n_incorrect = sum(1 for t in traces if str(t.id) in kept and t.correct is not True)
    agree, share_cut, cue = diagnostics.get("leader_agrees"), diagnostics.get("share_cut"), cue_share(traces)
    rows = [
        ("both classes", f"{n_correct} correct, {n_incorrect} incorrect scored traces",
         f"at least {rules.min_per_class} in each", min(n_correct, n_incorrect) >= rules.min_per_class,
         "with fewer, a comparison of correct and incorrect traces (separability, curves by correctness, "
         "lock-in by group) rests on a handful of traces or on none"),
        ("leader = written answer", "n/a" if agree is None else f"{agree:.2f}",
         f"at least {rules.min_leader_agrees:.2f}", agree is not None and agree >= rules.min_leader_agrees,
         "the readout's most likely answer at the end is often not the answer the model wrote, so the "
         "entropy measures the cue's format rather than the model's answer"),
        ("few traces cut", "n/a" if share_cut is None else f"{share_cut:.2f}",
         f"at most {rules.max_share_cut:.2f}", share_cut is not None and share_cut <= rules.max_share_cut,
         "many traces ran into the token cap: their answers are graded from unfinished text, and the "
         "traces left are a biased sample (the short ones)"),
        ("cue format matched", "n/a" if cue is None else f"{cue:.2f} of traces write the cue",
         f"at least {rules.min_cue_share:.2f}", cue is not None and cue >= rules.min_cue_share,
         "the model does not write its answer the way the cue asks for it, so the answer read after "
         "the cue is not the model's own format"),
    ]
    out = [{"rule": r, "value": v, "needed": need, "passed": bool(ok), "meaning": m} for r, v, need, ok, m in rows]
    failed = [r["rule"] for r in out if not r["passed"]]
    return {"readable": not failed, "failed": failed, "rules": out, "thresholds": asdict(rules)}
