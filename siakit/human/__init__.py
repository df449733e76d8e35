"""Human reasoning traces read by a model: GSM8K test solutions turned into traces in four variants
(intact; one intermediate result corrupted and propagated; steps shuffled; steps of another
problem), scored with the embedded model, and the statistics of where the information arrives.

    >>> from siakit.human.cache import HumanRunConfig, load_or_score
    >>> config = HumanRunConfig(n=40)
    >>> config.n, config.variants                   # problems, and the variants of each
    (40, ('intact', 'corrupted', 'shuffled', 'foreign'))
    >>> run = load_or_score(config)    # scores GSM8K with SmolLM2; cached under ~/.cache/siakit  # doctest: +SKIP

`run.scores` holds the scorer's rows with each trace's `variant` and `problem_id`, `run.traces` the traces.
"""
