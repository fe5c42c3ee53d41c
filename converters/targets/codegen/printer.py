"""What differs between C99 and JavaScript in the generated code: declarations, literals, float32
rounding, math functions and string equality. Statements (assignments, loops, if/else, while) are the
same text in both languages, so the operator emitters (ops.py) write them once.

float32 arithmetic is exact in both: C computes a float expression in float (FLT_EVAL_METHOD 0 on the
targets we compile for, checked by the runner's compile flags), JavaScript rounds each float32 operation
with Math.fround (a double-precision result of +, -, *, / rounded once to float32 is the float32 result).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .ir import Value

C_TYPES = {"f64": "double", "f32": "float", "i64": "long long", "bool": "int", "str": "const char *"}


class Printer:
    lang = ""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 1
        self.tables: list[str] = []
        self.decls: list[str] = []  # the arrays every operator writes, declared once before the operators
        self._names: dict[str, str] = {}

    # -- names and statements -------------------------------------------------------------------------
    def name(self, value: Value) -> str:
        if value.name not in self._names:
            self._names[value.name] = f"t{len(self._names)}"
        return self._names[value.name]

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def open(self, text: str) -> None:
        self.line(text + " {")
        self.depth += 1

    def close(self, text: str = "}") -> None:
        self.depth -= 1
        self.line(text)

    def loop(self, var: str, n: int) -> None:
        self.open(f"for ({self.int_decl(var)} = 0; {var} < {n}; {var}++)")

    # -- per language ---------------------------------------------------------------------------------
    def int_decl(self, var: str) -> str: ...
    def array(self, value: Value) -> str: ...
    def scalar(self, var: str, dtype: str, init: str) -> None: ...
    def table(self, value: Value) -> str: ...
    def round(self, expr: str, dtype: str) -> str: ...
    def fn(self, name: str, arg: str, dtype: str) -> str: ...
    def streq(self, a: str, b: str) -> str: ...
    def is_nan(self, x: str) -> str: ...

    def lit(self, v: Any, dtype: str) -> str:
        if dtype == "str":
            return _string(str(v))
        if dtype == "i64":
            return str(int(v))
        if dtype == "bool":
            return "1" if v else "0"
        f = float(v)
        if math.isnan(f):
            return self.nan()
        if math.isinf(f):
            return self.inf() if f > 0 else f"(-{self.inf()})"
        text = repr(float(np.float32(f))) if dtype == "f32" else repr(f)
        return self.float_lit(text, dtype)

    def float_lit(self, text: str, dtype: str) -> str:
        return text

    def nan(self) -> str: ...
    def inf(self) -> str: ...

    def operand(self, value: Value, index: str) -> str:
        """Element `index` of a value (a constant of one element is that literal)."""
        if value.const is not None and value.const.size == 1:
            return self.lit(value.const.reshape(-1)[0], value.dtype)
        if value.size == 1 and value.const is None:
            return f"{self.name(value)}[0]"
        return f"{self.name(value)}[{index}]"

    def ref(self, value: Value) -> str:
        """A value's array name, declaring constant tables on first use."""
        if value.const is not None:
            return self.table(value)
        return self.name(value)


def _string(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= code < 127:
            out.append(ch)
        else:  # UTF-8 bytes as escapes: the same bytes in C, re-decoded in JS (see JsPrinter.lit)
            out.extend(f"\\x{b:02x}" for b in ch.encode())
    out.append('"')
    return "".join(out)


def _smallest_int(lo: int, hi: int) -> str:
    """The smallest standard C integer type holding [lo, hi] (C99 guarantees these ranges)."""
    for ctype, low, high in (("signed char", -127, 127), ("short", -32767, 32767), ("long", -(2**31 - 1), 2**31 - 1)):
        if low <= lo and hi <= high:
            return ctype
    return "long long"


class CPrinter(Printer):
    lang = "c"

    def __init__(self, precision: str = "exact") -> None:
        super().__init__()
        self.precision = precision

    def ctype(self, dtype: str) -> str:
        if self.precision == "float32" and dtype == "f64":
            return "float"
        return C_TYPES[dtype]

    def int_decl(self, var: str) -> str:
        return f"int {var}"

    def array(self, value: Value) -> str:
        name = self.name(value)
        self.decls.append(f"    {self.ctype(value.dtype)} {name}[{max(value.size, 1)}];")
        return name

    def scalar(self, var: str, dtype: str, init: str) -> None:
        self.line(f"{self.ctype(dtype)} {var} = {init};")

    def table(self, value: Value) -> str:
        name = f"K_{self.name(value)}"
        if all(name not in t for t in self.tables):
            flat = value.const.reshape(-1)
            body = ", ".join(self.lit(v, value.dtype) for v in flat) or "0"
            ctype = self.ctype(value.dtype)
            if value.dtype in ("i64", "bool") and flat.size:
                ctype = _smallest_int(int(flat.min()), int(flat.max()))  # flash is what a microcontroller lacks
            self.tables.append(f"static const {ctype} {name}[{max(flat.size, 1)}] = {{{body}}};")
        return name

    def round(self, expr: str, dtype: str) -> str:
        return f"(({self.ctype(dtype)})({expr}))" if dtype in ("f32", "f64") else expr

    def fn(self, name: str, arg: str, dtype: str) -> str:
        single = dtype == "f32" or self.precision == "float32"
        return f"{name}{'f' if single else ''}({arg})"

    def float_lit(self, text: str, dtype: str) -> str:
        if "e" not in text and "." not in text and "inf" not in text and "nan" not in text:
            text += ".0"
        return text + ("f" if dtype == "f32" or self.precision == "float32" else "")

    def streq(self, a: str, b: str) -> str:
        return f"ep_streq({a}, {b})"

    def is_nan(self, x: str) -> str:
        return f"(({x}) != ({x}))"

    def nan(self) -> str:
        return "EP_NAN"

    def inf(self) -> str:
        return "EP_INF"


class JsPrinter(Printer):
    lang = "js"

    def int_decl(self, var: str) -> str:
        return f"let {var}"

    def array(self, value: Value) -> str:
        name = self.name(value)
        kind = {"f64": "new Float64Array", "f32": "new Float32Array", "i64": "new Float64Array", "bool": "new Uint8Array",
                "str": "new Array", "tok": "new Array"}[value.dtype]
        # Module level, made once: scoring allocates nothing (one record at a time, JavaScript is single-threaded).
        self.decls.append(f"const {name} = {kind}({max(value.size, 1)});")
        return name

    def scalar(self, var: str, dtype: str, init: str) -> None:
        self.line(f"let {var} = {init};")

    def table(self, value: Value) -> str:
        name = f"K_{self.name(value)}"
        if all(f"const {name} " not in t for t in self.tables):
            flat = value.const.reshape(-1)
            body = ", ".join(self.lit(v, value.dtype) for v in flat)
            kind = {"f64": "Float64Array", "f32": "Float32Array", "i64": "Float64Array", "bool": "Uint8Array"}.get(value.dtype)
            self.tables.append(f"const {name} = {'new ' + kind + '([' + body + '])' if kind else '[' + body + ']'};")
        return name

    def lit(self, v: Any, dtype: str) -> str:
        if dtype == "str":
            text = str(v)
            return _string(text) if text.isascii() else f"utf8({_string(text)})"
        return super().lit(v, dtype)

    def round(self, expr: str, dtype: str) -> str:
        return f"Math.fround({expr})" if dtype == "f32" else expr

    def fn(self, name: str, arg: str, dtype: str) -> str:
        call = f"Math.{name}({arg})"
        return f"Math.fround({call})" if dtype == "f32" else call

    def streq(self, a: str, b: str) -> str:
        return f"({a} === {b})"

    def is_nan(self, x: str) -> str:
        return f"Number.isNaN({x})"

    def nan(self) -> str:
        return "NaN"

    def inf(self) -> str:
        return "Infinity"
