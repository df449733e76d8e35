"""Tables for the book's pages: HTML in its own scroll box, three significant digits, "–" for missing values.

Every DataFrame a page displays goes through `html_table` once `siakit.display.style.use()` has run (it
registers `use()` below as IPython's HTML formatter for DataFrames), so a wide table scrolls inside
its box at the column width instead of running under the sidebar, and no cell shows NaN:

    html_table(pd.DataFrame({"lock-in u": [0.51234, np.nan]}))
      -> '<div class="siakit-table" ...><table ...>...<td>0.512</td>...<td>–</td>...</table>
          <p class="siakit-table-note">–: not defined here ...</p></div>'

`interval(0.1234, 0.05, 0.31)` -> "0.123 [0.0500, 0.310]" writes a statistic with its interval in one
cell. scripts/check_book_html.py fails a build whose pages show a wide table outside the box.
"""
from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

SCROLL_CLASS = "siakit-table"  # scripts/check_book_html.py looks for this class
MISSING = "–"
# The footnote under a table with a missing value, unless the page gives its own reason.
WHY_MISSING = ("not defined here: an empty group, a statistic that needs both correct and incorrect "
               "traces, or a trace without that event (e.g. it never locks in)")
_BOX = "overflow-x: auto; max-width: 100%; margin: 0.5em 0 1em 0"
_TABLE = "border-collapse: collapse; font-size: 0.85em; margin: 0"
_CELL = "padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top"


def _missing(value) -> bool:
    try:
        return value is None or value is pd.NA or value is pd.NaT or bool(pd.isna(value))
    except (TypeError, ValueError):  # arrays and lists are values, not missing
        return False


def sig(value, digits: int = 3) -> str:
    """`value` with `digits` significant digits; integers as they are; missing values as "–".

        sig(0.012345) -> '0.0123'   sig(1.6449) -> '1.64'   sig(1234.5) -> '1230'   sig(8.0) -> '8'   sig(nan) -> '–'
    """
    if _missing(value):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if not isinstance(value, (float, np.floating)):
        return str(value)
    x = float(value)
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0 or (x.is_integer() and abs(x) < 10 ** 15):  # a count stored as a float: 8.0 -> '8'
        return str(int(x))
    magnitude = math.floor(math.log10(abs(x)))
    if magnitude >= digits - 1:
        return f"{round(x, digits - 1 - magnitude):.0f}"
    if magnitude < -4:
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits - 1 - magnitude}f}"


def interval(value, low=None, high=None, digits: int = 3) -> str:
    """A statistic and its interval in one cell: interval(0.1234, 0.05, 0.31) -> '0.123 [0.0500, 0.310]';
    a missing value -> '–'; a missing (or no) bound -> the value alone: interval(0.1234) -> '0.123'."""
    if _missing(value):
        return MISSING
    if _missing(low) or _missing(high):
        return sig(value, digits)
    return f"{sig(value, digits)} [{sig(low, digits)}, {sig(high, digits)}]"


def html_table(frame: pd.DataFrame, why_missing: str | None = None, caption: str | None = None,
               index: bool | None = None, digits: int = 3) -> str:
    """`frame` [rows x columns] as an HTML table in a sideways-scrolling box (class `siakit-table`),
    every number with `digits` significant digits, missing values as "–" and a footnote saying why
    (`why_missing`, else WHY_MISSING). `index`: show the index (default: unless it is 0..n-1)."""
    if index is None:
        index = not (isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1)
    shown = frame.copy()
    shown = shown.astype(object).map(lambda v: sig(v, digits)) if len(shown.columns) else shown
    n_missing = int((shown == MISSING).to_numpy().sum()) if shown.size else 0
    body = shown.to_html(escape=True, index=index, border=0, classes=["dataframe", "table"],
                         na_rep=MISSING, justify="center")
    body = body.replace("<table ", f'<table style="{_TABLE}" ', 1)
    body = body.replace("<td>", f'<td style="{_CELL}">').replace("<th>", f'<th style="{_CELL}">')
    out = [f'<div class="{SCROLL_CLASS}" style="{_BOX}">']
    if caption:
        out.append(f'<p style="font-size: 0.9em; margin: 0 0 0.3em 0">{html.escape(caption)}</p>')
    out.append(body)
    if n_missing:
        out.append(f'<p class="siakit-table-note" style="font-size: 0.8em; color: #555; margin: 0.3em 0 0 0">'
                   f"{MISSING}: {html.escape(why_missing or WHY_MISSING)}</p>")
    out.append("</div>")
    return "\n".join(out)


class Table:
    """A displayable table (`_repr_html_`) with its own footnote: `display(Table(frame, why_missing=...))`."""

    def __init__(self, frame: pd.DataFrame, why_missing: str | None = None, caption: str | None = None,
                 index: bool | None = None):
        self.frame, self.why_missing, self.caption, self.index = frame, why_missing, caption, index

    def _repr_html_(self) -> str:
        return html_table(self.frame, self.why_missing, self.caption, self.index)

    def __repr__(self) -> str:
        return self.frame.astype(object).map(sig).to_string()


def use() -> bool:
    """Show every DataFrame in this IPython session through `html_table` (a no-op outside IPython);
    returns whether a formatter was registered."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, lambda frame: html_table(frame))
    return True
