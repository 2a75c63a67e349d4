"""Small helpers for the course's notebooks that also work outside the website build.

``glue`` publishes a value for the text and ``glued`` gives it back, formatted, for the
prose. The markdown cites it as ``{eval}`glued('name', '.2f')```:

* in JupyterLab with jupyterlab-myst the ``{eval}`` role shows the result saved in the
  markdown cell's metadata (``user_expressions``, filled by ``scripts/fill_expressions.py``
  from the run that was committed), and once the reader runs the notebook, the result of
  ``glued(...)`` in the reader's own kernel;
* the website's build (``book/_ext/cc_site.py``) turns the role back into myst-nb's
  ``{glue:text}`name:.2f```, which reads the glued output saved in the notebook.

Both sides format the value with :func:`format_glue_text`, the rule of myst-nb's
``{glue:text}``, so the three show the same text for the same run.
"""

from __future__ import annotations

import ast
import json
import linecache
from ast import literal_eval
from pathlib import Path
from types import SimpleNamespace

__all__ = [
    "GluedText",
    "format_glue_text",
    "glue",
    "glued",
    "page_code",
    "setup_matplotlib",
    "show",
    "source",
]

#: Every value glued in this kernel, by name (the latest value wins).
_GLUED: dict[str, object] = {}


class GluedText(str):
    """Formatted text for the prose: its ``repr`` is the bare text, without quotes.

    jupyterlab-myst shows an ``{eval}`` result by its ``text/plain`` representation; a
    plain ``str`` would show as ``'0.52'`` there and in a code cell.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


def format_glue_text(text: str, fmt: str = "") -> str:
    """Format the ``text/plain`` representation of a glued value as ``{glue:text}`` does.

    The same rule as myst-nb's ``format_plain_text`` (myst-nb 1.x): the text is read back
    with :func:`ast.literal_eval` where it is a Python literal (which drops a string's
    quotes), then formatted with ``fmt``, a :func:`format` spec ('' for the plain value).
    """
    try:
        value = literal_eval(text)
    except (SyntaxError, ValueError):
        value = text
    if fmt == "":
        return str(value)
    type_char = fmt[-1]
    if type_char == "s":
        value = str(value)
    elif type_char in ("b", "c", "d", "o", "x", "X"):
        value = int(value)
    elif type_char in ("e", "E", "f", "F", "g", "G", "n", "%"):
        value = float(value)
    return format(value, fmt)


def _plain_text(value) -> str:
    """The ``text/plain`` representation a Jupyter kernel saves for ``value``."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with every kernel
        return repr(value)
    shell = get_ipython()
    if shell is None:
        return repr(value)
    data, _ = shell.display_formatter.format(value, include=("text/plain",))
    return data.get("text/plain", repr(value))


def glue(name: str, value, display: bool = False) -> None:
    """Make ``value`` citable in the page's prose as ``{eval}`glued('name', '.2f')```.

    NumPy scalars are converted to Python numbers first: their repr under NumPy 2
    (``np.float64(0.5)``) cannot be formatted by ``{glue:text}`name:.2f```.
    """
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    _GLUED[name] = value
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - outside the website build
        if display:
            from IPython.display import display as _display

            _display(value)
        return
    _glue(name, value, display=display)


def glued(name: str, fmt: str = "") -> GluedText:
    """The value glued as ``name`` in this kernel, formatted with ``fmt`` for the prose.

    ``fmt`` is a :func:`format` spec such as ``'.2f'`` or ``',.0f'`` ('' for the value as
    it is). Raises ``ValueError`` naming ``name`` if no cell has glued it yet.
    """
    if name not in _GLUED:
        raise ValueError(
            f"name={name!r} has not been glued in this kernel: run the cell that calls "
            f"glue({name!r}, ...) first (Run > Run All Cells runs the notebook)"
        )
    return GluedText(format_glue_text(_plain_text(_GLUED[name]), fmt))


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


def source(*objects) -> str:
    """The source code of functions, classes or methods, dedented, without their docstrings.

    For showing the code a notebook runs, exactly as the package defines it.
    """
    import ast
    import inspect
    import textwrap

    if not objects:
        raise ValueError("objects must name at least one function, class or method")
    parts = []
    for obj in objects:
        try:
            text = textwrap.dedent(inspect.getsource(obj))
        except (TypeError, OSError):
            raise ValueError(
                f"objects must be functions, classes or methods with source; got {obj!r}"
            ) from None
        node = ast.parse(text).body[0]
        lines = text.splitlines()
        body = getattr(node, "body", [])
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            del lines[body[0].lineno - 1 : body[0].end_lineno]
            if body[0].lineno - 1 < len(lines) and not lines[body[0].lineno - 1].strip():
                del lines[body[0].lineno - 1]  # the blank line that followed the docstring
        parts.append("\n".join(lines).rstrip())
    return "\n\n\n".join(parts)


def show(*objects) -> None:
    """Display the running source of package code in the notebook (see :func:`source`).

    The page shows the code exactly as it runs: a worker that a spawn-mode process pool
    must import, or a function a later chapter reuses, is shown from the file that defines
    it, never from a copy that could drift.
    """
    from IPython.display import Markdown, display

    display(Markdown("````python\n" + source(*objects) + "\n````"))


def page_code(path, names, namespace: dict | None = None) -> SimpleNamespace:
    """The functions (and constants) ``names`` as a chapter defines them, compiled from its
    own code cells, so that a benchmark or a test runs the code the page shows, not a copy.

    Each top-level ``def`` (decorators included) and each assignment of one of ``names`` is
    taken from the code cells of the notebook at ``path`` (IPython syntax, ``%`` magics,
    turned into Python first) and executed in the page's order in ``namespace``, which
    holds what the chapter's setup cell imports and they use. A traceback names the cell and
    shows its lines. Raises ``RuntimeError`` naming what the page no longer defines.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    path = Path(path)
    names = tuple(names)
    if not names or not all(isinstance(n, str) and n.isidentifier() for n in names):
        raise ValueError(f"names must be a non-empty sequence of identifiers; got {names!r}")
    ns: dict = {} if namespace is None else namespace
    transform = TransformerManager().transform_cell
    for index, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] != "code":
            continue
        code = transform("".join(cell["source"]))
        try:
            tree = ast.parse(code)
        except SyntaxError:  # shell escapes the transformer leaves: nothing a page defines
            continue
        wanted = [
            node
            for node in tree.body
            if (isinstance(node, ast.FunctionDef) and node.name in names)
            or (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id in names for t in node.targets)
            )
        ]
        if wanted:
            filename = f"<{path.name}, cell {index}>"
            linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
            exec(compile(ast.Module(wanted, type_ignores=[]), filename, "exec"), ns)
    missing = [name for name in names if name not in ns]
    if missing:
        raise RuntimeError(f"{path} no longer defines {missing}")
    return SimpleNamespace(**{name: ns[name] for name in names})
