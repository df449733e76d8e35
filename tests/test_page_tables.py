"""siakit.report.tables (page tables): they fit (scroll box), show three significant digits and never NaN."""
import numpy as np
import pandas as pd

from siakit.report import tables
from siakit.report.tables import MISSING, Table, html_table, interval, sig


def test_three_significant_digits():
    assert [sig(x) for x in (0.012345, 1.6449, 0.5, 12.345, 1234.5, 0.0, -0.0456)] == \
        ["0.0123", "1.64", "0.500", "12.3", "1230", "0", "-0.0456"]
    assert sig(8.0) == "8" and sig(1.0) == "1" and sig(7) == "7" and sig(np.int64(16)) == "16" and sig(True) == "True" and sig("smollm2") == "smollm2"
    assert sig(np.nan) == MISSING and sig(None) == MISSING and sig(pd.NA) == MISSING
    assert sig(float("inf")) == "∞" and sig(2.5e-6) == "2.50e-06"


def test_interval_in_one_cell():
    assert interval(0.1234, 0.05, 0.31) == "0.123 [0.0500, 0.310]"
    assert interval(np.nan, 0.1, 0.2) == MISSING and interval(0.5, np.nan, 0.6) == "0.500"


def test_html_table_boxes_rounds_and_footnotes_missing_values():
    frame = pd.DataFrame({"lock-in u": [0.51234, np.nan], "traces": [3, 4], "run": ["a<b", "c"]})
    out = html_table(frame, why_missing="no trace locks in")
    assert out.startswith('<div class="siakit-table" style="overflow-x: auto;')
    assert ">0.512<" in out and ">3<" in out and ">4<" in out and "a&lt;b" in out
    assert "nan" not in out.lower().replace("siakit-table-note", "")
    assert out.count(f">{MISSING}<") == 1 and f"{MISSING}: no trace locks in" in out
    assert "<th" in out and "lock-in u" in out and ">0<" not in out  # RangeIndex 0..n-1 is not shown
    full = html_table(pd.DataFrame({"x": [1.0]}))
    assert "siakit-table-note" not in full  # no footnote without a missing value
    named = html_table(pd.DataFrame({"AUROC": [0.61]}, index=["u = 0.5"]))
    assert "u = 0.5" in named
    assert Table(frame)._repr_html_() == html_table(frame)


def test_use_registers_the_dataframe_formatter_in_ipython():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        assert tables.use()
        data, _ = shell.display_formatter.format(pd.DataFrame({"h": [np.nan, 0.123456]}))
    finally:
        InteractiveShell.clear_instance()
    assert 'class="siakit-table"' in data["text/html"] and ">0.123<" in data["text/html"]
    assert ">nan<" not in data["text/html"].lower()
