"""Exports of a library's sightings: reports (HTML, CSV, JSON) and XMP sidecars, audited.

This module turns stored sightings into the rows of :mod:`facesight.exports.report` and the face
regions of :mod:`facesight.exports.xmp`, writes the files, and records each export in the audit log
(who, when, which faces, which files), so personal data never leaves the library unrecorded.

What is exported: faces *identified* as someone, that is confirmed by a reviewer or proposed
by the decision rule and not yet reviewed (pending). Rejected proposals are left out: a
rejection says the face is *not* that person, so it is no sighting of them (the reviewer's
decision stays in the library's review history and audit log); a report lists them only when
asked (``include_rejected``), and its summary counts them either way. Faces nobody is
proposed for are left out too, and so are a person's own reference photos (a reference is
not a sighting).

Every report carries a header (:func:`report_header`: the operating-system account, the
library, the models, and the audit log's head hash when the caller passes one) and a
manifest beside its files (:func:`manifest_path`) with the sha256 of each.

XMP sidecars describe still images only: the MWG region schema has no time axis, and
catalogues read regions of photos, so sightings in videos are counted but not exported.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from PIL import Image

from facesight.errors import (
    InvalidInputError,
    MediaError,
    UnreadableMediaError,
)
from facesight.exports.manifest import write_manifest
from facesight.exports.report import MediaKind, ReportHeader, ReportRow, ReportSummary, report_meta
from facesight.exports.report_csv_json import write_csv, write_json
from facesight.exports.report_html import render_html, write_html
from facesight.exports.xmp import (
    FaceRegion,
    exif_orientation,
    sidecar_paths,
    write_sidecar,
    xmp_sidecar,
)
from facesight.files import STDOUT, sweep_dead_temps
from facesight.records import Candidate, Decision, FailureKind, MediaFailure, Review, Sighting
from facesight.store.audit import AuditAction, AuditLog, os_account
from facesight.store.reviews import ReviewBook
from facesight.store.sqlite import Store
from facesight.vision.pipeline import FacePipeline

__all__ = [
    "SCOPE_NOTE",
    "ReportLibrary",
    "XmpExport",
    "export_report",
    "export_xmp",
    "manifest_path",
    "report_header",
    "report_rows",
    "report_title",
    "summary_json",
]


class ReportLibrary(Protocol):
    """What reports and exports use of a library (``Library`` is one): its folder, store,
    review book, audit log and models, notices, and reviewed sightings."""

    @property
    def where(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def read_only(self) -> bool: ...
    @property
    def notices(self) -> list[str]: ...
    @property
    def store(self) -> Store: ...
    @property
    def reviews(self) -> ReviewBook: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def pipeline(self) -> FacePipeline: ...
    def sightings(
        self, person: str | None = None, *, include_unmatched: bool = False
    ) -> list[Sighting]: ...
    def sightings_by_face(self, face_ids: list[int]) -> list[Sighting]: ...
    def candidate_for(self, face_id: int, person_id: int) -> Candidate | None: ...


SCOPE_NOTE = (
    "Rows are the faces identified as the person: confirmed by a reviewer, or matched by the "
    "rule above and not yet reviewed (pending). Faces a reviewer rejected are not listed "
    "unless asked for (--include-rejected); the summary counts them either way. A person's "
    "own reference photos are references, not sightings."
)
"""What a report's rows are; append it to the decision rule shown in the report."""


def _identity(sighting: Sighting) -> tuple[int, str, Candidate | None] | None:
    """(person id, name, that person's candidate) of who the face is, or None.

    A reference photo is nobody's sighting: None.
    """
    if sighting.reference is not None:
        return None
    review = sighting.review
    if review is not None and review.decision == Decision.CONFIRMED:
        return review.person_id, review.person, sighting.named
    match = sighting.match
    return None if match is None else (match.person_id, match.person, match)


def _row(sighting: Sighting) -> ReportRow:
    identity = _identity(sighting)
    assert identity is not None  # only identified sightings become rows
    _, name, candidate = identity
    review = sighting.review
    decided = review if review is not None and sighting.decision == Decision.CONFIRMED else None
    return _row_of(sighting, name, candidate, decided, sighting.decision, sighting.category)


def _row_of(
    sighting: Sighting,
    name: str,
    candidate: Candidate | None,
    decided: Review | None,
    decision: str,
    category: str,
) -> ReportRow:
    video = sighting.kind == "video"
    return ReportRow(
        person=name,
        media_path=sighting.path,
        media_kind=MediaKind(sighting.kind),
        xyxy=sighting.xyxy,
        width_px=sighting.width_px,
        height_px=sighting.height_px,
        # The library computes the candidate of a person named by hand; only a person
        # without a reference of this descriptor version has none.
        distance=candidate.distance if candidate is not None else float("nan"),
        fmr=candidate.fmr if candidate is not None else float("nan"),
        decision=decision,
        category=category,
        time_s=sighting.time_s if video else None,
        start_s=sighting.start_s if video else None,
        end_s=sighting.end_s if video else None,
        frame=sighting.frame if video else None,
        crop_path=sighting.crop_path,
        captured_at=sighting.captured_at,
        gps=sighting.gps,
        quality=sighting.quality,
        quality_reasons=sighting.quality_reasons,
        reviewer=decided.reviewer if decided is not None else None,
        decided_at=decided.decided_at if decided is not None else None,
        face_id=sighting.face_id,
        note=decided.note if decided is not None else "",
        sha256=sighting.sha256,
        reference_path=candidate.reference_path if candidate is not None else None,
        reference_crop=candidate.reference_crop if candidate is not None else None,
        detector=sighting.detector,
        embedder=sighting.embedder,
    )


def report_rows(
    library: ReportLibrary, person: str | None, *, include_rejected: bool = False
) -> list[ReportRow]:
    """One row per sighting of ``person`` (None: of everyone identified), for a report.

    Rows are the confirmed and pending sightings (see the module docstring: rejected ones
    are not sightings of the person), in media order, grouped by person (names sorted
    case-insensitively) when ``person`` is None. The reviewer, decision time and note are
    those of the confirmation; a pending row has none. With ``include_rejected`` each
    standing rejection of the person is a row too (status ``rejected``, with the
    rejection's reviewer, time and note, and the face's distance to the person). Raises
    NotFoundError for a person who is not enrolled.
    """
    rows = [_row(s) for s in library.sightings(person) if _identity(s) is not None]
    if include_rejected:
        rows += _rejected_rows(library, person)
        rows.sort(key=lambda row: (row.media_path, row.start_s or -1.0, row.face_id or 0))
    if person is None or include_rejected:
        rows.sort(key=lambda row: row.person.casefold())  # stable: media order within a person
    return rows


def _rejected_rows(library: ReportLibrary, person: str | None) -> list[ReportRow]:
    person_id = None if person is None else library.store.person_id(person)
    rejections = library.reviews.rejections(person_id)
    faces = {s.face_id: s for s in library.sightings_by_face([r.face_id for r in rejections])}
    rows = []
    for review in rejections:
        sighting = faces.get(review.face_id)
        if sighting is None:
            continue
        candidate = library.candidate_for(review.face_id, review.person_id)
        rows.append(_row_of(sighting, review.person, candidate, review, "rejected", "rejected"))
    return rows


def report_title(library: ReportLibrary, person: str | None) -> str:
    """The title of a report: ``Sightings of <name as enrolled>``, or of everyone identified.

    Raises NotFoundError for a person who is not enrolled.
    """
    if person is None:
        return "Sightings of everyone identified"
    person_id = library.store.require_person(person)
    return f"Sightings of {library.store.person_name(person_id)}"


def report_header(library: ReportLibrary, *, audit_head: str | None = None) -> ReportHeader:
    """The header of a report of ``library``: the operating-system account exporting it, the
    library directory, the detector and descriptor versions, and the audit log's head hash
    as the report was made (``audit_head``, default: read now; ``facesight audit verify
    --head`` checks later that no record up to it was changed or dropped)."""
    return ReportHeader(
        generated_by=os_account(),
        library=library.where,
        detector=library.pipeline.detector_version,
        embedder=library.pipeline.embedder_version,
        audit_head=library.audit.head() if audit_head is None else audit_head,
    )


def manifest_path(outputs: Sequence[Path]) -> Path:
    """Where the manifest of a report goes: beside its first output, ``<stem>.manifest.json``."""
    first = outputs[0]
    return first.with_name(f"{first.stem}.manifest.json")


def export_report(
    library: ReportLibrary,
    rows: Sequence[ReportRow],
    *,
    html: str | os.PathLike[str] | None = None,
    csv: str | os.PathLike[str] | None = None,
    json: str | os.PathLike[str] | None = None,
    title: str,
    rule: str,
    include_rejected: bool = False,
    audit_head: str | None = None,
) -> list[Path]:
    """Write ``rows`` as a self-contained HTML page, CSV and/or JSON, and a manifest; return
    the files written (the manifest last).

    ``title`` and ``rule`` (the decision rule in words, e.g. ``cli_common.decision_note``
    plus :data:`SCOPE_NOTE`) head every output, with :func:`report_header` (who, which
    library, which models, and ``audit_head`` when given). Rows with status ``rejected``
    are written only with ``include_rejected``; the summaries count them either way. The
    manifest (:func:`manifest_path`) lists the sha256 of every file written. Each file is
    written atomically. One audit record (``export.report``) lists the faces and people
    exported and every file written, also when a later file fails; nothing is recorded
    when no file was written. Raises InvalidInputError when no output is given, OSError
    from the disk.
    """
    outputs = [(Path(p), kind) for p, kind in ((html, "html"), (csv, "csv"), (json, "json")) if p]
    if not outputs:
        raise InvalidInputError("a report needs at least one output file: html, csv or json")
    shown = [row for row in rows if include_rejected or row.decision != "rejected"]
    header = report_header(library, audit_head=audit_head)
    generated_at = datetime.now().astimezone()
    meta = report_meta(header, title=title, generated_at=generated_at, rule=rule)
    written: list[Path] = []
    streamed = 0  # outputs written to standard output ("-")
    try:
        for path, kind in outputs:
            if kind == "html":
                page = render_html(
                    shown,
                    title=title,
                    generated_at=generated_at,
                    rule=rule,
                    header=header,
                    counted=rows,
                )
                write_html(page, path)
            elif kind == "csv":
                write_csv(shown, path)
            else:
                write_json(shown, path, meta | {"summary": summary_json(rows)})
            streamed += str(path) == STDOUT
            if str(path) != STDOUT:
                written.append(path.resolve())
        files = [p for p, _ in outputs if str(p) != STDOUT]
        if files:  # standard output is no file to vouch for
            manifest = manifest_path(files)
            write_manifest(manifest, written, meta)
            written.append(manifest.resolve())
    finally:
        if written or streamed:
            names = dict.fromkeys(row.person for row in shown)
            _audit(
                library,
                AuditAction.EXPORT_REPORT,
                faces=[row.face_id for row in shown if row.face_id is not None],
                people=[i for name in names if (i := library.store.person_id(name)) is not None],
                paths=[*map(str, written), *[STDOUT] * streamed],
            )
    return written


def summary_json(rows: Sequence[ReportRow]) -> dict[str, int]:
    """The counts of a report's summary, for its JSON."""
    summary = ReportSummary.from_rows(rows)
    return {
        "sightings": summary.sightings,
        "confirmed": summary.confirmed,
        "manual_identifications": summary.manual,
        "pending": summary.pending,
        "rejected": summary.rejected,
        "media": summary.media,
    }


def _audit(
    library: ReportLibrary,
    action: AuditAction,
    *,
    faces: Sequence[int],
    people: Sequence[int],
    paths: Sequence[Path | str],
) -> None:
    if library.read_only:  # the export still happens; the user is told it went unrecorded
        library.notices.append(f"not recorded in the audit log (read-only library): {action}")
        return
    # People by id only: the log never holds a name (see facesight.store.audit).
    with library.store.transaction() as conn:
        library.audit.record(
            conn,
            action,
            faces=dict.fromkeys(faces),
            people=dict.fromkeys(people),
            paths=[str(p) for p in paths],
        )


# ---------------------------------------------------------------- XMP sidecars


@dataclass
class XmpExport:
    """What :func:`export_xmp` did.

    Attributes:
        written: the sidecar files written, one per still image.
        faces: face regions written, over all sidecars.
        skipped: images with identified faces that got no sidecar, and why (the file is
            gone or changed since it was scanned, or a sidecar of another program is in
            the way).
        video_sightings: identified faces in videos, which XMP regions cannot describe.
        leftovers_removed: temp files a killed export had left in the output folder.
    """

    written: list[Path] = field(default_factory=list)
    faces: int = 0
    skipped: list[MediaFailure] = field(default_factory=list)
    video_sightings: int = 0
    leftovers_removed: int = 0


def export_xmp(
    library: ReportLibrary, output_dir: str | os.PathLike[str], *, include_pending: bool = True
) -> XmpExport:
    """Write an XMP sidecar of named face regions for each still image with identified faces.

    Each sidecar (named by :func:`facesight.exports.xmp.sidecar_paths`, ``photo.jpg.xmp``) has an
    MWG ``Face`` region per confirmed sighting, and per pending one when
    ``include_pending`` (the library's own decisions, as ``sightings`` lists them; pass
    False when the catalogue should only hold names a person checked). The region name is
    the person's name as enrolled. The media file must still be where it was last
    scanned, with the size it had: its EXIF orientation maps the regions to its stored
    pixels (as MWG requires), and a file that is gone or changed is skipped rather than
    given regions that may be rotated or wrong. Faces in videos are counted, not exported.

    One audit record (``export.xmp``) lists the faces, people and sidecars written.
    Raises OSError from the disk.
    """
    result = XmpExport()
    result.leftovers_removed = sweep_dead_temps(Path(output_dir))
    by_media: dict[str, list[Sighting]] = {}
    for sighting in library.sightings():
        if _identity(sighting) is None:
            continue
        if not include_pending and sighting.decision != "confirmed":
            continue
        if sighting.kind == "video":
            result.video_sightings += 1
            continue
        by_media.setdefault(sighting.path, []).append(sighting)
    names = sidecar_paths(by_media, output_dir)
    faces: list[int] = []
    people: list[int] = []
    try:
        for media_path, found in by_media.items():
            failure = _write_one(names[media_path], media_path, found)
            if failure is not None:
                result.skipped.append(failure)
                continue
            result.written.append(names[media_path].resolve())
            result.faces += len(found)
            faces.extend(s.face_id for s in found)
            people.extend(_person_ids(found))
    finally:
        _audit(library, AuditAction.EXPORT_XMP, faces=faces, people=people, paths=result.written)
    return result


def _person_ids(found: Sequence[Sighting]) -> list[int]:
    return [identity[0] for s in found if (identity := _identity(s)) is not None]


def _write_one(sidecar: Path, media_path: str, found: list[Sighting]) -> MediaFailure | None:
    """Write the sidecar of one image; or say why not."""
    width_px, height_px = found[0].width_px, found[0].height_px
    try:
        orientation = _orientation_of(Path(media_path), width_px, height_px)
    except MediaError as error:
        return MediaFailure.from_error(error)
    if isinstance(orientation, MediaFailure):
        return orientation
    try:
        regions = [
            FaceRegion(identity[1], s.xyxy) for s in found if (identity := _identity(s)) is not None
        ]
    except InvalidInputError as error:  # a name from before control characters were refused
        return MediaFailure(media_path, FailureKind.NAME, str(error))
    packet = xmp_sidecar(regions, width_px, height_px, orientation=orientation)
    try:
        write_sidecar(sidecar, packet)
    except InvalidInputError as error:  # another program's sidecar is in the way
        return MediaFailure(media_path, FailureKind.SIDECAR, str(error))
    return None


def _orientation_of(path: Path, width_px: int, height_px: int) -> int | MediaFailure:
    """The file's EXIF orientation once its upright size is checked to be the scanned one;
    or why the file cannot get a sidecar (gone, or another size now).

    Raises MediaError when the file cannot be read.
    """
    if not path.is_file():
        return MediaFailure(
            str(path),
            FailureKind.MISSING,
            "not found where it was last scanned; scan its new place (known content is "
            "not analysed again), then export again",
        )
    orientation = exif_orientation(path)
    try:
        with warnings.catch_warnings():
            # Only the header is read: no pixel is decoded.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                stored_w, stored_h = image.size
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UnreadableMediaError(path, f"cannot read the image size: {exc}") from exc
    upright = (stored_h, stored_w) if orientation >= 5 else (stored_w, stored_h)
    if upright != (width_px, height_px):
        return MediaFailure(
            str(path),
            FailureKind.CHANGED,
            f"changed since it was scanned ({upright[0]}x{upright[1]} px upright now, "
            f"{width_px}x{height_px} px then): scan it again, then export again",
        )
    return orientation
