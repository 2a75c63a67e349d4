"""Small helpers for the course's notebooks that also work outside the website build.

``glue`` publishes a value for the text (``{glue:text}`name```) when myst-nb is present,
and simply displays it elsewhere (Colab, plain Jupyter).
"""

from __future__ import annotations

__all__ = ["glue", "setup_matplotlib"]


def glue(name: str, value, display: bool = False) -> None:
    """Make ``value`` citable in the page's prose as ``{glue:text}`name```.

    NumPy scalars are converted to Python numbers first: their repr under NumPy 2
    (``np.float64(0.5)``) cannot be formatted by ``{glue:text}`name:.2f```.
    """
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - outside the website build
        if display:
            from IPython.display import display as _display

            _display(value)
        return
    _glue(name, value, display=display)


def setup_matplotlib() -> None:
    """The course's plot style: readable sizes, a grid, the same look on every page."""
    import matplotlib as mpl

    mpl.rcParams.update(
        {
            "figure.figsize": (6.4, 3.6),
            "figure.dpi": 100,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
        }
    )
