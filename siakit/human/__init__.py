"""Human reasoning traces read by a model: GSM8K test solutions turned into traces in four variants
(intact; one intermediate result corrupted and propagated; steps shuffled; steps of another
problem), scored with the embedded model, and the statistics of where the information arrives.

    >>> from siakit.human.cache import HumanRunConfig, load_or_score
    >>> run = load_or_score(HumanRunConfig(n=40))          # cached under ~/.cache/siakit/human_traces
    >>> run["scores"].groupby("variant").entropy.mean()
"""
