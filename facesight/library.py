"""``Library``: the typed facade over one library directory.

Everything the command line does goes through here: enroll people, scan
collections, list sightings, identify or compare faces in images, export
descriptors, and erase a person. The directory holds ``facesight.db``
(SQLite, WAL), ``crops/`` (face crops, reference crops under
``crops/references/``) and ``models/`` (the converted ONNX models).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from facesight.detect import FaceDetector
from facesight.embed import FaceEmbedder
from facesight.errors import (
    EnrollmentError,
    InvalidInputError,
    MediaError,
    MultipleFacesError,
    NoFaceError,
    NotFoundError,
)
from facesight.faces import Faces
from facesight.match import DEFAULT_MAX_DISTANCE, Gallery, match_faces, pairwise_distances
from facesight.media import DEFAULT_MAX_PIXELS, find_media, load_image, sha256_of
from facesight.pipeline import AnalyzedFaces, FacePipeline, save_crop
from facesight.records import (
    Comparison,
    EnrollResult,
    ForgetResult,
    IdentifiedFace,
    MediaFailure,
    PersonSummary,
    ScanSummary,
    Sighting,
)
from facesight.scan import ScanEvent, ScanOptions, scan_collection
from facesight.store import ReferenceRow, Store

__all__ = ["EmbeddedFile", "Library"]


@dataclass(frozen=True)
class EmbeddedFile:
    """The faces of one file for the ``embed`` export, or why it failed."""

    path: str
    sha256: str | None
    faces: Faces
    failure: MediaFailure | None = None


def _xyxy(faces: Faces, i: int) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in faces.xyxy[i])
    return x1, y1, x2, y2


class Library:
    """One facesight library directory (created if missing).

    Args:
        path: the library directory.
        max_pixels: refuse images with more pixels (decompression-bomb guard).
        max_distance: decision threshold; lower is stricter (fewer false
            matches, more misses). 0.6 is the descriptor's customary value.
        detector, embedder: override the default models (e.g. other settings).
    """

    DB_NAME = "facesight.db"

    def __init__(
        self,
        path: str | Path,
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_distance: float = DEFAULT_MAX_DISTANCE,
        detector: FaceDetector | None = None,
        embedder: FaceEmbedder | None = None,
    ) -> None:
        if not 0.0 < max_distance < 2.0:
            raise InvalidInputError(f"max_distance must be in (0, 2), got {max_distance}")
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.crops_dir = self.path / "crops"
        self.max_pixels = max_pixels
        self.max_distance = max_distance
        self.store = Store(self.path / self.DB_NAME)
        self.pipeline = FacePipeline(
            detector or FaceDetector(),
            embedder or FaceEmbedder(cache_dir=self.path / "models"),
        )

    def close(self) -> None:
        """Close the database (checkpointing its WAL)."""
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- enrollment -----------------------------------------------------------

    def enroll(
        self,
        name: str,
        images: Iterable[str | Path],
        *,
        face: int | None = None,
        largest: bool = False,
        rematch: bool = True,
    ) -> EnrollResult:
        """Add reference images for a person (created on first use).

        An image with no face, or with several faces when neither ``face``
        (1-based, counted left to right) nor ``largest`` chooses one, is
        refused and listed in ``failures``; the other images still count.
        Small or blurred faces are enrolled with a warning. Stored faces are
        matched again against the new references unless ``rematch`` is False
        (call :meth:`rematch` once after a batch of enrollments instead).
        """
        name = " ".join(name.split())
        if not name:
            raise InvalidInputError("a person's name cannot be empty")
        result = EnrollResult(person=name, person_id=0)
        person_id = self.store.person_id(name)
        for image in images:
            try:
                person_id = self._enroll_one(name, person_id, Path(image), face, largest, result)
            except MediaError as error:
                result.failures.append(MediaFailure.from_error(error))
            except EnrollmentError as error:
                result.failures.append(MediaFailure(error.path, "refused", error.problem))
        if result.added and rematch:
            self.rematch()
        result.person_id = person_id or 0
        return result

    def _enroll_one(
        self,
        name: str,
        person_id: int | None,
        path: Path,
        face: int | None,
        largest: bool,
        result: EnrollResult,
    ) -> int | None:
        sha = sha256_of(path)
        image = load_image(path, self.max_pixels)
        analyzed = self.pipeline.analyze(image.pixels)
        index = self._choose_face(analyzed, path, face, largest)
        quality = analyzed.quality[index]
        faces = analyzed.faces
        assert faces.embedding is not None
        ref = ReferenceRow(
            source_path=os.path.abspath(path),
            source_sha256=sha,
            xyxy=faces.xyxy[index],
            kps5=faces.kps5[index],
            score=float(faces.score[index]),
            embedding=faces.embedding[index],
            warnings="; ".join(quality.warnings),
            detector=self.pipeline.detector_version,
            embedder=self.pipeline.embedder_version,
        )
        with self.store.transaction() as conn:
            person_id = person_id or self.store.add_person(conn, name)
            ref_id = self.store.add_reference(conn, person_id, ref)
            if ref_id is None:
                result.already_enrolled.append(str(path))
                return person_id
            crop = self.crops_dir / "references" / f"ref_{ref_id}.jpg"
            save_crop(image.pixels, faces.xyxy[index], crop)
            self.store.set_reference_crop(conn, ref_id, str(crop))
        result.added.append(str(path))
        result.warnings.extend(f"{path}: {w}" for w in quality.warnings)
        return person_id

    @staticmethod
    def _choose_face(analyzed: AnalyzedFaces, path: Path, face: int | None, largest: bool) -> int:
        count = len(analyzed)
        if count == 0:
            raise NoFaceError(path, "no face found; choose a photo where the face is visible")
        if face is not None:
            if not 1 <= face <= count:
                raise EnrollmentError(path, f"face {face} asked for, but {count} face(s) found")
            return face - 1
        if largest:
            return analyzed.largest()
        if count > 1:
            raise MultipleFacesError(
                path, f"{count} faces found; pick one with --face N (1 = leftmost) or --largest"
            )
        return 0

    def enroll_folders(
        self, root: str | Path, *, limit: int | None = None, largest: bool = False
    ) -> list[EnrollResult]:
        """Enroll one person per sub-folder of ``root`` (folder name, ``_`` read as space).

        Args:
            limit: use at most this many images per person (the first by name).
        """
        root = Path(root)
        if not root.is_dir():
            raise InvalidInputError(f"{root} is not a folder of per-person sub-folders")
        results = []
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            images = [p for p in find_media([folder]) if isinstance(p, Path)][:limit]
            if images:
                name = folder.name.replace("_", " ")
                results.append(self.enroll(name, images, largest=largest, rematch=False))
        if any(r.added for r in results):
            self.rematch()
        return results

    def people(self) -> list[PersonSummary]:
        """Everyone enrolled, with reference and sighting counts."""
        return self.store.list_people()

    def gallery(self) -> Gallery:
        """The current references of every enrolled person."""
        return self.store.gallery()

    # -- scanning and sightings ----------------------------------------------

    def scan(
        self,
        paths: Iterable[str | Path],
        *,
        stop_on_error: bool = False,
        on_start: Callable[[int], None] | None = None,
        on_event: Callable[[ScanEvent], None] | None = None,
    ) -> ScanSummary:
        """Scan files and folders recursively; content already scanned is skipped."""
        options = ScanOptions(self.max_pixels, self.max_distance, stop_on_error)
        return scan_collection(
            paths,
            store=self.store,
            pipeline=self.pipeline,
            gallery=self.gallery(),
            crops_dir=self.crops_dir,
            options=options,
            on_start=on_start,
            on_event=on_event,
        )

    def rematch(self) -> int:
        """Recompute every stored face's candidates against the current gallery."""
        face_ids, embeddings = self.store.face_embeddings()
        ranked = match_faces(embeddings, self.gallery(), max_distance=self.max_distance)
        self.store.replace_candidates(dict(zip((int(i) for i in face_ids), ranked, strict=True)))
        return len(face_ids)

    def sightings(
        self, person: str | None = None, *, include_unmatched: bool = False
    ) -> list[Sighting]:
        """Stored faces matched to ``person`` (or to anyone; or every face if asked)."""
        person_id = None
        if person is not None:
            person_id = self.store.person_id(person)
            if person_id is None:
                raise NotFoundError(f"nobody called {person!r} is enrolled; see `facesight people`")
        return self.store.sightings(person_id, matched_only=not include_unmatched)

    def failures(self) -> list[MediaFailure]:
        """Files that could not be used, as recorded by scans."""
        return self.store.failures()

    # -- one-off analysis -----------------------------------------------------

    def identify(self, image: str | Path, *, top_k: int = 3) -> list[IdentifiedFace]:
        """Every face in one image with its nearest enrolled people (nothing is stored)."""
        analyzed = self.pipeline.analyze(load_image(image, self.max_pixels).pixels)
        faces = analyzed.faces
        assert faces.embedding is not None
        ranked = match_faces(
            faces.embedding, self.gallery(), max_distance=self.max_distance, top_k=top_k
        )
        return [
            IdentifiedFace(
                i + 1,
                _xyxy(faces, i),
                float(faces.score[i]),
                ranked[i],
                list(analyzed.quality[i].warnings),
            )
            for i in range(len(faces))
        ]

    def compare(self, a: str | Path, b: str | Path) -> Comparison:
        """1:1: the distance between the largest face of each image, and what it means."""
        first, second = (self._largest_embedding(Path(p)) for p in (a, b))
        distance = float(pairwise_distances(first[None], second[None])[0, 0])
        margin = abs(distance - self.max_distance)
        strength = "strong" if margin >= 0.15 else "moderate" if margin >= 0.05 else "weak"
        return Comparison(distance, self.max_distance, distance <= self.max_distance, strength)

    def _largest_embedding(self, path: Path) -> NDArray[np.float32]:
        analyzed = self.pipeline.analyze(load_image(path, self.max_pixels).pixels)
        if len(analyzed) == 0:
            raise NoFaceError(path, "no face found")
        embedding = analyzed.faces.embedding
        assert embedding is not None
        largest: NDArray[np.float32] = embedding[analyzed.largest()]
        return largest

    def embed(self, paths: Iterable[str | Path]) -> Iterator[EmbeddedFile]:
        """Every face of every file under ``paths`` (recursive), one record per file."""
        for item in find_media(paths):
            if isinstance(item, MediaError):
                yield EmbeddedFile(item.path, None, Faces.empty(), MediaFailure.from_error(item))
                continue
            try:
                sha = sha256_of(item)
                pixels = load_image(item, self.max_pixels).pixels
            except MediaError as error:
                yield EmbeddedFile(str(item), None, Faces.empty(), MediaFailure.from_error(error))
                continue
            yield EmbeddedFile(str(item), sha, self.pipeline.analyze(pixels).faces)

    # -- erasure --------------------------------------------------------------

    def forget(self, name: str) -> ForgetResult:
        """Erase a person: references, descriptors, crops and candidates, leaving no trace.

        Deleted rows are overwritten (``secure_delete``) and the WAL is
        checkpointed and truncated, so the name and descriptors do not linger
        in the database files; the reference crops are deleted from disk.
        """
        person_id = self.store.person_id(name)
        if person_id is None:
            raise NotFoundError(f"nobody called {name!r} is enrolled; see `facesight people`")
        stored_name = self.store.person_name(person_id)
        with self.store.transaction() as conn:
            refs, cands, crops = self.store.delete_person(conn, person_id)
        removed = 0
        for crop in crops:
            if Path(crop).exists():
                Path(crop).unlink()
                removed += 1
        self.rematch()
        self.store.checkpoint()
        return ForgetResult(stored_name, refs, cands, removed)
