"""``Library``: the typed facade over one library directory.

Everything the command line does goes through here: enroll people, scan
collections, list sightings, identify or compare faces in images, export
descriptors, and erase a person. The directory holds ``facesight.db``
(SQLite, WAL), ``crops/`` (face crops, reference crops under
``crops/references/``; the database names them relative to the library, so
it can be copied or moved), ``models/`` (the converted ONNX models, checked
against their recorded sha256), ``index/`` and ``cache/``; private to its
owner (folders 0700, files 0600).
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facesight.defaults import DEFAULT_MAX_PIXELS, DEFAULT_RATE_FPS, DEFAULT_TARGET_FPIR
from facesight.descriptors import Gallery, pairwise_distances
from facesight.errors import (
    EnrollmentError,
    InvalidInputError,
    MediaError,
    NoFaceError,
    NotFoundError,
    StoreError,
)
from facesight.exports.frames import FrameWritten, write_sighting_frames
from facesight.exports.manifest import write_manifest
from facesight.faces import Faces, box_iou
from facesight.identity.calibrate import (
    Calibration,
    ReferenceCalibration,
    load_reference_calibration,
)
from facesight.identity.match import calibrate_gallery, match_faces
from facesight.index.face_index import FaceIndex
from facesight.library.directory import (
    LIBRARY_FOLDERS,
    TEMP_GRACE_S,
    is_library,
    make_private_dir,
    sweep_leftovers,
    tighten_permissions,
)
from facesight.library.doctor import DoctorReport, examine_library
from facesight.library.enroll import DISAGREEMENT_FMR, EnrollService, choose_face
from facesight.library.face_index_sync import synced_face_index
from facesight.library.review import ReviewService
from facesight.media.images import find_media, load_image, sha256_of
from facesight.quality import quality_band
from facesight.records import (
    Candidate,
    Comparison,
    EnrollResult,
    FaceHit,
    ForgetResult,
    IdentifiedFace,
    MediaFailure,
    PersonSummary,
    ScanEvent,
    ScanSummary,
    Sighting,
    person_id_of,
)
from facesight.scan.collection import ScanOptions, scan_collection
from facesight.scan.workers import PipelineSpec
from facesight.store.audit import AuditAction, os_account
from facesight.store.connection import ReadOnlyLibraryError
from facesight.store.reviews import apply_reviews
from facesight.store.sqlite import MatchRule, Store
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder
from facesight.vision.pipeline import FacePipeline

__all__ = ["DISAGREEMENT_FMR", "FRAMES_MANIFEST", "EmbeddedFile", "Library", "ReindexResult"]

FRAMES_MANIFEST = "manifest.json"
"""The manifest :meth:`Library.write_frames` writes in the folder of evidence frames."""


@dataclass(frozen=True)
class EmbeddedFile:
    """The faces of one file for the ``embed`` export, or why it failed."""

    path: str
    sha256: str | None
    faces: Faces
    failure: MediaFailure | None = None


@dataclass
class ReindexResult:
    """What :meth:`Library.reindex` did."""

    references_updated: int = 0
    failures: list[MediaFailure] = field(default_factory=list)
    media: ScanSummary = field(default_factory=ScanSummary)


def _xyxy(faces: Faces, i: int) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in faces.xyxy[i])
    return x1, y1, x2, y2


class Library:
    """One facesight library directory (created if missing, unless ``create=False``).

    Args:
        path: the library directory.
        max_pixels: refuse images with more pixels (decompression-bomb guard).
        target_fpir: the identification decision's target false-positive
            identification rate: the chance that a stranger is named as
            someone, whatever the gallery size (see ``calibrate``).
        max_distance: a fixed decision distance instead of the calibrated
            one (lower is stricter); estimated rates are still reported.
        device: where the networks run: ``auto`` (a GPU when one works, else
            the CPU), ``cpu`` or ``cuda`` (a GPU or a ``DeviceError``); see
            ``facesight.vision.device``.
        detector, embedder: override the default models (e.g. other settings).
        actor: the name the user claims (``--user``), recorded in the audit
            log beside the operating-system account and with review
            decisions (default: none claimed; the account's name is used).
        create: create the library when missing (private: 0700/0600);
            else a missing library (or an empty database file) is a
            ``NotFoundError``. The command line creates only in ``init``,
            ``enroll`` and ``scan``.
        read_only: open without writing anything; None: when the directory or
            database cannot be written (a read-only mount). Reading works;
            audit records cannot be made and ``notices`` says so.

    ``notices`` collects what the caller should tell the user once (permissions
    tightened, leftovers of a killed command removed, read-only).
    """

    DB_NAME = "facesight.db"

    def __init__(
        self,
        path: str | Path,
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        target_fpir: float = DEFAULT_TARGET_FPIR,
        max_distance: float | None = None,
        device: str = "auto",
        detector: FaceDetector | None = None,
        embedder: FaceEmbedder | None = None,
        actor: str | None = None,
        create: bool = True,
        read_only: bool | None = None,
    ) -> None:
        if max_distance is not None and not 0.0 < max_distance < 2.0:
            raise InvalidInputError(f"max_distance must be in (0, 2), got {max_distance}")
        if not 0.0 < target_fpir < 1.0:
            raise InvalidInputError(f"target FPIR must be in (0, 1), got {target_fpir}")
        self.path = Path(path)
        self.notices: list[str] = []
        self.read_only = self._prepare_dir(create, read_only)
        self.crops_dir = self.path / "crops"
        self.max_pixels = max_pixels
        self.max_distance = max_distance
        self.target_fpir = target_fpir
        self.reference_calibration: ReferenceCalibration = load_reference_calibration()
        self._gallery: tuple[Gallery, Calibration] | None = None
        self.store = Store(self.path / self.DB_NAME, create=create, read_only=self.read_only)
        if not self.read_only:
            self._start_session()
        self.audit = self.store.audit_log(actor)
        if not self.read_only:  # a read-only library cannot restore them; verify says so
            self.audit.ensure_triggers()
        self.reviews = self.store.review_book(self.audit)
        self.pipeline = FacePipeline(
            detector or FaceDetector(device=device),
            embedder or FaceEmbedder(cache_dir=self.path / "models", device=device),
        )
        self._enroll = EnrollService(
            self.store,
            self.audit,
            self.pipeline,
            self.crops_dir,
            max_pixels=max_pixels,
            reference_calibration=self.reference_calibration,
            target_fpir=target_fpir,
            max_distance=max_distance,
            rematch=self.rematch,
            references_changed=self._drop_gallery,
        )
        self._review = ReviewService(
            self.store,
            self.reviews,
            self.audit,
            self.crops_dir,
            sightings_by_face=self.sightings_by_face,
            sightings=self.sightings,
            rematch=self.rematch,
        )

    def _prepare_dir(self, create: bool, read_only: bool | None) -> bool:
        """Check or create the directory; return whether to open it read-only."""
        if not is_library(self.path, self.DB_NAME):
            if not create:
                raise NotFoundError(
                    f"the library {self.path} does not exist (no {self.DB_NAME} in it): "
                    "check --library, or create it with `facesight init` (or enroll/scan)"
                )
            make_private_dir(self.path)
        if read_only is None:
            database = self.path / self.DB_NAME
            read_only = not os.access(self.path, os.W_OK) or (
                database.exists() and not os.access(database, os.W_OK)
            )
        if read_only:
            self.notices.append(
                f"the library {self.path} is read-only: opened without recording anything "
                "(no audit entries)"
            )
        else:
            for folder in LIBRARY_FOLDERS:  # made here so they are private (0700) too
                make_private_dir(self.path / folder)
            changed = tighten_permissions(self.path)
            if changed:
                self.notices.append(
                    f"tightened the permissions of {changed} path(s) in the library "
                    f"{self.path}: folders 0700, files 0600 (it holds biometric data)"
                )
        return read_only

    def _start_session(self) -> None:
        """Mark this process as using the library; after a killed one, sweep its leftovers."""
        others = list(self.path.glob(".session-*"))
        dead = [m for m in others if not _alive(m.name.split("-")[1])]
        self._others_live = len(others) - len(dead)
        # one marker per open library (a process may open it twice), named by its process
        self._session = self.path / f".session-{os.getpid()}-{secrets.token_hex(4)}"
        os.close(os.open(self._session, os.O_CREAT | os.O_WRONLY, 0o600))
        if not dead:
            return
        # an erasure killed between its commit and its checkpoint leaves the erased
        # bytes in the WAL: fold them away now
        with contextlib.suppress(StoreError):
            self.store.checkpoint()
        known = self.store.stored_crop_paths()
        live = len(others) - len(dead)
        removed = sweep_leftovers(self.path, known, 0.0 if live == 0 else TEMP_GRACE_S)
        for marker in dead:
            marker.unlink(missing_ok=True)
        if removed:
            self.notices.append(
                f"removed {removed} leftover file(s) of an interrupted command "
                f"(temp files, crops never committed) from {self.path}"
            )

    def doctor(self) -> DoctorReport:
        """Check the database, schema, crops and model cache; sweep orphans (``doctor``)."""
        if self.read_only:
            raise ReadOnlyLibraryError(f"the library {self.path} is read-only: doctor repairs it")
        return examine_library(self.store, self.path, alone=getattr(self, "_others_live", 0) == 0)

    def _sweep_uncommitted(self) -> None:
        """Remove crops no committed row names (best effort: the next open sweeps too)."""
        alone = getattr(self, "_others_live", 0) == 0
        with contextlib.suppress(Exception):
            known = self.store.stored_crop_paths()
            sweep_leftovers(self.path, known, 0.0 if alone else TEMP_GRACE_S)

    def _record_audit(self, action: AuditAction, **items: Any) -> None:
        """An audit record of a reading action, or a notice that it could not be made."""
        if self.read_only:
            self.notices.append(f"not recorded in the audit log (read-only library): {action}")
            return
        with self.store.transaction() as conn:
            self.audit.record(conn, action, **items)

    def close(self) -> None:
        """Close the database (checkpointing its WAL)."""
        self.store.close()
        session = getattr(self, "_session", None)
        if session is not None:
            session.unlink(missing_ok=True)

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def people(self) -> list[PersonSummary]:
        """Everyone enrolled, with reference and sighting counts.

        A person's sightings are counted as :meth:`sightings` lists them: confirmed and
        pending faces, not rejected ones, and never their own reference photos.
        """
        seen: dict[int, int] = {}
        for sighting in self.sightings():
            person_id = person_id_of(sighting)
            if person_id is not None:
                seen[person_id] = seen.get(person_id, 0) + 1
        return [
            replace(p, sightings=seen.get(p.id, 0))
            for p in self.store.list_people(self.match_rule())
        ]

    def gallery(self) -> Gallery:
        """The current references of every enrolled person (this descriptor version's)."""
        return self._calibrated()[0]

    def calibration(self) -> Calibration:
        """The calibration of the current gallery at this library's target FPIR."""
        return self._calibrated()[1]

    def _drop_gallery(self) -> None:
        """Forget the cached gallery and calibration: the references changed."""
        self._gallery = None

    def _calibrated(self) -> tuple[Gallery, Calibration]:
        if self._gallery is None:
            gallery = self.store.gallery(self.pipeline.embedder_version)
            calibration = calibrate_gallery(gallery, self.reference_calibration, self.target_fpir)
            self._gallery = (gallery, calibration)
        return self._gallery

    def match_rule(self) -> MatchRule:
        """Which stored candidates are matches under this library's decision settings."""
        if self.max_distance is not None:
            return MatchRule("distance", self.max_distance)
        return MatchRule("fmr", self.calibration().alpha)

    def match(
        self,
        embeddings: NDArray[np.float32],
        qualities: NDArray[np.float64] | None = None,
        top_k: int = 3,
        *,
        widths: NDArray[np.float64] | None = None,
        fused: NDArray[np.int64] | None = None,
    ) -> list[list[Candidate]]:
        """Candidates for (n, d) descriptors, calibrated for each probe.

        Args:
            qualities: (n,) quality scores (NaN: not known).
            widths: (n,) face box widths in pixels (small faces are matched
                by strangers more often).
            fused: (n,) faces fused into each descriptor (a video track's).
        """
        gallery, calibration = self._calibrated()
        count = len(embeddings)
        reference = calibration.reference
        factors = np.array(
            [
                reference.probe_factor(
                    None if qualities is None else float(qualities[i]),
                    None if widths is None else float(widths[i]),
                    1 if fused is None else int(fused[i]),
                )
                for i in range(count)
            ],
            np.float64,
        )
        return match_faces(
            embeddings,
            gallery,
            calibration,
            qualities=qualities,
            max_distance=self.max_distance,
            top_k=top_k,
            probe_factors=factors,
        )

    def _decided(self, candidate: Candidate, quality: float | None) -> Candidate:
        """A stored candidate re-decided under the current settings (as ``match_rule``)."""
        calibration = self.calibration()
        if self.max_distance is not None:
            limit, is_match = self.max_distance, candidate.distance <= self.max_distance
        else:
            # the stored FMR holds the probe's corrections (quality, size, fusion): recover
            # their product to show the distance this probe had to be under
            distance = np.asarray([candidate.distance], np.float32)
            base = float(calibration.fmrs(distance, candidate.references)[0])
            band = None if quality is None else quality_band(quality)
            probe = candidate.fmr / base if base > 0 and candidate.fmr == candidate.fmr else None
            factor = probe if probe is not None else calibration.reference.quality_factor(band)
            limit = calibration.threshold_for(candidate.references, max(factor, 1.0))
            is_match = calibration.is_match(candidate.fmr)
        # a face too poor to be named stays unnamed under any setting
        is_match = is_match and not candidate.insufficient_quality
        return replace(
            candidate,
            is_match=is_match,
            max_distance=limit,
            fpir=calibration.fpir_of(candidate.fmr),
        )

    # -- scanning and sightings ----------------------------------------------

    def scan(
        self,
        paths: Iterable[str | Path],
        *,
        stop_on_error: bool = False,
        workers: int = 0,
        video_fps: float = DEFAULT_RATE_FPS,
        follow_links: bool = True,
        on_start: Callable[[int], None] | None = None,
        on_event: Callable[[ScanEvent], None] | None = None,
    ) -> ScanSummary:
        """Scan images and videos, files and folders recursively; known content is skipped.

        The library's own folder is never entered, however the walk reaches it
        (counted in ``library_skipped``).

        Args:
            workers: analysing processes (0: one per core); scans of a few
                images run in this process.
            video_fps: analysed frames per second of video (plus one after
                each scene cut); tracks bridge the frames in between.
            follow_links: follow symlinked files and folders met below the
                roots (never into the library; each real folder once).

        Raises:
            NotFoundError: a root does not exist (nothing is scanned).
            InvalidInputError: a root lies inside the library.
        """
        paths = list(paths)
        self._check_roots(paths)
        return self._scan(
            paths, stop_on_error, workers, video_fps, follow_links, on_start, on_event
        )

    def _scan(
        self,
        paths: Iterable[str | Path],
        stop_on_error: bool = False,
        workers: int = 0,
        video_fps: float = DEFAULT_RATE_FPS,
        follow_links: bool = True,
        on_start: Callable[[int], None] | None = None,
        on_event: Callable[[ScanEvent], None] | None = None,
    ) -> ScanSummary:
        if workers < 0:
            raise InvalidInputError(f"workers must be 0 (one per core) or more, got {workers}")
        if not video_fps > 0:
            raise InvalidInputError(f"video_fps must be positive, got {video_fps}")
        options = ScanOptions(
            self.max_pixels,
            stop_on_error,
            workers,
            video_rate_fps=video_fps,
            skip_dir=self.path,
            follow_links=follow_links,
        )
        paths = list(paths)
        seen = ScanSummary()  # counted from events, for a scan that stops half-way

        def count(event: ScanEvent) -> None:
            if event.status == "failed":
                seen.failures.append(event.failure or MediaFailure(event.path, "failed", ""))
            elif event.status == "scanned":
                seen.media_scanned += 1
                seen.faces_found += event.faces
            if on_event is not None:
                on_event(event)

        try:
            summary = self._scan_collection(paths, options, on_start, count)
        except BaseException as error:
            # a failed commit (a full disk) leaves the crops its workers wrote
            self._sweep_uncommitted()
            # best effort: the failure that stopped the scan may stop this record too
            with contextlib.suppress(Exception):
                self._audit_scan(paths, seen, f"stopped: {error or type(error).__name__}")
            raise
        self._audit_scan(paths, summary)
        return summary

    def _scan_collection(
        self,
        paths: Iterable[str | Path],
        options: ScanOptions,
        on_start: Callable[[int], None] | None,
        on_event: Callable[[ScanEvent], None] | None,
    ) -> ScanSummary:
        return scan_collection(
            paths,
            store=self.store,
            pipeline=self.pipeline,
            spec=PipelineSpec.of(self.pipeline),
            match=self.match,
            crops_dir=self.crops_dir,
            options=options,
            on_start=on_start,
            on_event=on_event,
        )

    def _audit_scan(self, roots: list[str | Path], summary: ScanSummary, details: str = "") -> None:
        self._record_audit(
            AuditAction.SCAN,
            paths=[os.path.abspath(p) for p in roots],
            counts={
                "media_scanned": summary.media_scanned,
                "faces_found": summary.faces_found,
                "failures": len(summary.failures),
            },
            details=details,
        )

    def _check_roots(self, roots: list[str | Path]) -> None:
        library = os.path.realpath(self.path)
        for root in roots:
            if not os.path.exists(root):
                raise NotFoundError(f"{root}: no such file or folder; nothing was scanned")
            real = os.path.realpath(root)
            if os.path.commonpath([real, library]) == library:
                raise InvalidInputError(
                    f"{root} is inside the library {self.path}: its crops are not media to "
                    "scan; nothing was scanned"
                )

    def rematch(self) -> int:
        """Recompute every stored face's candidates against the current gallery (read
        again: every change of references ends here or in ``_drop_gallery``)."""
        self._drop_gallery()
        version = self.pipeline.embedder_version
        face_ids, embeddings, qualities = self.store.face_embeddings(version)
        widths, fused = self.store.probe_geometry(version)
        ranked = self.match(embeddings, qualities, widths=widths, fused=fused)
        self.store.replace_candidates(dict(zip((int(i) for i in face_ids), ranked, strict=True)))
        return len(face_ids)

    def sightings(
        self, person: str | None = None, *, include_unmatched: bool = False
    ) -> list[Sighting]:
        """Stored faces matched to ``person`` (or to anyone; or every face if asked)."""
        person_id = None
        if person is not None:
            person_id = self.store.require_person(person)
        rule = None if include_unmatched else self.match_rule()
        found = self.store.sightings(rule, person_id, any_rank=True)
        known = {s.face_id for s in found}
        confirmed = [i for i in self.reviews.confirmed_faces(person_id) if i not in known]
        if confirmed:
            found += self.store.sightings(None, face_ids=confirmed)
        decided = self._as_reviewed(found)
        if not include_unmatched:
            # a reference photo is the person's reference, not a sighting of them
            decided = [s for s in decided if s.person is not None and s.reference is None]
        if person_id is not None:
            decided = [
                s
                for s in decided
                if person_id_of(s) == person_id
                or (include_unmatched and s.candidates and s.candidates[0].person_id == person_id)
            ]
        return sorted(decided, key=_in_media_order)

    def _as_reviewed(self, found: list[Sighting]) -> list[Sighting]:
        """Stored sightings re-decided under this library's settings, then as reviewed.

        A face confirmed as someone outside its stored candidates (a manual
        identification, or past the top-k) gets that person's candidate computed, so
        its distance and est. FMR are always known.
        """
        reviews = self.reviews.of_faces([s.face_id for s in found])
        decided = [
            apply_reviews(
                replace(s, candidates=[self._decided(c, s.quality) for c in s.candidates]),
                reviews.get(s.face_id, ()),
            )
            for s in found
        ]
        return [self._with_named_candidate(s) for s in decided]

    def _with_named_candidate(self, sighting: Sighting) -> Sighting:
        review = sighting.review
        if review is None or review.decision != "confirmed" or sighting.named is not None:
            return sighting
        candidate = self.candidate_for(sighting.face_id, review.person_id)
        if candidate is None:
            return sighting
        ranked = sorted([*sighting.candidates, candidate], key=lambda c: c.distance)
        return replace(sighting, candidates=ranked)

    def candidate_for(self, face_id: int, person_id: int) -> Candidate | None:
        """A stored face measured against one enrolled person's template: the distance and
        est. FMR it has to them, decided under this library's settings (as the stored
        candidates are). None when the person has no reference of this descriptor version.

        Raises:
            NotFoundError: no stored face has this id.
        """
        embedding, quality, width, fused = self.store.face_probe(face_id)
        gallery = self.gallery()
        people = len(set(gallery.person_ids.tolist()))
        if person_id not in gallery.person_ids or people == 0:
            return None
        ranked = self.match(
            embedding[None],
            np.array([quality], np.float64),
            top_k=people,
            widths=np.array([width], np.float64),
            fused=np.array([fused], np.int64),
        )[0]
        crops = self.store.reference_crops([c.reference_id for c in ranked])
        for candidate in ranked:
            if candidate.person_id == person_id:
                known = None if quality != quality else quality
                decided = self._decided(candidate, known)
                return replace(decided, reference_crop=crops.get(candidate.reference_id))
        return None

    # -- enrollment (library/enroll.py) -------------------------------------------

    def enroll(
        self,
        name: str,
        images: Iterable[str | Path],
        *,
        face: int | None = None,
        largest: bool = False,
        rematch: bool = True,
    ) -> EnrollResult:
        """Add reference images for a person, created on first use (``EnrollService.enroll``)."""
        return self._enroll.enroll(name, images, face=face, largest=largest, rematch=rematch)

    def enroll_folders(
        self, root: str | Path, *, limit: int | None = None, largest: bool = False
    ) -> list[EnrollResult]:
        """Enroll one person per sub-folder of ``root`` (``EnrollService.enroll_folders``)."""
        return self._enroll.enroll_folders(root, limit=limit, largest=largest)

    # -- review (library/review.py) ---------------------------------------------

    def sighting(self, face_id: int) -> Sighting:
        """One stored face, decided and reviewed (``ReviewService.sighting``)."""
        return self._review.sighting(face_id)

    def pending(self) -> list[Sighting]:
        """Proposed matches no reviewer has decided on yet (``ReviewService.pending``)."""
        return self._review.pending()

    def confirm(
        self,
        face_id: int,
        person: str | None = None,
        *,
        as_reference: bool = False,
        note: str = "",
        force: bool = False,
    ) -> Sighting:
        """Say that a stored face is ``person`` (``ReviewService.confirm``)."""
        return self._review.confirm(
            face_id, person, as_reference=as_reference, note=note, force=force
        )

    def reject(self, face_id: int, person: str | None = None, *, note: str = "") -> Sighting:
        """Say that a stored face is not ``person`` (``ReviewService.reject``)."""
        return self._review.reject(face_id, person, note=note)

    def enroll_faces(self, name: str, face_ids: Sequence[int], *, note: str = "") -> int:
        """Enroll stored faces as references of ``name`` (``ReviewService.enroll_faces``)."""
        return self._review.enroll_faces(name, face_ids, note=note)

    def failures(self) -> list[MediaFailure]:
        """Files that could not be used, as recorded by scans."""
        return self.store.failures()

    # -- searching stored faces -----------------------------------------------

    def face_index(self) -> FaceIndex:
        """The index of stored faces, brought in step with the database
        (``library/face_index_sync.py``)."""
        return synced_face_index(self.store, self.path / "index", self.pipeline.embedder_version)

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
        assert analyzed.faces.embedding is not None
        probe = analyzed.faces.embedding[index_of : index_of + 1]
        faces = self.face_index()
        distances, ids = faces.search(probe, top_k)
        found = [(float(d), int(i)) for d, i in zip(distances[0], ids[0], strict=True) if i >= 0]
        sightings = {s.face_id: s for s in self.sightings_by_face([i for _, i in found])}
        self._record_audit(
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

    def sightings_by_face(self, face_ids: list[int]) -> list[Sighting]:
        """The stored faces ``face_ids`` with their candidates, decided as in :meth:`sightings`."""
        if not face_ids:
            return []
        return self._as_reviewed(self.store.sightings(None, face_ids=face_ids))

    # -- model upgrades -------------------------------------------------------

    def stale(self) -> tuple[int, int]:
        """(references, media) described by another descriptor version than this one's.

        They are left out of matching until :meth:`reindex` describes them again.
        """
        version = self.pipeline.embedder_version
        return len(self.store.stale_references(version)), len(self.store.stale_media(version))

    def reindex(
        self,
        *,
        on_start: Callable[[int], None] | None = None,
        on_event: Callable[[ScanEvent], None] | None = None,
    ) -> ReindexResult:
        """Describe stale references and media again with the current models.

        A reference is re-described from its source image when the file is
        still there with the same content (the face overlapping the stored box
        most); otherwise it stays out of matching and is listed in
        ``failures``. Stale media are scanned again from their latest path.
        """
        version = self.pipeline.embedder_version
        result = ReindexResult()
        for row in self.store.stale_references(version):
            try:
                self._redescribe_reference(row)
                result.references_updated += 1
            except (MediaError, EnrollmentError) as error:
                result.failures.append(MediaFailure(error.path, "reference", error.problem))
        self._drop_gallery()
        stale = self.store.stale_media(version)
        # stale media may have moved since: each missing one is a failure, not the end
        result.media = self._scan(stale, on_start=on_start, on_event=on_event)
        self.rematch()
        return result

    def _redescribe_reference(self, row: Any) -> None:
        path = Path(row["source_path"])
        if not path.is_file() or sha256_of(path) != row["source_sha256"]:
            raise EnrollmentError(path, "the reference image is gone or has changed; enroll again")
        analyzed = self.pipeline.analyze(load_image(path, self.max_pixels).pixels)
        if len(analyzed) == 0:
            raise NoFaceError(path, "the current detector finds no face in this reference")
        box = np.array([row["x1"], row["y1"], row["x2"], row["y2"]], np.float32)
        index = int(np.argmax(box_iou(analyzed.faces.xyxy, box)))
        assert analyzed.faces.embedding is not None
        self.store.update_reference(
            int(row["id"]),
            analyzed.faces.embedding[index],
            self.pipeline.embedder_version,
            analyzed.quality[index].score,
        )

    # -- one-off analysis -----------------------------------------------------

    def identify(self, image: str | Path, *, top_k: int = 3) -> list[IdentifiedFace]:
        """Every face in one image with its nearest enrolled people (nothing is stored)."""
        analyzed = self.pipeline.analyze(load_image(image, self.max_pixels).pixels)
        faces = analyzed.faces
        assert faces.embedding is not None
        qualities = np.array([q.score for q in analyzed.quality])
        widths = (faces.xyxy[:, 2] - faces.xyxy[:, 0]).astype(np.float64)
        ranked = self.match(faces.embedding, qualities, top_k=top_k, widths=widths)
        self._record_audit(AuditAction.SEARCH_IDENTIFY, paths=[os.path.abspath(image)])
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

    def write_frames(self, sightings: list[Sighting], directory: Path) -> list[FrameWritten]:
        """Write each sighting's best frame with its box and label drawn
        (``facesight.exports.frames``), a ``manifest.json`` of them beside (the sha256 of each
        frame, who wrote them, when, from which library and models), and one audit
        record of the export."""
        written = list(write_sighting_frames(sightings, directory))
        frames = [w.path for w in written if w.path is not None]
        if frames:
            meta: dict[str, object] = {
                "generated_by": os_account(),
                "generated_at": datetime.now().astimezone().isoformat(timespec="seconds"),
                "library": str(self.path.resolve()),
                "detector": self.pipeline.detector_version,
                "embedder": self.pipeline.embedder_version,
                "audit_head": self.audit.head(),
            }
            write_manifest(directory / FRAMES_MANIFEST, frames, meta)
        self._record_audit(
            AuditAction.EXPORT_FRAMES,
            faces=[w.face_id for w in written if w.path is not None],
            paths=[os.path.abspath(directory)],
        )
        return written

    def compare(self, a: str | Path, b: str | Path) -> Comparison:
        """1:1: the distance between the largest face of each image, and what it means."""
        first, second = (self._largest_embedding(Path(p)) for p in (a, b))
        distance = float(pairwise_distances(first[None], second[None])[0, 0])
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

    def forget(self, name: str, *, with_sightings: bool = False) -> ForgetResult:
        """Erase a person: references, descriptors, crops and candidates, leaving no trace.

        Deleted rows are overwritten (``secure_delete``) and the WAL is
        checkpointed and truncated, so the name and descriptors do not linger
        in the database files; the reference crops are deleted from disk. The
        audit log keeps that an erasure happened; its paths and notes that may
        name the person are blanked (``AuditLog.erase``), its chain still verifies.

        Faces of the person in scanned media stay (as faces nobody is matched
        to), unless ``with_sightings``: then the faces confirmed as this person
        are deleted too, with their descriptors and crops (see docs/review.md).
        """
        person_id = self.store.require_person(name)
        stored_name = self.store.person_name(person_id)
        with self.store.transaction() as conn:
            faces = self.reviews.confirmed_faces(person_id) if with_sightings else []
            crops = self.store.delete_faces(conn, faces)
            refs, cands, reference_crops = self.store.delete_person(conn, person_id)
            erased = self.audit.erase(conn, person_id, stored_name)
            self.audit.record(
                conn,
                AuditAction.FORGET,
                people=[person_id],
                faces=faces,
                records=erased,
                counts={"references": refs, "faces": len(faces)},
            )
        removed = 0
        for crop in [*reference_crops, *crops]:
            owned = self.store.owned_file(crop)  # never a file outside the library
            if owned is not None and owned.is_file():
                owned.unlink()
                removed += 1
        self.rematch()
        if faces and (self.path / "index").exists():
            self.face_index()  # rebuilt without the erased descriptors
        self.store.checkpoint()
        return ForgetResult(stored_name, refs, cands, removed, len(faces), len(erased))


def _alive(pid: str) -> bool:
    """Whether a process with this id runs (a session marker's owner)."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _in_media_order(s: Sighting) -> tuple[str, float, int, int]:
    return (s.path, s.start_s if s.start_s is not None else -1.0, s.frame or -1, s.face_id)
