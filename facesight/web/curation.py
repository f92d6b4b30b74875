"""What the Unknown people and Conflicts pages and their API ask of the library, composed once.

Each function runs on the library's thread (``LibraryGate.run``) under the signed-in account,
and the pages and the API call the same one, so both record the same views and queue the
same jobs. No rule lives here: clustering, naming, splitting, merging and telling people
apart are ``library.unknowns`` and ``library.merge``; this module only chooses how a request
calls them. A request never re-clusters nor re-matches the library (at a million faces
either takes minutes): it reads the clusters as the last clustering job stored them
(``refresh=False``), and naming an unknown person or merging two people enrolls without
re-matching and queues a re-match job (``JobKind.REMATCH``) instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from facesight.library.conflicts import (
    AmbiguousSighting,
    Comparison,
    PersonConflict,
    ambiguous_sightings,
    comparisons,
    person_conflicts,
)
from facesight.library.facade import Library
from facesight.library.jobs import Job, JobKind, JobState
from facesight.library.merge import MergeResult, mark_different, resolve_merge
from facesight.library.review_queue import decision_state
from facesight.library.unknowns import UnknownCluster, UnknownPeople
from facesight.records import Sighting
from facesight.web.api import after_id
from facesight.web.keyset import KeysetPage, key_cursor, keyset_page, parse_key

__all__ = [
    "ClusterFaces",
    "ClusterList",
    "ConflictView",
    "Conflicts",
    "Merged",
    "Named",
    "cluster_faces",
    "cluster_list",
    "conflicts",
    "merge_people",
    "name_cluster",
    "people_different",
]


@dataclass(frozen=True)
class ClusterList:
    """A page of unknown people, when clustering last finished, and one queued or running."""

    page: KeysetPage[UnknownCluster]
    refreshed_at: str | None
    clustering: Job | None


@dataclass(frozen=True)
class ClusterFaces:
    """A page of one unknown person's faces, best quality first."""

    cluster_id: int
    page: KeysetPage[Sighting]


@dataclass(frozen=True)
class Named:
    """An unknown person enrolled under a name, and the re-match job that follows."""

    cluster_id: int
    person_id: int
    person: str
    references: list[int]
    job: Job


@dataclass(frozen=True)
class Merged:
    """Two enrolled people made one, and the re-match job that follows."""

    result: MergeResult
    job: Job


@dataclass(frozen=True)
class ConflictView:
    """A person conflict with its three comparisons, each judged by the decision."""

    conflict: PersonConflict
    comparisons: list[Comparison]


@dataclass(frozen=True)
class Conflicts:
    """Person conflicts (all: a library has few) and a page of ambiguous sightings, with
    each one's decision state (what a decision on it sends back as ``expected``)."""

    people: list[ConflictView]
    ambiguous: KeysetPage[AmbiguousSighting]
    states: dict[int, str]


def _face_cursor(s: Sighting) -> str:
    return str(s.face_id)


def _ambiguous_key(a: AmbiguousSighting) -> tuple[float, str, int]:
    return (a.fmr_ratio, a.sighting.path, a.sighting.face_id)  # ambiguous_sightings' order


def cluster_list(lib: Library, after: str | None, limit: int) -> ClusterList:
    """The unknown people as the last clustering stored them, most media first; ``after``
    is the id of the last one shown (one that is gone since starts from the first)."""
    people = UnknownPeople(lib)
    found = people.clusters_after(
        after_id(after) or None, limit=limit + 1
    )  # one more: is there a next?
    shown = found[:limit]
    more = len(found) > limit
    page = KeysetPage(shown, str(shown[-1].id) if more else None, people.count())
    lib.record_view([f for c in page.items for f in c.sample_faces], "unknown people page")
    done = lib.jobs.jobs(kind=JobKind.CLUSTER, state=JobState.DONE, limit=1)
    waiting = [
        job
        for state in (JobState.RUNNING, JobState.QUEUED)
        for job in lib.jobs.jobs(kind=JobKind.CLUSTER, state=state, limit=1)
    ]
    return ClusterList(
        page,
        done[0].finished_at if done else None,
        waiting[0] if waiting else None,
    )


def cluster_faces(lib: Library, cluster_id: int, after: str | None, limit: int) -> ClusterFaces:
    """A page of one unknown person's faces (``NotFoundError`` when it is gone); ``after``
    is the id of the last face shown (still ordered by its quality when it left since)."""
    people = UnknownPeople(lib)
    found = people.faces_after(cluster_id, after_id(after) or None, limit=limit + 1)
    shown = found[:limit]
    more = len(found) > limit
    page = KeysetPage(shown, _face_cursor(shown[-1]) if more else None, people.size(cluster_id))
    lib.record_view([s.face_id for s in page.items], f"unknown person {cluster_id}")
    return ClusterFaces(cluster_id, page)


def name_cluster(lib: Library, cluster_id: int, name: str, best: int) -> Named:
    """Enroll an unknown person's best faces as ``name``; queue the re-match."""
    people = UnknownPeople(lib)
    chosen = [s.face_id for s in people.best_faces(cluster_id, best, refresh=False)]
    person_id = people.name(cluster_id, name, best=best, refresh=False, rematch=False)
    job = lib.jobs.submit(JobKind.REMATCH, {})
    return Named(cluster_id, person_id, lib.person_name(person_id), chosen, job)


def split_cluster(
    lib: Library, cluster_id: int, face_ids: Sequence[int], as_new: bool
) -> int | None:
    """Take faces out of an unknown person (the new one's id with ``as_new``)."""
    return UnknownPeople(lib).split(cluster_id, face_ids, as_new=as_new, refresh=False)


def merge_clusters(lib: Library, into: int, other: int) -> int:
    """Join unknown person ``other`` into ``into``; ``into``'s face count."""
    return UnknownPeople(lib).merge(into, other, refresh=False)


def conflicts(lib: Library, after: str | None, limit: int) -> Conflicts:
    """Every person conflict and a page of ambiguous sightings, closest call first."""
    calibration = lib.calibration()
    people = [
        ConflictView(c, comparisons(c, calibration, lib.max_distance))
        for c in person_conflicts(lib)
    ]
    found = ambiguous_sightings(lib)
    start = parse_key(after, _ambiguous_key(found[0]) if found else None)
    page = keyset_page(found, _ambiguous_key, start, limit, lambda a: key_cursor(_ambiguous_key(a)))
    lib.record_view([a.sighting.face_id for a in page.items], "conflicts page")
    states = {a.sighting.face_id: decision_state(a.sighting) for a in page.items}
    return Conflicts(people, page, states)


def merge_people(lib: Library, keep_id: int, absorb_id: int) -> Merged:
    """Make ``absorb_id`` part of ``keep_id`` (by id); queue the re-match."""
    keep, absorb = lib.person_name(keep_id), lib.person_name(absorb_id)
    result = resolve_merge(lib, keep, absorb, rematch=False)
    lib.references_changed()  # no re-match here: the cached gallery must go all the same
    return Merged(result, lib.jobs.submit(JobKind.REMATCH, {}))


def people_different(lib: Library, first_id: int, second_id: int) -> bool:
    """Mark two enrolled people (by id) different; False when they already were."""
    return mark_different(lib, lib.person_name(first_id), lib.person_name(second_id))
