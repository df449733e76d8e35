"""How the book shows a result: one figure style (`style`) and one table format (`tables`).

They import nothing of siakit, so every floor that draws or tabulates (the toy world's, the SFT
chapter's and the testbed's plots, the report's pages) may use them; `siakit.report.style` and
`siakit.report.tables` are the same modules' names as the book's pages import them.

    >>> from siakit.display.tables import interval
    >>> interval(0.1234, 0.05, 0.31)
    '0.123 [0.0500, 0.310]'
"""
