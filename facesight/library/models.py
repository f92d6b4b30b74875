"""The face-descriptor models a library knows: the built-in dlib one and registered ONNX ones.

``ModelRegistry`` takes the store and answers what ``facesight models`` lists, registers
a user's ONNX file (hashed, inspected for its output length, never copied or
downloaded), chooses the active one and keeps each model's calibration. The built-in
dlib model goes through the same calls (``models`` lists it, ``models use dlib`` goes
back to it); it has no row and its calibration is the shipped one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from facesight.descriptors import DESCRIPTOR_LENGTH, EMBEDDING_DIM
from facesight.errors import InvalidInputError, ModelError, NotFoundError
from facesight.face_models import DLIB_MODEL, Alignment, Metric, ModelSpec, check_model_name
from facesight.files import sha256_file
from facesight.identity.calibrate import ReferenceCalibration
from facesight.store.sqlite import Store
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import CHIP_SIZE_PX, FaceEmbedder
from facesight.vision.embedders import DescriptorModel, make_embedder
from facesight.vision.onnx_embedder import inspect_onnx_model
from facesight.vision.pipeline import FacePipeline

__all__ = ["ModelEntry", "ModelRegistry"]


@dataclass(frozen=True)
class ModelEntry:
    """One line of ``facesight models``.

    ``path`` is None for the built-in model (its weights ship in a package);
    ``calibration`` says where its tables come from: ``shipped``, ``measured`` (by
    ``calibrate build``) or ``none`` (nothing is matched automatically).
    """

    name: str
    builtin: bool
    active: bool
    path: str | None
    sha256: str | None
    input_px: int
    align: str
    metric: str
    length: int
    calibration: str
    added_at: str | None


class ModelRegistry:
    """The models of one library (see the module docstring).

    Args:
        store: the library database (the ``models`` table).
        shipped: dlib's shipped calibration.
        dlib: the built-in model's embedder (one instance, loaded once).
        device: where a registered model runs.
    """

    def __init__(
        self, store: Store, shipped: ReferenceCalibration, dlib: FaceEmbedder, device: str
    ) -> None:
        self.store = store
        self.shipped = shipped
        self.dlib = dlib
        self.device = device

    def embedder(self, spec: ModelSpec | None) -> DescriptorModel:
        """The descriptor model ``spec`` names (None: the built-in one), not loaded yet."""
        if spec is None:
            return self.dlib
        return make_embedder(spec, device=self.device)

    def pipeline(
        self, name: str, detector: FaceDetector
    ) -> tuple[FacePipeline, ReferenceCalibration]:
        """A pipeline running the model ``name`` (active or not) and its calibration."""
        spec = self.spec(name)
        return FacePipeline(detector, self.embedder(spec)), self.reference_for(spec)

    def entries(self) -> list[ModelEntry]:
        """The built-in model first, then every registered one by name."""
        active = self.store.active_model()
        builtin = ModelEntry(
            DLIB_MODEL,
            builtin=True,
            active=active is None,
            path=None,
            sha256=None,
            input_px=CHIP_SIZE_PX,
            align=Alignment.DLIB,
            metric=Metric.L2,
            length=EMBEDDING_DIM,
            calibration="shipped",
            added_at=None,
        )
        return [builtin] + [
            ModelEntry(
                s.name,
                builtin=False,
                active=active is not None and active.name == s.name,
                path=s.path,
                sha256=s.sha256,
                input_px=s.input_px,
                align=s.align,
                metric=s.metric,
                length=s.length,
                calibration="measured" if s.calibration is not None else "none",
                added_at=s.added_at,
            )
            for s in self.store.model_specs()
        ]

    def spec(self, name: str) -> ModelSpec | None:
        """The registered model ``name``; None for the built-in one.

        Raises:
            NotFoundError: no model has this name.
        """
        if name == DLIB_MODEL:
            return None
        for spec in self.store.model_specs():
            if spec.name == name:
                return spec
        known = ", ".join([DLIB_MODEL] + [s.name for s in self.store.model_specs()])
        raise NotFoundError(f"no model is called {name!r}; the library knows: {known}")

    def add(
        self,
        path: Path,
        *,
        name: str,
        input_px: int,
        align: str,
        mean: float = 127.5,
        std: float = 127.5,
        bgr: bool = False,
        metric: str = Metric.COSINE,
    ) -> ModelSpec:
        """Register the ONNX file at ``path`` (hashed and inspected here, not copied).

        Raises:
            InvalidInputError: the name is taken (``dlib`` always is) or a setting is wrong.
            ModelError: the file is not an ONNX face-embedding model this can feed.
        """
        check_model_name(name)
        if name == DLIB_MODEL:
            raise InvalidInputError(f"{DLIB_MODEL!r} names the built-in model; choose another")
        path = Path(path).resolve()
        if not path.is_file():
            raise NotFoundError(f"{path}: no such model file")
        try:
            Alignment(align)
            Metric(metric)
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from exc
        length = inspect_onnx_model(path, input_px)
        spec = ModelSpec(
            name=name,
            path=str(path),
            sha256=sha256_file(path),
            input_px=input_px,
            align=Alignment(align),
            mean=mean,
            std=std,
            bgr=bgr,
            metric=Metric(metric),
            length=length,
        )
        return self.store.add_model(spec)

    def use(self, name: str) -> ModelSpec | None:
        """Make ``name`` the active model; returns its spec (None: the built-in one)."""
        spec = self.spec(name)
        self.store.set_active_model(None if spec is None else spec.name)
        return spec

    def reference_for(self, spec: ModelSpec | None) -> ReferenceCalibration:
        """The impostor tables of a model: shipped (dlib), measured, or none."""
        if spec is None:
            return self.shipped
        if spec.calibration is None:
            return ReferenceCalibration.uncalibrated(f"{spec.version}+len{DESCRIPTOR_LENGTH}")
        try:
            return ReferenceCalibration.from_json(spec.calibration)
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"the calibration stored for {spec.name!r} is damaged: {exc}") from exc

    def set_calibration(self, name: str, reference: ReferenceCalibration) -> None:
        """Keep measured tables with the registered model ``name``.

        Raises:
            InvalidInputError: ``name`` is the built-in model (its tables ship with facesight).
        """
        if self.spec(name) is None:
            raise InvalidInputError(
                f"{DLIB_MODEL!r}'s tables ship with facesight "
                "(scripts/data/build_calibration.py); calibrate a registered model"
            )
        self.store.set_model_calibration(name, json.dumps(reference.to_json()))
