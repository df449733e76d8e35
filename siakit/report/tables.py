"""The book's page tables, as the pages import them: `siakit.display.tables` (on the lowest floor, so
the testbed's plots use them too).

    >>> from siakit.report.tables import interval
    >>> interval(0.1234)
    '0.123'
"""
from siakit.display.tables import (MISSING, SCROLL_CLASS, WHY_MISSING, Table, html_table, interval,  # noqa: F401
                                   sig, use)
