"""Translate the course's formulas from Python to JavaScript, so that a widget can compute
them in the reader's browser: on the static website with no kernel, and in a notebook.

Each formula is written once, as the Python function in :mod:`computing_change.models.formulas`
(or another module) that the chapters call and the tests check. This module reads that
function's source and writes the same function in JavaScript. The translator is small and
strict: it knows the handful of constructs a closed-form formula uses (arithmetic,
comparisons, the validation calls, ``np.minimum`` and friends, ``if ...: raise
ValueError(f"...")``, calls to other translatable functions) and raises
:class:`TranslationError` on anything else, rather than guess.

The validation primitives (``check`` and ``_whole``, which produce the messages a reader
sees) and Python's ``format(x, "g")`` are written by hand in ``js/runtime.js``;
``tests/test_live_widgets.py`` runs the JavaScript in headless Chromium and checks, with
inputs drawn by Hypothesis, valid and invalid, that every formula gives the same value (to
1e-12 relative) and the same message as Python.
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import json
import textwrap
from collections.abc import Callable
from pathlib import Path

__all__ = ["TranslationError", "translate", "js_name", "runtime_js"]

JS_DIR = Path(__file__).with_name("js")

#: Python callables with a hand-written JavaScript twin in js/runtime.js.
_PRIMITIVES = {
    ("computing_change.core.checks", "check"): "py.check",
    ("computing_change.models.formulas", "_whole"): "py.whole",
}
#: NumPy functions and builtins, for scalars: name -> JavaScript function (None: identity).
_NUMPY = {
    "minimum": "Math.min",
    "maximum": "Math.max",
    "ceil": "Math.ceil",
    "floor": "Math.floor",
    "log2": "Math.log2",
    "log10": "Math.log10",
    "log": "Math.log",
    "exp": "Math.exp",
    "sqrt": "Math.sqrt",
    "abs": "Math.abs",
    "asarray": None,
    "any": None,
    "max": None,
    "min": None,
}
_BUILTINS = {"float": None, "abs": "Math.abs", "min": "Math.min", "max": "Math.max"}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMPOPS = {ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<=", ast.Eq: "===", ast.NotEq: "!=="}


class TranslationError(ValueError):
    """The translator met a construct it does not know: the formula stays Python-only."""


def js_name(func: Callable) -> str:
    """The JavaScript identifier of a translated function: module and name, dots as ``$``."""
    return f"{func.__module__}.{func.__qualname__}".replace(".", "$")


def _fail(node: ast.AST, func: Callable, what: str):
    raise TranslationError(
        f"{func.__module__}.{func.__qualname__}, line {getattr(node, 'lineno', '?')}: {what}"
    )


class _Translator:
    def __init__(self, func: Callable):
        self.func = func
        self.globals = func.__globals__
        self.calls: list[Callable] = []  # translatable functions this one calls
        self.locals: set[str] = set()

    # -- expressions ------------------------------------------------------------------

    def resolve(self, node: ast.expr):
        """The Python object a Name or ``np.attr`` refers to (or None)."""
        if isinstance(node, ast.Name):
            if node.id in self.locals:
                return None
            return self.globals.get(node.id, getattr(builtins, node.id, None))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            base = self.globals.get(node.value.id)
            return getattr(base, node.attr, None) if base is not None else None
        return None

    def expr(self, node: ast.expr) -> str:
        f = self.func
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or node.value is None:
                return {True: "true", False: "false", None: "null"}[node.value]
            if isinstance(node.value, (int, float)):
                return repr(float(node.value)) if isinstance(node.value, float) else str(node.value)
            if isinstance(node.value, str):
                return json.dumps(node.value)
            _fail(node, f, f"constant {node.value!r}")
        if isinstance(node, ast.Name):
            if node.id in self.locals:
                return node.id
            _fail(node, f, f"name {node.id!r} is not a parameter or local variable")
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Pow):
                return f"Math.pow({self.expr(node.left)}, {self.expr(node.right)})"
            op = _BINOPS.get(type(node.op))
            if op is None:
                _fail(node, f, f"operator {type(node.op).__name__}")
            return f"({self.expr(node.left)} {op} {self.expr(node.right)})"
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return f"(-{self.expr(node.operand)})"
            if isinstance(node.op, ast.Not):
                return f"(!{self.expr(node.operand)})"
            _fail(node, f, f"unary {type(node.op).__name__}")
        if isinstance(node, ast.BoolOp):
            op = " && " if isinstance(node.op, ast.And) else " || "
            return "(" + op.join(self.expr(v) for v in node.values) + ")"
        if isinstance(node, ast.Compare):
            parts, left = [], node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, (ast.In, ast.NotIn)):
                    if not isinstance(right, (ast.Tuple, ast.List)):
                        _fail(node, f, "'in' needs a literal tuple")
                    test = f"[{', '.join(self.expr(e) for e in right.elts)}].includes({self.expr(left)})"
                    parts.append(test if isinstance(op, ast.In) else f"!{test}")
                else:
                    cmp = _CMPOPS.get(type(op))
                    if cmp is None:
                        _fail(node, f, f"comparison {type(op).__name__}")
                    parts.append(f"({self.expr(left)} {cmp} {self.expr(right)})")
                left = right
            return "(" + " && ".join(parts) + ")"
        if isinstance(node, ast.IfExp):
            return f"({self.expr(node.test)} ? {self.expr(node.body)} : {self.expr(node.orelse)})"
        if isinstance(node, ast.Tuple):
            return "[" + ", ".join(self.expr(e) for e in node.elts) + "]"
        if isinstance(node, ast.JoinedStr):
            return self.fstring(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        _fail(node, f, f"expression {type(node).__name__}")

    def fstring(self, node: ast.JoinedStr) -> str:
        parts = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                parts.append(json.dumps(v.value))
                continue
            assert isinstance(v, ast.FormattedValue)
            spec = ""
            if v.format_spec is not None:
                if not (len(v.format_spec.values) == 1 and isinstance(v.format_spec.values[0], ast.Constant)):
                    _fail(v, self.func, "a computed format spec")
                spec = v.format_spec.values[0].value
            if v.conversion == ord("r"):
                if spec:
                    _fail(v, self.func, "!r with a format spec")
                parts.append(f"py.repr({self.expr(v.value)})")
            elif v.conversion != -1:
                _fail(v, self.func, f"conversion !{chr(v.conversion)}")
            else:
                parts.append(f"py.format({self.expr(v.value)}, {json.dumps(spec)})")
        return "(" + " + ".join(parts or ['""']) + ")"

    def call(self, node: ast.Call) -> str:
        f = self.func
        target = self.resolve(node.func)
        args = [self.expr(a) for a in node.args]
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            if node.func.value.id in ("np", "numpy") and node.func.attr in _NUMPY:
                return self._simple(node, _NUMPY[node.func.attr], args)
            if node.func.attr == "divide" and node.func.value.id == "np" and len(args) == 2:
                return f"({args[0]} / {args[1]})"
            if node.func.attr == "ndim" and node.func.value.id == "np":
                return "0"  # the browser computes one point at a time: always a scalar
        if isinstance(node.func, ast.Name) and node.func.id in _BUILTINS and target is not None:
            if isinstance(target, type(print)) or target is float:
                return self._simple(node, _BUILTINS[node.func.id], args)
        if target is None or not callable(target):
            _fail(node, f, f"call of {ast.unparse(node.func)!r}")
        key = (getattr(target, "__module__", ""), getattr(target, "__qualname__", ""))
        if key in _PRIMITIVES:
            kwargs = {k.arg: self.expr(k.value) for k in node.keywords}
            unknown = set(kwargs) - {"lo_open", "hi_open"}
            if unknown:
                _fail(node, f, f"keyword {sorted(unknown)} of {key[1]}")
            opts = "{" + ", ".join(f"{k}: {v}" for k, v in kwargs.items()) + "}"
            positional = 4 if key[1] == "check" else 3  # name, value, lo[, hi]
            if len(args) > positional:
                _fail(node, f, f"{len(args)} positional arguments to {key[1]}")
            args += ["null"] * (positional - len(args))
            return f"{_PRIMITIVES[key]}({', '.join(args)}, {opts})"
        if not inspect.isfunction(target) or not target.__module__.startswith("computing_change"):
            _fail(node, f, f"call of {ast.unparse(node.func)!r}, which is not a course function")
        sig = inspect.signature(target)
        try:
            bound = sig.bind(*node.args, **{k.arg: k.value for k in node.keywords})
        except TypeError as exc:
            _fail(node, f, f"call of {target.__qualname__}: {exc}")
        ordered = []
        for name, p in sig.parameters.items():
            if name in bound.arguments:
                ordered.append(self.expr(bound.arguments[name]))
            elif p.default is not inspect.Parameter.empty:
                ordered.append("undefined")
        self.calls.append(target)
        return f"{js_name(target)}({', '.join(ordered)})"

    def _simple(self, node: ast.Call, js: str | None, args: list[str]) -> str:
        if node.keywords:
            _fail(node, self.func, f"keywords in {ast.unparse(node.func)}")
        if js is None:
            if len(args) != 1:
                _fail(node, self.func, f"{ast.unparse(node.func)} with {len(args)} arguments")
            return args[0]
        return f"{js}({', '.join(args)})"

    # -- statements -------------------------------------------------------------------

    def target(self, node: ast.expr) -> str:
        if isinstance(node, ast.Name):
            self.locals.add(node.id)
            return node.id
        if isinstance(node, ast.Tuple) and all(isinstance(e, ast.Name) for e in node.elts):
            for e in node.elts:
                self.locals.add(e.id)
            return "[" + ", ".join(e.id for e in node.elts) + "]"
        _fail(node, self.func, f"assignment to {ast.unparse(node)}")

    def body(self, stmts: list[ast.stmt], indent: str) -> list[str]:
        out = []
        for s in stmts:
            if (
                isinstance(s, ast.Expr)
                and isinstance(s.value, ast.Constant)
                and isinstance(s.value.value, str)
            ):
                continue  # the docstring
            if isinstance(s, ast.Assign) and len(s.targets) == 1:
                value = self.expr(s.value)
                out.append(f"{indent}{self.target(s.targets[0])} = {value};")
            elif isinstance(s, ast.Return) and s.value is not None:
                out.append(f"{indent}return {self.expr(s.value)};")
            elif isinstance(s, ast.If):
                out.append(f"{indent}if ({self.expr(s.test)}) {{")
                out += self.body(s.body, indent + "  ")
                if s.orelse:
                    out.append(f"{indent}}} else {{")
                    out += self.body(s.orelse, indent + "  ")
                out.append(f"{indent}}}")
            elif isinstance(s, ast.Raise):
                exc = s.exc
                if not (
                    isinstance(exc, ast.Call)
                    and isinstance(exc.func, ast.Name)
                    and exc.func.id == "ValueError"
                    and len(exc.args) == 1
                ):
                    _fail(s, self.func, "only `raise ValueError(message)` is translated")
                out.append(f"{indent}throw new py.ValueError({self.expr(exc.args[0])});")
            else:
                _fail(s, self.func, f"statement {type(s).__name__}")
        return out

    def function(self) -> str:
        tree = ast.parse(textwrap.dedent(inspect.getsource(self.func)))
        fdef = tree.body[0]
        if not isinstance(fdef, ast.FunctionDef) or fdef.decorator_list:
            _fail(fdef, self.func, "not a plain function")
        a = fdef.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
            _fail(fdef, self.func, "only plain positional-or-keyword parameters are translated")
        names = [p.arg for p in a.args]
        self.locals.update(names)
        defaults = dict(zip(names[len(names) - len(a.defaults) :], a.defaults, strict=True))
        params = [f"{n} = {self.expr(defaults[n])}" if n in defaults else n for n in names]
        body = self.body(fdef.body, "  ")
        declared = sorted(self.locals - set(names))
        lines = [f"function {js_name(self.func)}({', '.join(params)}) {{"]
        if declared:
            lines.append(f"  let {', '.join(declared)};")
        lines += body
        lines.append("}")
        return "\n".join(lines)


@functools.cache
def _translate_one(func: Callable) -> tuple[str, tuple[Callable, ...]]:
    t = _Translator(func)
    return t.function(), tuple(t.calls)


def translate(*funcs: Callable) -> str:
    """JavaScript for ``funcs`` and every course function they call (each once, callees
    first). Raises :class:`TranslationError` naming the first construct it cannot translate."""
    done: dict[Callable, str] = {}

    def visit(fn: Callable, path: tuple = ()):
        if fn in done:
            return
        if fn in path:
            raise TranslationError(f"{fn.__qualname__} calls itself")
        code, calls = _translate_one(fn)
        for callee in calls:
            visit(callee, (*path, fn))
        done[fn] = code

    for fn in funcs:
        visit(fn)
    return "\n\n".join(done.values())


@functools.cache
def runtime_js() -> str:
    """The hand-written JavaScript primitives the translated code calls (``py.*``)."""
    return (JS_DIR / "runtime.js").read_text(encoding="utf-8")
