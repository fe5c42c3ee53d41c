"""Targets `c` and `js`: the verified ONNX graph compiled to C99 or an ES module (docs/microcontrollers.md)."""
