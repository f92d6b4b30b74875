"""Enrollment: reference photos in, with their checks.

``EnrollService`` takes its collaborators (store, audit log, pipeline, crops folder,
calibration and decision settings, and what to call when references changed);
``Library`` composes it and offers ``enroll`` and ``enroll_folders``. A new reference is
checked against the person's own references (a disagreement: possibly someone else) and
against everyone else enrolled (a conflict: possibly one face under two names).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from facesight.descriptors import fuse, pairwise_distances
from facesight.errors import (
    EnrollmentError,
    InvalidInputError,
    MediaError,
    MultipleFacesError,
    NoFaceError,
)
from facesight.identity.calibrate import ReferenceCalibration
from facesight.library.conflicts import enrollment_conflicts
from facesight.media.images import find_media, load_image, sha256_of
from facesight.records import EnrollResult, FailureKind, MediaFailure
from facesight.store.audit import AuditAction, AuditLog
from facesight.store.sqlite import ReferenceRow, Store
from facesight.text import check_name, printable
from facesight.vision.pipeline import AnalyzedFaces, FacePipeline, save_crop

__all__ = ["DISAGREEMENT_FMR", "EnrollService", "choose_face"]

DISAGREEMENT_FMR = 1e-2
"""A new reference this likely to be matched by a stranger is flagged as disagreeing."""


class EnrollService:
    """Enrolling people from reference photos.

    Args:
        store, audit, pipeline: the library database, its audit log and the models.
        crops_dir: where reference crops are written.
        max_pixels: larger images are refused.
        reference_calibration, target_fpir, max_distance: the decision settings, for the
            disagreement and conflict warnings (``conflicts.enrollment_conflicts``).
        rematch: match every stored face again against the new references.
        references_changed: forget what was read of the references (the gallery cache).
    """

    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        pipeline: FacePipeline,
        crops_dir: Path,
        *,
        max_pixels: int,
        reference_calibration: ReferenceCalibration,
        target_fpir: float,
        max_distance: float | None,
        rematch: Callable[[], int],
        references_changed: Callable[[], None],
    ) -> None:
        self.store = store
        self.audit = audit
        self.pipeline = pipeline
        self.crops_dir = crops_dir
        self.max_pixels = max_pixels
        self.reference_calibration = reference_calibration
        self.target_fpir = target_fpir
        self.max_distance = max_distance
        self.rematch = rematch
        self._references_changed = references_changed

    def enroll(
        self,
        name: str,
        images: Iterable[str | Path],
        *,
        face: int | None = None,
        largest: bool = False,
        rematch: bool = True,
        region: tuple[float, float, float, float] | None = None,
    ) -> EnrollResult:
        """Add reference images for a person (created on first use).

        An image with no face, or with several faces when neither ``face``
        (1-based, counted left to right) nor ``largest`` chooses one, is
        refused and listed in ``failures``; the other images still count.
        Small or blurred faces are enrolled with a warning. Stored faces are
        matched again against the new references unless ``rematch`` is False
        (call :meth:`rematch` once after a batch of enrollments instead).
        ``region`` (x1, y1, x2, y2 in upright pixels) describes that box of each image as
        the face instead of detecting one (``FacePipeline.describe_region``).
        """
        name = check_name(name)
        person_id = self.store.person_id(name)
        if person_id is not None:  # "josé" adds to "José": one person, one spelling
            name = self.store.person_name(person_id)
        result = EnrollResult(person=name, person_id=0)
        for image in images:
            try:
                person_id = self._enroll_one(
                    name, person_id, Path(image), face, largest, result, region
                )
            except MediaError as error:
                result.failures.append(MediaFailure.from_error(error))
            except EnrollmentError as error:
                result.failures.append(MediaFailure(error.path, FailureKind.REFUSED, error.problem))
        if result.added and person_id is not None:
            with self.store.transaction() as conn:
                # No paths: file names often carry the person's name, which erasure must remove.
                self.audit.record(
                    conn,
                    AuditAction.ENROLL,
                    people=[person_id],
                    details=f"{len(result.added)} reference image(s)",
                )
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
        region: tuple[float, float, float, float] | None = None,
    ) -> int | None:
        sha = sha256_of(path)
        image = load_image(path, self.max_pixels)
        if region is None:
            analyzed = self.pipeline.analyze(image.pixels)
            index = choose_face(analyzed, path, face, largest)
        else:
            analyzed, index = self.pipeline.describe_region(image.pixels, region), 0
        quality = analyzed.quality[index]
        faces = analyzed.faces
        ref = ReferenceRow(
            source_path=os.path.abspath(path),
            source_sha256=sha,
            xyxy=faces.xyxy[index],
            kps5=faces.kps5[index],
            score=float(faces.score[index]),
            embedding=analyzed.embedding[index],
            warnings="; ".join(quality.warnings),
            detector=self.pipeline.detector_version,
            embedder=self.pipeline.embedder_version,
            quality=quality.score,
        )
        embedding = analyzed.embedding[index]
        disagreement = self._disagreement(person_id, embedding)
        conflicts = enrollment_conflicts(self, embedding, person_id)
        crop: Path | None = None
        try:
            with self.store.transaction() as conn:
                person_id = person_id or self.store.add_person(conn, name)
                ref_id = self.store.add_reference(conn, person_id, ref)
                if ref_id is None:
                    result.already_enrolled.append(str(path))
                    return person_id
                crop = self.crops_dir / "references" / f"ref_{ref_id}.jpg"
                save_crop(image.pixels, faces.xyxy[index], crop)
                self.store.set_reference_crop(conn, ref_id, str(crop))
        except BaseException:
            if crop is not None:  # the row was rolled back (a full disk): so is its crop
                crop.unlink(missing_ok=True)
            raise
        self._references_changed()
        result.added.append(str(path))
        if disagreement:
            result.disagreements.append(f"{path}: {disagreement}")
        result.warnings.extend(f"{path}: {conflict}" for conflict in conflicts)
        result.warnings.extend(f"{path}: {w}" for w in quality.warnings)
        return person_id

    def enroll_region(
        self, name: str, path: Path, region: tuple[float, float, float, float]
    ) -> None:
        """Enroll the ``region`` (upright pixels) of one image as a reference of ``name``,
        described as a face where none was detected (``import-tags --force-region``);
        stored faces are matched again.

        Raises:
            InvalidInputError: the image could not be used (the reason in words).
        """
        result = self.enroll(name, [path], region=region)
        if result.failures:
            raise InvalidInputError(result.failures[0].message)

    def _disagreement(self, person_id: int | None, embedding: NDArray[np.float32]) -> str:
        """Why a new reference may show someone else, or "" when it agrees with the others.

        It disagrees when a stranger would come as close to the person's
        current template at least 1 time in 100 (estimated FMR >= 1e-2).
        """
        if person_id is None:
            return ""
        # This person's references only: the whole gallery's calibration is not needed here.
        mine = self.store.gallery(self.pipeline.embedder_version, person_id).embeddings
        if len(mine) == 0 or not self.reference_calibration.calibrated:
            return ""
        metric = self.pipeline.embedder.metric
        distance = float(pairwise_distances(embedding[None], fuse(mine)[None], metric)[0, 0])
        fmr = float(self.reference_calibration.table(len(mine)).fmr(distance))
        if fmr < DISAGREEMENT_FMR:
            return ""
        return (
            f"this face is {distance:.3f} from the person's other {len(mine)} reference(s); "
            f"strangers come this close {fmr:.1%} of the time: possibly a different person"
        )

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
                try:
                    results.append(self.enroll(name, images, largest=largest, rematch=False))
                except InvalidInputError as error:  # one bad folder name never stops the rest
                    refused = EnrollResult(person=printable(name), person_id=0)
                    refused.failures.append(
                        MediaFailure(str(folder), FailureKind.REFUSED, str(error))
                    )
                    results.append(refused)
        if any(r.added for r in results):
            self.rematch()
        return results


def choose_face(analyzed: AnalyzedFaces, path: Path, face: int | None, largest: bool) -> int:
    """The index of the face to enroll of ``analyzed``: ``face`` (1-based, left to right),
    the largest, or the only one; else an ``EnrollmentError`` naming ``path``."""
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
