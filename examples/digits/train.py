"""Train the digits example: a small Keras CNN on scikit-learn's 8x8 digit images (no download), saved as
digits.keras with the samples `edgepack build` and the tests need.

Writes to OUT: digits.keras, digits.inputs.json (how a picture becomes the model's input), sample.npz
(training images: the build's sample and int8 calibration), holdout.npz (images the model never saw,
with their labels under "label").

Example:
    python examples/digits/train.py --out build/digits
    edgepack build build/digits/digits.keras --sample build/digits/sample.npz \\
        --targets onnx,tflite,tfjs,coreml --name digits -o build/digits/package
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SAMPLE_ROWS = 256
EPOCHS = 25


def build_model(dense_units: int = 128):  # noqa: ANN201  (a keras.Model; keras is imported here)
    """Conv2D, BatchNormalization, DepthwiseConv2D with a residual add, pooling, then Dense layers:
    the building blocks of the MobileNet family, small enough to train in seconds."""
    import keras
    from keras import layers

    image = keras.Input((8, 8, 1), name="image")
    x = layers.Rescaling(1.0 / 16.0)(image)  # pixels 0..16 -> 0..1 inside the model
    x = layers.Conv2D(16, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    y = layers.DepthwiseConv2D(3, padding="same")(x)
    y = layers.BatchNormalization()(y)
    x = layers.Add()([x, layers.ReLU()(y)])
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense_units, activation="relu")(x)
    out = layers.Dense(10, activation="softmax")(x)
    return keras.Model(image, out, name="digits_cnn")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import keras
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    keras.utils.set_random_seed(args.seed)
    digits = load_digits()
    images = digits.images.astype(np.float32)[..., None]  # [N, 8, 8, 1], values 0..16
    x_train, x_test, y_train, y_test = train_test_split(images, digits.target, test_size=0.25, random_state=args.seed,
                                                        stratify=digits.target)
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=64, verbose=0)
    accuracy = float(np.mean(np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test))
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "digits.keras")
    # An 8-bit grey picture (0..255) becomes the model's 0..16 pixels: x * 16/255.
    preprocessing = {"image": {"layout": "NHWC", "image": {"size": [8, 8], "channels": "L", "scale": 16.0 / 255.0,
                                                            "mean": [0.0], "std": [1.0]}}}
    (args.out / "digits.inputs.json").write_text(json.dumps(preprocessing, indent=2) + "\n")
    np.savez(args.out / "sample.npz", image=x_train[:SAMPLE_ROWS])
    np.savez(args.out / "holdout.npz", image=x_test, label=y_test)
    print(f"digits CNN: {model.count_params()} parameters, held-out accuracy {accuracy:.4f}; written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
