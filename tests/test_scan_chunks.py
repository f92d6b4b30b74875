"""The chunks of a distributed scan in a real library database, SQLite and PostgreSQL:
claims, leases, commits."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from facesight.descriptors import DESCRIPTOR_LENGTH
from facesight.records import FailureKind, MediaFailure
from facesight.store.rows import FaceRow, MediaRow
from facesight.store.scan_chunks import ChunkState, LeaseLostError
from facesight.store.sqlite import Store

SCAN = "scan-a"


@pytest.fixture
def store(open_any_store: Callable[..., Store]) -> Iterator[Store]:
    with open_any_store() as s:
        yield s


def _media(sha: str) -> MediaRow:
    return MediaRow(sha, "image", 10, 10, None, None, 1, "det", "emb")


def _face() -> FaceRow:
    vector = np.zeros(128, np.float32)
    vector[0] = DESCRIPTOR_LENGTH
    return FaceRow(
        frame=None,
        face_index=0,
        xyxy=np.array([1, 2, 3, 4], np.float32),
        kps5=np.zeros((5, 2), np.float32),
        score=0.9,
        embedding=vector,
        crop_path=None,
        candidates=[],
    )


def test_claim_takes_each_chunk_once_in_order(store: Store) -> None:
    store.add_scan_chunks(SCAN, [["/a", "/b"], ["/c"]])
    first = store.claim_scan_chunk(SCAN, "w1", 1000.0, 60.0, 3)
    second = store.claim_scan_chunk(SCAN, "w2", 1000.0, 60.0, 3)
    assert first is not None and second is not None
    assert (first.seq, first.paths, first.attempts) == (1, ["/a", "/b"], 1)
    assert (second.seq, second.paths) == (2, ["/c"])
    assert store.claim_scan_chunk(SCAN, "w3", 1000.0, 60.0, 3) is None
    counts = store.scan_chunk_counts(SCAN, 1000.0)
    assert (counts.pending, counts.running, counts.leased) == (0, 2, 2)


def test_claims_from_two_connections_never_share_a_chunk(
    open_any_store: Callable[..., Store],
) -> None:
    with open_any_store() as s:
        s.add_scan_chunks(SCAN, [[f"/{i}"] for i in range(40)])
    got: dict[str, list[int]] = {"w1": [], "w2": []}

    def claim_all(owner: str) -> None:
        with open_any_store(create=False) as s:
            while (chunk := s.claim_scan_chunk(SCAN, owner, 1000.0, 60.0, 3)) is not None:
                got[owner].append(chunk.id)

    threads = [threading.Thread(target=claim_all, args=(o,)) for o in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got["w1"] + got["w2"]) == len(set(got["w1"] + got["w2"])) == 40


def test_expired_lease_is_claimed_again_and_the_old_owner_cannot_commit(store: Store) -> None:
    store.add_scan_chunks(SCAN, [["/a"]])
    old = store.claim_scan_chunk(SCAN, "w1", 1000.0, 10.0, 3)
    assert old is not None
    assert store.claim_scan_chunk(SCAN, "w2", 1005.0, 10.0, 3) is None  # still leased
    new = store.claim_scan_chunk(SCAN, "w2", 1011.0, 10.0, 3)
    assert new is not None and new.id == old.id and new.attempts == 2
    with pytest.raises(LeaseLostError, match="no longer held by w1"):
        store.commit_scan_chunk(old.id, "w1", [("/a", _media("aa"), [_face()])], [], [])
    with pytest.raises(LeaseLostError):
        store.renew_scan_chunk(old.id, "w1", 2000.0)
    assert store.query("SELECT COUNT(*) FROM media")[0][0] == 0  # rolled back whole


def test_commit_stores_faces_paths_failures_and_completes_in_one_go(store: Store) -> None:
    store.add_scan_chunks(SCAN, [["/a", "/a-copy", "/bad"]])
    chunk = store.claim_scan_chunk(SCAN, "w1", 1000.0, 60.0, 3)
    assert chunk is not None
    failure = MediaFailure("/bad", FailureKind.CORRUPT, "truncated")
    ids = store.commit_scan_chunk(
        chunk.id, "w1", [("/a", _media("aa"), [_face()])], [("aa", "/a-copy")], [failure]
    )
    assert len(ids) == 1
    paths = {r[0] for r in store.query("SELECT path FROM media_paths")}
    assert paths == {"/a", "/a-copy"}
    assert store.failures() == [failure]
    assert store.scan_chunks(SCAN)[0].state == ChunkState.DONE
    assert store.finish_scan_chunks(SCAN)
    assert store.scan_chunks(SCAN) == []


def test_content_committed_by_another_chunk_only_gains_its_path(store: Store) -> None:
    store.add_scan_chunks(SCAN, [["/a"], ["/b"]])
    one = store.claim_scan_chunk(SCAN, "w1", 1000.0, 60.0, 3)
    two = store.claim_scan_chunk(SCAN, "w2", 1000.0, 60.0, 3)
    assert one is not None and two is not None
    store.commit_scan_chunk(one.id, "w1", [("/a", _media("aa"), [_face()])], [], [])
    assert store.commit_scan_chunk(two.id, "w2", [("/b", _media("aa"), [_face()])], [], []) == []
    assert store.query("SELECT COUNT(*) FROM faces")[0][0] == 1
    assert {r[0] for r in store.query("SELECT path FROM media_paths")} == {"/a", "/b"}


def test_a_dead_workers_chunk_is_released_then_failed_after_max_attempts(store: Store) -> None:
    store.add_scan_chunks(SCAN, [["/a"]])
    for attempt in (1, 2):
        chunk = store.claim_scan_chunk(SCAN, "w1", 1000.0, 60.0, 2)
        assert chunk is not None and chunk.attempts == attempt
        assert store.release_scan_chunks(SCAN, "w1", 2) == 1
    assert store.claim_scan_chunk(SCAN, "w1", 1000.0, 60.0, 2) is None
    assert store.scan_chunks(SCAN)[0].state == ChunkState.FAILED
    assert not store.finish_scan_chunks(SCAN)  # a failed chunk keeps the scan open
    assert store.reopen_scan_chunks(SCAN, 1000.0) == 1  # a rerun tries it again
    chunk = store.claim_scan_chunk(SCAN, "w2", 1000.0, 60.0, 2)
    assert chunk is not None and chunk.attempts == 1
