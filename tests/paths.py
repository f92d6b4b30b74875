"""Paths into ../shared/faces: real images are read there, never copied into the repo."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_FACES = REPO.parent / "shared" / "faces"
PEOPLE = SHARED_FACES / "people"
GROUP = SHARED_FACES / "group"
DISTRACTORS = SHARED_FACES / "distractors"
NOFACE = SHARED_FACES / "noface"
LFW_DEV = SHARED_FACES / "lfw-dev"
