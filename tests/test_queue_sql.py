"""The review queue answered in SQL (``store.queue``) gives exactly the faces, order and
totals of the Python path it replaced (every face read, decided under the library's
settings, filtered and sorted in Python: kept here as the reference), for every decision
category, sort and filter, on the workspace library with pending, confirmed, rejected,
manual, imported, unmatched and reference faces, on SQLite and on PostgreSQL; and so do
the people's counts (``Library.people``, ``people_overview``: each person's faces by
decision category, ``Store.people_counts``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from facesight.library.copy import copy_library as copy_whole
from facesight.library.facade import Library
from facesight.library.review_queue import QueueFilter, QueueSort
from facesight.quality import quality_band
from facesight.records import (
    DECISION_CATEGORIES,
    IMPORTED_CATEGORY,
    Decision,
    Sighting,
    person_id_of,
)
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .workspace import copy_library


def _key(sighting: Sighting, order: QueueSort) -> tuple[int, Any, int]:
    """The sort key the Python path used (review_queue.py before store.queue)."""
    face = sighting.face_id
    if order == QueueSort.FMR:
        named = sighting.named
        fmr = None if named is None or named.fmr != named.fmr else float(named.fmr)
        return (1, 0.0, face) if fmr is None else (0, fmr, face)
    if order == QueueSort.QUALITY:
        quality = sighting.quality
        return (1, 0.0, face) if quality is None else (0, -float(quality), face)
    captured = sighting.captured_at
    return (1, "", face) if captured is None else (0, captured, face)


def _passes(s: Sighting, f: QueueFilter, person_id: int | None) -> bool:
    """The filter the Python path applied (``_Wanted.passes``)."""
    if f.category is None and s.category not in ("machine match", IMPORTED_CATEGORY):
        return False
    if f.category is not None and s.category != f.category:
        return False
    if person_id is not None and person_id_of(s) != person_id:
        return False
    if f.quality is not None and (s.quality is None or quality_band(s.quality) != f.quality):
        return False
    if f.path and f.path.casefold() not in s.path.casefold():
        return False
    if f.kind is not None and s.kind != f.kind:
        return False
    if f.since is None and f.until is None:
        return True
    when = s.captured_at
    if when is None:
        return False
    if f.since is not None and when < f.since:
        return False
    return f.until is None or when[: len(f.until)] <= f.until


def _python_queue(
    lib: Library, every: list[Sighting], f: QueueFilter, sort: QueueSort
) -> list[int]:
    person_id = None if f.person is None else lib.store.require_person(f.person)
    return [k[2] for k in sorted(_key(s, sort) for s in every if _passes(s, f, person_id))]


def _sql_queue(lib: Library, f: QueueFilter, sort: QueueSort, limit: int) -> list[int]:
    shown: list[int] = []
    after = None
    while True:
        page = lib.review_queue(f, sort=sort, after=after, limit=limit)
        shown += [item.sighting.face_id for item in page.items]
        assert page.total >= len(shown)
        if page.next_after is None:
            assert page.total == len(shown), (f, sort)
            return shown
        after = page.next_after


def _decide_every_kind(lib: Library) -> None:
    """Confirm, reject, identify manually and import tags, so that every category and the
    cases between them (a tag of the person proposed, of another one, a rejected tag, a
    rejection then a confirmation) are in the library."""
    pending = sorted(lib.pending(), key=lambda s: s.face_id)
    people = [p.name for p in lib.people()]
    assert len(pending) >= 6 and len(people) >= 3
    lib.confirm(pending[0].face_id)
    lib.reject(pending[1].face_id)
    proposed = pending[2].person
    other = next(p for p in people if p != proposed)
    lib.confirm(pending[2].face_id, other, force=True)
    lib.reject(pending[3].face_id)
    lib.confirm(pending[3].face_id, pending[3].person, force=True)
    unmatched = [s for s in lib.sightings(include_unmatched=True) if s.category == "unmatched"]
    assert len(unmatched) >= 3
    tags = [
        (unmatched[0].face_id, people[0]),
        (unmatched[1].face_id, people[1]),
        (unmatched[1].face_id, people[2]),
        (pending[4].face_id, str(pending[4].person)),
        (pending[5].face_id, next(p for p in people if p != pending[5].person)),
        (unmatched[2].face_id, people[0]),
    ]
    with lib.store.transaction() as conn:
        for face_id, name in tags:
            lib.store.imported_tags.add(conn, face_id, lib.store.require_person(name), "test", "t")
    lib.reject(unmatched[2].face_id, people[0])


def _filters(lib: Library, every: list[Sighting]) -> list[QueueFilter]:
    people = [p.name for p in lib.people()]
    dated = sorted(s.captured_at for s in every if s.captured_at)
    found = [QueueFilter(), *(QueueFilter(category=c) for c in DECISION_CATEGORIES)]
    for name in people:
        found += [QueueFilter(person=name, category=c) for c in (None, *DECISION_CATEGORIES)]
    found += [QueueFilter(quality=band) for band in ("good", "fair", "poor")]
    found += [QueueFilter(category="unmatched", quality="fair"), QueueFilter(kind="video")]
    found += [QueueFilter(category="unmatched", kind="image"), QueueFilter(path="OBAMA")]
    found += [QueueFilter(category="unmatched", path="jpg"), QueueFilter(path="no such")]
    if dated:
        middle = dated[len(dated) // 2]
        found += [
            QueueFilter(since=middle),
            QueueFilter(until=middle[:10]),
            QueueFilter(category="unmatched", since=dated[0], until=middle),
        ]
    return found


def _compare(lib: Library) -> int:
    every = lib.sightings(include_unmatched=True)
    categories = {s.category for s in every}
    assert categories >= set(DECISION_CATEGORIES) - {"reference"}, categories
    compared = 0
    for f in _filters(lib, every):
        for sort in QueueSort:
            expected = _python_queue(lib, every, f, sort)
            assert _sql_queue(lib, f, sort, limit=4) == expected, (f, sort)
            compared += len(expected)
    return compared


def _python_people_counts(lib: Library) -> Counter[tuple[int, str]]:
    """Each person's faces by decision category as the Python path counted them (every
    matched sighting read: ``Library.people`` and ``PeopleService.overview`` before
    ``Store.people_counts``)."""
    counted: Counter[tuple[int, str]] = Counter()
    for sighting in lib.sightings():
        person_id = person_id_of(sighting)
        if person_id is not None:
            counted[person_id, sighting.category] += 1
    return counted


def _compare_people(lib: Library) -> int:
    """The SQL counts equal the Python path's for every person and category; returns how
    many faces were counted."""
    expected = _python_people_counts(lib)
    named = {"confirmed", "manual identification", "machine match", IMPORTED_CATEGORY}
    assert {category for _, category in expected} == named, expected
    people = lib.people()
    assert {p.id for p in people} == {i for i, _ in lib.people_names()}
    counts = lib.store.people_counts(lib.match_rule())
    found = Counter({(i, c): n for i, per in counts.items() for c, n in per.items() if c in named})
    assert found == expected
    confirmed = {"confirmed", "manual identification"}
    for p in people:
        mine = {c: n for (i, c), n in expected.items() if i == p.id}
        assert p.sightings == sum(mine.values()), p
    for row in lib.people_overview():
        mine = {c: n for (i, c), n in expected.items() if i == row.person.id}
        wanted = (
            sum(mine.values()),
            sum(n for c, n in mine.items() if c in confirmed),
            sum(n for c, n in mine.items() if c not in confirmed),
        )
        assert (row.person.sightings, row.confirmed, row.pending) == wanted, row
    return sum(expected.values())


@pytest.fixture(scope="module")
def decided(
    workspace_library: Path,
    tmp_path_factory: pytest.TempPathFactory,
    detector: FaceDetector,
    embedder: FaceEmbedder,
) -> Iterator[Library]:
    path = copy_library(workspace_library, tmp_path_factory.mktemp("queue-sql") / "lib")
    with Library(path, detector=detector, embedder=embedder) as lib:
        _decide_every_kind(lib)
        yield lib


COMPARED = pytest.mark.parametrize(
    "compare", [_compare, _compare_people], ids=["queue pages", "people counts"]
)
"""What each test below holds equal to the Python path: the queue's pages (every filter and
sort) and each person's counts."""


@COMPARED
def test_sql_equals_the_python_path(decided: Library, compare: Callable[[Library], int]) -> None:
    assert compare(decided) > 0


@COMPARED
def test_sql_under_a_fixed_decision_distance(
    decided: Library,
    detector: FaceDetector,
    embedder: FaceEmbedder,
    compare: Callable[[Library], int],
) -> None:
    path = Path(decided.store.path).parent
    with Library(path, detector=detector, embedder=embedder, max_distance=0.5) as lib:
        assert compare(lib) > 0


@COMPARED
def test_sql_equals_the_python_path_on_postgresql(
    decided: Library,
    postgres_url: str,
    detector: FaceDetector,
    embedder: FaceEmbedder,
    compare: Callable[[Library], int],
) -> None:
    copy_whole(Path(decided.store.path).parent, postgres_url)
    with Library(postgres_url, detector=detector, embedder=embedder) as lib:
        assert compare(lib) > 0


def test_a_decision_by_another_connection_shows_on_the_next_page(
    decided: Library, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    before = decided.review_queue(QueueFilter(), limit=2)  # what pages share is kept now
    face = before.items[0].sighting
    path = Path(decided.store.path).parent
    with Library(path, detector=detector, embedder=embedder) as other:
        other.confirm(face.face_id)
    after = decided.review_queue(QueueFilter(), limit=2)
    assert after.total == before.total - 1
    assert face.face_id not in [i.sighting.face_id for i in after.items]
    confirmed = _sql_queue(decided, QueueFilter(category="confirmed"), QueueSort.FMR, 50)
    assert face.face_id in confirmed


def test_a_decision_by_another_connection_shows_in_the_people_counts(
    decided: Library, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    face = decided.review_queue(QueueFilter(), limit=1).items[0].sighting
    person_id = person_id_of(face)
    before = {row.person.id: row for row in decided.people_overview()}  # kept now
    path = Path(decided.store.path).parent
    with Library(path, detector=detector, embedder=embedder) as other:
        other.confirm(face.face_id)
    after = {row.person.id: row for row in decided.people_overview()}
    assert person_id is not None and face.decision == Decision.PENDING
    assert after[person_id].confirmed == before[person_id].confirmed + 1
    assert after[person_id].pending == before[person_id].pending - 1
    assert _compare_people(decided) > 0
