"""From scored prefixes to evidence: the signatures (lock-in, separability, saturation against its
null, monotonicity), the early-exit simulation, and the one run summary every page uses.

Statistics and verdicts have one home each: `stats` (AUROC with its interval, bootstrap and paired
bootstrap, Wilson), `verdicts` (the symmetric rule, Holm, combining parts); beside every headline
number stand `baselines` (trivial scores, the copy-the-last-number reader), `saturation` (its one
null, the increment shuffle), `step_shuffle` (lines re-scored in another order), `calibration`
(reliability, ECE) and `agreement` (two estimators on the same prefixes).

    >>> import pandas as pd
    >>> from siakit.analysis.summary import summarize_run
    >>> scores = pd.DataFrame({"id": ["a", "a", "b", "b", "c", "c"], "k": [0, 1] * 3, "n_steps": 1,
    ...                        "n_options": 2, "entropy": [0.7, 0.1, 0.7, 0.6, 0.7, 0.2],
    ...                        "gold_logprob": [-0.7, -0.1, -0.7, -2.0, -0.7, -0.2],
    ...                        "correct": [True, True, False, False, True, True]})   # one row per (trace, k)
    >>> summary = summarize_run(scores, n_boot=10)    # accuracy, AUROC at u = 0.5 and 1, lock-in ...
    >>> summary["n_traces"], round(summary["accuracy"], 3), summary["auroc_h_u1"]   # -h_final ranks a, c over b
    (3, 0.667, 1.0)
"""
