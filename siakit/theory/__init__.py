"""The theory of SIA in finite worlds: entropies and informations (nats), the coupling of the truth
with a model's traces, and random reasoning worlds. numpy only: nothing here imports torch or any
other part of siakit, so the derivations run anywhere.

    >>> from siakit.theory import info
    >>> round(float(info.entropy([0.5, 0.5])), 4)   # log 2 nats
    0.6931
"""
from siakit.theory import info, sia, worlds  # noqa: F401

__all__ = ["info", "sia", "worlds"]
