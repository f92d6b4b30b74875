"""Sighting reports for people: the records every report format is rendered from.

The caller (the library, over the store) builds one :class:`ReportRow` per sighting of a
person, a :class:`ReportSummary` of them and a :class:`ReportHeader` naming who made the report
from what; :mod:`facesight.exports.report_html` renders the page and
:mod:`facesight.exports.report_csv_json` the CSV and JSON of the same rows. Rows keep the order
they are given in (the caller's scan order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import PurePath

from facesight._version import __version__
from facesight.errors import InvalidInputError
from facesight.timecode import format_timecode

__all__ = [
    "KNOWN_DECISIONS",
    "REPORT_SCHEMA",
    "MediaKind",
    "ReportHeader",
    "ReportRow",
    "ReportSummary",
    "report_meta",
]


class MediaKind(StrEnum):
    """What a sighting was found in: a still image, or a video (with a timecode)."""

    IMAGE = "image"
    VIDEO = "video"


@dataclass(frozen=True, kw_only=True)
class ReportRow:
    """One sighting of a person, as a report shows it.

    Attributes:
        person: the name the sighting is attributed to.
        media_path: the image or video file.
        media_kind: ``MediaKind.IMAGE`` or ``MediaKind.VIDEO`` (a plain string is converted).
        time_s: for video, the time of the face shown (the track's best face); None for stills.
        start_s, end_s: for video, the span of the face's track; None for stills.
        frame: the video frame index of ``time_s``; None for stills.
        xyxy: the face box in pixels of the upright image or frame.
        width_px, height_px: the size of that upright image or frame.
        crop_path: a JPEG (or PNG) of the face; None or a vanished file shows "crop missing".
        captured_at: capture time as ISO 8601 (EXIF time has no zone), or None.
        gps: (latitude, longitude) in decimal degrees, or None.
        distance: descriptor distance to the person's template.
        fmr: estimated false-match rate at ``distance``; NaN when unknown.
        quality: face quality 0-1, or None; ``quality_reasons`` says why it is low.
        decision: "pending", "confirmed", "rejected" or another state the store knows.
        reviewer, decided_at: who decided and when (ISO 8601); None while pending.
        face_id: the stored face, for cross-reference; None when not stored.
        category: how the face came to be named: "machine match", "confirmed",
            "manual identification" or "rejected" (``records.DECISION_CATEGORIES``);
            empty: derived from ``decision``.
        note: the reviewer's note with the decision.
        sha256: the media file's content hash, as scanned.
        reference_path, reference_crop: the person's reference nearest to the face
            (its source photo and its crop), shown beside the face's crop.
        detector, embedder: the model versions that found and described the face.
    """

    person: str
    media_path: str
    media_kind: MediaKind
    xyxy: tuple[float, float, float, float]
    width_px: int
    height_px: int
    distance: float
    decision: str
    time_s: float | None = None
    start_s: float | None = None
    end_s: float | None = None
    frame: int | None = None
    crop_path: str | None = None
    captured_at: str | None = None
    gps: tuple[float, float] | None = None
    fmr: float = float("nan")
    quality: float | None = None
    quality_reasons: str = ""
    reviewer: str | None = None
    decided_at: str | None = None
    face_id: int | None = None
    category: str = ""
    note: str = ""
    sha256: str | None = None
    reference_path: str | None = None
    reference_crop: str | None = None
    detector: str | None = None
    embedder: str | None = None

    def __post_init__(self) -> None:
        if not self.category:
            derived = {"pending": "machine match"}.get(self.decision.lower(), self.decision)
            object.__setattr__(self, "category", derived)
        try:
            object.__setattr__(self, "media_kind", MediaKind(self.media_kind))
        except ValueError as exc:
            raise InvalidInputError(
                f"media_kind must be 'image' or 'video', got {self.media_kind!r}"
            ) from exc
        if len(self.xyxy) != 4:
            raise InvalidInputError(f"xyxy must have 4 numbers, got {len(self.xyxy)}")
        if self.quality is not None and not 0.0 <= self.quality <= 1.0:
            raise InvalidInputError(f"quality must be within 0-1 or None, got {self.quality}")
        if self.gps is not None:
            lat, lon = self.gps
            if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
                raise InvalidInputError(
                    f"gps must be (latitude -90..90, longitude -180..180), got {self.gps}"
                )

    @property
    def file_name(self) -> str:
        """The last part of ``media_path``."""
        return PurePath(self.media_path).name or self.media_path

    @property
    def timecode(self) -> str | None:
        """``time_s`` as ``HH:MM:SS.mmm``, or None for stills."""
        return None if self.time_s is None else format_timecode(self.time_s)


KNOWN_DECISIONS = ("confirmed", "pending", "rejected")
"""The review decisions a report counts and colours by name; any other is counted as other."""


@dataclass(frozen=True)
class ReportSummary:
    """Counts and extent of a set of rows, shown at the top of a report.

    ``first_seen`` and ``last_seen`` are the rows with the earliest and latest capture time
    when any row has one (``by_capture_time``; rows without a capture time are then left
    out), else the first and last rows in the order given (scan order). Capture times are
    compared as the wall-clock times cameras record. ``other`` counts decisions that are
    none of confirmed, pending, rejected; ``manual`` the confirmed rows that are manual
    identifications. ``sightings`` counts every row but the rejected ones.
    """

    sightings: int
    confirmed: int
    pending: int
    rejected: int
    other: int
    manual: int
    media: int
    images: int
    videos: int
    people: tuple[str, ...]
    first_seen: ReportRow | None
    last_seen: ReportRow | None
    by_capture_time: bool

    @classmethod
    def from_rows(cls, rows: Sequence[ReportRow]) -> ReportSummary:
        """The summary of ``rows``; rejected rows are counted as rejected, and nothing else
        (media, people, first and last seen are those of the sightings)."""
        decisions = [row.decision.lower() for row in rows]
        counts = {name: decisions.count(name) for name in KNOWN_DECISIONS}
        seen = [row for row in rows if row.decision.lower() != "rejected"]
        kinds = {row.media_path: row.media_kind for row in seen}
        dated = [(t, i) for i, row in enumerate(seen) if (t := _capture_time(row)) is not None]
        first: ReportRow | None = None
        last: ReportRow | None = None
        if dated:
            first, last = seen[min(dated)[1]], seen[max(dated)[1]]
        elif seen:
            first, last = seen[0], seen[-1]
        return cls(
            sightings=len(rows) - counts["rejected"],
            confirmed=counts["confirmed"],
            pending=counts["pending"],
            rejected=counts["rejected"],
            other=len(rows) - sum(counts.values()),
            manual=sum(row.category == "manual identification" for row in rows),
            media=len(kinds),
            images=sum(kind is MediaKind.IMAGE for kind in kinds.values()),
            videos=sum(kind is MediaKind.VIDEO for kind in kinds.values()),
            people=tuple(dict.fromkeys(row.person for row in seen)),
            first_seen=first,
            last_seen=last,
            by_capture_time=bool(dated),
        )


def _capture_time(row: ReportRow) -> datetime | None:
    if not row.captured_at:
        return None
    try:
        return datetime.fromisoformat(row.captured_at).replace(tzinfo=None)
    except ValueError:
        return None


@dataclass(frozen=True, kw_only=True)
class ReportHeader:
    """Who made a report, from what, with which models: printed at the top of every output.

    Attributes:
        generated_by: the operating-system account that ran the export.
        library: the library directory the rows come from.
        detector, embedder: the face detector and descriptor versions of the library.
        audit_head: the audit log's head hash when the export was recorded, so a reader
            can check the log later; None (not shown) when the caller has none.
    """

    generated_by: str
    library: str
    detector: str
    embedder: str
    audit_head: str | None = None


REPORT_SCHEMA = 2
"""Version of the report JSON layout (``{"schema": 2, ..., "rows": [...]}``)."""


def report_meta(
    header: ReportHeader | None, *, title: str, generated_at: datetime, rule: str
) -> dict[str, object]:
    """The header of a report as JSON-ready data (the report JSON and the manifest)."""
    meta: dict[str, object] = {
        "title": title,
        "generated_at": generated_at.isoformat(timespec="seconds"),
        "rule": rule,
        "facesight_version": __version__,
    }
    if header is not None:
        meta |= {
            "generated_by": header.generated_by,
            "library": header.library,
            "detector": header.detector,
            "embedder": header.embedder,
        }
        if header.audit_head is not None:
            meta["audit_head"] = header.audit_head
    return meta
