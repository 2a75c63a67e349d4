"""The widget probe: drives every widget alive in a notebook's kernel to invalid settings.

Test code, not course code: nbval runs every notebook, and the root ``conftest.py`` adds one
more test item after each notebook's last cell, "widget probe", which runs this file in
that notebook's kernel (``runpy.run_path``) and calls :func:`probe_widgets`. A widget that
answers a bad value with a traceback, a hang, or a non-finite number without a message fails
the notebook's probe. It reads ipywidgets' private registry of live widgets, which is why it
lives with the tests and not in the package.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable

import numpy as np

#: What a reader might type into any numeric control: zero, negative, not-a-number,
#: infinite, and an extreme size.
BAD_VALUES: tuple[float, ...] = (0, -1, float("nan"), float("inf"), -float("inf"), 1e12)
_NONFINITE = re.compile(r"(?<![\w.])(nan|inf|-inf)(?![\w.])", re.IGNORECASE)


class _Timeout(Exception):
    pass


def call_captured(func: Callable, kwargs: dict, seconds: float) -> tuple[str, str | None]:
    """Call ``func(**kwargs)``, capturing what it prints and displays; return
    ``(text, problem)`` where problem names an exception or a time-out."""
    from IPython.utils.capture import capture_output

    def _alarm(signum, frame):
        raise _Timeout

    use_alarm = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGALRM, _alarm) if use_alarm else None
    problem = None
    with capture_output(display=True) as cap:
        try:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, seconds)
            func(**kwargs)
        except _Timeout:
            problem = f"still running after {seconds:g} s"
        except Exception as exc:  # noqa: BLE001 - any exception is the finding
            problem = f"raised {type(exc).__name__}: {exc}"
        finally:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)
    texts = [cap.stdout, cap.stderr]
    for out in cap.outputs:
        texts.append(str(out.data.get("text/plain", "")))
        texts.append(str(out.data.get("text/html", "")))
    import matplotlib.pyplot as plt  # views draw with matplotlib

    plt.close("all")
    return "\n".join(texts), problem


def judge(where: str, name: str, bad, text: str, problem: str | None) -> str | None:
    """What is wrong with a widget's answer ``text`` to the bad value ``bad``, or None."""
    label = f"{where}: {name} = {bad!r}"
    if problem:
        return f"{label}: {problem}"
    if "Traceback" in text:
        return f"{label}: printed a traceback"
    has_message = "⚠" in text
    nonfinite_input = isinstance(bad, float) and not np.isfinite(bad)
    if nonfinite_input and not has_message:
        return f"{label}: no message for a non-finite value"
    if not has_message and _NONFINITE.search(text):
        return f"{label}: shows a non-finite number without a message"
    return None


def probe_widgets(seconds: float = 20.0) -> int:
    """Drive every widget alive in this kernel to invalid settings.

    For each numeric control of every ``ipywidgets.interactive`` and every formula widget
    (``computing_change.models.views``), the widget's function is called with each of
    :data:`BAD_VALUES` in place of the current value. It must not raise, print a traceback,
    run longer than ``seconds``, or show a non-finite number; for NaN and infinity it must
    show a message. Raises ``AssertionError`` listing every failure; returns the number of
    widgets probed.
    """
    from ipywidgets import interactive
    from ipywidgets.widgets.widget import _instances

    problems: list[str | None] = []
    probed = 0
    for w in list(_instances.values()):
        if not isinstance(w, interactive):
            continue
        probed += 1
        where = f"interactive({getattr(w.f, '__name__', w.f)!s})"
        current = {c._kwarg: c.get_interact_value() for c in w.kwargs_widgets if hasattr(c, "_kwarg")}
        for name, value in current.items():
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
                continue
            for bad in BAD_VALUES:
                text, problem = call_captured(w.f, {**current, name: bad}, seconds)
                problems.append(judge(where, name, bad, text, problem))
    try:
        from computing_change.models.views import _LIVE
    except ImportError:  # a notebook without formula widgets
        _LIVE = ()
    for fw in list(_LIVE):
        probed += 1
        where = f"formula_widget({fw.formula.key!r})"
        current = {name: c.value for name, c in fw.controls.items()}
        for p in fw.formula.params:
            for bad in BAD_VALUES:
                try:
                    p.validate(bad)
                    valid = True
                except ValueError:
                    valid = False
                text = fw.text(**{**current, p.name: bad})
                if not valid and not text.startswith("⚠"):
                    problems.append(f"{where}: {p.name} = {bad!r}: no message for an invalid value")
                else:
                    problems.append(judge(where, p.name, bad, text, None))
    found = [p for p in problems if p]
    if found:
        raise AssertionError("widgets that mishandle bad input:\n" + "\n".join(found))
    return probed
