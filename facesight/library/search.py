"""Searching and one-off analysis: faces of images measured against the library.

``SearchService`` takes its collaborators (the store and its face index folder, the
pipeline, the reference calibration and decision settings, how descriptors are matched,
where reviewed sightings come from, and how audit records are made); ``Library`` composes
it and offers ``face_index``, ``search_face``, ``identify``, ``compare`` and ``embed``.
Nothing here is stored, except the audit record of each search.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from facesight.descriptors import EMBEDDING_DIM, NearestFaces, from_euclidean, pairwise_distances
from facesight.errors import InvalidInputError, MediaError, NoFaceError
from facesight.faces import Faces
from facesight.identity.calibrate import Calibration, ReferenceCalibration
from facesight.index.face_index import FaceIndex
from facesight.index.files import MANIFEST
from facesight.library.enroll import choose_face
from facesight.library.face_index_sync import catch_up, synced_face_index
from facesight.media.images import find_media, load_image
from facesight.quality import quality_band
from facesight.records import Candidate, Comparison, FaceHit, IdentifiedFace, MediaFailure, Sighting
from facesight.scan.collection import default_workers
from facesight.scan.pool import describe_stills
from facesight.store.audit import AuditAction
from facesight.store.sqlite import Store
from facesight.vision.pipeline import AnalyzedFaces, FacePipeline

__all__ = [
    "MAX_DEPTH",
    "PAGE_LIMIT",
    "AnalyzedFaces",
    "EmbeddedFile",
    "FaceSearch",
    "SearchService",
    "analyze_photo",
]

PAGE_LIMIT = 200
"""The most stored faces one page of a search returns."""

MAX_DEPTH = 10_000
"""How deep paging reaches (offset + limit): beyond it the faces are far from the probe
(the IVF index scans a few of its lists, ``index/face_index.py``, and returns no more)."""


@dataclass(frozen=True)
class EmbeddedFile:
    """The faces of one file for the ``embed`` export, or why it failed."""

    path: str
    sha256: str | None
    faces: Faces
    failure: MediaFailure | None = None


@dataclass(frozen=True)
class FaceSearch:
    """One page of the stored faces nearest a probe face, nearest first, enrolled or not.

    ``hits`` skip the ``offset`` nearer faces; ``more``: faces lie beyond this page;
    ``searched``: the stored faces searched (the 1:N gallery each ``fmr`` and
    ``same_person`` account for); ``probe_face_id``: the stored face searched from
    (never among the hits), None for a photo; ``faces``: a photo's faces with their
    nearest enrolled people, ``probe_index`` the one searched from (1 = leftmost).
    """

    hits: list[FaceHit]
    offset: int
    more: bool
    searched: int
    probe_face_id: int | None = None
    faces: list[IdentifiedFace] | None = None
    probe_index: int | None = None


class SearchService:
    """Faces of images searched among stored faces, identified, compared or described.

    Args:
        store: the library database.
        pipeline: the models.
        index_dir: the folder of the face index (``library/face_index_sync.py``).
        max_pixels: larger images are refused.
        reference_calibration, target_fpir, max_distance: the decision settings.
        match: candidates for descriptors (``MatchService.match``).
        sightings_by_face: the reviewed sightings of these face ids.
        record_audit: make an audit record (or a notice on a read-only library).
    """

    def __init__(
        self,
        store: Store,
        pipeline: FacePipeline,
        index_dir: Path,
        *,
        max_pixels: int,
        reference_calibration: ReferenceCalibration,
        target_fpir: float,
        max_distance: float | None,
        match: Callable[..., list[list[Candidate]]],
        sightings_by_face: Callable[[list[int]], list[Sighting]],
        record_audit: Callable[..., None],
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.index_dir = index_dir
        self.max_pixels = max_pixels
        self.reference_calibration = reference_calibration
        self.target_fpir = target_fpir
        self.max_distance = max_distance
        self.match = match
        self.sightings_by_face = sightings_by_face
        self.record_audit = record_audit
        # the faiss index kept in memory between searches (a server's): (index, descriptor
        # version, largest id held, the manifest's mtime when it was synced)
        self._held: tuple[FaceIndex, str, int, int] | None = None
        self._calibration: Calibration | None = None

    def face_index(self) -> NearestFaces:
        """The search of stored faces: the database's own (PostgreSQL, pgvector), else the
        faiss index brought in step with the database (``library/face_index_sync.py``:
        counts every face, rebuilds what differs); it is kept for :meth:`search_stored`."""
        version = self.pipeline.embedder_version
        found = self.store.nearest_faces(version)
        if found is not None:
            return found
        spec = self.pipeline.embedder.spec
        dim = EMBEDDING_DIM if spec is None else spec.length
        index = synced_face_index(self.store, self.index_dir, version, dim)
        self._held = (index, version, index.max_id, self._manifest_mtime())
        return index

    def _manifest_mtime(self) -> int:
        try:
            return (self.index_dir / MANIFEST).stat().st_mtime_ns
        except OSError:
            return -1

    def _searchable(self) -> NearestFaces:
        """The index of stored faces for a request, without a pass over every face.

        The first search syncs it in full (:meth:`face_index`) and keeps it in memory;
        later ones only add the faces stored since (``catch_up``: the newest rows). A full
        sync runs again when another process rewrote the index files (an erasure there
        rebuilt them) or the newest faces were replaced. Faces deleted meanwhile are
        dropped when a search meets them (:meth:`_page`).
        """
        version = self.pipeline.embedder_version
        found = self.store.nearest_faces(version)
        if found is not None:
            return found
        held = self._held
        if held is None or held[1] != version or held[3] != self._manifest_mtime():
            return self.face_index()
        index, _, max_id, mtime = held
        caught = catch_up(self.store, index, version, max_id)
        if caught is None:
            return self.face_index()
        self._held = (index, version, caught, mtime)
        return index

    def _gallery(self, searched: int) -> Calibration:
        # Every stored face is a gallery entry of one face: a 1:N search over all of them.
        size = max(searched, 1)
        if self._calibration is None or self._calibration.people != size:
            self._calibration = Calibration(
                self.reference_calibration, (1,) * size, target_fpir=self.target_fpir
            )
        return self._calibration

    def _page(
        self,
        probe: NDArray[np.float32],
        band: str | None,
        *,
        offset: int,
        limit: int,
        skip: int | None = None,
    ) -> tuple[list[FaceHit], bool, int]:
        """(hits, more, searched): the stored faces nearest ``probe`` (1, d), ``offset``
        skipped, ``limit`` kept; ``skip``: a face id left out (the probe's own)."""
        faces = self._searchable()
        distances, ids = faces.search(probe, offset + limit + 2)
        distances = from_euclidean(distances, self.pipeline.embedder.metric)
        found = [
            (float(d), int(i))
            for d, i in zip(distances[0], ids[0], strict=True)
            if i >= 0 and i != skip
        ]
        shown = found[offset : offset + limit]
        sightings = {s.face_id: s for s in self.sightings_by_face([i for _, i in shown])}
        gone = [i for _, i in shown if i not in sightings]
        if gone and isinstance(faces, FaceIndex):  # deleted since the index was synced
            faces.remove(np.array(gone, np.int64))
        searched = len(faces)
        calibration = self._gallery(searched)
        limit_distance = self.max_distance or calibration.threshold(1, band)
        hits = [
            FaceHit(
                distance=d,
                fmr=calibration.fmr(d, 1, band),
                same_person=d <= limit_distance,
                max_distance=limit_distance,
                sighting=sightings[i],
            )
            for d, i in shown
            if i in sightings
        ]
        return hits, len(found) > offset + limit, searched

    def search_stored(self, face_id: int, *, offset: int = 0, limit: int = 50) -> FaceSearch:
        """The stored faces nearest the stored face ``face_id``, from its stored descriptor
        (nothing is analysed); the face itself is left out. Audited (``search.face``)."""
        _check_page(offset, limit)
        vector, quality, _, _ = self.store.face_probe(face_id)
        band = None if math.isnan(quality) else quality_band(quality)
        hits, more, searched = self._page(
            vector[None].astype(np.float32), band, offset=offset, limit=limit, skip=face_id
        )
        self.record_audit(
            AuditAction.SEARCH_FACE,
            faces=[face_id, *(h.sighting.face_id for h in hits)],
            details=f"from stored face {face_id}",
        )
        return FaceSearch(hits, offset, more, searched, probe_face_id=face_id)

    def search_analyzed(
        self,
        analyzed: AnalyzedFaces,
        name: str,
        version: str,
        *,
        face: int | None = None,
        offset: int = 0,
        limit: int = 50,
        top_k: int = 3,
    ) -> FaceSearch:
        """Every face of a photo analysed by ``analyze_photo`` (e.g. on a thread of its own,
        with a pipeline whose descriptors are ``version``) with its nearest enrolled people
        (as :meth:`identify`), and the stored faces nearest one of them (``face``, 1 =
        leftmost; default the largest), a page at a time; ``name`` names the photo in errors.
        Nothing is stored but the audit record (``search.face``); the photo's path is not
        recorded (an upload's is a private temporary file)."""
        _check_page(offset, limit)
        if version != self.pipeline.embedder_version:
            raise InvalidInputError(
                f"{name} was described by {version}, the library now uses"
                f" {self.pipeline.embedder_version}: search again"
            )
        faces = self._identified(analyzed, top_k)
        if len(analyzed) == 0:
            self.record_audit(AuditAction.SEARCH_FACE, details="photo: no face found")
            return FaceSearch([], offset, False, 0, faces=faces)
        if face is not None and not 1 <= face <= len(analyzed):  # a choice, not a bad photo
            raise InvalidInputError(
                f"{name}: face {face} asked for, but {len(analyzed)} face(s) found"
            )
        index_of = choose_face(analyzed, Path(name), face, largest=face is None)
        band = analyzed.quality[index_of].band
        probe = analyzed.embedding[index_of : index_of + 1]
        hits, more, searched = self._page(probe, band, offset=offset, limit=limit)
        self.record_audit(
            AuditAction.SEARCH_FACE,
            faces=[h.sighting.face_id for h in hits],
            details=f"photo: face {index_of + 1} of {len(analyzed)}",
        )
        return FaceSearch(hits, offset, more, searched, faces=faces, probe_index=index_of + 1)

    def search_face(
        self, image: str | Path, *, face: int | None = None, top_k: int = 20
    ) -> list[FaceHit]:
        """Stored faces that look like a face in ``image``, nearest first, enrolled or not.

        Args:
            face: which face of the image (1 = leftmost); default the largest.
            top_k: how many stored faces to return.

        The decision ``same_person`` treats the search as 1:N over every
        stored face: it holds the library's target FPIR for this many faces.
        """
        if top_k < 1:
            raise InvalidInputError(f"top_k must be at least 1, got {top_k}")
        path = Path(image)
        analyzed = self.pipeline.analyze(load_image(path, self.max_pixels).pixels)
        index_of = choose_face(analyzed, path, face, largest=face is None)
        probe = analyzed.embedding[index_of : index_of + 1]
        hits, _, _ = self._page(probe, analyzed.quality[index_of].band, offset=0, limit=top_k)
        self.record_audit(
            AuditAction.SEARCH_FACE,
            faces=[h.sighting.face_id for h in hits],
            paths=[os.path.abspath(path)],
        )
        return hits

    def identify(
        self, image: str | Path, *, top_k: int = 3, max_pixels: int | None = None
    ) -> list[IdentifiedFace]:
        """Every face in one image with its nearest enrolled people (nothing is stored).

        ``max_pixels`` lowers the library's pixel limit for this image (an upload's).
        """
        limit = self.max_pixels if max_pixels is None else min(max_pixels, self.max_pixels)
        analyzed = self.pipeline.analyze(load_image(image, limit).pixels)
        identified = self._identified(analyzed, top_k)
        self.record_audit(AuditAction.SEARCH_IDENTIFY, paths=[os.path.abspath(image)])
        return identified

    def _identified(self, analyzed: AnalyzedFaces, top_k: int = 3) -> list[IdentifiedFace]:
        faces = analyzed.faces
        qualities = np.array([q.score for q in analyzed.quality])
        widths = (faces.xyxy[:, 2] - faces.xyxy[:, 0]).astype(np.float64)
        ranked = self.match(analyzed.embedding, qualities, top_k=top_k, widths=widths)
        return [
            IdentifiedFace(
                i + 1,
                _xyxy(faces, i),
                float(faces.score[i]),
                ranked[i],
                list(analyzed.quality[i].warnings),
                analyzed.quality[i].score,
                list(analyzed.quality[i].reasons),
            )
            for i in range(len(faces))
        ]

    def compare(self, a: str | Path, b: str | Path) -> Comparison:
        """1:1: the distance between the largest face of each image, and what it means."""
        first, second = (self._largest_embedding(Path(p)) for p in (a, b))
        metric = self.pipeline.embedder.metric
        distance = float(pairwise_distances(first[None], second[None], metric)[0, 0])
        if not self.reference_calibration.calibrated:  # no rate to state: only a fixed limit
            limit = self.max_distance or float("nan")
            return Comparison(distance, limit, distance <= limit, "uncalibrated", float("nan"))
        table = self.reference_calibration.table(1)
        fmr = float(table.fmr(distance))
        # 1:1 is a gallery of one: the target FPIR is the target FMR.
        limit = self.max_distance or table.distance_at(self.target_fpir)
        margin = abs(math.log10(max(fmr, 1e-12) / self.target_fpir))
        strength = "strong" if margin >= 2 else "moderate" if margin >= 1 else "weak"
        return Comparison(distance, limit, distance <= limit, strength, fmr)

    def _largest_embedding(self, path: Path) -> NDArray[np.float32]:
        analyzed = self.pipeline.analyze(load_image(path, self.max_pixels).pixels)
        if len(analyzed) == 0:
            raise NoFaceError(path, "no face found")
        largest: NDArray[np.float32] = analyzed.embedding[analyzed.largest()]
        return largest

    def embed(self, paths: Iterable[str | Path], workers: int = 0) -> Iterator[EmbeddedFile]:
        """Every face of every file under ``paths`` (recursive), one record per file, in
        the walk's order.

        The files are analysed as a scan analyses them (``scan/pool.py``: worker
        processes, a few files per task, their faces described in one batch), on
        ``workers`` processes (0: one per core); nothing is stored.
        """
        found = list(find_media(paths))
        files = [str(item) for item in found if not isinstance(item, MediaError)]
        described = describe_stills(
            files, self.pipeline, max_pixels=self.max_pixels, workers=workers or default_workers()
        )
        for item in found:
            if isinstance(item, MediaError):
                yield EmbeddedFile(item.path, None, Faces.empty(), MediaFailure.from_error(item))
                continue
            file = next(described)
            if file.error is not None:
                failure = MediaFailure.from_error(file.error)
                yield EmbeddedFile(file.path, None, Faces.empty(), failure)
                continue
            faces = Faces(file.xyxy, file.score, file.kps5, file.embedding)
            yield EmbeddedFile(file.path, file.sha256, faces)


def analyze_photo(pipeline: FacePipeline, image: str | Path, max_pixels: int) -> AnalyzedFaces:
    """Decode ``image`` (refused over ``max_pixels``) and find and describe its faces with
    ``pipeline``: the part of a photo search that needs the models, not the library."""
    return pipeline.analyze(load_image(image, max_pixels).pixels)


def _check_page(offset: int, limit: int) -> None:
    if offset < 0 or not 1 <= limit <= PAGE_LIMIT or offset + limit > MAX_DEPTH:
        raise InvalidInputError(
            f"a page holds 1 to {PAGE_LIMIT} faces and reaches at most {MAX_DEPTH:,} deep"
            f" (offset {offset}, limit {limit})"
        )


def _xyxy(faces: Faces, i: int) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in faces.xyxy[i])
    return x1, y1, x2, y2
