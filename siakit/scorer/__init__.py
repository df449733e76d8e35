"""The conditional-answer-entropy scorer: h_k and s_k after every prefix C_{1:k} of a trace, every
prefix in one forward pass. Its face is `score_traces` and `ScoreConfig`; `layout` lays a trace and
its probes out as tokens, `methods` is the one registry of ways to run them, `estimators` and
`candidates` turn logits into answer distributions.

    >>> from siakit.data.traces import Trace
    >>> from siakit.models.tiny import tiny_model
    >>> from siakit.scorer import score_traces, ScoreConfig
    >>> trace = Trace(id="t", prompt="Q: 2 + 3?", steps=[" 2 + 3 = 5.", " So 5."], gold="5", options=[" 4", " 5"])
    >>> frame = score_traces(tiny_model("llama"), [trace], config=ScoreConfig(), progress=False)
    >>> frame[["id", "k"]].values.tolist()            # one row per (trace, k); entropy in nats
    [['t', 0], ['t', 1], ['t', 2]]
    >>> bool(frame["entropy"].between(0, 0.6932).all())   # two options: at most log 2
    True
"""
from siakit.scorer.score import ScoreConfig, score_traces  # noqa: F401

__all__ = ["ScoreConfig", "score_traces"]
