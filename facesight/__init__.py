"""facesight: find known people in photo collections, with the evidence for every match.

The small public API::

    from facesight import Library
    with Library("~/facesight-library") as lib:
        lib.enroll("Barack Obama", ["obama1.jpg", "obama2.jpg"])
        lib.scan(["/archive"])
        for sighting in lib.sightings("Barack Obama"):
            print(sighting.path, sighting.match)

Lower-level stages (``load_image``, ``FaceDetector``, ``align_faces``,
``FaceEmbedder``, ``match_faces``) work on plain numpy arrays.
"""

from typing import TYPE_CHECKING, Any

from facesight._version import __version__
from facesight.descriptors import Gallery
from facesight.errors import (
    CorruptMediaError,
    DeviceError,
    EnrollmentError,
    FaceSightError,
    ImageTooLargeError,
    InvalidInputError,
    MediaError,
    ModelError,
    MultipleFacesError,
    NoFaceError,
    NotFoundError,
    StaleIndexError,
    StoreError,
    UnreadableMediaError,
    UnsupportedMediaError,
    WeightsNotFoundError,
)
from facesight.faces import Faces
from facesight.records import (
    Candidate,
    Comparison,
    EnrollResult,
    ForgetResult,
    IdentifiedFace,
    MediaFailure,
    PersonSummary,
    ScanSummary,
    Sighting,
)

if TYPE_CHECKING:
    from facesight.identity.match import match_faces
    from facesight.library.facade import EmbeddedFile, Library
    from facesight.media.images import LoadedImage, load_image
    from facesight.store.sqlite import Store
    from facesight.vision.align import align_faces
    from facesight.vision.detect import FaceDetector
    from facesight.vision.embed import FaceEmbedder
    from facesight.vision.pipeline import AnalyzedFaces, FacePipeline

# Imported on first use: a scan worker imports this package before its own module, and
# the library (faiss, the services, the exports) would cost it ~0.3 s of CPU it never
# uses (bench/scan_stages.py, issue 18). ``from facesight import Library`` is unchanged.
_LAZY = {
    "match_faces": "facesight.identity.match",
    "EmbeddedFile": "facesight.library.facade",
    "Library": "facesight.library.facade",
    "LoadedImage": "facesight.media.images",
    "load_image": "facesight.media.images",
    "Store": "facesight.store.sqlite",
    "align_faces": "facesight.vision.align",
    "FaceDetector": "facesight.vision.detect",
    "FaceEmbedder": "facesight.vision.embed",
    "AnalyzedFaces": "facesight.vision.pipeline",
    "FacePipeline": "facesight.vision.pipeline",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'facesight' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AnalyzedFaces",
    "Candidate",
    "Comparison",
    "CorruptMediaError",
    "DeviceError",
    "EmbeddedFile",
    "EnrollResult",
    "EnrollmentError",
    "FaceDetector",
    "FaceEmbedder",
    "FacePipeline",
    "FaceSightError",
    "Faces",
    "ForgetResult",
    "Gallery",
    "IdentifiedFace",
    "ImageTooLargeError",
    "InvalidInputError",
    "Library",
    "LoadedImage",
    "MediaError",
    "MediaFailure",
    "ModelError",
    "MultipleFacesError",
    "NoFaceError",
    "NotFoundError",
    "PersonSummary",
    "ScanSummary",
    "Sighting",
    "StaleIndexError",
    "Store",
    "StoreError",
    "UnreadableMediaError",
    "UnsupportedMediaError",
    "WeightsNotFoundError",
    "__version__",
    "align_faces",
    "load_image",
    "match_faces",
]
