"""The lineage's own-law measure: rollouts of each checkpoint's traces (`siakit.scorer.rollout`).

Two sets per checkpoint, sized for the CPU book (count: n_eval x M rollouts of at most
max_new_tokens each, then a subset x every prefix x M_subset):

- `mid`: every evaluated trace at the mid-trace prefix k = round(K / 2) (u = 0.5), M = `rollout_m`
  (4): the powered headline (the AUROC of -h at u = 0.5 over n_eval traces);
- `all`: every prefix k = 0..K of `rollout_subset` traces (evenly spaced over the evaluated ones, so
  over the rungs), M = `rollout_subset_m` (8): the whole rollout curve, for validation.

Rollouts continue a prefix at temperature 1 until EOS or the rest of the trace's own budget
(`max_new_tokens` less the reasoning tokens of C_{1:k}: the same generation, continued), and a
capped rollout is graded as truncated, as `siakit generate` grades. Seeds come from (cfg.seed,
trace id, k), so two checkpoints' rollouts differ only by the model.

    >>> from siakit.testbed.lineage import LineageConfig
    >>> cfg = LineageConfig(rollout_m=4, rollout_subset=1, rollout_subset_m=2, max_new_tokens=8)
    >>> sets = lineage_rollouts(lm, traces, cfg, progress=False)   # four traces, K = 2; lm: random weights
    >>> sets["mid"][["id", "k", "entropy", "gold_share", "own_answer_share"]].round(3)   # one row per trace
       id  k  entropy  gold_share  own_answer_share
    0  t0  1      0.0       0.167               0.0
    1  t1  1      0.0       0.167               0.0
    2  t2  1      0.0       0.167               0.0
    3  t3  1      0.0       0.167               0.0
    >>> sets["all"][["id", "k"]].values.tolist()                # every prefix of the subset's one trace
    [['t0', 0], ['t0', 1], ['t0', 2]]
    >>> sets["timing"]["rollouts_mid_n"], sets["timing"]["rollouts_mid_tokens"]   # 1 token each: 8 less C_{1:1}'s 7
    (16, 16)
    >>> m = rollout_metrics(sets["mid"])                        # AUROC of -h_mid for correctness ...
    >>> m["auroc_mid"], m["truncated_share"], m["unparsed_share"]   # ... here no rollout ends: all unparsed
    (0.5, 1.0, 1.0)
"""
from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd


def rollout_score_config(cfg, m: int, at: tuple | None):
    """The ScoreConfig of one rollout set of the lineage `cfg` (also hashed into its cache key)."""
    from siakit.scorer.score import ScoreConfig

    return ScoreConfig(estimator="rollout", rollout_m=m, rollout_at=None if at is None else tuple(at),
                       max_new_tokens=cfg.max_new_tokens, rollout_total_tokens=cfg.max_new_tokens,
                       rollout_batch=cfg.eval_batch_size, seed=cfg.seed, progress=False)


def subset_ids(traces, n: int) -> list[str]:
    """Ids of `n` traces evenly spaced over `traces` (all of them when n >= len):
    subset_ids(traces of ids a..e, 3) -> ["a", "c", "e"]."""
    if n <= 0:
        return []
    if n >= len(traces):
        return [t.id for t in traces]
    return [traces[int(i)].id for i in np.unique(np.linspace(0, len(traces) - 1, n).round())]


def lineage_rollouts(lm, traces, cfg, progress: bool = True) -> dict:
    """{"mid": frame, "all": frame, "timing": {...}} for one checkpoint's traces (see the docstring).
    An empty frame when its set has no traces or M = 0."""
    from dataclasses import replace

    from siakit.scorer.score import score_traces

    out, timing = {}, {}
    chosen = set(subset_ids(traces, cfg.rollout_subset))
    sets = (("mid", list(traces), cfg.rollout_m, cfg.rollout_at),
            ("all", [t for t in traces if t.id in chosen], cfg.rollout_subset_m, None))
    for name, group, m, at in sets:
        if not group or m <= 0:
            out[name] = pd.DataFrame()
            continue
        started = time.perf_counter()
        frame = score_traces(lm, group, config=replace(rollout_score_config(cfg, m, at), progress=progress))
        timing[f"rollouts_{name}_s"] = round(time.perf_counter() - started, 1)
        timing[f"rollouts_{name}_tokens"] = int(frame["n_rollout_tokens"].sum())
        timing[f"rollouts_{name}_n"] = int(len(frame) * m)
        out[name] = frame
    out["timing"] = timing
    return out


def mid_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Per trace, the row whose k is nearest round(K / 2) (the mid-trace prefix, rounded half up as
    `rollout_prefixes` rounds), indexed by trace id: rows k = 0..4 of a trace with K = 4 -> its k = 2 row."""
    target = (frame["n_steps"] / 2 + 0.5).astype(int)
    return (frame.assign(_off=(frame["k"] - target).abs()).sort_values(["_off", "k"])
            .groupby("id", sort=False).head(1).drop(columns="_off").set_index("id", drop=False))


def rollout_metrics(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> dict:
    """Headline numbers of one rollout set (one row per trace and prefix): the AUROC of -h for
    correctness at the mid-trace prefix (per trace the row whose k is nearest round(K / 2): the only
    row of the `mid` set) with a bootstrap interval over traces; mean h, gold share and own-answer
    share by class there; truncated and unparsed shares and tokens over the whole set. {} for an
    empty frame.

        rollout_metrics(sets["mid"]) -> {"n": 200, "auroc_mid": 0.71, "auroc_mid_low": 0.63, ...}
    """
    from siakit.analysis.signatures import auroc

    if frame is None or frame.empty:
        return {}
    mid = mid_rows(frame)
    y = mid["correct"].fillna(False).astype(bool).to_numpy()
    h = mid["entropy"].to_numpy(float)
    out = {"n": int(len(mid)), "n_correct": int(y.sum()), "n_incorrect": int((~y).sum()),
           "auroc_mid": auroc(-h, y)}
    rng = np.random.default_rng(seed)
    boots = [auroc(-h[d], y[d]) for d in rng.integers(0, len(y), size=(n_boot, len(y)))]
    boots = np.array([b for b in boots if not math.isnan(b)])
    out["auroc_mid_low"], out["auroc_mid_high"] = (np.quantile(boots, [0.025, 0.975]).tolist()
                                                   if boots.size else (math.nan, math.nan))
    for col in ("entropy", "gold_share", "own_answer_share"):
        for group, mask in (("correct", y), ("incorrect", ~y)):
            values = mid[col].to_numpy(float)[mask]
            values = values[~np.isnan(values)]
            out[f"{col}_{group}"] = float(values.mean()) if values.size else math.nan
    rollouts = frame["n_samples"].sum()
    out["truncated_share"] = float(frame["n_truncated"].sum() / rollouts)
    out["unparsed_share"] = float(frame["n_unparsed"].sum() / rollouts)
    out["tokens"] = int(frame["n_rollout_tokens"].sum())
    return out
