"""Deprecated location, kept for one release: use `siakit.theory.info`.

`from siakit.info import entropy` still works and warns once.
"""
import warnings

from siakit.theory.info import *  # noqa: F401,F403
from siakit.theory.info import __all__ as _all  # noqa: F401

warnings.warn("siakit.info moved to siakit.theory.info; the old path goes away in the next release",
              DeprecationWarning, stacklevel=2)
