"""One REINFORCE update with a KL penalty to a reference model, as the toy world's RL imported it:
`siakit.models.objectives.kl_shaped_update` (on the models' floor, so the testbed's RL shares it).

    >>> from siakit.training.reinforce import kl_shaped_update
    >>> kl_shaped_update.__module__
    'siakit.models.objectives'
"""
from siakit.models.objectives import kl_shaped_update  # noqa: F401
