"""A small SVG plotter for the course's widgets: line and point plots on linear or log axes.

Why not matplotlib here? A widget must redraw while the reader drags a slider. Matplotlib
lays out and rasterizes every tick label and legend entry at each draw, which takes 30 to
150 ms per frame on an ordinary laptop, too slow to follow a slider. Writing the SVG text
directly takes about a millisecond; the browser draws it, crisp at any zoom, and the saved
page shows it without a kernel. The static figures of the course stay in matplotlib; the
look here follows them (the same colour cycle, a light grid, no top or right spine).

    plot = SvgPlot(xlog=True)
    plot.line(x, y, label="ring")
    plot.points([x0], [y0], color="C3")
    plot.set(title="...", xlabel="...", ylabel="...")
    svg_text = plot.svg()            # or plot.show(): Jupyter shows it as an image
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from html import escape

import numpy as np

__all__ = ["SvgPlot", "nice_ticks", "log_ticks", "tick_label", "COLORS"]

#: Matplotlib's default colour cycle ("tab10"), so that "C0".."C9" mean the same here.
COLORS = {
    "C0": "#1f77b4",
    "C1": "#ff7f0e",
    "C2": "#2ca02c",
    "C3": "#d62728",
    "C4": "#9467bd",
    "C5": "#8c564b",
    "C6": "#e377c2",
    "C7": "#7f7f7f",
    "C8": "#bcbd22",
    "C9": "#17becf",
    "k": "#000000",
    "grey": "#999999",
}
_DASHES = {"-": None, "--": "6,4", ":": "2,3", "-.": "6,3,2,3"}
_FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
_CHAR = 0.6  # average glyph width in em, for laying out text whose width the browser decides
_DIGIT = 0.64  # width of a digit in em (DejaVu Sans: 0.636), for tick labels
_IDS = itertools.count()  # clip-path ids, unique in a page that shows several plots inline


def _color(c: str) -> str:
    if c.startswith("C") and c not in COLORS and c[1:].isdigit():
        c = f"C{int(c[1:]) % 10}"
    return COLORS.get(c, c)


def tick_label(v: float) -> str:
    """A tick value as short plain text: ``0.25``, ``1000``, ``1e+06``, never ``0.30000000000000004``."""
    if v == 0:
        return "0"
    return f"{float(f'{v:.6g}'):g}"


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round-numbered ticks (steps of 1, 2, 2.5 or 5 times a power of ten) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(1, target)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * 0.999)
    first = math.ceil(lo / step - 1e-9)
    ticks = []
    k = first
    while k * step <= hi + 1e-9 * step:
        v = k * step
        ticks.append(0.0 if abs(v) < 1e-12 * step else v)
        k += 1
    return ticks


def log_ticks(lo: float, hi: float, most: int = 7) -> list[float]:
    """Powers of ten in [lo, hi] (every second or third one if there are many); within a
    single decade, also the 2s and 5s."""
    if not (lo > 0 and hi > lo):
        return []
    a, b = math.ceil(math.log10(lo) - 1e-9), math.floor(math.log10(hi) + 1e-9)
    if b - a + 1 >= 2:
        step = max(1, math.ceil((b - a + 1) / most))
        start = a + (-a) % step  # multiples of the step, so that 1 stays a tick when it is in range
        return [10.0**k for k in range(start, b + 1, step)] or [10.0**a]
    return [m * 10.0**k for k in range(a - 1, b + 1) for m in (1, 2, 5) if lo <= m * 10.0**k <= hi]


class SvgPlot:
    """One set of axes, drawn as SVG. Coordinates are data units; sizes are pixels."""

    def __init__(self, width: int = 560, height: int = 320, *, xlog: bool = False, ylog: bool = False):
        self.width, self.height = int(width), int(height)
        self.xlog, self.ylog = bool(xlog), bool(ylog)
        self.series: list[dict] = []
        self.marks: list[dict] = []
        self.title = self.xlabel = self.ylabel = ""
        self.legend_loc: str | None = None
        self.xlim: tuple[float, float] | None = None
        self.ylim: tuple[float, float] | None = None
        self.description = ""

    # -- what to draw ------------------------------------------------------------------

    def line(self, x, y, color: str = "C0", width: float = 2.0, style: str = "-", label: str | None = None):
        """A polyline through (x, y); a non-finite value (or a non-positive one on a log
        axis) breaks the line there."""
        self.series.append(dict(kind="line", x=x, y=y, color=color, width=width, style=style, label=label))
        return self

    def points(self, x, y, color: str = "C0", marker: str = "o", size: float = 4.5, label: str | None = None):
        """Markers at (x, y): ``"o"`` a disc, ``"*"`` a star, ``"s"`` a square."""
        self.series.append(dict(kind="points", x=x, y=y, color=color, marker=marker, size=size, label=label))
        return self

    def vline(self, x: float, color: str = "grey", style: str = ":"):
        """A vertical line across the axes at ``x``."""
        self.marks.append(dict(kind="vline", x=x, color=color, style=style))
        return self

    def text(
        self,
        x: float,
        y: float,
        s: str,
        color: str = "k",
        dx: float = 6,
        dy: float = -6,
        size=11,
        anchor="start",
    ):
        """``s`` at data point (x, y), offset by (dx, dy) pixels (y grows downwards)."""
        self.marks.append(
            dict(kind="text", x=x, y=y, s=s, color=color, dx=dx, dy=dy, size=size, anchor=anchor)
        )
        return self

    def set(
        self, *, title=None, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None, description=None
    ):
        """Title (may hold one line break), axis labels, legend place ("upper left",
        "upper right", "lower right" or "lower left"), fixed limits, and a description read
        by screen readers (the SVG ``<title>``). Everything is checked before anything is set."""
        if legend is not None and legend not in ("upper left", "upper right", "lower right", "lower left"):
            raise ValueError(
                f"legend must be 'upper left', 'upper right', 'lower right' or 'lower left'; got {legend!r}"
            )
        for name, lim, log in (("xlim", xlim, self.xlog), ("ylim", ylim, self.ylog)):
            if lim is None:
                continue
            lo, hi = (float(v) for v in lim)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi and (lo > 0 or not log)):
                need = "0 < lo < hi (a log axis)" if log else "lo < hi, both finite"
                raise ValueError(f"{name} must be (lo, hi) with {need}; got {tuple(lim)!r}")
        for name, value in dict(
            title=title, xlabel=xlabel, ylabel=ylabel, xlim=xlim, ylim=ylim, description=description
        ).items():
            if value is not None:
                setattr(self, name, value)
        if legend is not None:
            self.legend_loc = legend
        return self

    # -- layout ------------------------------------------------------------------------

    def _clean(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        x = np.atleast_1d(np.asarray(x, dtype=float))
        y = np.atleast_1d(np.asarray(y, dtype=float))
        if x.shape != y.shape:
            raise ValueError(f"x and y must have the same length; got {x.size} and {y.size}")
        ok = np.isfinite(x) & np.isfinite(y)
        if self.xlog:
            ok &= x > 0
        if self.ylog:
            ok &= y > 0
        return np.where(ok, x, np.nan), np.where(ok, y, np.nan)

    def _limits(self, values: list[np.ndarray], log: bool, fixed) -> tuple[float, float]:
        if fixed is not None:
            lo, hi = float(fixed[0]), float(fixed[1])
            return (math.log10(lo), math.log10(hi)) if log else (lo, hi)
        finite = [v[np.isfinite(v)] for v in values]
        finite = np.concatenate(finite) if finite else np.array([])
        if finite.size == 0:
            return (0.0, 1.0)
        t = np.log10(finite) if log else finite
        lo, hi = float(t.min()), float(t.max())
        if hi - lo < 1e-12 * max(1.0, abs(hi)):
            pad = 0.5 if log else (abs(hi) * 0.1 or 1.0)
            return lo - pad, hi + pad
        pad = (0.08 if log else 0.05) * (hi - lo)
        return lo - pad, hi + pad

    def svg(self) -> str:
        """The plot as an SVG document (a string)."""
        data = [(s, *self._clean(s["x"], s["y"])) for s in self.series]
        tx0, tx1 = self._limits([d[1] for d in data], self.xlog, self.xlim)
        ty0, ty1 = self._limits([d[2] for d in data], self.ylog, self.ylim)
        if self.xlog:
            xt = log_ticks(10**tx0, 10**tx1)
        else:
            xt = nice_ticks(tx0, tx1, 6)
        yt = log_ticks(10**ty0, 10**ty1, 6) if self.ylog else nice_ticks(ty0, ty1, 5)
        ylabels = [tick_label(v) for v in yt]
        tick_w = max((len(s) for s in ylabels), default=1) * 11 * _DIGIT
        title_lines = self.title.split("\n") if self.title else []
        left = max(52, int(tick_w + 10 + (24 if self.ylabel else 4)))
        # room on the right for half of the last x tick label, when it sits at the right end
        last = tick_label(xt[-1]) if xt else ""
        right, top = max(14, int(len(last) * 11 * _DIGIT / 2 + 4)), 10 + 17 * len(title_lines)
        bottom = 24 + (18 if self.xlabel else 0)
        W, H = self.width, self.height
        pw, ph = W - left - right, H - top - bottom

        def px(v):
            t = np.log10(v) if self.xlog else v
            return left + (t - tx0) / (tx1 - tx0) * pw

        def py(v):
            t = np.log10(v) if self.ylog else v
            return top + ph - (t - ty0) / (ty1 - ty0) * ph

        clip = f"cc-area-{next(_IDS)}"
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
            f'font-family="{_FONT}" font-size="11">',
            f"<title>{escape(self.description or self.title.replace(chr(10), ' '))}</title>",
            f'<rect width="{W}" height="{H}" fill="white"/>',
            f'<clipPath id="{clip}"><rect x="{left}" y="{top}" width="{pw}" height="{ph}"/></clipPath>',
        ]
        # grid, ticks and tick labels
        for v in xt:
            x = px(v)
            if left - 0.5 <= x <= left + pw + 0.5:
                out.append(
                    f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#b0b0b0" stroke-opacity="0.3"/>'
                )
                out.append(
                    f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 4}" stroke="#000"/>'
                )
                out.append(
                    f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle">{tick_label(v)}</text>'
                )
        for v, s in zip(yt, ylabels, strict=True):
            y = py(v)
            if top - 0.5 <= y <= top + ph + 0.5:
                out.append(
                    f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#b0b0b0" stroke-opacity="0.3"/>'
                )
                out.append(f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" stroke="#000"/>')
                out.append(f'<text x="{left - 7}" y="{y + 4:.1f}" text-anchor="end">{s}</text>')
        out.append(f'<path d="M{left},{top}V{top + ph}H{left + pw}" fill="none" stroke="#000"/>')
        # data, clipped to the axes
        out.append(f'<g clip-path="url(#{clip})">')
        for mark in self.marks:
            if mark["kind"] == "vline" and np.isfinite(mark["x"]) and (mark["x"] > 0 or not self.xlog):
                x = px(mark["x"])
                dash = _DASHES.get(mark["style"])
                out.append(
                    f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="{_color(mark["color"])}"'
                    + (f' stroke-dasharray="{dash}"' if dash else "")
                    + "/>"
                )
        for s, x, y in data:
            color = _color(s["color"])
            if s["kind"] == "line":
                dash = _DASHES.get(s["style"])
                extra = f' stroke-dasharray="{dash}"' if dash else ""
                for seg in _segments(px(x), py(y)):
                    pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in seg)
                    out.append(
                        f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{s["width"]}" '
                        f'stroke-linejoin="round"{extra}/>'
                    )
            else:
                for a, b in zip(px(x), py(y), strict=True):
                    if np.isfinite(a) and np.isfinite(b):
                        out.append(_marker(s["marker"], a, b, s["size"], color))
        out.append("</g>")
        for mark in self.marks:
            if mark["kind"] == "text":
                x, y = self._clean([mark["x"]], [mark["y"]])
                if np.isfinite(x[0]):
                    out.append(
                        f'<text x="{px(x[0]) + mark["dx"]:.1f}" y="{py(y[0]) + mark["dy"]:.1f}" '
                        f'fill="{_color(mark["color"])}" font-size="{mark["size"]}" '
                        f'text-anchor="{mark["anchor"]}">{escape(mark["s"])}</text>'
                    )
        # labels, title, legend
        if self.xlabel:
            out.append(
                f'<text x="{left + pw / 2:.1f}" y="{H - 8}" text-anchor="middle" font-size="12">{escape(self.xlabel)}</text>'
            )
        if self.ylabel:
            yl = left - tick_w - 17
            out.append(
                f'<text transform="translate({yl:.1f},{top + ph / 2:.1f}) rotate(-90)" text-anchor="middle" '
                f'font-size="12">{escape(self.ylabel)}</text>'
            )
        for i, line in enumerate(title_lines):
            out.append(
                f'<text x="{left + pw / 2:.1f}" y="{14 + 17 * i}" text-anchor="middle" font-size="12.5">{escape(line)}</text>'
            )
        labelled = [s for s in self.series if s.get("label")]
        if self.legend_loc and labelled:
            out.append(self._legend(labelled, left, top, pw, ph))
        out.append("</svg>")
        return "\n".join(out)

    def _legend(self, entries: Sequence[dict], left, top, pw, ph) -> str:
        size, row = 10, 15
        w = 34 + max(len(e["label"]) for e in entries) * size * _CHAR
        h = 6 + row * len(entries)
        x0 = left + 6 if "left" in self.legend_loc else left + pw - 6 - w
        y0 = top + 6 if "upper" in self.legend_loc else top + ph - 6 - h
        out = [
            f'<g font-size="{size}"><rect x="{x0:.1f}" y="{y0:.1f}" width="{w:.1f}" height="{h}" '
            'fill="white" fill-opacity="0.85" stroke="#cccccc" rx="3"/>'
        ]
        for i, e in enumerate(entries):
            cy = y0 + 3 + row * i + row / 2
            color = _color(e["color"])
            if e["kind"] == "line":
                dash = _DASHES.get(e["style"])
                out.append(
                    f'<line x1="{x0 + 5:.1f}" y1="{cy:.1f}" x2="{x0 + 25:.1f}" y2="{cy:.1f}" stroke="{color}" '
                    f'stroke-width="{e["width"]}"' + (f' stroke-dasharray="{dash}"' if dash else "") + "/>"
                )
            else:
                out.append(_marker(e["marker"], x0 + 15, cy, min(e["size"], 5), color))
            out.append(f'<text x="{x0 + 30:.1f}" y="{cy + 3.5:.1f}">{escape(e["label"])}</text>')
        out.append("</g>")
        return "".join(out)

    def show(self) -> None:
        """Display the plot (in a notebook, or in the ``ipywidgets.Output`` being drawn into)."""
        from IPython.display import SVG, display

        display(SVG(data=self.svg()))

    def _repr_svg_(self) -> str:  # pragma: no cover - Jupyter's display hook
        return self.svg()


def _segments(x: np.ndarray, y: np.ndarray):
    """Runs of consecutive finite points, each a list of (x, y) pixel pairs."""
    ok = np.isfinite(x) & np.isfinite(y)
    run: list[tuple[float, float]] = []
    for a, b, good in zip(x.tolist(), y.tolist(), ok.tolist(), strict=True):
        if good:
            run.append((a, b))
        elif run:
            yield run
            run = []
    if run:
        yield run


def _marker(kind: str, x: float, y: float, r: float, color: str) -> str:
    if kind == "*":
        pts = []
        for k in range(10):
            rad = r * 1.6 if k % 2 == 0 else r * 0.65
            ang = math.pi / 2 + k * math.pi / 5
            pts.append(f"{x + rad * math.cos(ang):.1f},{y - rad * math.sin(ang):.1f}")
        return f'<polygon points="{" ".join(pts)}" fill="{color}"/>'
    if kind == "s":
        return (
            f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" fill="{color}"/>'
        )
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{color}"/>'
