"""Small tensor models for the tests, made here (no downloads): an ONNX CNN written with onnx.helper in
the layout a PyTorch export has (NCHW, opset 17), and the digits example's Keras CNN trained briefly."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def onnx_cnn(path: Path, rows: int = 40, seed: int = 0) -> tuple[Path, Path]:
    """Conv + BatchNorm + ReLU, depthwise conv with a residual add, max pool, global average pool,
    Gemm, Softmax over a [N, 1, 8, 8] input. Returns (model.onnx, sample.npz)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)

    def init(name: str, shape: tuple[int, ...], low: float | None = None) -> onnx.TensorProto:
        value = rng.uniform(low, 1.5, shape) if low is not None else rng.normal(0, 0.6, shape)
        return numpy_helper.from_array(value.astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "g", "be", "m", "v"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["r1"]),
        helper.make_node("Conv", ["r1", "wd", "bd"], ["dw"], pads=[1, 1, 1, 1], group=4),
        helper.make_node("Add", ["dw", "r1"], ["res"]),
        helper.make_node("MaxPool", ["res"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p1"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["f"]),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
    ]
    inits = [init("w1", (4, 1, 3, 3)), init("b1", (4,)), init("wd", (4, 1, 3, 3)), init("bd", (4,)),
             init("wf", (10, 4)), init("bf", (10,)), init("g", (4,), 0.5), init("be", (4,)), init("m", (4,)),
             init("v", (4,), 0.5)]
    graph = helper.make_graph(nodes, "tiny_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, 8, 8])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgepack-tests")
    path.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path / "cnn.onnx"))
    np.savez(path / "sample.npz", x=rng.uniform(0, 1, (rows, 1, 8, 8)).astype(np.float32))
    return path / "cnn.onnx", path / "sample.npz"


def recalibrate_batch_norm(model, x: np.ndarray) -> None:  # noqa: ANN001  (a keras.Model)
    """Set every BatchNormalization's moving mean and variance to the statistics of its input on `x`, in
    network order. An untrained network with weights=None otherwise shrinks its activations to ~1e-11
    by the last layer (measured on MobileNetV2 alpha=0.35): every input then gets the same output, and
    parity on it proves nothing."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            probe = keras.Model(model.inputs, layer.input)
            values = np.asarray(probe(x, training=False), dtype=np.float64)
            axes = tuple(range(values.ndim - 1))
            gamma, beta, _, _ = layer.get_weights()
            layer.set_weights([gamma, beta, values.mean(axis=axes).astype(np.float32),
                               values.var(axis=axes).astype(np.float32)])


def mobilenet_v2(folder: Path, rows: int = 16, seed: int = 0) -> tuple[Path, Path]:
    """keras.applications.MobileNetV2(alpha=0.35, weights=None, 96x96x3, 10 classes), batch norm
    recalibrated on random images so that outputs differ per image. Returns (model.keras, sample.npz)."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.applications.MobileNetV2(alpha=0.35, weights=None, input_shape=(96, 96, 3), classes=10)
    x = np.random.default_rng(seed).uniform(-1, 1, (rows, 96, 96, 3)).astype(np.float32)
    recalibrate_batch_norm(model, x)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "mobilenet_v2.keras")
    from edgepack.converters.sources.keras_tensor import input_name

    np.savez(folder / "sample.npz", **{input_name(model.inputs[0]): x})
    return folder / "mobilenet_v2.keras", folder / "sample.npz"


def keras_sequence(folder: Path, rows: int = 64, seed: int = 0) -> tuple[Path, Path]:
    """Two inputs: int32 tokens [N, 12] through Embedding + Conv1D + global max pooling, and 3 numbers
    through a Normalization layer; concatenated into Dense layers and a softmax over 4 classes."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    tokens = keras.Input((12,), dtype="int32", name="tokens")
    extra = keras.Input((3,), name="extra")
    x = layers.Embedding(50, 8)(tokens)
    x = layers.Conv1D(8, 3, padding="same", activation="relu")(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Concatenate()([x, layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 9.0])(extra)])
    out = layers.Dense(4, activation="softmax")(layers.Dense(16, activation="relu")(x))
    folder.mkdir(parents=True, exist_ok=True)
    keras.Model([tokens, extra], out).save(folder / "sequence.keras")
    rng = np.random.default_rng(seed)
    np.savez(folder / "sample.npz", tokens=rng.integers(0, 50, (rows, 12)).astype(np.int32),
             extra=rng.normal(2, 2, (rows, 3)).astype(np.float32))
    return folder / "sequence.keras", folder / "sample.npz"


def keras_recurrent(folder: Path, kind: str, rows: int = 48, seed: int = 0, length: int | None = 12) -> tuple[Path, Path]:
    """A token sequence classifier: int32 tokens [N, 12] (vocab 50) -> Embedding(8) -> `kind`: "lstm"
    (LSTM(8)), "gru" (GRU(8), Keras' default reset_after form, with the Embedding's mask_zero: padding
    skipped) or "stacked" (Bidirectional GRU(8) returning sequences, then LSTM(8)) -> Dense softmax over 4
    classes. `length=None`: sequences of any length. Returns (model.keras, sample.npz)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    tokens = keras.Input((length,), dtype="int32", name="tokens")
    # Embeddings of unit scale (Keras' default is +-0.05): the recurrence then carries signal, outputs
    # differ per sequence, and a changed recurrent weight shows in them.
    x = layers.Embedding(50, 8, embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0, seed=seed),
                         mask_zero=kind == "gru")(tokens)
    if kind == "lstm":
        x = layers.LSTM(8)(x)
    elif kind == "gru":
        x = layers.GRU(8)(x)
    else:
        x = layers.LSTM(8)(layers.Bidirectional(layers.GRU(8, return_sequences=True))(x))
    out = layers.Dense(4, activation="softmax")(x)
    folder.mkdir(parents=True, exist_ok=True)
    keras.Model(tokens, out).save(folder / f"{kind}.keras")
    np.savez(folder / "sample.npz", tokens=sequences(rows, seed))
    return folder / f"{kind}.keras", folder / "sample.npz"


def sequences(rows: int, seed: int) -> np.ndarray:
    """Token id sequences [rows, 12] from a vocabulary of 50, of 4 to 12 tokens (1..49) padded with 0."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 50, (rows, 12))
    ids[np.arange(12) >= rng.integers(4, 13, (rows, 1))] = 0
    return ids.astype(np.int32)
