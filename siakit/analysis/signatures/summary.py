"""Mean [95% bootstrap CI] of each per-trace signature for all, correct and incorrect traces."""
from __future__ import annotations

import numpy as np
import pandas as pd

from siakit.analysis.stats import bootstrap_ci

SUMMARY_COLUMNS = ("h_final", "lock_u", "locked", "locked_to_gold", "total_drop", "auc", "largest_rise",
                   "n_rises", "monotone", "drop_share_first_half", "saturation_excess", "leader_switches",
                   "tv_path_length", "eff_support_final", "s_final", "coverage_final")


def signature_summary(sigs: pd.DataFrame, columns=SUMMARY_COLUMNS, n_boot: int = 1000,
                      seed: int = 0) -> pd.DataFrame:
    """Mean [95% bootstrap CI] of each signature for all, correct and incorrect traces.

    One row per signature; for each group the columns `<group>` (mean), `<group>_low`, `<group>_high`
    and `<group>_n`. Empty groups give NaN (never an error).
    """
    correct = sigs["correct"].fillna(False).astype(bool) if len(sigs) else pd.Series(dtype=bool)
    groups = {"all": sigs, "correct": sigs[correct], "incorrect": sigs[~correct]}
    rows = []
    for col in (c for c in columns if c in sigs.columns):
        row = {"signature": col}
        for name, g in groups.items():
            vals = g[col].astype(float).to_numpy()
            vals = vals[~np.isnan(vals)]
            point, low, high = bootstrap_ci(vals, n_boot=n_boot, seed=seed)
            row.update({name: point, f"{name}_low": low, f"{name}_high": high, f"{name}_n": len(vals)})
        rows.append(row)
    return pd.DataFrame(rows)
