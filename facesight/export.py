"""The ``embed`` export: one JSON object per face (a contract other tools read).

Fields: ``path``, ``sha256``, ``frame`` (null for stills), ``xyxy`` (pixels,
float), ``kps5`` (five [x, y] pairs), ``score``, ``embedding`` (128 floats).
Fields may be added; none of these may change meaning.
"""

from __future__ import annotations

import json
from typing import Protocol

from facesight.faces import Faces

__all__ = ["embed_lines"]


class _EmbeddedFile(Protocol):
    path: str
    sha256: str | None
    faces: Faces


def embed_lines(record: _EmbeddedFile, frame: int | None = None) -> list[str]:
    """JSON lines (without newlines) for every face of one file."""
    faces = record.faces
    if faces.embedding is None:
        return []
    return [
        json.dumps(
            {
                "path": record.path,
                "sha256": record.sha256,
                "frame": frame,
                "xyxy": [float(v) for v in faces.xyxy[i]],
                "kps5": [[float(x), float(y)] for x, y in faces.kps5[i]],
                "score": float(faces.score[i]),
                "embedding": [float(v) for v in faces.embedding[i]],
            }
        )
        for i in range(len(faces))
    ]
