"""Problem sources by dataset prefix: the data floor asks a registered loader and never imports one.

A package above `data` that makes its own problems registers a loader for its prefix when it is
imported (`siakit.testbed.tasks` registers "rg:"). `PROVIDERS` names, per known prefix, the module
that registers it, so `load_problems("rg:chain_sum")` works in a fresh process: that module is
imported by name on first use, as a plugin is, and this floor holds no import of the floor above.

    >>> source_for("gsm8k") is None                 # read from files by siakit.data.problems
    True
    >>> register_source("demo:", lambda spec, split, n, seed: [spec])
    >>> source_for("demo:x").load("demo:x", "test", None, None)
    ['demo:x']
    >>> del SOURCES["demo:"]
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Source:
    prefix: str              # every dataset name starting with it ("rg:") is this source's
    load: Callable           # load(spec, split, n, seed) -> [Problem]: does its own split and sampling
    multiple_choice: bool = False  # whether its problems come with choices


SOURCES: dict[str, Source] = {}
PROVIDERS = {"rg:": "siakit.testbed.tasks"}  # prefix -> module that registers it when imported


def register_source(prefix: str, load: Callable, multiple_choice: bool = False) -> None:
    """Make `load_problems(prefix + ...)` call `load` (registering a prefix again replaces it)."""
    if not prefix.endswith(":"):
        raise ValueError(f"register_source: prefix must end with ':', got {prefix!r}")
    SOURCES[prefix] = Source(prefix, load, multiple_choice)


def source_for(dataset: str) -> Source | None:
    """The registered source whose prefix `dataset` starts with (importing its provider on first use),
    or None for the datasets `siakit.data.problems` reads itself."""
    for prefix, module in PROVIDERS.items():
        if dataset.startswith(prefix) and prefix not in SOURCES:
            importlib.import_module(module)
    return next((s for p, s in SOURCES.items() if dataset.startswith(p)), None)
