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
from facesight.library.enroll import choose_face
from facesight.library.face_index_sync import synced_face_index
from facesight.media.images import find_media, load_image
from facesight.records import Candidate, Comparison, FaceHit, IdentifiedFace, MediaFailure, Sighting
from facesight.scan.collection import default_workers
from facesight.scan.pool import describe_stills
from facesight.store.audit import AuditAction
from facesight.store.sqlite import Store
from facesight.vision.pipeline import FacePipeline

__all__ = ["EmbeddedFile", "SearchService"]


@dataclass(frozen=True)
class EmbeddedFile:
    """The faces of one file for the ``embed`` export, or why it failed."""

    path: str
    sha256: str | None
    faces: Faces
    failure: MediaFailure | None = None


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

    def face_index(self) -> NearestFaces:
        """The search of stored faces: the database's own (PostgreSQL, pgvector), else the
        faiss index brought in step with the database (``library/face_index_sync.py``)."""
        version = self.pipeline.embedder_version
        found = self.store.nearest_faces(version)
        if found is not None:
            return found
        spec = self.pipeline.embedder.spec
        dim = EMBEDDING_DIM if spec is None else spec.length
        return synced_face_index(self.store, self.index_dir, version, dim)

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
        faces = self.face_index()
        distances, ids = faces.search(probe, top_k)
        distances = from_euclidean(distances, self.pipeline.embedder.metric)
        found = [(float(d), int(i)) for d, i in zip(distances[0], ids[0], strict=True) if i >= 0]
        sightings = {s.face_id: s for s in self.sightings_by_face([i for _, i in found])}
        self.record_audit(
            AuditAction.SEARCH_FACE, faces=[i for _, i in found], paths=[os.path.abspath(path)]
        )
        # Every stored face is a gallery entry of one face: a 1:N search over all of them.
        calibration = Calibration(
            self.reference_calibration, (1,) * max(len(faces), 1), target_fpir=self.target_fpir
        )
        band = analyzed.quality[index_of].band
        limit = self.max_distance or calibration.threshold(1, band)
        return [
            FaceHit(
                distance=d,
                fmr=calibration.fmr(d, 1, band),
                same_person=d <= limit,
                max_distance=limit,
                sighting=sightings[i],
            )
            for d, i in found
            if i in sightings
        ]

    def identify(
        self, image: str | Path, *, top_k: int = 3, max_pixels: int | None = None
    ) -> list[IdentifiedFace]:
        """Every face in one image with its nearest enrolled people (nothing is stored).

        ``max_pixels`` lowers the library's pixel limit for this image (an upload's).
        """
        limit = self.max_pixels if max_pixels is None else min(max_pixels, self.max_pixels)
        analyzed = self.pipeline.analyze(load_image(image, limit).pixels)
        faces = analyzed.faces
        qualities = np.array([q.score for q in analyzed.quality])
        widths = (faces.xyxy[:, 2] - faces.xyxy[:, 0]).astype(np.float64)
        ranked = self.match(analyzed.embedding, qualities, top_k=top_k, widths=widths)
        self.record_audit(AuditAction.SEARCH_IDENTIFY, paths=[os.path.abspath(image)])
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


def _xyxy(faces: Faces, i: int) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in faces.xyxy[i])
    return x1, y1, x2, y2
