"""An independent reader of TFLite metadata for the tests: plain struct reads of a flatbuffer's offsets and
vtables (the flatbuffers binary format), with the field ids of tensorflow/lite/schema/schema.fbs (Model,
Metadata, Buffer) and tensorflow/tflite-support's metadata_schema.fbs; none of the writer's code
(converters/tflite_metadata.py)."""

from __future__ import annotations

import struct


class Table:
    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf, self.pos = buf, pos
        self.vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vsize = struct.unpack_from("<H", buf, self.vtable)[0]

    def _field(self, slot: int) -> int | None:
        at = 4 + 2 * slot
        if at >= self.vsize:
            return None
        off = struct.unpack_from("<H", self.buf, self.vtable + at)[0]
        return self.pos + off if off else None

    def _indirect(self, at: int) -> int:
        return at + struct.unpack_from("<I", self.buf, at)[0]

    def string(self, slot: int) -> str | None:
        at = self._field(slot)
        if at is None:
            return None
        start = self._indirect(at)
        n = struct.unpack_from("<I", self.buf, start)[0]
        return self.buf[start + 4:start + 4 + n].decode()

    def u8(self, slot: int) -> int:
        at = self._field(slot)
        return 0 if at is None else self.buf[at]

    def u32(self, slot: int) -> int:
        at = self._field(slot)
        return 0 if at is None else struct.unpack_from("<I", self.buf, at)[0]

    def table(self, slot: int) -> Table | None:
        at = self._field(slot)
        return None if at is None else Table(self.buf, self._indirect(at))

    def tables(self, slot: int) -> list[Table]:
        at = self._field(slot)
        if at is None:
            return []
        start = self._indirect(at)
        n = struct.unpack_from("<I", self.buf, start)[0]
        return [Table(self.buf, self._indirect(start + 4 + 4 * i)) for i in range(n)]

    def bytes_vector(self, slot: int, width: int = 1) -> bytes:
        at = self._field(slot)
        assert at is not None, f"no field {slot}"
        start = self._indirect(at)
        n = struct.unpack_from("<I", self.buf, start)[0]
        return self.buf[start + 4:start + 4 + n * width]


def root(buf: bytes) -> Table:
    return Table(buf, struct.unpack_from("<I", buf, 0)[0])


# field ids: tensorflow/lite/schema/schema.fbs (Model, Metadata, Buffer) and tflite-support metadata_schema.fbs
MODEL_BUFFERS, MODEL_METADATA, META_NAME, META_BUFFER, BUFFER_DATA = 4, 6, 0, 1, 0
MM_NAME, MM_DESCRIPTION, MM_VERSION, MM_SUBGRAPHS, MM_AUTHOR, MM_LICENSE, MM_MIN_PARSER = 0, 1, 2, 3, 4, 5, 7
SG_INPUTS, SG_OUTPUTS, T_NAME, T_DESCRIPTION, T_CONTENT, T_FILES = 2, 3, 0, 1, 3, 6
F_NAME, F_TYPE, C_TYPE = 0, 2, 0


def read_metadata(model: bytes) -> bytes:
    m = root(model)
    entries = {e.string(META_NAME): e.u32(META_BUFFER) for e in m.tables(MODEL_METADATA)}
    return m.tables(MODEL_BUFFERS)[entries["TFLITE_METADATA"]].bytes_vector(BUFFER_DATA)



# NormalizationOptions, ProcessUnit, ImageProperties, ImageSize
T_PROCESS_UNITS, PU_TYPE, PU_OPTIONS, N_MEAN, N_STD, C_PROPERTIES, I_COLOR, I_SIZE, S_WIDTH, S_HEIGHT = (
    4, 0, 1, 0, 1, 1, 0, 1, 0, 1)


def floats(table: Table, slot: int) -> list[float]:
    raw = table.bytes_vector(slot, width=4)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))
