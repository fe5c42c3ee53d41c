"""Run a TFLite flatbuffer in ai-edge-litert on one input tensor (shared by the TFLite tests), independent
of edgepack's parity runner so that it checks the artifact alone."""

from __future__ import annotations

import numpy as np


def run_tflite(data: bytes, x: np.ndarray) -> np.ndarray:
    """The first output for input x (its batch size set on the interpreter)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=data)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
