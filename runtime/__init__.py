"""edgepack's device runtime: read and verify an edge package, validate records, score with onnxruntime.

Depends on numpy and onnxruntime alone; importing it must never import scikit-learn, TensorFlow,
coremltools or pandas (a test checks sys.modules).
"""

from .errors import DataError, EdgepackError, ModelError, PackageError, RecordError, UsageError
from .judge import Metrics, ToleranceProfile, Verdict, judge
from .package import FORMAT_VERSION, ArtifactInfo, Package
from .schema import Feature, IOSchema
from .scorer import Scorer, SelfTestResult

__version__ = "0.1.0"

__all__ = [
    "ArtifactInfo", "DataError", "EdgepackError", "FORMAT_VERSION", "Feature", "IOSchema", "Metrics", "ModelError",
    "Package", "PackageError", "RecordError", "Scorer", "SelfTestResult", "ToleranceProfile", "UsageError", "Verdict",
    "__version__", "judge",
]
