"""Small PNG pictures for the HTML report: a model input shown as the picture it was made from, as a data
URI (no Pillow needed: PNG is zlib-compressed rows behind three chunks).

`input_picture` undoes the package's declared image preprocessing (runtime.tensors.input_to_pixels, the
inverse of image_to_input: x = (pixels * scale - mean) / std) to get 0..255 pixels back; an
image-shaped input without declared preprocessing is stretched to 0..255 from its own range.
"""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

import numpy as np

from ..runtime.tensors import input_to_pixels

MAX_SIDE = 96  # larger pictures are shown subsampled: the report stays small


def png_bytes(pixels: np.ndarray) -> bytes:
    """PNG of uint8 pixels [height, width] (grey) or [height, width, 3] (RGB)."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    grey = pixels.ndim == 2
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1)
    raw = b"".join(b"\x00" + rows[i].tobytes() for i in range(height))  # filter type 0 on every row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0 if grey else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def data_uri(pixels: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(pixels)).decode("ascii")


def input_picture(row: np.ndarray, spec: Any) -> np.ndarray | None:
    """One input row (the package's layout, no batch axis) as uint8 pixels [h, w] or [h, w, 3] in RGB,
    or None when the input is not a picture (not rank 3 with 1 or 3 channels)."""
    layout = spec.layout or ""
    x = np.asarray(row, dtype=np.float64)
    if x.ndim != 3 or layout not in ("NHWC", "NCHW"):
        return None
    image = spec.image
    if image:
        x = input_to_pixels(x[None], spec)[0].astype(np.float64)
        if image.get("channels") == "BGR":
            x = x[..., ::-1]
    elif layout == "NCHW":
        x = np.transpose(x, (1, 2, 0))
    if x.shape[2] not in (1, 3):
        return None
    if not image:
        low, high = float(np.min(x)), float(np.max(x))
        x = (x - low) * (255.0 / (high - low)) if high > low else np.zeros_like(x)
    step = max(1, -(-max(x.shape[:2]) // MAX_SIDE))
    x = x[::step, ::step]
    pixels = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return pixels[..., 0] if pixels.shape[2] == 1 else pixels
