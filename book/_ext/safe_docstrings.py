"""Sphinx extension: a docstring that is not valid reStructuredText is shown verbatim, not as a warning.

siakit's docstrings are written for people reading the code (math like `p(a*|Q)`, markdown backticks,
ASCII tables), not always as reStructuredText. The book builds with warnings as errors, so each
docstring (after napoleon) is parsed once on its own; if docutils reports anything at WARNING level or
above (other than roles it cannot know outside Sphinx), bars outside inline literals are escaped
(`|A|` is math here, not a substitution); if that does not help, the docstring is shown verbatim.
"""
from __future__ import annotations

import io
import re

from docutils.core import publish_doctree
from docutils.utils import Reporter

_IGNORED = ("Unknown interpreted text role", "No role entry", "Unknown directive type",
            "No directive entry", 'Trying "')
_LITERAL = re.compile(r"(``.+?``|`[^`]+`)")  # inline literals / interpreted text: left untouched


def _problems(text: str) -> list[str]:
    stream = io.StringIO()
    try:
        doctree = publish_doctree(text, settings_overrides={
            "report_level": Reporter.WARNING_LEVEL, "halt_level": Reporter.SEVERE_LEVEL + 1,
            "warning_stream": stream, "file_insertion_enabled": False, "raw_enabled": False})
    except Exception as e:  # noqa: BLE001 - anything unparsable is shown verbatim
        return [str(e)]
    messages = [m.astext() for m in doctree.traverse(lambda n: n.tagname == "system_message")
                if m["level"] >= Reporter.WARNING_LEVEL]
    messages += [line for line in stream.getvalue().splitlines() if "(WARNING" in line or "(ERROR" in line]
    return [m for m in messages if not any(s in m for s in _IGNORED)]


def _escape_bars(line: str) -> str:
    """`|A|` (math, not a substitution): escape bars outside inline literals."""
    return "".join(part if _LITERAL.fullmatch(part) else part.replace("|", "\\|")
                   for part in _LITERAL.split(line))


def _process(app, what, name, obj, options, lines: list[str]) -> None:
    if not lines or not _problems("\n".join(lines)):
        return
    escaped = [_escape_bars(line) for line in lines]
    if not _problems("\n".join(escaped)):
        lines[:] = escaped
        return
    body = [("    " + line) if line.strip() else "" for line in lines]
    lines[:] = ["::", ""] + body + [""]


def setup(app):
    app.connect("autodoc-process-docstring", _process, priority=900)  # after napoleon (500)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
