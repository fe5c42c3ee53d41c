"""Values of an ML Program: immediate tensors and tensors stored in the .mlpackage's weight file.

Weight file (MIL blob storage, version 2): a 64-byte header (uint32 count, uint32 version, reserved),
then per blob a 64-byte metadata record at the offset the program names: uint32 sentinel 0xDEADBEEF,
uint32 data type, uint64 size in bytes, uint64 offset of the data, then reserved fields. The data's
element type and shape come from the program's own tensor type. Sub-byte integer types (int4, uint4,
uint2, ...) are packed starting with the least significant bit.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from .values import SpecError

SENTINEL = 0xDEADBEEF
NUMPY_DTYPES = {
    "FLOAT16": np.float16, "FLOAT32": np.float32, "FLOAT64": np.float64, "BOOL": np.bool_,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64, "STRING": object,
}
SUB_BYTE = {"INT4": (4, True), "UINT4": (4, False), "UINT1": (1, False), "UINT2": (2, False),
            "UINT3": (3, False), "UINT6": (6, False)}


def dtype_name(data_type_enum: Any, value: int) -> str:
    return data_type_enum.Name(value)


def tensor_shape(tensor_type: Any) -> tuple[int, ...]:
    dims = []
    for d in tensor_type.dimensions:
        if d.WhichOneof("dimension") != "constant":
            raise SpecError("a constant tensor with an unknown dimension")
        dims.append(d.constant.size)
    return tuple(dims)


def unpack_bits(raw: bytes, nbits: int, count: int, signed: bool) -> np.ndarray:
    """Sub-byte integers packed least significant bit first."""
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")[: count * nbits]
    values = (bits.reshape(count, nbits).astype(np.int64) << np.arange(nbits)).sum(axis=1)
    if signed:
        values = np.where(values >= 1 << (nbits - 1), values - (1 << nbits), values)
    return values.astype(np.int8 if signed else np.uint8)


def _from_bytes(raw: bytes, kind: str, shape: tuple[int, ...]) -> np.ndarray:
    count = int(np.prod(shape)) if shape else 1
    if kind in SUB_BYTE:
        nbits, signed = SUB_BYTE[kind]
        return unpack_bits(raw, nbits, count, signed).reshape(shape)
    if kind not in NUMPY_DTYPES or kind == "STRING":
        raise SpecError(f"tensor data type {kind} is outside the supported subset")
    return np.frombuffer(raw, dtype=np.dtype(NUMPY_DTYPES[kind]).newbyteorder("<"))[:count].reshape(shape).copy()


def read_blob(data: bytes, offset: int) -> bytes:
    if offset + 64 > len(data):
        raise SpecError(f"weight offset {offset} lies past the end of the weight file ({len(data)} bytes)")
    sentinel, _dtype, size, start = struct.unpack_from("<IIQQ", data, offset)
    if sentinel != SENTINEL:
        raise SpecError(f"no blob metadata at weight offset {offset} (sentinel {sentinel:#x})")
    if start + size > len(data):
        raise SpecError(f"blob at {offset} runs past the end of the weight file")
    return data[start:start + size]


def decode_value(value: Any, data_type_enum: Any, read_file: Callable[[str], bytes]) -> Any:
    """A MIL Value (immediate or in the weight file) as a numpy array, or a Python scalar/str."""
    vtype = value.type
    if vtype.WhichOneof("type") != "tensorType":
        raise SpecError(f"value type {vtype.WhichOneof('type')} is outside the supported subset")
    tt = vtype.tensorType
    kind = dtype_name(data_type_enum, tt.dataType)
    shape = tensor_shape(tt)
    which = value.WhichOneof("value")
    if which == "blobFileValue":
        raw = read_blob(read_file(value.blobFileValue.fileName), value.blobFileValue.offset)
        return _from_bytes(raw, kind, shape)
    tensor = value.immediateValue.tensor
    field = tensor.WhichOneof("value")
    if field == "bytes":
        return _from_bytes(tensor.bytes.values, kind, shape)
    items = list(getattr(tensor, field).values) if field else []
    if kind == "STRING":
        return items[0] if not shape else np.asarray(items, dtype=object).reshape(shape)
    arr = np.asarray(items, dtype=NUMPY_DTYPES.get(kind, np.float32))
    return arr.reshape(shape) if shape else arr.reshape(())
