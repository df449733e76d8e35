"""The static trace viewer: escaping, shading by entropy drop, graceful gaps."""
from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd

from siakit.data.traces import Trace
from siakit.report.viewer import render_trace, show_trace


def rows(entropies, leaders):
    return pd.DataFrame({"id": "t<1>", "k": range(len(entropies)), "entropy": entropies, "n_options": 4,
                         "gold_logprob": np.log([0.25, 0.5, 0.9][:len(entropies)]),
                         "leading_option": leaders, "option_probs": [[0.25] * 4, [0.5, 0.3, 0.1, 0.1],
                                                                     [0.9, 0.05, 0.03, 0.02]][:len(entropies)]})


TRACE = Trace(id="t<1>", prompt="Q: is 1 < 2 & 3 > 2?\n", steps=["<script>alert(1)</script>\n", "So \"A\".\n"],
              dataset="arc-easy", model="m&m", gold="A", answer="A", correct=True)


class Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_text_is_escaped_and_rows_are_shaded():
    html = render_trace(TRACE, rows([np.log(4), 0.9, 0.2], [" A", " A", " <B>"]))
    parser = Collect()
    parser.feed(html)
    assert "script" not in parser.tags  # the step's markup is shown as text, not run
    text = "".join(parser.text)
    assert "<script>alert(1)</script>" in text and "m&m" in text and "1 < 2 & 3 > 2" in text
    assert "<B>" in text  # option text escaped too
    assert html.count("rgba(46, 160, 67") == 2  # both steps lowered the entropy: green
    assert "1.39" in html and "+0.49" in html and "+0.70" in html  # h_0, then the two drops
    assert "(0.90)" in html  # leader probability at k = 2


def test_rise_is_red_and_missing_rows_show_dashes():
    html = render_trace(TRACE, rows([0.2, 0.9], [" A", " B"]))  # no row for k = 2
    assert "rgba(214, 39, 40" in html and "-0.70" in html
    last = html.split("<tr")[-1]
    assert last.count(">–<") >= 3  # h_2, drop, s_2, leader missing -> dashes, no exception
    empty = render_trace(TRACE, pd.DataFrame(columns=["k", "entropy", "n_options"]))
    assert "trace t&lt;1&gt;" in empty


def test_cut_trace_is_marked_unscored_and_nan_never_shows():
    cut = render_trace(TRACE, pd.DataFrame(columns=["k", "entropy", "n_options"]),
                       unscored="cut at the 160-token cap: left out of the signatures")
    assert "<b>unscored</b>: cut at the 160-token cap: left out of the signatures" in cut
    assert "|A| = 0" not in cut and "nan" not in cut.lower()
    undefined = rows([np.log(4), np.nan, 0.2], [" A", None, " A"]).assign(
        gold_logprob=[np.log(0.25), np.nan, np.log(0.9)],
        option_probs=[[0.25] * 4, [np.nan] * 4, [0.9, 0.05, 0.03, 0.02]])
    out = render_trace(TRACE, undefined)
    assert "nan" not in out.lower() and out.count(">–<") >= 4  # h_1, both drops, s_1, leader at k = 1
    assert 'class="siakit-table"' in out  # the step table scrolls in its own box


def test_show_trace_filters_by_id():
    table = pd.concat([rows([1.0, 0.5, 0.1], ["A"] * 3),
                       rows([9.0, 9.0, 9.0], ["Z"] * 3).assign(id="other")])
    out = show_trace(TRACE, table)
    assert "9.00" not in out.data and "0.50" in out.data
