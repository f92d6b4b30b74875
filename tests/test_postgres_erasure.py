"""Erasure in a PostgreSQL library leaves no trace in the server's files.

After ``forget``, ``PostgresStore.checkpoint`` rewrites the touched tables (``VACUUM
(FULL, ANALYZE)``, ``REINDEX``) and checkpoints twice around a WAL switch; with
``wal_recycle = off`` (set by ``tests.postgres``, and what docs/postgresql.md asks of a
server) the WAL segments that held the erased rows are deleted, not kept for reuse. The
test reads every file of the server's data folder, and of the library's local files
folder, for the name, the descriptors and the crops' bytes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from facesight.library.facade import Library
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE
from .postgres import PostgresServer

OBAMA = sorted((PEOPLE / "Barack_Obama").glob("*.jpg"))
NAME = "Zebulon Quartermaine"
"""A name no other test stores (the server, and its WAL, are the session's)."""
OLD_NAME = "Xanthippe Marchbanks"
"""The name ``NAME`` had before a rename (a former name, erased with the person)."""


def _raw(*roots: Path) -> bytes:
    return b"".join(
        p.read_bytes() for root in roots for p in sorted(root.rglob("*")) if p.is_file()
    )


def test_forget_leaves_no_name_descriptor_or_crop_in_the_servers_files(
    postgres_server: PostgresServer,
    postgres_url: str,
    tmp_path: Path,
    detector: FaceDetector,
    embedder: FaceEmbedder,
) -> None:
    collection = tmp_path / "collection"
    collection.mkdir()
    for i, photo in enumerate(OBAMA[1:4]):
        shutil.copy(photo, collection / f"img{i}.jpg")  # file names without the name
    files = tmp_path / "files"
    with Library(postgres_url, detector=detector, embedder=embedder, files_dir=files) as lib:
        lib.enroll(OLD_NAME, OBAMA[:1])
        lib.rename(OLD_NAME, NAME)
        lib.scan([collection])
        sightings = lib.sightings(NAME)
        assert len(sightings) >= 2
        for s in sightings:
            lib.confirm(s.face_id, note=f"{NAME} at the rally")
        descriptors = [
            bytes(r["embedding"])
            for r in lib.store.query(
                "SELECT embedding FROM reference_faces UNION ALL SELECT embedding FROM faces"
            )
        ]
        crops = [bytes(r["data"]) for r in lib.store.query("SELECT data FROM crop_files")]
        assert len(crops) >= 3 and len(descriptors) >= 3
        before = _raw(postgres_server.data_dir)
        assert NAME.encode() in before and descriptors[0][:64] in before  # found when there
        assert OLD_NAME.encode() in before
        result = lib.forget(NAME, with_sightings=True)
        assert result.faces_removed == len(sightings)
        assert lib.audit.verify().ok
        assert lib.store.query("SELECT COUNT(*) AS n FROM crop_files")[0]["n"] == 0
    raw = _raw(postgres_server.data_dir, files)
    assert NAME.encode() not in raw and b"at the rally" not in raw
    assert OLD_NAME.encode() not in raw
    for descriptor in descriptors:
        assert np.frombuffer(descriptor, "<f4").size == 128
        assert descriptor[:64] not in raw
    for crop in crops:
        assert crop[200:264] not in raw
