"""Extra scorings of one checkpoint of a lineage result (`run_lineage`), each cached beside its
checkpoints so a rebuild reads it: the readout under other cues (`cue_scores`, `cue_table`,
`lineage_cue_scores`), the exact cue distribution on a subset against the readout and the rollouts
(`lineage_enumerate`, `readout_vs_enumerate`), and the shuffled-steps null (`lineage_step_shuffle`).
siakit.testbed.evidence re-exports them beside the rollout evidence. All entropies in nats.

    lineage_cue_scores(result, "step8", ["\nThe answer is", "\nSo the answer is"])
    -> id, correct, "The answer is", "So the answer is": h at u = 0.5 per uncut trace and cue
"""
from __future__ import annotations

import math
from typing import NamedTuple

import pandas as pd

from siakit.analysis.agreement import estimator_agreement
from siakit.analysis.baselines import last_number_share
from siakit.analysis.stats import auroc_ci
from siakit.testbed.rollouts import mid_rows, subset_ids


def cue_scores(lm, traces, cues, u: float = 0.5, scored: pd.DataFrame | None = None) -> pd.DataFrame:
    """The readout's h at u (nats) of each uncapped trace under each cue: columns id, correct, one per
    cue (its text stripped). Each cue is one scoring pass over the traces, except the traces' own cue
    when `scored` (their readout table under it, with default settings) is given."""
    from dataclasses import replace

    from siakit.analysis.baselines import at_u
    from siakit.scorer.score import ScoreConfig, score_traces

    kept = [t for t in traces if not t.meta.get("hit_cap", False)]
    out = pd.DataFrame({"id": [t.id for t in kept], "correct": [bool(t.correct) for t in kept]}).set_index("id", drop=False)
    for cue in cues:
        if scored is not None and all(t.cue == cue for t in kept):
            frame = scored
        else:
            frame = score_traces(lm, [replace(t, cue=cue) for t in kept], config=ScoreConfig(progress=False))
        out[cue.strip()] = at_u(frame, u).reindex(out.index)
    return out.reset_index(drop=True)


class CueTable(NamedTuple):
    """`cue_table`'s two tables."""
    auroc: pd.DataFrame     # per cue: AUROC of -h with its interval, mean h (nats), n
    spearman: pd.DataFrame  # [cues, cues] Spearman correlation of h across cues


def cue_table(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> CueTable:
    """From `cue_scores`: CueTable(per cue: AUROC of -h with its interval, mean h in nats, n; the
    Spearman matrix of h across cues)."""
    cues = [c for c in frame.columns if c not in ("id", "correct")]
    y = frame["correct"].to_numpy(bool)
    rows = []
    for cue in cues:
        r = auroc_ci(-frame[cue].to_numpy(float), y, n_boot=n_boot, seed=seed)
        rows.append({"cue": cue, "AUROC of -h at u = 0.5": r["auroc"], "low": r["low"], "high": r["high"],
                     "mean h (nats)": float(frame[cue].mean()), "n": int(len(frame))})
    return CueTable(pd.DataFrame(rows), frame[cues].rank().corr())


def _cached_frame(result: dict, kind: str, checkpoint: str, key: dict, compute) -> pd.DataFrame:
    """`compute(lm)` for one checkpoint of a `run_lineage` result, stored as
    <root>/<kind>/<checkpoint>-<hash of key>.parquet and read back on a rebuild; the checkpoint's
    model is loaded only when the frame is not stored yet."""
    import hashlib
    import json
    from pathlib import Path

    from siakit.models.loading import load_model
    from siakit.scorer.score import SCORER_VERSION

    blob = json.dumps(key | {"v": SCORER_VERSION}, sort_keys=True)
    path = Path(result["root"]) / kind / f"{checkpoint}-{hashlib.sha1(blob.encode()).hexdigest()[:12]}.parquet"
    if path.exists():
        return pd.read_parquet(path)
    lm = load_model(str(Path(result["root"]) / checkpoint), device=result["config"].get("device", "cpu"))
    frame = compute(lm)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return frame


def _entry(result: dict, checkpoint: str) -> dict:
    return next(c for c in result["checkpoints"] if c["name"] == checkpoint)["greedy"]


def lineage_cue_scores(result: dict, checkpoint: str, cues, u: float = 0.5) -> pd.DataFrame:
    """`cue_scores` of one checkpoint of a `run_lineage` result, cached beside its checkpoints (keyed by
    the checkpoint, the cues, u and the traces' ids), so a rebuild reads it."""
    ev = _entry(result, checkpoint)
    key = {"cues": list(cues), "u": u, "ids": [t.id for t in ev["traces"]], "eval": result["config"].get("n_eval")}
    return _cached_frame(result, "cues", checkpoint, key,
                         lambda lm: cue_scores(lm, ev["traces"], cues, u, scored=ev["scores"]))


def lineage_enumerate(result: dict, checkpoint: str, n: int = 40) -> pd.DataFrame:
    """The `enumerate` estimator's table (every prefix) of `n` uncut traces of one checkpoint, evenly
    spaced over its evaluated ones, cached beside its checkpoints like `lineage_cue_scores`."""
    from siakit.scorer.score import ScoreConfig, score_traces

    kept = [t for t in _entry(result, checkpoint)["traces"] if not t.meta.get("hit_cap", False)]
    chosen = set(subset_ids(kept, n))
    config = ScoreConfig(estimator="enumerate", progress=False)
    return _cached_frame(result, "enumerate", checkpoint, {"ids": sorted(chosen), "config": repr(config)},
                         lambda lm: score_traces(lm, [t for t in kept if t.id in chosen], config=config))


def readout_vs_enumerate(readout: pd.DataFrame, enumerated: pd.DataFrame, mid: pd.DataFrame, traces,
                         n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per comparison on the enumerated traces: the candidate-set readout against `enumerate`
    (every prefix), and each of them against the rollouts at the mid-trace prefixes. Columns: pair,
    prefixes, same leader, JS divergence (nats), Spearman of h, mean |Δh| (nats), each "v [low, high]"
    where an interval exists; plus the enumerated, non-numeric and unexplored mass of `enumerate`."""
    if enumerated is None or enumerated.empty:  # no uncut trace to enumerate
        out = pd.DataFrame(columns=["pair", "prefixes", "same leader", "JS divergence (nats)", "Spearman of h",
                                    "mean |Δh| (nats)"])
        out.attrs.update({c: math.nan for c in ("enumerated_mass", "non_numeric_mass", "unexplored_mass")})
        out.attrs["last_number_enumerate"] = {"share": math.nan, "low": math.nan, "high": math.nan, "n": 0}
        return out
    ids = set(enumerated["id"])
    read = readout[readout["id"].isin(ids)]
    m = mid_rows(mid[mid["id"].isin(ids)]).reset_index(drop=True) if mid is not None and len(mid) else mid
    rows = []
    for pair, a, b in (("readout vs enumerate", read, enumerated), ("readout vs rollouts", read, m),
                       ("enumerate vs rollouts", enumerated, m)):
        if b is None or not len(b):
            continue
        ag = estimator_agreement(a, b, n_boot=n_boot, seed=seed)
        both = a[["id", "k", "entropy"]].merge(b[["id", "k", "entropy"]], on=["id", "k"])
        rows.append({"pair": pair, "prefixes": ag["n_prefixes"],
                     **{name: (ag[key], ag[f"{key}_low"], ag[f"{key}_high"]) for name, key in
                        (("same leader", "leader_agreement"), ("JS divergence (nats)", "js_divergence"),
                         ("Spearman of h", "spearman_h"))},
                     "mean |Δh| (nats)": float((both["entropy_x"] - both["entropy_y"]).abs().mean())})
    out = pd.DataFrame(rows)
    for col in ("enumerated_mass", "non_numeric_mass", "unexplored_mass"):
        out.attrs[col] = float(enumerated[col].mean())
    out.attrs["last_number_enumerate"] = last_number_share(enumerated, traces)
    return out


def lineage_step_shuffle(result: dict, checkpoint: str, seed: int = 0, n_boot: int = 1000) -> pd.DataFrame:
    """The shuffled-steps null on one checkpoint of a `run_lineage` result: every uncut trace with at
    least two reasoning lines gets them in a seeded random order (`analysis.step_shuffle`), the copies
    are re-scored by that checkpoint's model with the lineage's readout settings (cached beside its
    checkpoints), and the gold log-probability gain per reasoning line (nats) is compared with the
    original order, paired by trace. One row per group (all, correct, incorrect): observed, shuffled,
    diff (observed - shuffled), low, high, p, n."""
    from siakit.analysis.step_shuffle import compare_shuffled, shuffled_traces
    from siakit.scorer.score import ScoreConfig, score_traces

    ev = _entry(result, checkpoint)
    kept = [t for t in ev["traces"] if not t.meta.get("hit_cap", False)]
    shuffled = shuffled_traces(kept, seed)
    config = ScoreConfig(progress=False)
    frame = _cached_frame(result, "shuffled", checkpoint, {"ids": [t.id for t in shuffled], "seed": seed,
                                                            "config": repr(config)},
                          lambda lm: score_traces(lm, shuffled, config=config))
    rows = []
    for group, keep in (("all", lambda t: True), ("correct", lambda t: t.correct), ("incorrect", lambda t: not t.correct)):
        ids = {t.id for t in kept if keep(t)}
        r = compare_shuffled(ev["scores"][ev["scores"]["id"].isin(ids)],
                             frame[frame["id"].str.replace(r":steps-shuffled$", "", regex=True).isin(ids)],
                             n_boot=n_boot, seed=seed)
        rows.append({"group": group, **r})
    return pd.DataFrame(rows)
