"""The conditional-answer-entropy scorer: h_k and s_k after every prefix C_{1:k} of a trace, every
prefix in one forward pass. Its face is `score_traces` and `ScoreConfig`; `layout` lays a trace and
its probes out as tokens, `methods` is the one registry of ways to run them, `estimators` and
`candidates` turn logits into answer distributions.

    >>> from siakit.scorer import score_traces, ScoreConfig
    >>> frame = score_traces(lm, traces, config=ScoreConfig(estimator="vocab"))
    >>> frame[["id", "k", "entropy"]]                 # one row per (trace, k), nats
"""
from siakit.scorer.score import ScoreConfig, score_traces  # noqa: F401

__all__ = ["ScoreConfig", "score_traces"]
