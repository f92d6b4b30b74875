"""A network opened on first use, once, from any thread: what the detector and the
embedder share.

As immich's models do (``machine-learning/immich_ml/models/base.py``): the constructor
only records its arguments, ``load()`` is lazy and locked, and every use loads first,
so constructing a ``FaceDetector`` or ``FaceEmbedder`` costs nothing and the first
batch pays for the model.
"""

from __future__ import annotations

import copy
import threading
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray

from facesight.errors import ModelError
from facesight.vision.device import Device, resolve_device
from facesight.vision.models.session import ModelSession

__all__ = ["LazyModel"]


class LazyModel:
    """The session of one network, opened by :meth:`_open` the first time it is needed.

    Args:
        device: ``auto``, ``cpu``, ``cpu-fp32``, ``cuda`` or ``torch-cpu``
            (``facesight.vision.device``).
    """

    def __init__(self, device: str) -> None:
        self.device = device
        self._lock = threading.Lock()
        self._session: ModelSession | None = None
        self._model_version = ""

    def _open(self, device: Device) -> tuple[ModelSession, str]:
        """Open the network on ``device``; return the session and the model's version."""
        raise NotImplementedError

    def unloaded_copy(self) -> Self:
        """The same network and settings with a session of its own, opened on first use:
        for another thread that must not wait on (or share) this one's."""
        twin = copy.copy(self)
        twin._lock = threading.Lock()
        twin._session = None
        return twin

    def load(self) -> None:
        """Resolve the device and open the session once; safe to call from several threads.

        Raises:
            WeightsNotFoundError: the package holding the weights is not installed.
            ModelError: the weights cannot be parsed or run.
            DeviceError: a GPU was asked for and none works.
        """
        with self._lock:
            if self._session is None:
                self._session, self._model_version = self._open(resolve_device(self.device))

    @property
    def provider(self) -> str:
        """What runs the network, e.g. ``onnxruntime:CPUExecutionProvider``; loads the model."""
        return self._loaded().provider

    def _weights_version(self) -> str | None:
        """The version :meth:`_open` would return, named from the weights alone without
        opening a session; None when only opening tells."""
        return None

    @property
    def model_version(self) -> str:
        """The network's name and the first 12 hex of its weights' sha256.

        Named from the weights without opening the session where the model can: the
        scanning process of a scan on workers needs the versions, never the networks
        (two sessions cost it ~0.5 s of CPU and ~300 MB; ``bench/scan_stages.py``).
        """
        with self._lock:
            if not self._model_version:
                self._model_version = self._weights_version() or ""
        if not self._model_version:
            self.load()
        return self._model_version

    def _loaded(self) -> ModelSession:
        self.load()
        assert self._session is not None  # set by load()
        return self._session

    def _run_session(self, batch: NDArray[Any], what: str) -> list[NDArray[np.float32]]:
        """Run one batch; a backend's own error becomes a ``ModelError`` naming ``what``."""
        session = self._loaded()
        try:
            return session.run(batch)
        except Exception as exc:  # onnxruntime and torch raise their own untyped errors
            raise ModelError(f"{what} failed ({session.provider}): {exc}") from exc
