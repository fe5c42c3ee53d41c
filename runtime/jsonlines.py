"""Parse JSON lines and write JSON text: orjson when installed (the `fast` extra), the standard library's
C scanner otherwise. Both read exactly the same records; set EDGEPACK_NO_ORJSON=1 to force the
standard library (the tests run both).

The standard-library path calls the C scanner directly, line by line, which skips `json.loads`'
per-call Python work; NaN and Infinity literals are accepted there as Python's json module does, and
orjson (which refuses them) falls back to it for such lines, so the validator, not the parser, judges NaN.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from json import decoder, scanner
from typing import Any

_orjson: Any
try:
    if os.environ.get("EDGEPACK_NO_ORJSON"):
        raise ImportError("disabled by EDGEPACK_NO_ORJSON")
    import orjson as _orjson
except ImportError:
    _orjson = None

ACCELERATOR = "orjson" if _orjson is not None else "stdlib"

# json.scanner.make_scanner is the C scanner when CPython has it, the Python one otherwise.
# (typeshed declares make_scanner as a class taking a scanner, hence the ignore.)
_scan_once = scanner.make_scanner(decoder.JSONDecoder())  # type: ignore[arg-type]
_WS = " \t\r\n"


class NotTextError(ValueError):
    """The line is JSON but holds a lone surrogate escape ("\\ud800"): not Unicode text. Python's json
    reads it into a str that no UTF-8 writer accepts (orjson refuses it), so the record is refused here,
    before it can crash the writing of a prediction or an error line."""


# A surrogate escape: \uD800-\uDFFF, in either case. Pairs are fine (an emoji); a lone one is not.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def _stdlib_line(line: bytes) -> Any:
    """One line -> value, via the C scanner. Raises ValueError (incl. UnicodeDecodeError, NotTextError)
    when not JSON text."""
    text = line.decode("utf-8")
    try:
        value, end = _scan_once(text, 0)
    except StopIteration:
        value, end = None, -1
    if end != len(text) and (end < 0 or text[end:].strip(_WS)):
        value = json.loads(text)  # not a bare value at column 0: let json.loads decide (and explain)
    if b"\\u" in line and _SURROGATE_ESCAPE.search(line) and not _all_text(value):
        raise NotTextError("a lone surrogate escape (such as \\ud800) is not Unicode text")
    return value


def _all_text(value: Any) -> bool:
    """Every string of a parsed JSON value (keys included) encodes as UTF-8."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _orjson_line(line: bytes) -> Any:
    try:
        return _orjson.loads(line)
    except _orjson.JSONDecodeError:
        return _stdlib_line(line)  # NaN/Infinity literals, or a real error explained by json


parse_line: Callable[[bytes], Any] = _orjson_line if _orjson is not None else _stdlib_line


def parse_lines(lines: list[bytes]) -> list[Any] | None:
    """Every line parsed, or None when any line is blank or not JSON (the caller then goes line by line)."""
    try:
        if _orjson is not None:
            return list(map(_orjson.loads, lines))
        return list(map(_stdlib_line, lines))
    except (ValueError, RecursionError):
        return None


def number_columns(matrix: Any) -> list[list[str]]:
    """JSON texts of a 2-D float array, column by column: the shortest text that reads back the same
    value of the array's dtype (float32 outputs stay short). Values must be finite."""
    import numpy as np

    rows, cols = matrix.shape
    if rows == 0:
        return [[] for _ in range(cols)]
    if matrix.dtype not in (np.float32, np.float64):
        matrix = matrix.astype(np.float64)
    if _orjson is not None:
        text = _orjson.dumps(np.ascontiguousarray(matrix), option=_orjson.OPT_SERIALIZE_NUMPY)
        flat = text[2:-2].decode().replace("],[", ",").split(",")
        return [flat[k::cols] for k in range(cols)]
    # Without orjson: the same text, so that a prediction line does not depend on the install (and
    # web/bin/score.mjs, which writes orjson's text, matches either).
    return [[orjson_number(v) for v in column] for column in matrix.T]


def orjson_number(value: Any) -> str:
    """orjson's text of a finite float (numpy float32 at float32 precision): the shortest digits that read
    back the same value; fixed notation for decimal exponents -5..15 (float32: -6..12; ".0" on whole
    numbers), else `1.5e-7` / `1e+16`."""
    import numpy as np

    low, high = (-6, 13) if isinstance(value, np.float32) else (-5, 16)

    if value == 0:
        return "-0.0" if np.signbit(value) else "0.0"
    mantissa, _, exp = np.format_float_scientific(value, unique=True, trim="-").partition("e")
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "")
    e = int(exp)
    if e < low or e >= high:
        return f"{sign}{digits[0]}{'.' + digits[1:] if len(digits) > 1 else ''}e{'-' if e < 0 else '+'}{abs(e)}"
    if e < 0:
        return f"{sign}0.{'0' * (-e - 1)}{digits}"
    return f"{sign}{digits[:e + 1].ljust(e + 1, '0')}.{digits[e + 1:] or '0'}"


def dumps(value: Any) -> str:
    """Compact JSON text for ids and error lines."""
    if _orjson is not None:
        try:
            return _orjson.dumps(value).decode()
        except TypeError:
            pass
    # orjson's compact separators, so that an error line does not depend on the install
    text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    if not text.isascii() and not _all_text(text):
        return json.dumps(value, default=str, separators=(",", ":"))  # a lone surrogate: escaped, so the line can be written
    return text
