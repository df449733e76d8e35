"""siakit: conditional-answer-entropy scoring and the Stepwise Informativeness Assumption (SIA).

Companion code to *The Stepwise Informativeness Assumption: Why are Entropy Dynamics and Reasoning
Correlated in LLMs?* (arXiv 2604.06192). Everything beyond that paper's abstract is this project's own
formalisation. Heavy modules (torch, transformers) are imported lazily so that `siakit.theory.info` and
`siakit.theory.sia` stay pure numpy.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
