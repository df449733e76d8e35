"""From scored prefixes to evidence: the signatures (lock-in, separability, saturation against its
null, monotonicity), the early-exit simulation, and the one run summary every page uses.

Statistics and verdicts have one home each: `stats` (AUROC with its interval, bootstrap and paired
bootstrap, Wilson), `verdicts` (the symmetric rule, Holm, combining parts); beside every headline
number stand `baselines` (trivial scores, the copy-the-last-number reader), `saturation` (its one
null, the increment shuffle), `step_shuffle` (lines re-scored in another order), `calibration`
(reliability, ECE) and `agreement` (two estimators on the same prefixes).

    >>> from siakit.analysis import summarize_run
    >>> summary = summarize_run(scores)               # accuracy, AUROC at u = 0.5 and 1, lock-in ...
    >>> summary["auroc_final"]
"""
