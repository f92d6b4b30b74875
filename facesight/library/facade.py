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
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facesight.defaults import DEFAULT_MAX_PIXELS, DEFAULT_RATE_FPS, DEFAULT_TARGET_FPIR
from facesight.descriptors import Gallery, NearestFaces
from facesight.errors import AuthenticationError, InvalidInputError, StoreError
from facesight.exports.frames import FrameWritten, write_sighting_frames
from facesight.exports.manifest import write_manifest
from facesight.face_models import ModelSpec
from facesight.identity.calibrate import (
    Calibration,
    ReferenceCalibration,
    load_reference_calibration,
)
from facesight.library.accounts import AccountService
from facesight.library.collections import CollectionService
from facesight.library.directory import (
    TEMP_GRACE_S,
    mark_session,
    postgres_files_dir,
    prepare_library_dir,
    sweep_leftovers,
)
from facesight.library.doctor import DoctorReport, examine_library
from facesight.library.enroll import DISAGREEMENT_FMR, EnrollService
from facesight.library.erasure import ErasureService
from facesight.library.evidence import EvidenceImage, EvidenceService, MediaFile
from facesight.library.jobs import JobService
from facesight.library.matching import MatchService
from facesight.library.merge import MergeResult, resolve_merge
from facesight.library.models import ModelEntry, ModelRegistry
from facesight.library.people import PeopleService, PersonOverview, RemovedReference, Renamed
from facesight.library.review import DecisionOutcome, DecisionRequest, ReviewService
from facesight.library.review_queue import QueueFilter, QueuePage, QueueSort, ReviewQueue
from facesight.library.scanning import RayOptions, ReindexResult, ScanService
from facesight.library.search import AnalyzedFaces, EmbeddedFile, FaceSearch, SearchService
from facesight.library.tag_import import TagImport, TagImportService, TagTruth
from facesight.location import is_postgres_url
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
)
from facesight.store.audit import AuditAction, AuditRecord, AuditVerification, os_account
from facesight.store.backend import open_store
from facesight.store.connection import ReadOnlyLibraryError
from facesight.store.people import StoredReference
from facesight.store.sqlite import MatchRule
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder
from facesight.vision.pipeline import FacePipeline

__all__ = [
    "DISAGREEMENT_FMR",
    "FRAMES_MANIFEST",
    "AuditRecord",
    "AuditVerification",
    "EmbeddedFile",
    "FaceSearch",
    "Library",
    "ReindexResult",
]

FRAMES_MANIFEST = "manifest.json"
"""The manifest :meth:`Library.write_frames` writes in the folder of evidence frames."""


class Library:
    """One facesight library (created if missing, unless ``create=False``).

    Args:
        path: the library directory, or a ``postgresql://`` URL of its database
            (``store.postgres``; the password never shown: :attr:`where`).
        max_pixels: refuse images with more pixels (decompression-bomb guard).
        target_fpir: the identification decision's target false-positive
            identification rate: the chance that a stranger is named as
            someone, whatever the gallery size (see ``calibrate``).
        max_distance: a fixed decision distance instead of the calibrated
            one (lower is stricter); estimated rates are still reported.
        device: where the networks run: ``auto`` (a GPU when one works, else
            the CPU), ``cpu`` or ``cuda`` (a GPU or a ``DeviceError``); see
            ``facesight.vision.device``.
        detector, embedder: override the default models (e.g. other settings); the
            embedder is the built-in dlib model's, used while dlib is the active model
            (``facesight models``).
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
        files_dir: for a PostgreSQL library (``path`` a ``postgresql://`` URL), the
            local folder of its files (crops as served, models, the face index);
            default ``library.directory.postgres_files_dir``. Ignored for a folder.

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
        files_dir: Path | None = None,
    ) -> None:
        if max_distance is not None and not 0.0 < max_distance < 2.0:
            raise InvalidInputError(f"max_distance must be in (0, 2), got {max_distance}")
        if not 0.0 < target_fpir < 1.0:
            raise InvalidInputError(f"target FPIR must be in (0, 1), got {target_fpir}")
        self.location = path if is_postgres_url(path) else Path(path)
        postgres = isinstance(self.location, str)
        # a PostgreSQL library's local files (crops served, models, index) live here
        self.path = (files_dir or postgres_files_dir(str(path))) if postgres else Path(path)
        self.notices: list[str] = []
        self.read_only = prepare_library_dir(
            self.path,
            self.DB_NAME,
            create=create or postgres,  # the database itself says whether it exists
            read_only=read_only,
            notices=self.notices,
        )
        self.crops_dir = self.path / "crops"
        self.max_pixels = max_pixels
        self.max_distance = max_distance
        self.target_fpir = target_fpir
        self.store = open_store(
            self.location, files_dir=self.path, create=create, read_only=self.read_only
        )
        # the built-in model (or the one handed in) serves whenever dlib is the active model
        dlib = embedder or FaceEmbedder(cache_dir=self.path / "models", device=device)
        self._models = ModelRegistry(self.store, load_reference_calibration(), dlib, device)
        active = self.store.active_model()
        self.reference_calibration: ReferenceCalibration = self._models.reference_for(active)
        if not self.read_only:
            self._start_session()
        self.audit = self.store.audit_log(actor)
        if not self.read_only:  # a read-only library cannot restore them; verify says so
            self.audit.ensure_triggers()
        self.reviews = self.store.review_book(self.audit)
        self.accounts = AccountService(self.store, self.audit)
        """The review workspace's accounts, sessions and API tokens (``library.accounts``)."""
        self.jobs = JobService(self.store, self.audit, self.path / "jobs")
        """Background jobs: queue, list, cancel, and the files they wrote (``library.jobs``)."""
        self._data_version = self.store.data_version()
        self.pipeline = FacePipeline(
            detector or FaceDetector(device=device), self._models.embedder(active)
        )
        self._matching = MatchService(
            self.store,
            self.reviews,
            self.pipeline,
            reference_calibration=self.reference_calibration,
            target_fpir=target_fpir,
            max_distance=max_distance,
        )
        self._scanning = ScanService(
            self.store,
            self.pipeline,
            self.crops_dir,
            self.path,
            max_pixels=max_pixels,
            match=self.match,
            record_audit=self._record_audit,
            sweep_uncommitted=self._sweep_uncommitted,
            references_changed=self._drop_gallery,
            rematch=self.rematch,
            matcher=self._matching.matcher,
        )
        self._search = SearchService(
            self.store,
            self.pipeline,
            self.path / "index",
            max_pixels=max_pixels,
            reference_calibration=self.reference_calibration,
            target_fpir=target_fpir,
            max_distance=max_distance,
            match=self.match,
            sightings_by_face=self.sightings_by_face,
            record_audit=self._record_audit,
        )
        self._erasure = ErasureService(
            self.store,
            self.reviews,
            self.audit,
            self.path / "index",
            rematch=self.rematch,
            face_index=self.face_index,
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
        self._queue = ReviewQueue(
            lambda q, sort, after, limit: self.store.queue_page(
                self._matching.match_rule(), q, sort, after, limit, self._matching.fmrs_to
            ),
            self.sightings_by_face,
            self.store.require_person,
        )
        self._evidence = EvidenceService(self.store, self.sighting, max_pixels=max_pixels)
        self._people = PeopleService(
            self.store,
            self.audit,
            listed=lambda: self.store.list_people(self.match_rule()),
            counts=lambda: self.store.people_counts(self.match_rule()),
            sighting=self.sighting,
            reference_from_face=self._review.reference_from_face,
            rematch=self.rematch,
            references_changed=self._drop_gallery,
        )
        self._tags = TagImportService(
            self.store,
            self.reviews,
            self.audit,
            scan=lambda paths: self.scan(paths),
            sightings_by_face=self.sightings_by_face,
            proposals=self._matching.proposals,
            enroll_faces=lambda name, faces, note: self.enroll_faces(name, faces, note=note),
            enroll_region=self._enroll.enroll_region,
        )
        self.collections = CollectionService(self.store, self.audit, self.path)
        """Collection roots registered for the workspace to scan (``library.collections``)."""

    # -- descriptor models (library/models.py) ----------------------------------

    @property
    def model(self) -> ModelSpec | None:
        """The active registered model; None: the built-in dlib model."""
        return self.pipeline.embedder.spec

    def models(self) -> list[ModelEntry]:
        """The built-in model and every registered one (``ModelRegistry.entries``)."""
        return self._models.entries()

    def add_model(self, path: str | Path, **settings: Any) -> ModelSpec:
        """Register a user's ONNX model (``ModelRegistry.add``); it is not made active."""
        spec = self._models.add(Path(path), **settings)
        self._record_audit(AuditAction.MODEL_ADD, paths=[spec.path], details=spec.version)
        return spec

    def use_model(self, name: str) -> None:
        """Make ``name`` the model scans, enrollment and matching use (``ModelRegistry.use``);
        stored faces are matched again (another model's are ``stale`` until ``reindex``)."""
        self._activate(self._models.use(name))
        self._record_audit(AuditAction.MODEL_USE, details=name)
        self.rematch()

    def calibrate_model(self, name: str, reference: ReferenceCalibration) -> None:
        """Keep measured tables with a registered model (``eval.model_calibration``); stored
        faces are matched again when it is the active one."""
        self._models.set_calibration(name, reference)
        self._record_audit(AuditAction.MODEL_CALIBRATE, details=f"{name}: {reference.source}")
        if self.model is not None and self.model.name == name:
            self._activate(self._models.spec(name))
            self.rematch()

    def model_pipeline(self, name: str) -> tuple[FacePipeline, ReferenceCalibration]:
        """A pipeline running the model ``name`` (active or not) and its calibration."""
        return self._models.pipeline(name, self.pipeline.detector)

    def _activate(self, spec: ModelSpec | None) -> None:
        self.pipeline.embedder = self._models.embedder(spec)
        self.reference_calibration = self._models.reference_for(spec)
        for service in (self._matching, self._search, self._enroll):
            service.reference_calibration = self.reference_calibration
        self._drop_gallery()

    @contextlib.contextmanager
    def acting_as(self, name: str) -> Iterator[None]:
        """Within the block, audit records and review decisions are made by the account
        ``name`` (audit ``actor``; ``claimed_user`` None; ``os_user`` stays the server's).

        The caller has authenticated it (``accounts.session``, ``accounts.token_account``);
        a disabled account is refused (``AuthenticationError``), an unknown one is a
        ``NotFoundError``. Per thread or task: requests served side by side do not mix.
        """
        account = self.accounts.account(name)
        if account.disabled:
            raise AuthenticationError(f"the account {account.name!r} is disabled")
        with self.audit.acting_as(account.name):
            yield

    def notice_changes(self) -> bool:
        """Drop what this object keeps from the database when another process (the job
        worker, a CLI command) committed since the last look: the gallery and its
        calibration, and the active model with its calibration. True when something had
        changed. Whoever holds a library open for long (the web server's gate, the job
        worker) calls it before each call; the face index syncs itself on every use
        (``face_index_sync``) and the unknowns compare their saved signature."""
        version = self.store.data_version()
        if version == self._data_version:
            return False
        self._data_version = version
        active = self.store.active_model()
        current = self.model
        if (active.version if active else None) != (current.version if current else None):
            self._activate(active)
        self._drop_gallery()
        return True

    def _start_session(self) -> None:
        """Mark this process as using the library; after a killed one, sweep its leftovers."""
        self._session, others, dead = mark_session(self.path)
        self._others_live = len(others) - len(dead)
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

    @property
    def where(self) -> str:
        """The library as messages name it: its folder, or its URL without the password."""
        return self.store.where if isinstance(self.location, str) else str(self.path.resolve())

    def doctor(self) -> DoctorReport:
        """Check the database, schema, crops and model cache; sweep orphans (``doctor``)."""
        if self.read_only:
            raise ReadOnlyLibraryError(f"the library {self.where} is read-only: doctor repairs it")
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

    def audit_records(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        before: int | None = None,
        limit: int | None = None,
        since: str | None = None,
        until: str | None = None,
        face_id: int | None = None,
        person_id: int | None = None,
    ) -> list[AuditRecord]:
        """Audit records, newest first, with ids below ``before`` (``AuditLog.records``);
        ``since`` / ``until``: ISO 8601 dates or UTC times (``until`` a date: to its end)."""
        for value in (since, until):
            if value is not None:
                try:
                    datetime.fromisoformat(value)
                except ValueError:
                    raise InvalidInputError(
                        f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time"
                    ) from None
        return self.audit.records(
            action=action,
            actor=actor,
            before=before,
            limit=limit,
            since=since,
            until=until,
            face_id=face_id,
            person_id=person_id,
        )

    def verify_audit(self, head: str | None = None) -> AuditVerification:
        """Check the audit log's chain, commitments and triggers, and a kept ``head``
        (``AuditLog.verify``: what ``facesight audit verify`` runs)."""
        return self.audit.verify(head)

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
        pending faces, not rejected ones, and never their own reference photos; in SQL
        (``PeopleService.people``), never by reading every sighting.
        """
        return self._people.people()

    # -- matching (library/matching.py) ------------------------------------------

    def gallery(self) -> Gallery:
        """The current references of every enrolled person (this descriptor version's)."""
        return self._matching.gallery()

    def calibration(self) -> Calibration:
        """The calibration of the current gallery at this library's target FPIR."""
        return self._matching.calibration()

    def references_changed(self) -> None:
        """Forget the cached gallery after references changed without a re-match (which
        reads it again itself): the next match or listing reads the new references."""
        self._drop_gallery()

    def _drop_gallery(self) -> None:
        """Forget the cached gallery and calibration: the references changed."""
        self._matching.drop_gallery()

    def match_rule(self) -> MatchRule:
        """Which stored candidates are matches under this library's decision settings."""
        return self._matching.match_rule()

    def match(
        self,
        embeddings: NDArray[np.float32],
        qualities: NDArray[np.float64] | None = None,
        top_k: int = 3,
        *,
        widths: NDArray[np.float64] | None = None,
        fused: NDArray[np.int64] | None = None,
    ) -> list[list[Candidate]]:
        """Candidates for (n, d) descriptors, calibrated for each probe (``MatchService.match``)."""
        return self._matching.match(embeddings, qualities, top_k, widths=widths, fused=fused)

    def rematch(self) -> int:
        """Recompute every stored face's candidates (``MatchService.rematch``)."""
        return self._matching.rematch()

    def sightings(
        self, person: str | None = None, *, include_unmatched: bool = False
    ) -> list[Sighting]:
        """Stored faces matched to ``person`` (or to anyone; or every face if asked)."""
        return self._matching.sightings(person, include_unmatched=include_unmatched)

    def sightings_by_face(self, face_ids: list[int]) -> list[Sighting]:
        """The stored faces ``face_ids`` with their candidates, decided as in :meth:`sightings`."""
        return self._matching.sightings_by_face(face_ids)

    def candidate_for(self, face_id: int, person_id: int) -> Candidate | None:
        """A stored face measured against one enrolled person (``MatchService.candidate_for``)."""
        return self._matching.candidate_for(face_id, person_id)

    # -- scanning and reindexing (library/scanning.py) ----------------------------

    def scan(
        self,
        paths: Iterable[str | Path],
        *,
        stop_on_error: bool = False,
        workers: int = 0,
        video_fps: float = DEFAULT_RATE_FPS,
        follow_links: bool = True,
        ray: RayOptions | None = None,
        on_start: Callable[[int], None] | None = None,
        on_event: Callable[[ScanEvent], None] | None = None,
    ) -> ScanSummary:
        """Scan images and videos, files and folders recursively (``ScanService.scan``);
        on a Ray cluster when ``ray`` says where (``scan.ray_executor``)."""
        return self._scanning.scan(
            paths,
            stop_on_error=stop_on_error,
            workers=workers,
            video_fps=video_fps,
            follow_links=follow_links,
            ray=ray,
            on_start=on_start,
            on_event=on_event,
        )

    def stale(self) -> tuple[int, int]:
        """(references, media) of another descriptor version (``ScanService.stale``)."""
        return self._scanning.stale()

    def reindex(
        self,
        *,
        model: str | None = None,
        on_start: Callable[[int], None] | None = None,
        on_event: Callable[[ScanEvent], None] | None = None,
    ) -> ReindexResult:
        """Describe stale references and media again (``ScanService.reindex``); with
        ``model``, first make it the active model, so everything is described with it."""
        if model is not None:
            self.use_model(model)
        return self._scanning.reindex(on_start=on_start, on_event=on_event)

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
        expected: str | None = None,
    ) -> Sighting:
        """Say that a stored face is ``person`` (``ReviewService.confirm``; ``expected``: the
        decision state the reviewer saw, else ``DecisionConflictError``)."""
        return self._review.confirm(
            face_id, person, as_reference=as_reference, note=note, force=force, expected=expected
        )

    def reject(
        self,
        face_id: int,
        person: str | None = None,
        *,
        note: str = "",
        expected: str | None = None,
    ) -> Sighting:
        """Say that a stored face is not ``person`` (``ReviewService.reject``)."""
        return self._review.reject(face_id, person, note=note, expected=expected)

    def enroll_faces(
        self, name: str, face_ids: Sequence[int], *, note: str = "", rematch: bool = True
    ) -> int:
        """Enroll stored faces as references of ``name`` (``ReviewService.enroll_faces``)."""
        person_id = self._review.enroll_faces(name, face_ids, note=note, rematch=rematch)
        if not rematch:
            self.references_changed()
        return person_id

    # -- the review queue and its evidence (library/review_queue.py, evidence.py) ---

    def review_queue(
        self,
        filter: QueueFilter | None = None,
        *,
        sort: QueueSort | str = QueueSort.FMR,
        after: str | None = None,
        limit: int = 50,
    ) -> QueuePage:
        """A page of the faces awaiting review, keyset-paged (``ReviewQueue.page``)."""
        return self._queue.page(filter, sort=sort, after=after, limit=limit)

    def decide(
        self,
        face_id: int,
        action: str,
        *,
        person: str | None = None,
        note: str = "",
        expected: str | None = None,
        force: bool = False,
    ) -> Sighting:
        """Confirm, reject or assign one face, unless its decision changed since
        ``expected`` (``ReviewService.decide``; ``DecisionConflictError``)."""
        return self._review.decide(
            face_id, action, person=person, note=note, expected=expected, force=force
        )

    def decide_many(self, decisions: Sequence[DecisionRequest]) -> list[DecisionOutcome]:
        """Several decisions, each on its own (``ReviewService.decide_many``)."""
        return self._review.decide_many(decisions)

    def crop_file(self, face_id: int) -> Path:
        """The crop file of a stored face (``EvidenceService.crop_file``)."""
        return self._evidence.crop_file(face_id)

    def reference_crop_file(self, reference_id: int) -> Path:
        """The crop file of an enrolled reference (``EvidenceService.reference_crop_file``)."""
        return self._evidence.reference_crop_file(reference_id)

    def evidence_frame(self, face_id: int) -> EvidenceImage:
        """The picture a face was found in with its box drawn, as JPEG, or its stored crop
        when the media file cannot serve (``EvidenceService.evidence_frame``)."""
        return self._evidence.evidence_frame(face_id)

    def media_file(self, face_id: int) -> MediaFile:
        """A face's media file, its MIME type and whether a browser plays it
        (``EvidenceService.media_file``)."""
        return self._evidence.media_file(face_id)

    def record_view(self, face_ids: Sequence[int], what: str) -> None:
        """One audit record that these faces were shown to the acting user (``what``: the
        page or answer, e.g. "review queue page"); nothing when no face was shown. A
        read-only library gets a notice instead (as every reading action's record)."""
        if face_ids:
            self._record_audit(AuditAction.VIEW, faces=list(face_ids), details=what)

    def failures(self) -> list[MediaFailure]:
        """Files that could not be used, as recorded by scans."""
        return self.store.failures()

    # -- other tools' face tags (library/tag_import.py) ---------------------------

    def import_tags(
        self,
        paths: Iterable[str | Path],
        *,
        sidecars: Path | None = None,
        as_references: bool = False,
        force_region: bool = False,
    ) -> TagImport:
        """Import the face tags of the images under ``paths`` (``TagImportService``)."""
        return self._tags.import_tags(
            paths, sidecars=sidecars, as_references=as_references, force_region=force_region
        )

    def tag_ground_truth(
        self, paths: Iterable[str | Path], *, sidecars: Path | None = None
    ) -> tuple[list[TagTruth], TagImport]:
        """Tagged faces with the rule's proposals, for ``eval tags`` (``TagImportService``)."""
        return self._tags.ground_truth(paths, sidecars=sidecars)

    # -- searching and one-off analysis (library/search.py) -----------------------

    def face_index(self) -> NearestFaces:
        """The index of stored faces, in step with the database (``SearchService``)."""
        return self._search.face_index()

    def search_face(
        self, image: str | Path, *, face: int | None = None, top_k: int = 20
    ) -> list[FaceHit]:
        """Stored faces that look like a face in ``image`` (``SearchService.search_face``)."""
        return self._search.search_face(image, face=face, top_k=top_k)

    def search_stored(self, face_id: int, *, offset: int = 0, limit: int = 50) -> FaceSearch:
        """Stored faces nearest a stored face, from its stored descriptor, a page at a time
        (``SearchService.search_stored``)."""
        return self._search.search_stored(face_id, offset=offset, limit=limit)

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
        """A photo's faces with their nearest enrolled people, and the stored faces nearest
        one of them, a page at a time, from its analysis (``search.analyze_photo`` with
        :meth:`photo_pipeline`, on any thread) (``SearchService.search_analyzed``)."""
        return self._search.search_analyzed(
            analyzed, name, version, face=face, offset=offset, limit=limit, top_k=top_k
        )

    def photo_pipeline(self) -> FacePipeline:
        """This library's models with sessions of their own (opened on first use): for
        analysing photos on another thread while this library answers other calls."""
        return self.pipeline.twin()

    def identify(
        self, image: str | Path, *, top_k: int = 3, max_pixels: int | None = None
    ) -> list[IdentifiedFace]:
        """Every face in one image with its nearest enrolled people (``SearchService``)."""
        return self._search.identify(image, top_k=top_k, max_pixels=max_pixels)

    def compare(self, a: str | Path, b: str | Path) -> Comparison:
        """1:1: the largest face of each image compared (``SearchService.compare``)."""
        return self._search.compare(a, b)

    def embed(self, paths: Iterable[str | Path], workers: int = 0) -> Iterator[EmbeddedFile]:
        """Every face of every file under ``paths`` (``SearchService.embed``), analysed
        on ``workers`` processes (0: one per core) as a scan is."""
        return self._search.embed(paths, workers)

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
                "library": self.where,
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

    # -- erasure (library/erasure.py) ----------------------------------------------

    def forget(
        self, name: str, *, with_sightings: bool = False, rematch: bool = True
    ) -> ForgetResult:
        """Erase a person, leaving no trace (``ErasureService.forget``); with ``rematch``
        False stored faces are not matched again here (queue a re-match job)."""
        result = self._erasure.forget(name, with_sightings=with_sightings, rematch=rematch)
        self._drop_gallery()
        return result

    # -- looking after enrolled people (library/people.py, merge.py) ---------------

    def person(self, person_id: int) -> PersonSummary:
        """One enrolled person by id, with counts (``NotFoundError`` when none has it)."""
        return self._people.person(person_id)

    def person_name(self, person_id: int) -> str:
        """The name of the enrolled person ``person_id`` (``NotFoundError`` when none)."""
        return self._people.name_of(person_id)

    def people_names(self) -> list[tuple[int, str]]:
        """(id, name) of everyone enrolled, by name, without counts (one query)."""
        return self._people.names()

    def people_overview(self) -> list[PersonOverview]:
        """Everyone enrolled with confirmed and pending counts and a few references to show
        (``PeopleService.overview``)."""
        return self._people.overview()

    def references(self, person: str) -> list[StoredReference]:
        """A person's references, oldest first (``PeopleService.references``)."""
        return self._people.references(person)

    def rename(self, old: str, new: str) -> Renamed:
        """Call the person ``old`` ``new`` from now on (``PeopleService.rename``)."""
        return self._people.rename(old, new)

    def remove_reference(self, reference_id: int, *, rematch: bool = True) -> RemovedReference:
        """Delete one reference and its crop; never a person's last one
        (``PeopleService.remove_reference``)."""
        return self._people.remove_reference(reference_id, rematch=rematch)

    def add_reference_from_face(self, face_id: int, person: str, *, rematch: bool = True) -> int:
        """Make a face confirmed as ``person`` one of their references; the new reference's
        id (``PeopleService.add_reference_from_face``)."""
        return self._people.add_reference_from_face(face_id, person, rematch=rematch)

    def merge_people(self, keep: str, absorb: str, *, rematch: bool = True) -> MergeResult:
        """Make ``absorb`` part of ``keep`` (``merge.resolve_merge``); with ``rematch`` False
        stored faces are not matched again here (queue a re-match job)."""
        result = resolve_merge(self, keep, absorb, rematch=rematch)
        self._drop_gallery()
        return result
