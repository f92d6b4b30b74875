"""What a search from a stored face costs as the library grows (``Library.search_stored``:
the request behind ``/search?face_id=N``), and what the first search after opening costs.

A small real library (a few shared photos scanned, one person enrolled) grows to
``--faces`` stored faces: each added face copies a real face's row with its descriptor
moved by Gaussian noise (sigma 0.02 per value, renormalised: about 0.25 from its source,
a same-person distance), spread over copies of the real media rows (1,000 faces each).
Then: the first search (the face index built from every stored face and kept in memory:
what ``facesight serve`` does once at start), ``--searches`` searches from random stored
faces (a page of 50, every figure worked out, an audit record each), and the searches
after ``--added`` more faces were stored (the kept index catches up with the newest rows).
Times are wall-clock on this machine (a shared 2-core VM when the docs cite them).

Usage: python bench/search_stored.py [--faces N] [--searches N] [--added N]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from facesight.library.facade import Library

SHARED = Path(__file__).resolve().parents[2] / "shared" / "faces"
PER_MEDIA = 1000


def _grow(db: Path, faces: int, seed: int) -> None:
    """Add ``faces`` perturbed copies of the stored faces, in new media rows."""
    rng = np.random.default_rng(seed)
    conn = sqlite3.connect(db)
    face_cols = [r[1] for r in conn.execute("PRAGMA table_info(faces)") if r[1] != "id"]
    media_cols = [r[1] for r in conn.execute("PRAGMA table_info(media)") if r[1] != "id"]
    real = conn.execute(f"SELECT {', '.join(face_cols)} FROM faces").fetchall()
    media = conn.execute("SELECT id FROM media ORDER BY id LIMIT 1").fetchone()[0]
    at_embedding, at_media = face_cols.index("embedding"), face_cols.index("media_id")
    at_index, at_crop = face_cols.index("face_index"), face_cols.index("crop_path")
    base = np.stack([np.frombuffer(r[at_embedding], np.float32) for r in real])
    length = float(np.linalg.norm(base[0]))
    done = 0
    with conn:
        while done < faces:
            batch = min(PER_MEDIA, faces - done)
            copied = [
                f"'bench-{seed}-{done}/' || {c}" if c in ("path", "sha256") else c
                for c in media_cols
            ]
            conn.execute(
                f"INSERT INTO media ({', '.join(media_cols)}) "
                f"SELECT {', '.join(copied)} FROM media WHERE id = ?",
                (media,),
            )
            media_id = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            picks = rng.integers(0, len(real), batch)
            moved = base[picks] + rng.normal(0, 0.02, (batch, base.shape[1])).astype(np.float32)
            moved *= length / np.linalg.norm(moved, axis=1, keepdims=True)
            rows = []
            for i, (pick, vector) in enumerate(zip(picks, moved, strict=True)):
                row = list(real[pick])
                row[at_embedding] = vector.astype(np.float32).tobytes()
                row[at_media], row[at_index], row[at_crop] = media_id, i, None
                rows.append(row)
            marks = ", ".join("?" * len(face_cols))
            conn.executemany(f"INSERT INTO faces ({', '.join(face_cols)}) VALUES ({marks})", rows)
            done += batch
    conn.close()


def _times_ms(lib: Library, probes: list[int]) -> list[float]:
    times = []
    for face_id in probes:
        start = time.perf_counter()
        found = lib.search_stored(face_id, limit=50)
        times.append((time.perf_counter() - start) * 1000)
        assert len(found.hits) == 50
    return times


def _summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms, max {ordered[-1]:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=200_000)
    parser.add_argument("--searches", type=int, default=50)
    parser.add_argument("--added", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        where = Path(scratch) / "lib"
        with Library(where, actor="bench") as lib:
            obama = sorted((SHARED / "people" / "Barack_Obama").glob("*.jpg"))
            lib.enroll("Barack Obama", obama[:1])
            lib.scan([*obama[1:], SHARED / "group", *sorted((SHARED / "people").iterdir())[:6]])
        start = time.perf_counter()
        _grow(where / "facesight.db", args.faces, seed=1)
        print(f"grew to {args.faces:,} more faces in {time.perf_counter() - start:.0f} s")
        with Library(where, actor="bench") as lib:
            ids, _, _ = lib.store.face_embeddings(lib.pipeline.embedder_version)
            rng = np.random.default_rng(2)
            start = time.perf_counter()
            lib.search_stored(int(ids[0]))
            first = time.perf_counter() - start
            print(f"{len(ids):,} stored faces; first search (index built, kept): {first:.1f} s")
            probes = [int(i) for i in rng.choice(ids, args.searches)]
            print(f"search_stored, a page of 50: {_summary(_times_ms(lib, probes))}")
            _grow(where / "facesight.db", args.added, seed=3)
            print(f"after {args.added} faces more: {_summary(_times_ms(lib, probes))}")


if __name__ == "__main__":
    main()
