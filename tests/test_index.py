"""FaceIndex on real descriptors: exact vs IVF search, updates, erasure, persistence, staleness.

The stored set is made the way bench/index_search.py makes it, only smaller: every face
the pipeline finds in ../shared/faces/people, plus perturbed copies of them (sigma 0.02,
back to descriptor length, so a copy lies ~0.22 from its face), queried with held-out
real faces and fresh copies. ``exact_up_to`` is lowered so that the IVF index is built.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from facesight.errors import InvalidInputError, StaleIndexError
from facesight.identity.match import pairwise_distances
from facesight.index.face_index import MANIFEST, FaceIndex, IndexMode
from facesight.media.images import load_image
from facesight.store.migrations import apply_migrations
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import DESCRIPTOR_LENGTH, FaceEmbedder
from facesight.vision.pipeline import FacePipeline

from .paths import PEOPLE

STORED = 12_000  # 256 IVF lists, 64 scanned per query: a real approximation
EXACT_UP_TO = 2_000
VERSION = "test-descriptors-v1"

Vectors = NDArray[np.float32]
Ids = NDArray[np.int64]


def perturb(base: Vectors, rng: np.random.Generator) -> Vectors:
    noisy = base + rng.normal(0.0, 0.02, base.shape).astype(np.float32)
    noisy *= DESCRIPTOR_LENGTH / np.linalg.norm(noisy, axis=1, keepdims=True)
    return noisy.astype(np.float32)


@pytest.fixture(scope="module")
def real_faces(detector: FaceDetector, embedder: FaceEmbedder) -> Vectors:
    pipeline = FacePipeline(detector, embedder)
    found = []
    for path in sorted(PEOPLE.rglob("*.jpg")):
        embedding = pipeline.analyze(load_image(path).pixels).faces.embedding
        if embedding is not None:
            found.append(embedding)
    faces = np.concatenate(found)
    assert len(faces) >= 70, len(faces)
    return faces


@pytest.fixture(scope="module")
def stored(real_faces: Vectors) -> tuple[Ids, Vectors, Vectors]:
    """(ids, vectors) to store and the queries: 10 held-out real faces + 190 fresh copies."""
    rng = np.random.default_rng(7)
    held_out, kept = real_faces[:10], real_faces[10:]
    copies = perturb(kept[rng.integers(0, len(kept), STORED - len(kept))], rng)
    vectors = np.concatenate([kept, copies])[rng.permutation(STORED)]
    ids = np.arange(1, STORED + 1, dtype=np.int64) * 3  # not row numbers
    queries = np.concatenate([held_out, perturb(kept[rng.integers(0, len(kept), 190)], rng)])
    return ids, vectors, queries


def exact_answer(ids: Ids, vectors: Vectors, queries: Vectors, k: int) -> tuple[Vectors, Ids]:
    """Brute force with match.pairwise_distances, independent of FaceIndex."""
    distances = pairwise_distances(queries, vectors)
    order = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(distances, order, 1), ids[order]


def build_incrementally(directory: Path, ids: Ids, vectors: Vectors, batch: int) -> FaceIndex:
    index = FaceIndex(directory, exact_up_to=EXACT_UP_TO, version=VERSION)
    modes = []
    for start in range(0, len(ids), batch):
        index.add(ids[start : start + batch], vectors[start : start + batch])
        modes.append(index.mode)
    assert modes[0] == IndexMode.EXACT and modes[-1] == IndexMode.IVF
    return index


def test_exact_mode_matches_brute_force(
    stored: tuple[Ids, Vectors, Vectors], tmp_path: Path
) -> None:
    ids, vectors, queries = stored
    index = FaceIndex(tmp_path, exact_up_to=STORED)
    index.add(ids, vectors)
    distances, found = index.search(queries, 10)
    want_distances, want_ids = exact_answer(ids, vectors, queries, 10)
    assert index.mode == IndexMode.EXACT
    np.testing.assert_allclose(distances, want_distances, atol=1e-5)
    assert (found[:, 0] == want_ids[:, 0]).mean() >= 0.99  # exact ties aside
    assert distances.dtype == np.float32 and found.dtype == np.int64


def test_ivf_search_agrees_with_exact_search(
    stored: tuple[Ids, Vectors, Vectors], tmp_path: Path
) -> None:
    ids, vectors, queries = stored
    index = build_incrementally(tmp_path, ids, vectors, batch=1000)
    distances, found = index.search(queries, 10)
    want_distances, _ = exact_answer(ids, vectors, queries, 10)
    assert len(index) == STORED
    recall_at_1 = (distances[:, 0] <= want_distances[:, 0] + 1e-5).mean()
    recall_at_10 = (distances <= want_distances[:, 9:10] + 1e-5).mean()
    assert recall_at_1 >= 0.98 and recall_at_10 >= 0.97, (recall_at_1, recall_at_10)
    # The distances given back are exact for the faces returned.
    rows = {key: row for row, key in enumerate(ids.tolist())}
    true = pairwise_distances(queries[:1], vectors[[rows[key] for key in found[0].tolist()]])
    np.testing.assert_allclose(distances[0], true[0], atol=1e-5)
    assert (np.diff(distances, axis=1) >= 0).all()


def test_add_existing_id_replaces_its_vector(
    stored: tuple[Ids, Vectors, Vectors], tmp_path: Path
) -> None:
    ids, vectors, queries = stored
    for exact_up_to in (STORED, EXACT_UP_TO):
        index = FaceIndex(tmp_path, exact_up_to=exact_up_to)
        index.add(ids[:5000], vectors[:5000])
        index.add(ids[:1], queries[:1])
        distances, found = index.search(queries[:1], 2)
        assert len(index) == 5000
        assert found[0, 0] == ids[0] and distances[0, 0] < 1e-6
        assert found[0, 1] != ids[0]


def test_remove_takes_faces_out_of_results_memory_and_files(
    stored: tuple[Ids, Vectors, Vectors], tmp_path: Path
) -> None:
    ids, vectors, queries = stored
    for exact_up_to in (STORED, EXACT_UP_TO):
        directory = tmp_path / f"up-to-{exact_up_to}"
        index = FaceIndex.build(directory, VERSION, ids, vectors, exact_up_to=exact_up_to)
        _, near = index.search(vectors[:1], 50)  # a face and the copies nearest it
        forgotten = near[0]
        assert index.remove(np.append(forgotten, 10**9)) == 50  # unknown ids are ignored
        assert index.remove(forgotten) == 0  # an erasure can be repeated
        _, found = index.search(np.concatenate([vectors[:1], queries]), 10)
        assert len(index) == STORED - 50
        assert not np.isin(found, forgotten).any()
        index.save()
        saved = b"".join(p.read_bytes() for p in directory.iterdir())
        kept = int(np.flatnonzero(~np.isin(ids, forgotten))[0])
        assert vectors[0].astype("<f4").tobytes() not in saved
        assert vectors[kept].astype("<f4").tobytes() in saved


def test_save_and_open_round_trip(stored: tuple[Ids, Vectors, Vectors], tmp_path: Path) -> None:
    ids, vectors, queries = stored
    for exact_up_to in (STORED, EXACT_UP_TO):
        directory = tmp_path / f"up-to-{exact_up_to}"
        built = FaceIndex.build(directory, VERSION, ids, vectors, exact_up_to=exact_up_to)
        newest = np.argsort(ids)[-16:]
        opened = FaceIndex.open(
            directory,
            VERSION,
            expected_count=STORED,
            expected_max_id=int(ids.max()),
            expected_checksum=FaceIndex.checksum_ids(ids[::-1]),
            spot_check=(ids[newest], vectors[newest]),
            exact_up_to=exact_up_to,
        )
        assert opened.mode == built.mode and len(opened) == STORED
        assert opened.max_id == int(ids.max())
        for got, want in zip(opened.search(queries, 5), built.search(queries, 5), strict=True):
            np.testing.assert_array_equal(got, want)
        assert sorted(p.name for p in directory.iterdir())[-1] == MANIFEST
        assert len(list(directory.iterdir())) == 2  # manifest + one data file


def test_open_reports_a_stale_index(stored: tuple[Ids, Vectors, Vectors], tmp_path: Path) -> None:
    ids, vectors, _ = stored
    directory = tmp_path / "index"
    FaceIndex.build(directory, VERSION, ids[:3000], vectors[:3000], exact_up_to=EXACT_UP_TO)
    top = int(ids[:3000].max())
    stale = {
        "there is no saved index": (tmp_path / "elsewhere", VERSION, {}),
        "holds descriptors of": (directory, "other-model", {}),
        "count is 3000": (directory, VERSION, {"expected_count": 2999}),
        f"max_id is {top}": (directory, VERSION, {"expected_max_id": top + 3}),
        "ids differ": (directory, VERSION, {"expected_checksum": FaceIndex.checksum_ids(ids)}),
        "spot-checked face differs": (
            directory,
            VERSION,
            {"spot_check": (ids[:1], vectors[1:2])},
        ),
    }
    for reason, (where, version, expected) in stale.items():
        with pytest.raises(StaleIndexError, match=reason):
            FaceIndex.open(where, version, **expected)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete", "manifest"])
def test_damaged_index_is_stale_and_rebuilt(
    damage: str, stored: tuple[Ids, Vectors, Vectors], tmp_path: Path
) -> None:
    ids, vectors, queries = stored
    ids, vectors = ids[:4000], vectors[:4000]
    directory = tmp_path / "index"
    FaceIndex.build(directory, VERSION, ids, vectors, exact_up_to=EXACT_UP_TO)
    data = next(p for p in directory.iterdir() if p.name != MANIFEST)
    if damage == "truncate":
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    elif damage == "garbage":
        data.write_bytes(b"\x00not an index" * (data.stat().st_size // 13))
    elif damage == "delete":
        data.unlink()
    else:
        (directory / MANIFEST).write_text('{"format": 1, "version"')
    with pytest.raises(StaleIndexError):
        FaceIndex.open(directory, VERSION)
    loads = []

    def load() -> tuple[Ids, Vectors]:
        loads.append(1)
        return ids, vectors

    expected = {"expected_count": 4000, "expected_max_id": int(ids.max())}
    index = FaceIndex.open_or_build(
        directory, VERSION, load=load, exact_up_to=EXACT_UP_TO, **expected
    )
    assert loads == [1] and index.rebuilt_because
    assert len(index) == 4000 and index.mode == IndexMode.IVF
    again = FaceIndex.open_or_build(directory, VERSION, load=load, **expected)
    assert loads == [1] and again.rebuilt_because is None
    np.testing.assert_array_equal(again.search(queries, 3)[1], index.search(queries, 3)[1])


def test_search_on_an_empty_index_returns_padding(
    stored: tuple[Ids, Vectors, Vectors], tmp_path: Path
) -> None:
    ids, vectors, queries = stored
    empty = FaceIndex(tmp_path)
    distances, found = empty.search(queries[:3], 4)
    assert distances.shape == found.shape == (3, 4)
    assert np.isinf(distances).all() and (found == -1).all()
    emptied = FaceIndex(tmp_path, exact_up_to=10)
    emptied.add(ids[:100], vectors[:100])
    emptied.remove(ids[:100])
    distances, found = emptied.search(queries[:2], 3)
    assert emptied.mode == IndexMode.IVF and len(emptied) == 0
    assert np.isinf(distances).all() and (found == -1).all()
    few = FaceIndex(tmp_path)
    few.add(ids[:2], vectors[:2])
    distances, found = few.search(queries[:1], 5)
    assert (found[0, 2:] == -1).all() and np.isinf(distances[0, 2:]).all()
    assert set(found[0, :2].tolist()) == set(ids[:2].tolist())


def test_bad_arguments_raise_invalid_input(
    stored: tuple[Ids, Vectors, Vectors], tmp_path: Path
) -> None:
    ids, vectors, _ = stored
    index = FaceIndex(tmp_path)
    bad_adds = [
        (ids[:2], vectors[:3]),  # counts differ
        (ids[:2], vectors[:2, :64]),  # wrong length
        (np.array([-1, 2]), vectors[:2]),  # negative id
        (np.array([4, 4]), vectors[:2]),  # repeated id
        (ids[:1], np.full((1, 128), np.nan, np.float32)),
    ]
    for bad_ids, bad_vectors in bad_adds:
        with pytest.raises(InvalidInputError):
            index.add(bad_ids, bad_vectors)
    with pytest.raises(InvalidInputError, match="k must be at least 1"):
        index.search(vectors[:1], 0)
    with pytest.raises(InvalidInputError, match=r"v\[None\]"):
        index.search(vectors[0], 3)
    assert len(index) == 0


def faces_database(path: Path, vectors: Vectors) -> sqlite3.Connection:
    """The library's real schema with one media row and ``vectors`` as its faces."""
    conn = sqlite3.connect(path)
    apply_migrations(conn)
    conn.execute(
        "INSERT INTO media (id, sha256, kind, width, height, face_count, detector, embedder,"
        " scanned_at) VALUES (1, 'x', 'image', 1, 1, 0, 'd', ?, 'now')",
        (VERSION,),
    )
    for number, vector in enumerate(vectors):
        insert_face(conn, number, vector)
    conn.commit()
    return conn


def insert_face(conn: sqlite3.Connection, number: int, vector: Vectors) -> None:
    conn.execute(
        "INSERT INTO faces (media_id, face_index, x1, y1, x2, y2, kps5, score, embedding)"
        " VALUES (1, ?, 0, 0, 1, 1, x'', 1.0, ?)",
        (number, vector.astype("<f4").tobytes()),
    )


def read_faces(conn: sqlite3.Connection) -> tuple[Ids, Vectors]:
    rows = conn.execute("SELECT id, embedding FROM faces ORDER BY id").fetchall()
    ids = np.array([row[0] for row in rows], np.int64)
    vectors = np.array([np.frombuffer(row[1], "<f4") for row in rows], np.float32)
    return ids, vectors.reshape(len(rows), 128)


def test_sync_with_the_faces_table_catches_a_reused_id(
    stored: tuple[Ids, Vectors, Vectors], tmp_path: Path
) -> None:
    _, vectors, queries = stored
    conn = faces_database(tmp_path / "facesight.db", vectors[:300])
    directory = tmp_path / "index"

    def state() -> dict[str, int]:
        count, max_id = conn.execute("SELECT COUNT(*), IFNULL(MAX(id), 0) FROM faces").fetchone()
        return {"expected_count": count, "expected_max_id": max_id}

    def newest() -> tuple[Ids, Vectors]:
        rows = conn.execute("SELECT id, embedding FROM faces ORDER BY id DESC LIMIT 16")
        pairs = rows.fetchall()
        ids = np.array([row[0] for row in pairs], np.int64)
        return ids, np.array([np.frombuffer(row[1], "<f4") for row in pairs], np.float32)

    FaceIndex.open_or_build(directory, VERSION, load=lambda: read_faces(conn), **state())
    # SQLite gives the deleted top id to the next face: count and max id do not change.
    conn.execute("DELETE FROM faces WHERE id = 300")
    insert_face(conn, 1000, queries[0])
    conn.commit()
    assert state() == {"expected_count": 300, "expected_max_id": 300}
    assert len(FaceIndex.open(directory, VERSION, **state())) == 300  # not caught
    index = FaceIndex.open_or_build(
        directory, VERSION, load=lambda: read_faces(conn), spot_check=newest(), **state()
    )
    assert index.rebuilt_because == "a spot-checked face differs from the database"
    distances, found = index.search(queries[:1], 1)
    assert found[0, 0] == 300 and distances[0, 0] < 1e-6
