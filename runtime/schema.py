"""The input schema of a package: ordered, typed features with what the sample showed of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from .errors import PackageError

NUMERIC_TYPES = ("float", "int", "bool")
# Features whose values are strings: a category (one of a known list) or text (any string, which a text
# vectorizer in the model splits into words; manifest format 1, issue 18).
STRING_TYPES = ("category", "text")


@dataclass(frozen=True)
class Feature:
    """One input feature. `nullable`: the model accepts a missing value (null/NaN) here.
    `unknown`: for categories, "error" (the model refuses an unseen category) or "ignore"."""

    name: str
    type: str
    nullable: bool = False
    categories: tuple[str, ...] | None = None
    unknown: str = "error"
    min: float | None = None
    max: float | None = None
    missing_rate: float = 0.0
    mean: float | None = None
    std: float | None = None
    frequencies: dict[str, float] | None = None

    @property
    def numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    def to_manifest(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v is not None}
        if self.categories is not None:
            out["categories"] = list(self.categories)
        if self.type != "category":
            out.pop("unknown", None)
        return out

    @classmethod
    def from_manifest(cls, entry: dict[str, Any]) -> Feature:
        cats = entry.get("categories")
        return cls(
            name=entry["name"],
            type=entry["type"],
            nullable=bool(entry.get("nullable", False)),
            categories=tuple(cats) if cats is not None else None,
            unknown=entry.get("unknown", "error"),
            min=entry.get("min"),
            max=entry.get("max"),
            missing_rate=float(entry.get("missing_rate", 0.0)),
            mean=entry.get("mean"),
            std=entry.get("std"),
            frequencies=entry.get("frequencies"),
        )


@dataclass(frozen=True)
class IOSchema:
    """Inputs and outputs of a model as the package declares them."""

    features: tuple[Feature, ...]
    task: str  # "classification" or "regression"
    classes: tuple[Any, ...] = field(default_factory=tuple)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @cached_property
    def name_set(self) -> frozenset[str]:
        """The feature names as a set, computed once per schema object (stored on the object itself, so
        it dies with it: a cache keyed by id() would hand a new schema a dead one's names)."""
        return frozenset(f.name for f in self.features)

    def feature(self, name: str) -> Feature:
        for feat in self.features:
            if feat.name == name:
                return feat
        raise KeyError(name)

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> IOSchema:
        """The schema of a tabular (format version 1) manifest. Raises PackageError for a tensor package,
        which has no features (runtime/tensors.py reads its inputs)."""
        if "features" not in manifest.get("inputs", {}):
            raise PackageError("this is a tensor package (format version 2: named tensor inputs); this command "
                               "reads tabular packages (format version 1) only",
                               fix="score it with edgepack-score or runtime.tensor_scorer.TensorScorer; "
                                   "its build already checked every artifact (edgepack inspect shows the results)")
        return cls(
            features=tuple(Feature.from_manifest(f) for f in manifest["inputs"]["features"]),
            task=manifest["model"]["task"],
            classes=tuple(manifest["outputs"].get("classes", [])),
        )
