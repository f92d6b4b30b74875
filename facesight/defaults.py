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
    "DeviceChoice",
]

DEFAULT_TARGET_FPIR = 1e-2
"""Default target: one stranger in a hundred named as someone, whatever the gallery size."""

DEFAULT_MAX_PIXELS = 150_000_000
"""Images with more pixels are refused unread (a 150 MP camera frame still passes)."""

DEFAULT_RATE_FPS = 2.0
"""Analysed frames per second of footage, besides scene cuts."""


class DeviceChoice(StrEnum):
    """Where the networks may be asked to run (``device=``; ``vision.device`` resolves it)."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"
    TORCH_CPU = "torch-cpu"  # the PyTorch translation on the CPU, for testing
