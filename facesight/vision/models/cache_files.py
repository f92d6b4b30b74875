"""Files of the model cache: written whole beside their sha256, read only when it matches.

The cache holds what is slow to make and cheap to make again: the ONNX graph translated
from dlib's ``.dat`` file, and OpenVINO's compiled form of it. A damaged file must never
reach a network (OpenVINO runs a compiled model whose weights were overwritten without a
word, its descriptors off by 0.04), so each file's sha256 is recorded when it is written
and checked whenever it is read; a file that fails the check is made again.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from facesight.errors import ModelError
from facesight.files import atomic_file, sha256_file

__all__ = ["COMPILED_SUFFIX", "damage", "read_verified", "sidecar", "write_with_digest"]

log = logging.getLogger(__name__)

COMPILED_SUFFIX = ".ovblob"
"""The ending of OpenVINO's compiled models in the cache (``models.openvino``)."""


def sidecar(path: Path) -> Path:
    """Where the sha256 of a cached file, recorded when it was written, is kept."""
    return path.with_name(path.name + ".sha256")


def write_with_digest(path: Path, data: bytes) -> None:
    """Write ``data``, then its sha256, each via a temporary file and ``os.replace``, so
    readers never see a partial file; a failure (a full disk, a read-only library) is
    logged and leaves no temporary file: the caller goes on with what it has in memory."""
    try:
        with atomic_file(path) as handle:
            handle.write(data)
        with atomic_file(sidecar(path), "w", encoding="ascii") as handle:
            handle.write(hashlib.sha256(data).hexdigest() + "\n")
    except OSError as exc:
        log.warning("cannot cache the model at %s: %s", path, exc)


def read_verified(path: Path) -> bytes | None:
    """The file's bytes; None when it is absent, or damaged (logged: its sha256 is not the
    one recorded when it was written).

    Raises:
        ModelError: the file is there but cannot be read.
    """
    try:
        data = path.read_bytes()
        expected = sidecar(path).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read the cached model {path}: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != expected:
        log.warning("the cached model %s is damaged (sha256 differs): rebuilding it", path)
        return None
    return data


def damage(path: Path) -> str | None:
    """What is wrong with a cached file (``"<path>: <problem>"``), or None when it is whole."""
    try:
        expected = sidecar(path).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return f"{path}: no recorded sha256 (rebuilt on next use)"
    if sha256_file(path) != expected:
        return f"{path}: damaged (sha256 differs from the one built)"
    return None
