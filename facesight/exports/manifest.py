"""Manifests: a JSON list of the files an export wrote, each with its sha256 and size.

Whoever keeps a manifest (or its hash) can later show that a report or an evidence frame
was not edited after it was written. Reports (:mod:`facesight.library.reports`) and evidence
frames (``Library.write_frames``) write one beside their outputs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from facesight.files import write_text_atomically
from facesight.media.images import sha256_of

__all__ = ["MANIFEST_SCHEMA", "write_manifest"]


MANIFEST_SCHEMA = 1
"""Version of the manifest layout written by :func:`write_manifest`."""


def write_manifest(
    path: str | os.PathLike[str], files: Sequence[Path], meta: dict[str, object]
) -> None:
    """Write a JSON manifest of ``files`` (each with its sha256 and size), atomically.

    ``{"schema": MANIFEST_SCHEMA, <meta>, "files": [{"path", "sha256", "bytes"}]}``; a
    file in the manifest's own folder is named by its file name, others by full path.
    Whoever keeps the manifest can later tell whether a report file was changed.
    """
    target = Path(path)
    entries = []
    for file in files:
        name = file.name if file.resolve().parent == target.resolve().parent else str(file)
        entries.append({"path": name, "sha256": sha256_of(file), "bytes": file.stat().st_size})
    document = {"schema": MANIFEST_SCHEMA, **meta, "files": entries}
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)
    write_text_atomically(target, text + "\n", newline="")
