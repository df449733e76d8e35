"""From scored prefixes to evidence: the signatures (lock-in, separability, saturation against its
null, monotonicity), the early-exit simulation, and the one run summary every page uses.

    >>> from siakit.analysis import summarize_run
    >>> summary = summarize_run(scores)               # accuracy, AUROC at u = 0.5 and 1, lock-in ...
    >>> summary["auroc_final"]
"""
