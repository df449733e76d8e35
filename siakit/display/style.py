"""One figure style for every page of the book: sizes that read at the column width.

    >>> from siakit.display import style
    >>> style.use()                                    # rcParams for every later figure
    >>> import matplotlib.pyplot as plt
    >>> fig, axes = plt.subplots(2, 2, figsize=style.size(rows=2))   # 2 x 2, column wide
    >>> plt.close(fig)

The book's text column is about 7 inches (~700 px at 100 dpi): a figure no wider than `WIDTH` is
shown at its natural size, so a 10-pt font stays 10 pt. Wider figures are shrunk, and their small
fonts become unreadable; that is why multi-panel figures are stacked or 2 x 2 rather than in a row.
"""
from __future__ import annotations

WIDTH = 7.0           # inches: the book column at 100 dpi, so figures are not shrunk
ROW_HEIGHT = 3.0      # inches per row of panels
FONT = 10             # pt: body text of figures (>= 9 pt at the rendered size)

RC = {
    "figure.figsize": (WIDTH, ROW_HEIGHT + 0.4),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.constrained_layout.use": True,   # labels never overlap, legends outside stay inside the figure
    "font.size": FONT,
    "axes.titlesize": FONT + 1,
    "axes.labelsize": FONT,
    "xtick.labelsize": FONT - 1,
    "ytick.labelsize": FONT - 1,
    "legend.fontsize": FONT - 1,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "lines.linewidth": 1.6,
    "errorbar.capsize": 3,
}


def use() -> None:
    """Apply the book's style to every figure drawn after this call, and (in IPython) show every
    DataFrame as a boxed table with three significant digits and "–" for missing values
    (`siakit.display.tables`)."""
    import matplotlib as mpl

    from siakit.display import tables

    mpl.rcParams.update(RC)
    tables.use()


def size(rows: int = 1, cols_fraction: float = 1.0) -> tuple[float, float]:
    """(width, height) in inches of a figure `rows` panels high, `cols_fraction` of the column wide."""
    return WIDTH * cols_fraction, ROW_HEIGHT * rows + 0.4


def legend_outside(ax, **kw):
    """A legend to the right of the axes, off the data."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kw)
