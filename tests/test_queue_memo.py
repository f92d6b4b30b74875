"""The review queue's memo (``store.queue.QueueMemo``) is kept across what does not change
the queue (a page's own view record, a session touch, a job heartbeat, a failed login,
a token's use, a collection) and dropped by every write that does, made by another
connection as the job worker and the CLI make them: the next page then equals what a
library opened afresh answers (``store.changes``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from facesight.face_models import Alignment, Metric, ModelSpec
from facesight.library.facade import Library
from facesight.library.review_queue import QueueFilter
from facesight.library.unknowns import UnknownPeople
from facesight.records import Decision
from facesight.store.models import add_model
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import GROUP, PEOPLE
from .workspace import copy_library, facesight

_FILTERS = (
    QueueFilter(),
    QueueFilter(category="confirmed"),
    QueueFilter(category="unmatched"),
    QueueFilter(category="manual identification"),
    QueueFilter(category="imported (unverified)"),
)


def _answers(lib: Library) -> Any:
    """What the memo keeps, as pages show it: each filter's total and first page, every
    person's counts by category, the unknowns' sizes."""
    pages = []
    for f in _FILTERS:
        page = lib.review_queue(f, limit=5)
        pages.append((page.total, [i.sighting.face_id for i in page.items]))
    people = sorted(
        (row.person.id, row.person.name, row.person.sightings, row.confirmed, row.pending)
        for row in lib.people_overview()
    )
    return pages, people, lib.store.unknowns.sizes()


@pytest.fixture
def served(
    workspace_library: Path,
    tmp_path: Path,
    detector: FaceDetector,
    embedder: FaceEmbedder,
) -> Iterator[Library]:
    """A library open as the server holds it, its memo filled by a first look."""
    path = copy_library(workspace_library, tmp_path / "lib")
    with Library(path, detector=detector, embedder=embedder) as lib:
        _answers(lib)
        yield lib


def _other(served: Library, detector: FaceDetector, embedder: FaceEmbedder) -> Library:
    """Another connection to the same file (the job worker, a CLI command)."""
    return Library(Path(served.store.path).parent, detector=detector, embedder=embedder)


def test_a_page_view_a_session_touch_and_a_job_heartbeat_keep_the_memo(
    served: Library, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    memo = served.store.queue_memo
    before, made = _answers(served), memo.made
    assert _answers(served) == before and memo.made == made  # a second look is kept
    shown = [i.sighting.face_id for i in served.review_queue(QueueFilter(), limit=5).items]
    served.record_view(shown, "review queue page")  # the page's own record, this connection
    with _other(served, detector, embedder) as other:
        other.record_view(shown, "review queue page")
        accounts, jobs = other.store.accounts, other.store.jobs
        user = accounts.users()[0]
        with other.store.transaction() as conn:
            accounts.add_session(conn, "a" * 64, user.id, "127.0.0.1", time.time())
        with other.store.transaction() as conn:
            accounts.touch_session(conn, "a" * 64, time.time() + 1)
        with other.store.transaction() as conn:
            accounts.add_failure(conn, "nobody", "127.0.0.1", time.time(), 600.0)
        with other.store.transaction() as conn:
            job = jobs.add(conn, "cluster", {}, "admin", "2026-01-01T00:00:00Z")
        with other.store.transaction() as conn:
            claimed = jobs.claim(conn, "worker-1", time.time(), "2026-01-01T00:00:01Z")
        assert claimed is not None and claimed.id == job
        with other.store.transaction() as conn:
            assert jobs.beat(conn, job, "worker-1", time.time())
        with other.store.transaction() as conn:
            token = accounts.add_token(conn, user.id, "b" * 64, "2026-01-01T00:00:00Z", None)
        with other.store.transaction() as conn:
            accounts.token_used(conn, token, "2026-01-01T00:00:02Z")
        with other.store.transaction() as conn:
            other.store.collections.add(conn, "/photos", "2026-01-01T00:00:00Z", "admin")
    assert _answers(served) == before
    assert memo.made == made, "a write the queue does not read dropped the memo"


def _decide(lib: Library) -> None:
    lib.confirm(lib.review_queue(QueueFilter(), limit=1).items[0].sighting.face_id)


def _undo(lib: Library) -> None:
    """A decision taken back: the later one stands."""
    face = lib.review_queue(QueueFilter(category="confirmed"), limit=1).items[0].sighting
    lib.reject(face.face_id, face.person)


def _scan(lib: Library) -> None:
    summary = lib.scan([GROUP / "face_recognition_two_people.jpg"])
    assert summary.failures == []


def _enroll(lib: Library) -> None:
    lib.enroll("Matt Damon", [sorted((PEOPLE / "Matt_Damon").iterdir())[0]])


def _add_reference(lib: Library) -> None:
    face = lib.review_queue(QueueFilter(category="confirmed"), limit=1).items[0].sighting
    assert face.person is not None
    lib.add_reference_from_face(face.face_id, face.person)


def _confirm_a_reference(lib: Library) -> None:
    """A second reference, so that one can be removed."""
    _decide(lib)
    _add_reference(lib)


def _remove_reference(lib: Library) -> None:
    name = next(p.name for p in lib.people() if len(lib.references(p.name)) > 1)
    lib.remove_reference(lib.references(name)[-1].id)


def _rename(lib: Library) -> None:
    lib.rename(lib.people()[0].name, "Renamed Person")


def _merge(lib: Library) -> None:
    names = sorted(p.name for p in lib.people())
    lib.merge_people(names[0], names[1])


def _forget(lib: Library) -> None:
    lib.forget(sorted(p.name for p in lib.people())[0], with_sightings=True)


def _tag(lib: Library) -> None:
    face = lib.review_queue(QueueFilter(category="unmatched"), limit=1).items[0].sighting
    person = lib.people()[0].id
    with lib.store.transaction() as conn:
        lib.store.imported_tags.add(conn, face.face_id, person, "test", "t")


def _split(lib: Library) -> None:
    unknowns = UnknownPeople(lib)
    cluster = unknowns.clusters()[0]
    members = unknowns.faces(cluster.id)
    unknowns.split(cluster.id, [members[0].face_id])


def _recluster(lib: Library) -> None:
    assert UnknownPeople(lib).refresh(force=True)


def _model(lib: Library) -> None:
    spec = ModelSpec(
        name="other",
        path="/nonexistent/other.onnx",
        sha256="0" * 64,
        input_px=112,
        align=Alignment.ARCFACE,
        mean=127.5,
        std=127.5,
        bgr=False,
        metric=Metric.COSINE,
        length=512,
        added_at="2026-01-01T00:00:00Z",
    )
    with lib.store.transaction() as conn:
        add_model(conn, spec)


def _rematch(lib: Library) -> None:
    lib.rematch()


WRITES: dict[str, tuple[Callable[[Library], None] | None, Callable[[Library], None]]] = {
    "decision": (None, _decide),
    "undo": (_decide, _undo),
    "scan": (None, _scan),
    "rematch": (None, _rematch),
    "enroll": (None, _enroll),
    "add reference": (_decide, _add_reference),
    "remove reference": (_confirm_a_reference, _remove_reference),
    "rename": (None, _rename),
    "merge": (None, _merge),
    "forget": (None, _forget),
    "tag import": (None, _tag),
    "split a cluster": (None, _split),
    "clustering": (None, _recluster),
    "model": (None, _model),
}
"""Each write the queue reads (made by another connection), after what it needs (made
by the served library's own connection, before the memo is filled)."""


@pytest.mark.parametrize("write", list(WRITES))
def test_every_write_the_queue_reads_by_another_connection_shows_on_the_next_page(
    served: Library, detector: FaceDetector, embedder: FaceEmbedder, write: str
) -> None:
    memo = served.store.queue_memo
    setup, change = WRITES[write]
    if setup is not None:
        setup(served)
    _answers(served)
    made = memo.made
    with _other(served, detector, embedder) as other:
        change(other)
    after = _answers(served)
    assert memo.made > made, f"{write} by another connection left the memo in place"
    with _other(served, detector, embedder) as fresh:
        assert after == _answers(fresh)


def test_a_rename_by_the_command_line_shows_on_the_next_page(served: Library) -> None:
    """Another process (the CLI) writes the same file."""
    old = served.people()[0].name
    _answers(served)
    made = served.store.queue_memo.made
    done = facesight(Path(served.store.path).parent, "rename", old, "Renamed By The CLI")
    assert done.returncode == 0, done.stderr
    names = {row[1] for row in _answers(served)[1]}
    assert "Renamed By The CLI" in names and old not in names
    assert served.store.queue_memo.made > made


def test_a_decision_on_this_connection_shows_on_the_next_page(served: Library) -> None:
    before = _answers(served)
    face = served.review_queue(QueueFilter(), limit=1).items[0].sighting
    assert face.decision == Decision.PENDING
    served.confirm(face.face_id)
    after = _answers(served)
    assert after[0][0][0] == before[0][0][0] - 1
    assert after[0][1][0] == before[0][1][0] + 1
