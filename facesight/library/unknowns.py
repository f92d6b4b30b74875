"""Unknown people: faces that match nobody, grouped across the whole library.

Every stored face that is nobody (no match under the library's decision
settings, not confirmed as anyone) can be clustered with
:func:`facesight.identity.cluster.update_clusters`; tiny or blurred faces never seed a
cluster, they can only join one. Clusters are kept in the database
(``unknown_clusters``, ``unknown_members``) and recomputed incrementally:
stored clusters keep their ids and members, new unknown faces join them or
form new clusters, faces that now match someone leave.

User decisions, each written with its audit record in one transaction:

- :meth:`UnknownPeople.name` enrolls a cluster as a person: its best faces
  become references, all its faces are confirmed as that person.
- :meth:`UnknownPeople.split` takes faces out of a cluster; they are barred
  from it for good (``unknown_exclusions``), so no refresh merges them back.
- :meth:`UnknownPeople.merge` joins two clusters.

Rows of ``unknown_clusters`` are never deleted: they are the id counter, so an
id a user once saw never names another cluster. A cluster with no members
(named, merged, or whose faces now match someone) is gone.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from facesight.errors import InvalidInputError, NotFoundError, OutputError
from facesight.face_models import DLIB_MODEL, ModelSpec
from facesight.files import write_text_atomically
from facesight.identity.calibrate import ReferenceCalibration, load_reference_calibration
from facesight.identity.cluster import cluster_distances, update_clusters
from facesight.records import Sighting
from facesight.store.audit import AuditAction, AuditLog
from facesight.store.sqlite import Store
from facesight.store.unknowns import OWN_SIGNATURE_VALUES as _OWN
from facesight.store.unknowns import ClusterMember
from facesight.vision.pipeline import FacePipeline

__all__ = [
    "SAMPLE_CROPS",
    "Appearance",
    "UnknownCluster",
    "UnknownPeople",
    "UnknownsLibrary",
    "best_first",
]

SAMPLE_CROPS = 4
"""Crops shown per cluster, best quality first."""

STATE_FILE = "unknowns-state.json"
"""In the library directory: what the database looked like at the last refresh."""

Ids = NDArray[np.int64]


class UnknownsLibrary(Protocol):
    """What ``UnknownPeople`` uses of a library (``Library`` is one): its folder, store,
    audit log and models, decision settings, sightings, and enrolling stored faces."""

    @property
    def path(self) -> Path: ...
    @property
    def store(self) -> Store: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def pipeline(self) -> FacePipeline: ...
    @property
    def target_fpir(self) -> float: ...
    @property
    def max_distance(self) -> float | None: ...
    @property
    def reference_calibration(self) -> ReferenceCalibration: ...
    @property
    def model(self) -> ModelSpec | None: ...
    def sightings(
        self, person: str | None = None, *, include_unmatched: bool = False
    ) -> list[Sighting]: ...
    def sightings_by_face(self, face_ids: list[int]) -> list[Sighting]: ...
    def enroll_faces(
        self, name: str, face_ids: Sequence[int], *, note: str = "", rematch: bool = True
    ) -> int: ...


@dataclass(frozen=True)
class Appearance:
    """One media file an unknown person appears in.

    ``spans_s`` holds each video track's (start, end) in seconds from the
    start of the video; it is empty for a still image.
    """

    path: str
    kind: str
    face_ids: tuple[int, ...]
    spans_s: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class UnknownCluster:
    """A recurring stranger: faces that match nobody and look alike.

    Attributes:
        id: the cluster's id (stable across refreshes, never reused).
        faces: how many stored faces (video tracks count once) it holds.
        media: in how many distinct media files (by content) it appears.
        sample_crops: crops of its best faces, best quality first.
        sample_faces: the ids of those faces, in the same order (the web shows crops by id).
        appearances: where it appears, one entry per media file, by path.
        first_seen, last_seen: the earliest and latest capture time of those
            media (EXIF), None when none has one.
    """

    id: int
    faces: int
    media: int
    sample_crops: tuple[str, ...]
    appearances: tuple[Appearance, ...]
    first_seen: str | None
    last_seen: str | None
    sample_faces: tuple[int, ...] = ()


class UnknownPeople:
    """The unknown people of one library: listing, refreshing, naming, splitting, merging.

    Args:
        library: the open library; its decision settings say who is unknown.
    """

    def __init__(self, library: UnknownsLibrary) -> None:
        self.library = library
        self._state_path = Path(library.path) / STATE_FILE
        self._tables = library.store.unknowns

    # -- keeping clusters current ---------------------------------------------

    def refresh(self, *, force: bool = False) -> bool:
        """Bring the clusters in step with the library; True if anything was recomputed.

        Nothing is recomputed when no face, reference, person, review or
        decision setting changed since the last refresh (unless ``force``).
        Faces that now match or are confirmed as someone leave their cluster;
        unknown faces not in a cluster join one or form new ones.
        """
        limits = self._distances()
        before = self._signature(limits)
        if not force and before == self._saved_signature():
            return False
        face_ids, vectors, qualities = self._unknown_faces()
        with self.library.store.transaction():
            steady = self._signature(limits)[:-_OWN] == before[:-_OWN]
            members = self._tables.memberships()
            keep = set(face_ids.tolist())
            self._tables.remove_faces(f for f in members if f not in keep)
            if len(face_ids):
                self._place(members, face_ids, vectors, qualities, limits)
            after = self._signature(limits)
        if steady:
            self._save_signature(after)
        return True

    def _unknown_faces(self) -> tuple[Ids, NDArray[np.float32], NDArray[np.float64]]:
        """(ids, descriptors, qualities) of the faces that are nobody, current model only."""
        unknown = [
            s.face_id for s in self.library.sightings(include_unmatched=True) if s.person is None
        ]
        store = self.library.store
        ids, vectors, qualities = store.face_embeddings(self.library.pipeline.embedder_version)
        keep = np.isin(ids, np.array(unknown, np.int64))
        return ids[keep], vectors[keep], qualities[keep]

    def _place(
        self,
        members: dict[int, int],
        face_ids: Ids,
        vectors: NDArray[np.float32],
        qualities: NDArray[np.float64],
        limits: tuple[float, float],
    ) -> None:
        labels = np.array([members.get(int(f), -1) for f in face_ids], np.int64)
        # An exclusion of a face from the cluster it is in was lifted by a merge.
        barred = [(f, c) for f, c in self._tables.exclusions() if members.get(f) != c]
        next_id = self._tables.last_cluster_id() + 1
        link, trim = limits
        placed = update_clusters(
            face_ids,
            vectors,
            qualities,
            labels,
            cannot_join=barred,
            next_label=next_id,
            max_distance=link,
            max_rms_distance=trim,
        )
        joined = (labels < 0) & (placed >= 0)
        new_ids = sorted({int(c) for c in placed[joined] if c >= next_id})
        self._tables.add_clusters(new_ids)
        self._tables.add_members(
            (int(f), int(c)) for f, c in zip(face_ids[joined], placed[joined], strict=True)
        )

    def _distances(self) -> tuple[float, float]:
        """The active model's link and trim distances (``identity.cluster.cluster_distances``)."""
        model = self.library.model
        return cluster_distances(
            self.library.reference_calibration,
            load_reference_calibration(),
            model=DLIB_MODEL if model is None else model.name,
        )

    def _signature(self, limits: tuple[float, float]) -> list[Any]:
        """What the clusters depend on; ``limits``: :meth:`_distances`, once per refresh."""
        counts = self._tables.signature()
        # the model and its limits too: another model's faces are clustered by its own
        return [
            self.library.target_fpir,
            self.library.max_distance,
            self.library.pipeline.embedder_version,
            *limits,
            *counts,
        ]

    def _saved_signature(self) -> list[Any] | None:
        try:
            saved = json.loads(self._state_path.read_text())
        except (OSError, ValueError):
            return None
        return saved if isinstance(saved, list) else None

    def _save_signature(self, signature: list[Any]) -> None:
        # Only a shortcut: a failed write means the next listing recomputes.
        with contextlib.suppress(OSError, OutputError):
            write_text_atomically(self._state_path, json.dumps(signature), make_parents=False)

    # -- reading ----------------------------------------------------------------

    def clusters(
        self, *, min_media: int = 1, limit: int | None = None, refresh: bool = True
    ) -> list[UnknownCluster]:
        """Current clusters (refreshed first), by distinct media, then faces, most first.

        Args:
            min_media: only clusters seen in at least this many media files.
            limit: at most this many clusters.
            refresh: bring the clusters in step first; False reads them as stored (the
                workspace: clustering is a background job, a page never waits for it).
        """
        if refresh:
            self.refresh()
        return self.clusters_after(None, min_media=min_media, limit=limit)

    def clusters_after(
        self, after: int | None, *, min_media: int = 1, limit: int | None = None
    ) -> list[UnknownCluster]:
        """The clusters that follow cluster ``after`` in :meth:`clusters`' order (a keyset
        page; None: the first), as stored (not refreshed).

        Counted and ordered in SQL (``UnknownTables.sizes``); only the members of the
        clusters returned are read, for their appearances and sample crops.
        """
        if min_media < 1:
            raise InvalidInputError(f"min_media must be at least 1, got {min_media}")
        if limit is not None and limit < 1:
            raise InvalidInputError(f"limit must be at least 1, got {limit}")
        sizes = self._tables.sizes(min_media=min_media, after=after, limit=limit)
        rows: dict[int, list[ClusterMember]] = {}
        for row in self._tables.members([c.cluster_id for c in sizes]):
            rows.setdefault(row.cluster_id, []).append(row)
        store = self.library.store
        return [
            replace(c, sample_crops=tuple(store.file_path(p) or p for p in c.sample_crops))
            for c in (_summary(size.cluster_id, rows[size.cluster_id]) for size in sizes)
            if c.faces
        ]

    def count(self, *, min_media: int = 1) -> int:
        """How many clusters :meth:`clusters_after` pages through, as stored."""
        return len(self._tables.sizes(min_media=min_media))

    def size(self, cluster_id: int) -> int:
        """How many faces a cluster holds, as stored (0: gone or never was)."""
        return len(self._tables.faces_of(cluster_id))

    def faces(self, cluster_id: int, *, refresh: bool = True) -> list[Sighting]:
        """The faces of a cluster (refreshed first unless ``refresh`` is False), best
        quality first.

        Raises:
            NotFoundError: no current cluster has this id.
        """
        if refresh:
            self.refresh()
        found = self.library.sightings_by_face(self._members(cluster_id))
        return sorted(found, key=_best_first)

    def faces_after(self, cluster_id: int, after: int | None, *, limit: int = 50) -> list[Sighting]:
        """At most ``limit`` faces of a cluster after face ``after`` in :meth:`faces`'
        order (a keyset page; None: the first), as stored (not refreshed).

        Raises:
            NotFoundError: no current cluster has this id.
            InvalidInputError: ``limit`` below 1.
        """
        if limit < 1:
            raise InvalidInputError(f"limit must be at least 1, got {limit}")
        ids = self._tables.faces_page(cluster_id, after=after, limit=limit)
        if not ids and after is None:
            self._members(cluster_id)  # raises: gone or never was
        found = {s.face_id: s for s in self.library.sightings_by_face(ids)}
        return [found[i] for i in ids if i in found]

    def best_faces(
        self, cluster_id: int, count: int = 3, *, refresh: bool = True
    ) -> list[Sighting]:
        """The faces :meth:`name` makes references: best quality first, one per media
        file before a second from the same one (references of varied photos)."""
        if count < 1:
            raise InvalidInputError(f"at least one face must become a reference, got {count}")
        first: dict[str, Sighting] = {}
        rest: list[Sighting] = []
        for sighting in self.faces(cluster_id, refresh=refresh):
            if sighting.sha256 in first:
                rest.append(sighting)
            else:
                first[sighting.sha256] = sighting
        return [*first.values(), *rest][:count]

    def _members(self, cluster_id: int) -> list[int]:
        members = self._tables.faces_of(cluster_id)
        if members:
            return members
        if self._tables.ever_existed(cluster_id):
            raise NotFoundError(
                f"unknown person {cluster_id} is gone (named, merged into another, or its "
                "faces now match someone); see `facesight unknowns` for the current ones"
            )
        raise NotFoundError(
            f"no unknown person has id {cluster_id}; see `facesight unknowns` for the ids"
        )

    # -- decisions ----------------------------------------------------------------

    def name(
        self,
        cluster_id: int,
        name: str,
        *,
        best: int = 3,
        note: str = "",
        refresh: bool = True,
        rematch: bool = True,
    ) -> int:
        """Enroll a cluster as the person ``name`` (created on first use); return their id.

        Its ``best`` faces (:meth:`best_faces`) become references (and are
        confirmed as that person), stored faces are matched again and the
        cluster is gone. The cluster's other faces are not confirmed by this:
        they follow as proposed matches, each with its own score, for review.
        Fewer references enroll faster but match fewer of the person's other photos.
        ``refresh`` False names the cluster as stored; ``rematch`` False leaves matching
        again to the caller (the workspace queues a re-match job).

        Raises:
            NotFoundError: no current cluster has this id.
            InvalidInputError: an empty name or ``best`` below 1.
        """
        chosen = [s.face_id for s in self.best_faces(cluster_id, best, refresh=refresh)]
        members = self._members(cluster_id)
        note = note or f"named from unknown person {cluster_id}"
        person_id = self.library.enroll_faces(name, chosen, note=note, rematch=rematch)
        with self.library.store.transaction() as conn:
            self._tables.empty_cluster(cluster_id)
            self.library.audit.record(
                conn,
                AuditAction.UNKNOWN_NAME,
                faces=members,
                people=[person_id],
                clusters=[cluster_id],
                details=f"references from faces {chosen}",
            )
        return person_id

    def split(
        self,
        cluster_id: int,
        face_ids: Sequence[int],
        *,
        as_new: bool = False,
        refresh: bool = True,
    ) -> int | None:
        """Take faces out of a cluster; they never join it again.

        With ``as_new`` they form a new cluster together (its id is returned);
        otherwise they are unclustered, and a later refresh may group them
        with other faces, never with this cluster. ``refresh`` False splits the cluster
        as stored.

        Raises:
            NotFoundError: no current cluster has this id.
            InvalidInputError: no faces, faces not in the cluster, or every face of it.
        """
        asked = sorted({int(f) for f in face_ids})
        if not asked:
            raise InvalidInputError("name at least one face to take out of the cluster")
        if refresh:
            self.refresh()
        members = self._members(cluster_id)
        outside = [f for f in asked if f not in members]
        if outside:
            raise InvalidInputError(
                f"face(s) {outside} are not in unknown person {cluster_id} (its faces: "
                f"{members}); see `facesight unknowns show {cluster_id}`"
            )
        if len(asked) == len(members):
            raise InvalidInputError(
                f"those are all {len(members)} faces of unknown person {cluster_id}: take out "
                "only the faces that do not belong"
            )
        with self.library.store.transaction() as conn:
            self._tables.exclude(cluster_id, asked)
            new_id = self._tables.new_cluster(asked) if as_new else None
            self.library.audit.record(
                conn,
                AuditAction.UNKNOWN_SPLIT,
                faces=asked,
                clusters=[cluster_id] if new_id is None else [cluster_id, new_id],
            )
        return new_id

    def merge(self, into: int, other: int, *, refresh: bool = True) -> int:
        """Join cluster ``other`` into ``into``: one person. Return ``into``'s face count.

        Faces split out of ``other`` stay out of the merged cluster; a face
        split out of one of them and now in the other is back by the user's
        decision (its exclusion is lifted). ``refresh`` False merges them as stored.

        Raises:
            NotFoundError: either cluster does not exist (now).
            InvalidInputError: the two ids are the same.
        """
        if into == other:
            raise InvalidInputError(f"cannot merge unknown person {into} with itself")
        if refresh:
            self.refresh()
        self._members(into)
        moved = self._members(other)
        with self.library.store.transaction() as conn:
            self._tables.merge(into, other)
            self.library.audit.record(
                conn, AuditAction.UNKNOWN_MERGE, faces=moved, clusters=[into, other]
            )
        return len(self._members(into))


def _best_first(s: Sighting) -> tuple[float, float, int]:
    # the store's order of a cluster's faces (``UnknownTables.faces_page``)
    quality = -1.0 if s.quality is None or s.quality != s.quality else s.quality
    return (-quality, -s.score, s.face_id)


def best_first(sighting: Sighting) -> tuple[float, float, int]:
    """The sort key of the order :meth:`UnknownPeople.faces` lists a cluster's faces in
    (best quality, then detector score, then id): pages of them are cut by it."""
    return _best_first(sighting)


def _summary(cluster_id: int, rows: list[ClusterMember]) -> UnknownCluster:
    """One cluster's record from its member rows (ordered by path, then start)."""
    by_media: dict[int, list[ClusterMember]] = {}
    for row in rows:
        by_media.setdefault(row.media_id, []).append(row)
    appearances = sorted(
        (
            Appearance(
                path=media[0].path,
                kind=media[0].kind,
                face_ids=tuple(r.face_id for r in media),
                spans_s=tuple(
                    (float(r.start_s), float(r.end_s if r.end_s is not None else r.start_s))
                    for r in media
                    if r.start_s is not None
                ),
            )
            for media in by_media.values()
        ),
        key=lambda a: a.path,
    )
    ranked = sorted(
        (r for r in rows if r.crop_path),
        key=lambda r: (-(r.quality if r.quality is not None else -1.0), -r.score, r.face_id),
    )
    captured = sorted(str(r.captured_at) for r in rows if r.captured_at)
    return UnknownCluster(
        id=cluster_id,
        faces=len(rows),
        media=len(by_media),
        sample_crops=tuple(str(r.crop_path) for r in ranked[:SAMPLE_CROPS]),
        sample_faces=tuple(r.face_id for r in ranked[:SAMPLE_CROPS]),
        appearances=tuple(appearances),
        first_seen=captured[0] if captured else None,
        last_seen=captured[-1] if captured else None,
    )
