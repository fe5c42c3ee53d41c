"""What tensor sources (ONNX graphs, Keras image and sequence models) share: their declared inputs and
outputs, the optional sidecar files beside the model, and the `.npz` sample.

Sidecars (JSON, optional, next to the model file):
    MODEL.classes.json   a list of class names: the first output is a classifier's scores (top-k)
    MODEL.inputs.json    {input name: {"layout": "NHWC", "image": {"size": [h, w], "channels": "RGB",
                          "scale": 0.0039, "mean": [0, 0, 0], "std": [1, 1, 1]}}}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.errors import DataError, ModelError
from ...runtime.tensors import TensorSpec, image_to_input


def read_sidecars(path: Path) -> tuple[list[Any] | None, dict[str, Any]]:
    """(class names or None, per-input metadata) from the files beside the model."""
    found: list[Any] = []
    for suffix in (".classes.json", ".inputs.json"):
        side = path.with_suffix(suffix)
        if not side.is_file():
            found.append(None)
            continue
        try:
            found.append(json.loads(side.read_text()))
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read {side.name}: {exc}", where=str(side), fix="write valid JSON") from exc
    classes, inputs = found
    if classes is not None and not isinstance(classes, list):
        raise ModelError("the classes file must hold a JSON list of class names", where=str(path.with_suffix(".classes.json")))
    return classes, inputs or {}


def guess_layout(shape: tuple[int | None, ...], channels_last: bool | None = None) -> str | None:
    """The layout of an input from its shape: rank 4 images, rank 3 sequences. None when it is not one."""
    rank = len(shape)
    if rank == 4:
        if channels_last is None:
            channels_last = not (shape[1] in (1, 3, 4) and shape[3] not in (1, 3, 4))
        return "NHWC" if channels_last else "NCHW"
    if rank == 3:
        return "NWC" if channels_last in (None, True) else "NCW"
    return {2: "NC", 1: "N"}.get(rank)


def input_spec(name: str, dtype: str, shape: tuple[int | None, ...], extra: dict[str, Any],
               channels_last: bool | None = None) -> TensorSpec:
    """One package input from a model input plus its sidecar entry (layout and image preprocessing)."""
    if any(d is None for d in shape[1:]):
        raise ModelError(f"input {name!r} has shape {list(shape)}: edgepack needs every dimension but the batch fixed",
                         fix="export the model with a fixed input size (only the batch may be dynamic)")
    layout = extra.get("layout") or guess_layout(shape, channels_last)
    image = extra.get("image")
    if image is not None:
        _check_image(name, image, layout, shape)
    return TensorSpec(name=name, dtype=dtype, shape=(None, *shape[1:]), layout=layout, image=image)


def _check_image(name: str, image: Any, layout: str | None, shape: tuple[int | None, ...]) -> None:
    """The declared preprocessing of an image input must be complete and fit the input's shape."""
    fix = ('declare {"size": [height, width], "channels": "RGB"|"BGR"|"L", "scale": number, "mean": [...], '
           '"std": [...]} (one mean/std per channel) in MODEL.inputs.json')
    try:
        channels = 1 if image["channels"] == "L" else 3
        ok = (image["channels"] in ("RGB", "BGR", "L") and len(image["size"]) == 2
              and all(isinstance(v, int) and v > 0 for v in image["size"]) and isinstance(image["scale"], (int, float))
              and len(image["mean"]) == channels and len(image["std"]) == channels and all(v > 0 for v in image["std"]))
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise ModelError(f"the image preprocessing declared for input {name!r} is incomplete or inconsistent", fix=fix)
    if layout not in ("NHWC", "NCHW"):
        raise ModelError(f"input {name!r} has layout {layout} and cannot take pictures", fix="images need NHWC or NCHW")
    dims = shape[1:3] if layout == "NHWC" else shape[2:4]
    depth = shape[3] if layout == "NHWC" else shape[1]
    if list(dims) != list(image["size"]) or depth != channels:
        raise ModelError(f"input {name!r} takes {list(shape[1:])} ({layout}) but the image preprocessing declares "
                         f"{image['size']} with {image['channels']}", fix=fix)


def read_npz(path: Path, inputs: list[TensorSpec]) -> dict[str, np.ndarray]:
    """A `.npz` sample: one array per input name, all with the same number of rows, each row shaped as the
    input. Raises DataError naming what is missing or mis-shaped."""
    if not path.is_file() or path.suffix.lower() != ".npz":
        raise DataError(f"a tensor model needs an .npz sample (one array per input name), got {path.name}",
                        where=str(path), fix="np.savez('sample.npz', **{input name: array [N, ...]})")
    try:
        with np.load(path, allow_pickle=False) as data:  # no pickles: the sample is untrusted input too
            arrays = {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path.name}: {exc}", where=str(path),
                        fix="write it with numpy.savez (numeric arrays only)") from exc
    out = {}
    for spec in inputs:
        if spec.name not in arrays:
            raise DataError(f"the sample has no array {spec.name!r}", where=str(path),
                            fix=f"the model's inputs are {', '.join(s.name for s in inputs)}; arrays given: "
                                f"{', '.join(arrays) or 'none'}")
        array = arrays[spec.name]
        if array.ndim != len(spec.shape) or tuple(array.shape[1:]) != tuple(spec.shape[1:]):
            raise DataError(f"array {spec.name!r} has shape {list(array.shape)}; the model takes [N, "
                            f"{', '.join(map(str, spec.shape[1:]))}]", where=str(path))
        if array.dtype.kind not in "fiub":
            raise DataError(f"array {spec.name!r} is not numeric ({array.dtype})", where=str(path))
        out[spec.name] = array.astype(spec.dtype)
    rows = {len(a) for a in out.values()}
    if len(rows) != 1 or 0 in rows:
        raise DataError(f"the sample's arrays have different or zero row counts: {sorted(rows)}", where=str(path))
    return out


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def read_sample(path: Path, inputs: list[TensorSpec]) -> dict[str, np.ndarray]:
    """The build's sample: an `.npz`, or a folder of PNG/JPEG pictures for a model with one image input."""
    return read_images(path, inputs) if path.is_dir() else read_npz(path, inputs)


def read_images(folder: Path, inputs: list[TensorSpec]) -> dict[str, np.ndarray]:
    """A folder of pictures (sorted by name) for a model with one image input, read with Pillow: each
    converted to the declared channels, resized to the declared size (`resize`: bilinear, width first), then prepared by
    runtime.tensors.image_to_input, the rule every runtime applies. Raises DataError."""
    if len(inputs) != 1 or not inputs[0].image:
        raise DataError("a folder of pictures is a sample for a model with one image input, whose preprocessing "
                        "is declared", where=str(folder),
                        fix="declare it in MODEL.inputs.json ({input: {\"image\": {size, channels, scale, mean, std}}}) "
                            "or pass an .npz sample")
    try:
        from PIL import Image
    except ImportError as exc:
        raise DataError("reading pictures needs Pillow", fix="pip install 'edgepack[images]'") from exc
    spec = inputs[0]
    image = spec.image or {}
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"no PNG or JPEG pictures in {folder}", where=str(folder))
    height, width = image["size"]
    mode = "L" if image["channels"] == "L" else "RGB"
    pixels = []
    for path in files:
        try:
            with Image.open(path) as picture:
                picture = resize(picture.convert(mode), width, height)
                array = np.asarray(picture, dtype=np.float32)
        except (OSError, ValueError) as exc:  # Pillow's UnidentifiedImageError is an OSError
            raise DataError(f"cannot read the picture {path.name}: {exc}", where=str(path)) from exc
        array = array[..., None] if array.ndim == 2 else array
        pixels.append(array[..., ::-1] if image["channels"] == "BGR" else array)
    return {spec.name: image_to_input(np.stack(pixels), spec)}


def resize(picture: Any, width: int, height: int) -> Any:
    """Pillow's BILINEAR filter, the width first, then the height: two one-axis resizes, so that the pixels do
    not depend on the pass order Pillow picks (Pillow 13 runs the height first when it shrinks more, which moves
    some pixels by a level). web/src/images.js applies the same rule to pictures scored in a browser."""
    from PIL import Image

    if picture.width != width:
        picture = picture.resize((width, picture.height), Image.Resampling.BILINEAR)
    if picture.height != height:
        picture = picture.resize((width, height), Image.Resampling.BILINEAR)
    return picture


def softmax_like(values: np.ndarray) -> bool:
    """Do these rows look like probabilities (non-negative, summing to 1)?"""
    return bool(values.ndim == 2 and np.all(values >= -1e-6) and np.allclose(values.sum(axis=1), 1.0, atol=1e-3))
