"""The code generator's intermediate form: values (per-record arrays or constant tables) and nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ....runtime.errors import ModelError


@dataclass
class Value:
    """A tensor as the generated code sees it: per-record `size` values of `dtype`, or a constant."""

    name: str
    dtype: str  # f32 | f64 | i64 | str | bool | tok (a record's list of text tokens: JavaScript only)
    shape: tuple[int, ...]  # per record (batch dimension dropped); constants: their full shape
    const: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1


@dataclass
class Node:
    op: str
    domain: str
    inputs: list[Value]
    outputs: list[Value]
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Program:
    inputs: list[Value]
    nodes: list[Node]
    output: Value  # probabilities [C] or value [1]
    output_name: str



def np_dtype(arr: np.ndarray) -> str:
    if arr.dtype == np.float32:
        return "f32"
    if arr.dtype == np.float64:
        return "f64"
    if arr.dtype == np.bool_:
        return "bool"
    if arr.dtype.kind in "iu":
        return "i64"
    if arr.dtype.kind in "OUS":
        return "str"
    raise ModelError(f"a constant of dtype {arr.dtype} is outside what code generation handles")
