"""Searching stored faces in PostgreSQL (pgvector): exact, then through an IVFFlat index."""

from __future__ import annotations

import numpy as np

from facesight.store.postgres import PostgresStore
from facesight.store.postgres_search import VectorSearch
from facesight.store.rows import FaceRow, MediaRow
from facesight.vision.embed import DESCRIPTOR_LENGTH


def _faces(rng: np.random.Generator, n: int) -> list[FaceRow]:
    vectors = rng.normal(size=(n, 128)).astype(np.float32)
    vectors *= DESCRIPTOR_LENGTH / np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        FaceRow(
            None,
            i,
            np.array([0, 0, 9, 9], np.float32),
            np.zeros((5, 2), np.float32),
            0.9,
            v,
            None,
            [],
        )
        for i, v in enumerate(vectors)
    ]


def test_exact_and_indexed_search_find_the_nearest_stored_faces(
    postgres_url: str, tmp_path: object
) -> None:
    rng = np.random.default_rng(0)
    with PostgresStore(postgres_url, files_dir=tmp_path) as store:  # type: ignore[arg-type]
        for n in range(10):
            media = MediaRow(f"{n:064x}", "image", 9, 9, None, None, 30, "d", "emb:1")
            store.save_media(f"/p/{n}.jpg", media, _faces(rng, 30))
        ids, vectors, _ = store.face_embeddings("emb:1")
        queries = vectors[[3, 77, 299]] + rng.normal(0, 0.01, (3, 128)).astype(np.float32)
        truth = np.argsort(np.linalg.norm(vectors[None] - queries[:, None], axis=2), axis=1)
        exact = store.nearest_faces("emb:1")
        assert len(exact) == 300
        distances, found = exact.search(queries, 5)
        np.testing.assert_array_equal(found, ids[truth[:, :5]])
        assert np.all(np.diff(distances, axis=1) >= 0)
        indexed = VectorSearch(store.connection, "emb:1", exact_up_to=100)
        _, approximate = indexed.search(queries, 5)
        assert (
            store.query(
                "SELECT COUNT(*) AS n FROM pg_indexes"
                " WHERE indexname = 'faces_embedding_ivfflat_128'"
            )[0]["n"]
            == 1
        )
        np.testing.assert_array_equal(approximate[:, 0], found[:, 0])
        _, none = store.nearest_faces("emb:2").search(queries[:1], 3)
        assert none.tolist() == [[-1, -1, -1]]
