"""The ``embed`` export: one JSON object per face (a contract other tools read).

Fields: ``path``, ``sha256``, ``frame`` (null for stills), ``xyxy`` (pixels,
float), ``kps5`` (five [x, y] pairs), ``score``, ``embedding`` (``length`` floats:
128 for the built-in dlib model), ``model`` (the name of the model that made it:
``dlib`` or a registered one) and ``length``. Fields may be added; none of these may
change meaning.
"""

from __future__ import annotations

import json

from facesight.face_models import DLIB_MODEL
from facesight.faces import Faces

__all__ = ["embed_lines"]


def embed_lines(
    path: str,
    sha256: str | None,
    faces: Faces,
    frame: int | None = None,
    *,
    model: str = DLIB_MODEL,
) -> list[str]:
    """JSON lines (without newlines) for every face of one file or video frame, made by
    the descriptor model called ``model``."""
    if faces.embedding is None:
        return []
    return [
        json.dumps(
            {
                "path": path,
                "sha256": sha256,
                "frame": frame,
                "xyxy": [float(v) for v in faces.xyxy[i]],
                "kps5": [[float(x), float(y)] for x, y in faces.kps5[i]],
                "score": float(faces.score[i]),
                "embedding": [float(v) for v in faces.embedding[i]],
                "model": model,
                "length": int(faces.embedding.shape[1]),
            }
        )
        for i in range(len(faces))
    ]
