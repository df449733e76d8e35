"""A static HTML view of one scored trace: each step shaded by its entropy drop, h_k and the leader beside it.

No server and no JavaScript: `render_trace` returns an HTML string with inline styles (every piece of
model or data text is escaped), and `show_trace` wraps it in `IPython.display.HTML` for notebooks and
the book. Green rows lowered the conditional answer entropy, red rows raised it; the shade is
|h_{k-1} - h_k| / log|A| (nats over the largest possible entropy).

    render_trace(trace, rows)  ->  '<div class="siakit-trace">...<td>0.41</td><td>B</td>...</div>'
"""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

GREEN, RED = (46, 160, 67), (214, 39, 40)  # drop, rise
MAX_ALPHA = 0.55  # the strongest shade, so dark text stays readable

_STYLE = ("font-family: var(--pst-font-family-base, sans-serif); font-size: 0.85em; "
          "border: 1px solid #bbb; border-radius: 4px; padding: 6px; margin: 8px 0; "
          "color: #111; background: #fff")
_CELL = "padding: 2px 6px; vertical-align: top; border-bottom: 1px solid #eee"


def _esc(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _shade(drop: float, scale: float) -> str:
    if not np.isfinite(drop) or scale <= 0 or drop == 0:
        return "transparent"
    alpha = MAX_ALPHA * min(abs(drop) / scale, 1.0)
    r, g, b = GREEN if drop > 0 else RED
    return f"rgba({r}, {g}, {b}, {alpha:.3f})"


def _finite(value) -> bool:
    try:
        return value is not None and bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _cell(rows: pd.DataFrame, k: int, name: str, fmt: str = "{:.2f}") -> str:
    """Row k's `name`, formatted; "–" when missing or undefined."""
    if k not in rows.index or name not in rows.columns or rows.at[k, name] is None:
        return "–"
    value = rows.at[k, name]
    if isinstance(value, (int, float, np.floating)):
        return fmt.format(value) if _finite(value) else "–"
    return _esc(value)


def _leader(rows: pd.DataFrame, k: int) -> str:
    """Row k's leading option and its probability: '<code>B</code> (0.81)'; "–" when missing."""
    if k not in rows.index or "leading_option" not in rows.columns:
        return "–"
    value = rows.at[k, "leading_option"]
    if value is None or (isinstance(value, (float, np.floating)) and not np.isfinite(value)):
        return "–"
    probs = rows.at[k, "option_probs"] if "option_probs" in rows.columns else None
    top = float(np.nanmax(probs)) if probs is not None and len(probs) and np.isfinite(probs).any() else np.nan
    p = f" ({top:.2f})" if np.isfinite(top) else ""
    return f"<code>{_esc(str(rows.at[k, 'leading_option']).strip())}</code>{p}"


def _s_k(rows: pd.DataFrame, k: int) -> str:
    """Row k's gold surprisal s_k = -gold_logprob: '1.23'; "–" when missing."""
    if k not in rows.index or "gold_logprob" not in rows.columns or not _finite(rows.at[k, "gold_logprob"]):
        return "–"
    return f"{-float(rows.at[k, 'gold_logprob']):.2f}"


def _opening(trace, n_options: int, max_prompt_chars: int, unscored: str | None) -> list[str]:
    """The header line, the collapsed prompt and the table's header row."""
    verdict = {True: "correct", False: "incorrect"}.get(trace.correct, "ungraded")
    answers = (f"|A| = {n_options}, log|A| = {np.log(n_options):.2f} nats" if n_options else
               f"<b>unscored</b>: {_esc(unscored or 'no scorer rows for this trace')}")
    head = (f"<b>trace {_esc(trace.id)}</b> &middot; {_esc(trace.model)} on {_esc(trace.dataset)} &middot; "
            f"gold <code>{_esc(trace.gold)}</code> &middot; answer <code>{_esc(trace.answer)}</code> "
            f"(<b>{verdict}</b>) &middot; {answers}")
    prompt = trace.prompt if len(trace.prompt) <= max_prompt_chars else "..." + trace.prompt[-max_prompt_chars:]
    return [f'<div class="siakit-trace" style="{_STYLE}">', f"<div>{head}</div>",
            f'<details><summary>prompt ({len(trace.prompt)} characters)</summary>'
            f'<pre style="white-space: pre-wrap; font-size: 0.9em">{_esc(prompt)}</pre></details>',
            '<div class="siakit-table" style="overflow-x: auto; max-width: 100%">',
            '<table style="border-collapse: collapse; width: 100%">',
            f'<tr><th style="{_CELL}">k</th><th style="{_CELL}; text-align: left">step text</th>'
            f'<th style="{_CELL}">h<sub>k</sub></th><th style="{_CELL}">drop</th>'
            f'<th style="{_CELL}">s<sub>k</sub></th><th style="{_CELL}">leader (p)</th></tr>']


def _step_row(rows: pd.DataFrame, k: int, text: str, scale: float) -> str:
    """The table row of prefix k (`text` already escaped), shaded by its entropy drop over `scale`."""
    h = float(rows.at[k, "entropy"]) if k in rows.index else np.nan
    prev = float(rows.at[k - 1, "entropy"]) if k > 0 and (k - 1) in rows.index else np.nan
    drop = prev - h
    style = "white-space: pre-wrap; font-family: monospace" if k else "font-style: italic"
    return (f'<tr style="background: {_shade(drop, scale)}"><td style="{_CELL}">{k}</td>'
            f'<td style="{_CELL}; {style}">{text}</td><td style="{_CELL}">{_cell(rows, k, "entropy")}</td>'
            f'<td style="{_CELL}">{"–" if not np.isfinite(drop) else f"{drop:+.2f}"}</td>'
            f'<td style="{_CELL}">{_s_k(rows, k)}</td><td style="{_CELL}">{_leader(rows, k)}</td></tr>')


def render_trace(trace, rows: pd.DataFrame, max_prompt_chars: int = 4000, unscored: str | None = None) -> str:
    """HTML for one trace (`siakit.data.traces.Trace`) and its scorer rows (one per k = 0..K, any order).

    Columns used: k, entropy (h_k, nats), n_options; optional gold_logprob (s_k = -gold_logprob),
    leading_option and option_probs (the leader's probability). Steps without a row, and undefined
    values (NaN), show "–", never nan. A trace with no rows is marked **unscored** in its header, with
    the reason `unscored` (e.g. "cut at the 160-token cap: left out of the signatures"), and shows
    its text only. The prompt sits in a collapsed <details> element (plain HTML, no script).

        render_trace(trace, rows.iloc[:0], unscored="cut at the cap") -> '...(<b>incorrect</b>) &middot; <b>unscored</b>: cut at the cap...'
    """
    rows = rows.sort_values("k").set_index("k") if len(rows) else rows
    n_options = int(rows["n_options"].iloc[0]) if len(rows) and _finite(rows["n_options"].iloc[0]) else 0
    scale = float(np.log(n_options)) if n_options > 1 else 1.0
    out = _opening(trace, n_options, max_prompt_chars, unscored)
    texts = ["(prompt only, C<sub>1:0</sub>)"] + [_esc(s) for s in trace.steps]
    out += [_step_row(rows, k, text, scale) for k, text in enumerate(texts)]
    out.append("</table></div>")
    out.append('<div style="font-size: 0.85em; color: #555">h<sub>k</sub>: conditional answer entropy '
               "after k steps (nats); drop = h<sub>k-1</sub> - h<sub>k</sub> (green: fell, red: rose); "
               "s<sub>k</sub> = -log p(a* | Q, C<sub>1:k</sub>); leader: the most likely answer and "
               "its probability.</div></div>")
    return "\n".join(out)


def show_trace(trace, scores: pd.DataFrame, max_prompt_chars: int = 4000, unscored: str | None = None):
    """`IPython.display.HTML` of `render_trace` for the trace's rows in the full `scores` table
    (`unscored`: why the trace has no rows, shown in its header)."""
    from IPython.display import HTML

    return HTML(render_trace(trace, scores[scores["id"].astype(str) == str(trace.id)], max_prompt_chars, unscored))
