"""Errors from dependencies reach callers as FaceSightError subclasses, fix included."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import facesight.errors as errors
from facesight.errors import FaceSightError, ModelError, StoreError, WeightsNotFoundError
from facesight.records import FailureKind, MediaFailure
from facesight.store.sqlite import Store
from facesight.vision.models.onnx import create_session
from facesight.vision.models.registry import package_dir


def test_every_error_class_is_in_the_one_tree() -> None:
    classes = [
        c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__
    ]
    assert len(classes) == len(errors.__all__)
    assert all(issubclass(c, FaceSightError) for c in classes)
    for cls in classes:
        assert cls.__name__ in (errors.__doc__ or ""), (
            f"{cls.__name__} is missing from the tree drawing"
        )


def test_sqlite_error_on_a_garbage_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "facesight.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"cannot open the library database .*facesight\.db"):
        Store(path)


def test_onnxruntime_error_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="cannot load the broken model in ONNX Runtime"):
        create_session(b"not an onnx graph", name="broken")


def test_missing_weights_package_names_the_install_command() -> None:
    with pytest.raises(WeightsNotFoundError, match="install it with: pip install no_such_models"):
        package_dir("no_such_models")


def test_every_media_error_kind_is_a_failure_kind() -> None:
    kinds = [
        c.kind
        for c in vars(errors).values()
        if isinstance(c, type)
        and c.__module__ == errors.__name__
        and issubclass(c, errors.MediaError)
    ]
    assert len(kinds) == 5
    for kind in kinds:
        assert FailureKind(kind) == kind  # the enum's values are the stored strings
    failure = MediaFailure.from_error(errors.CorruptMediaError("x.jpg", "truncated"))
    assert failure.kind is FailureKind.CORRUPT and failure.kind == "corrupt"
