"""The defaults every edge offers (the CLI's options, next the web workspace's forms).

Kept in the kernel so an edge can show them without importing the layer that uses them
(``identity.calibrate``, ``media.images``, ``media.video``), which re-export them.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_RATE_FPS",
    "DEFAULT_TARGET_FPIR",
    "FACESIGHT_XMP_NS",
    "REFERENCE_DEVICE",
    "DeviceChoice",
]

DEFAULT_TARGET_FPIR = 1e-2
"""Default target: one stranger in a hundred named as someone, whatever the gallery size."""

DEFAULT_MAX_PIXELS = 150_000_000
"""Images with more pixels are refused unread (a 150 MP camera frame still passes)."""

DEFAULT_RATE_FPS = 2.0
"""Analysed frames per second of footage, besides scene cuts."""

FACESIGHT_XMP_NS = "https://facesight.invalid/xmp/1.0/"
"""The namespace of facesight's own XMP properties (``facesight:MediaSHA256``), written by
``exports.xmp`` and read by ``tags.mwg``; the ``.invalid`` domain says it names nothing."""


class DeviceChoice(StrEnum):
    """Where the networks may be asked to run (``device=``; ``vision.device`` resolves it)."""

    AUTO = "auto"
    CPU = "cpu"
    CPU_FP32 = "cpu-fp32"  # ONNX Runtime in float32: dlib's descriptors to 1e-6, slower
    CUDA = "cuda"
    TORCH_CPU = "torch-cpu"  # the PyTorch translation on the CPU, for testing


REFERENCE_DEVICE = DeviceChoice.CPU_FP32
"""Where the shipped calibration tables and measured rules were described: float32 descriptors,
the same on every CPU (``scripts/data/``); bfloat16 ones lie within 0.012 of them
(docs/speed.md)."""
