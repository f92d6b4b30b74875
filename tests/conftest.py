"""Shared fixtures: paths into ../shared/faces (never copied) and real models, loaded once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from facesight.library.facade import Library
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE, SHARED_FACES

# the browser and exiftool fixtures (real outside tools, shared by the report tests) and a
# real PostgreSQL with pgvector, started once per session (tests/postgres.py); the review
# workspace served for real over a scanned library (tests/workspace.py)
pytest_plugins = ["tests.tools", "tests.postgres", "tests.workspace"]


def pytest_configure(config: pytest.Config) -> None:
    if not PEOPLE.is_dir():
        raise pytest.UsageError(f"the shared face images are missing: expected {SHARED_FACES}")


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.fixture(scope="session")
def detector_fp32() -> FaceDetector:
    """RetinaFace in ONNX Runtime, float32 (``device="cpu-fp32"``)."""
    return FaceDetector(device="cpu-fp32")


@pytest.fixture(scope="session")
def embedder(models_dir: Path) -> FaceEmbedder:
    return FaceEmbedder(cache_dir=models_dir)


@pytest.fixture(scope="session")
def embedder_fp32(models_dir: Path) -> FaceEmbedder:
    """ONNX Runtime in float32: dlib's own descriptors to about 1e-6 (``device="cpu-fp32"``)."""
    return FaceEmbedder(cache_dir=models_dir, device="cpu-fp32")


@pytest.fixture
def library(tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder) -> Iterator[Library]:
    """A fresh library directory with the session's loaded models."""
    with Library(tmp_path / "lib", detector=detector, embedder=embedder) as lib:
        yield lib
