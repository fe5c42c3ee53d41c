"""An evaluator of the Core ML specification subset edgepack emits, written from the specification's
documented semantics, so that Core ML artifacts can be checked on Linux (Core ML itself runs only on
Apple platforms).

It reads only the artifact (.mlmodel protobuf, or an .mlpackage's spec and weight file) and never
imports edgepack's converters: it is an independent reading of the format, not the converter checking
itself. Supported: pipelines (plain, classifier, regressor), FeatureVectorizer, Imputer, Scaler,
OneHotEncoder, CategoricalMapping, GLMClassifier, GLMRegressor, TreeEnsembleClassifier/Regressor,
SupportVectorClassifier (with probabilities, 3+ classes)/Regressor (libsvm, double),
NeuralNetwork(Classifier/Regressor) inner-product/activation/softmax/unary/multiply/add/clip layers (float32, float16 and
quantized weights), and ML Programs built from the operations listed in mlprogram.OPS.

    from edgepack.parity.coreml_spec import CoreMLModel
    model = CoreMLModel.open("model.mlmodel")          # or "model.mlpackage"
    out = model.predict({"tenure": np.array([3.0]), "contract": np.array(["monthly"], dtype=object)})
"""

from .model import CoreMLModel, SpecError

__all__ = ["CoreMLModel", "SpecError"]
