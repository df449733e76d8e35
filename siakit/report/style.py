"""The book's figure style, as the pages import it: `siakit.display.style` (on the lowest floor, so the
toy world's, the SFT chapter's and the testbed's plots use it too).

    >>> from siakit.report import style
    >>> style.size(rows=2)
    (7.0, 6.4)
"""
from siakit.display.style import FONT, RC, ROW_HEIGHT, WIDTH, legend_outside, size, use  # noqa: F401
