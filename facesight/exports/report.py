"""Sighting reports for people: one self-contained HTML page, and CSV / JSON of the same rows.

The caller (the CLI, over the store) builds one :class:`ReportRow` per sighting of a person;
this module only renders. The page has inline CSS, no scripts, and a Content-Security-Policy
that allows nothing but inline styles and ``data:`` images, so it opens offline, can be mailed
or archived as one file, and never makes a network request: each face crop is embedded as a
base64 data URI. A crop that is not on disk is shown as "crop missing", never an error.

Rows keep the order they are given in (the caller's scan order); a page about several people
has one section per person, in order of first appearance. Files are written atomically (a temp
file in the same folder, then a rename), so readers never see half a report.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path, PurePath

from facesight._version import __version__
from facesight.errors import InvalidInputError
from facesight.exports.csv_cells import csv_text
from facesight.exports.manifest import MANIFEST_SCHEMA, write_manifest
from facesight.files import write_text_atomically
from facesight.timecode import format_timecode

__all__ = [
    "CSV_COLUMNS",
    "MANIFEST_SCHEMA",
    "REPORT_SCHEMA",
    "MediaKind",
    "ReportHeader",
    "ReportRow",
    "ReportSummary",
    "render_html",
    "report_meta",
    "rows_json",
    "write_csv",
    "write_html",
    "write_json",
    "write_manifest",
]

MAX_CROP_BYTES = 4 << 20
"""Crops larger than this are not embedded (ours are at most 256 px, a few tens of kB)."""

_IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF8", "image/gif"),
)


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


_KNOWN_DECISIONS = ("confirmed", "pending", "rejected")


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
        counts = {name: decisions.count(name) for name in _KNOWN_DECISIONS}
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


# ---------------------------------------------------------------- HTML

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'"

_CSS = """
body { font: 10.5pt/1.4 system-ui, sans-serif; color: #111; margin: 1.5em auto; max-width: 90em;
       padding: 0 1em; }
h1 { font-size: 1.5em; margin: 0 0 0.3em; }
h2 { font-size: 1.15em; margin: 1.6em 0 0.4em; border-bottom: 1px solid #999; }
h3 { font-size: 1em; margin: 0.8em 0 0.3em; }
.when { white-space: nowrap; }
p.meta, p.note, .muted { color: #555; }
p.note { font-size: 0.9em; margin: 0.3em 0; max-width: 60em; }
table { border-collapse: collapse; }
table.summary th { text-align: left; font-weight: normal; padding-right: 1.5em; }
table.summary td, table.summary th { padding: 0.15em 0.6em 0.15em 0; }
table.rows { width: 100%; }
table.rows th { text-align: left; font-weight: 600; border-bottom: 2px solid #999;
                padding: 0.3em 0.5em; }
table.rows td { border-bottom: 1px solid #ddd; padding: 0.3em 0.5em; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.crop { width: 100px; }
img.crop { max-width: 96px; max-height: 96px; display: block; }
.missing { display: inline-block; width: 92px; padding: 30px 2px; text-align: center;
           border: 1px dashed #999; color: #666; font-size: 0.85em; }
.small { font-size: 0.85em; color: #555; }
.path { font-size: 0.8em; color: #555; word-break: break-all; }
.decision { font-weight: 600; }
.decision-confirmed { color: #11632b; }
.decision-rejected { color: #9b1c1c; }
.decision-pending { color: #7a5a00; }
footer { color: #666; font-size: 0.8em; margin-top: 2em; border-top: 1px solid #ccc;
         padding-top: 0.4em; }
@media print {
  body { margin: 0; max-width: none; font-size: 8.5pt; }
  tr, .summary { break-inside: avoid; }
}
""".strip()

_CATEGORY_NOTE = (
    "Decision: machine match = named by the decision rule, not yet reviewed; confirmed = a "
    "reviewer confirmed the rule's proposal; manual identification = a reviewer named "
    "someone the rule did not propose (distance and est. FMR are still the face's to that "
    "person); rejected = a reviewer said it is not the person (listed only on request)."
)

_FMR_NOTE = (
    "Distance is between the face's descriptor and the person's template (lower is closer). "
    "Est. FMR is the estimated false-match rate at that distance: the chance that a stranger's "
    "face comes this close to this person's template. Quality (0-1) says how far the face "
    "itself can be trusted as evidence. A candidate is evidence for a reviewer, not a verdict."
)

# fmt: off
_COLUMNS = (
    "#", "Face", "Nearest reference", "File", "Time in video", "Captured", "GPS", "Distance",
    "Est. FMR", "Quality", "Decision", "Reviewer and note",
)
# fmt: on


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


def _header_html(header: ReportHeader | None, generated_at: datetime) -> str:
    esc = html.escape
    when = esc(generated_at.isoformat(timespec="seconds"))
    if header is None:
        return f'<p class="meta">Generated {when}</p>'
    items = [
        ("Generated", when),
        ("By (account)", esc(header.generated_by)),
        ("Library", esc(header.library)),
        ("Detector", esc(header.detector)),
        ("Descriptor", esc(header.embedder)),
        ("facesight", esc(__version__)),
    ]
    if header.audit_head is not None:
        items.append(("Audit log head", esc(header.audit_head)))
    body = "".join(f'<tr><th scope="row">{k}</th><td>{v}</td></tr>' for k, v in items)
    return f'<table class="summary meta">{body}</table>'


def render_html(
    rows: Sequence[ReportRow],
    *,
    title: str,
    generated_at: datetime,
    rule: str,
    header: ReportHeader | None = None,
    counted: Sequence[ReportRow] | None = None,
) -> str:
    """The report as one self-contained HTML page (UTF-8 text).

    A summary of all rows comes first (counts by decision, media files, people, first and
    last seen), then a note with the decision ``rule`` (plain text, e.g. "a match is a
    distance of at most 0.52, a 1-in-1000 chance of a false identification for this
    gallery") and how to read the columns, then one section per person with a row per
    sighting: crop, file, timecode (video), capture time, GPS, distance, est. FMR,
    quality, decision and reviewer. ``generated_at`` is printed as given (pass an aware
    datetime to show its zone). All text is HTML-escaped; crops are read from disk and
    embedded, and any that cannot be (missing, unreadable, not JPEG/PNG/GIF, too large)
    is shown as "crop missing" with the reason. ``header`` (who, which library, which
    models) is printed under the title. The summaries count ``counted`` (default: the
    rows), so a report that leaves rejected rows out still counts them.
    """
    esc = html.escape
    counted = rows if counted is None else counted
    summary = ReportSummary.from_rows(counted)
    people = tuple(dict.fromkeys(row.person for row in rows))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f"<style>\n{_CSS}\n</style></head>",
        "<body>",
        f"<h1>{esc(title)}</h1>",
        _header_html(header, generated_at),
        _summary_html(summary, heading="Summary", level=2, show_people=len(people) > 1),
        '<section class="notes"><h2>How to read this report</h2>',
        f'<p class="note"><strong>Decision rule.</strong> {esc(rule)}</p>',
        f'<p class="note">{esc(_FMR_NOTE)}</p>',
        f'<p class="note">{esc(_CATEGORY_NOTE)}</p></section>',
    ]
    if not rows:
        parts.append('<p class="empty">No sightings to report.</p>')
    for number, person in enumerate(people, start=1):
        mine = [row for row in rows if row.person == person]
        theirs = [row for row in counted if row.person == person]
        parts.append(_person_html(number, person, mine, theirs, several=len(people) > 1))
    parts.append(
        f"<footer>generated by facesight {esc(__version__)}; "
        f"{summary.sightings} sightings; contains personal data</footer>"
    )
    parts.extend(["</body>", "</html>", ""])
    return "\n".join(parts)


def _summary_html(summary: ReportSummary, *, heading: str, level: int, show_people: bool) -> str:
    esc = html.escape
    manual = f" ({summary.manual} manual identification(s))" if summary.manual else ""
    decided = (
        f"{summary.confirmed} confirmed{manual}, {summary.pending} pending, "
        f"{summary.rejected} rejected"
    )
    if summary.other:
        decided += f", {summary.other} other"
    media = (
        f"{summary.media} ({_plural(summary.images, 'image')}, {_plural(summary.videos, 'video')})"
    )
    items = [
        ("Sightings", str(summary.sightings)),
        ("Decisions", decided),
        ("Media files", media),
    ]
    if show_people:
        items.append(("People", f"{len(summary.people)}: " + ", ".join(summary.people)))
    items.append(("First seen", _seen_text(summary.first_seen, summary.by_capture_time)))
    items.append(("Last seen", _seen_text(summary.last_seen, summary.by_capture_time)))
    body = "\n".join(
        f'<tr><th scope="row">{esc(name)}</th><td>{esc(value)}</td></tr>' for name, value in items
    )
    return (
        f'<section class="summary"><h{level}>{esc(heading)}</h{level}>\n'
        f'<table class="summary">\n{body}\n</table></section>'
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _seen_text(row: ReportRow | None, by_capture_time: bool) -> str:
    if row is None:
        return "—"
    where = row.file_name + (f" at {row.timecode}" if row.timecode else "")
    if by_capture_time:
        return f"{row.captured_at} — {where}"
    return f"{where} (scan order; no capture times known)"


def _person_html(
    number: int, person: str, rows: list[ReportRow], counted: list[ReportRow], *, several: bool
) -> str:
    esc = html.escape
    head = "".join(f'<th scope="col">{esc(name)}</th>' for name in _COLUMNS)
    body = "\n".join(_row_html(i, row) for i, row in enumerate(rows, start=1))
    summary = ""
    if several:
        summary = _summary_html(
            ReportSummary.from_rows(counted), heading="Summary", level=3, show_people=False
        )
    return (
        f'<section class="person" id="person-{number}">\n<h2>{esc(person)}</h2>\n{summary}\n'
        f'<table class="rows">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n'
        "</table>\n</section>"
    )


def _row_html(number: int, row: ReportRow) -> str:
    esc = html.escape
    cells = [
        f'<td class="num">{number}</td>',
        f'<td class="crop">{_crop_html(row)}</td>',
        f'<td class="crop">{_reference_html(row)}</td>',
        f"<td>{_file_html(row)}</td>",
        f"<td>{_time_html(row)}</td>",
        f'<td class="when">{esc(row.captured_at or "unknown")}</td>',
        f'<td class="num">{esc(_gps_text(row.gps))}</td>',
        f'<td class="num">{esc(_number(row.distance, ".3f"))}</td>',
        f'<td class="num">{esc(_fmr_text(row.fmr))}</td>',
        f"<td>{_quality_html(row)}</td>",
        f"<td>{_decision_html(row)}</td>",
        f"<td>{_reviewer_html(row)}</td>",
    ]
    return '<tr class="sighting">' + "".join(cells) + "</tr>"


def _crop_html(row: ReportRow) -> str:
    uri, problem = _crop_data_uri(row.crop_path)
    if uri is None:
        return f'<span class="missing" title="{html.escape(problem)}">crop missing</span>'
    alt = f"{row.person} in {row.file_name}"
    return f'<img class="crop" src="{uri}" alt="{html.escape(alt)}">'


def _reference_html(row: ReportRow) -> str:
    if row.reference_path is None and row.reference_crop is None:
        return '<span class="muted">—</span>'
    uri, problem = _crop_data_uri(row.reference_crop)
    name = PurePath(row.reference_path or "").name
    caption = f'<br><span class="path">{html.escape(name)}</span>' if name else ""
    if uri is None:
        return f'<span class="missing" title="{html.escape(problem)}">crop missing</span>{caption}'
    alt = f"reference of {row.person}: {name}"
    return f'<img class="crop" src="{uri}" alt="{html.escape(alt)}">{caption}'


def _crop_data_uri(crop_path: str | None) -> tuple[str | None, str]:
    """A data URI of the crop, or None and why not."""
    if not crop_path:
        return None, "no crop was recorded"
    try:
        with open(crop_path, "rb") as handle:
            data = handle.read(MAX_CROP_BYTES + 1)
    except OSError as exc:
        return None, f"cannot read {crop_path}: {exc.strerror or exc}"
    if len(data) > MAX_CROP_BYTES:
        return None, f"{crop_path} is over {MAX_CROP_BYTES} bytes"
    for signature, mime in _IMAGE_SIGNATURES:
        if data.startswith(signature):
            return f"data:{mime};base64," + base64.b64encode(data).decode("ascii"), ""
    return None, f"{crop_path} is not a JPEG, PNG or GIF image"


def _file_html(row: ReportRow) -> str:
    esc = html.escape
    x1, y1, x2, y2 = (round(v) for v in row.xyxy)
    box = f"box ({x1}, {y1})-({x2}, {y2}) in {row.width_px}x{row.height_px} px"
    sha = f'<br><span class="path">sha256 {esc(row.sha256)}</span>' if row.sha256 else ""
    models = ""
    if row.detector or row.embedder:
        names = f"{row.detector or ''}; {row.embedder or ''}"
        models = f'<br><span class="small">{esc(names)}</span>'
    return (
        f'<span class="file">{esc(row.file_name)}</span><br>'
        f'<span class="path">{esc(row.media_path)}</span>{sha}<br>'
        f'<span class="small">{esc(box)}</span>{models}'
    )


def _time_html(row: ReportRow) -> str:
    if row.media_kind is MediaKind.IMAGE:
        return '<span class="muted">still image</span>'
    parts = [html.escape(row.timecode or "time unknown")]
    if row.start_s is not None and row.end_s is not None:
        span = f"track {format_timecode(row.start_s)} to {format_timecode(row.end_s)}"
        parts.append(f'<span class="small">{html.escape(span)}</span>')
    if row.frame is not None:
        parts.append(f'<span class="small">frame {row.frame}</span>')
    return "<br>".join(parts)


def _quality_html(row: ReportRow) -> str:
    if row.quality is None:
        return '<span class="muted">unknown</span>'
    text = f"{row.quality:.2f}"
    if row.quality_reasons:
        text += f'<br><span class="small">{html.escape(row.quality_reasons)}</span>'
    return text


def _decision_html(row: ReportRow) -> str:
    decision = row.decision.lower()
    kind = decision if decision in _KNOWN_DECISIONS else "other"
    return f'<span class="decision decision-{kind}">{html.escape(row.category)}</span>'


def _reviewer_html(row: ReportRow) -> str:
    note = f'<br><span class="note">note: {html.escape(row.note)}</span>' if row.note else ""
    if row.reviewer is None and row.decided_at is None:
        return '<span class="muted">—</span>' + note
    text = html.escape(row.reviewer or "unknown")
    if row.decided_at:
        text += f'<br><span class="small when">{html.escape(row.decided_at)}</span>'
    return text + note


def _gps_text(gps: tuple[float, float] | None) -> str:
    return "unknown" if gps is None else f"{gps[0]:.6f}, {gps[1]:.6f}"


def _fmr_text(fmr: float) -> str:
    return "unknown" if not math.isfinite(fmr) else f"{fmr:.1e}"


def _number(value: float, spec: str) -> str:
    return "unknown" if not math.isfinite(value) else format(value, spec)


# ---------------------------------------------------------------- CSV / JSON

# fmt: off
CSV_COLUMNS = (
    "person", "path", "kind", "time_s", "start_s", "end_s", "timecode", "frame",
    "x1", "y1", "x2", "y2", "width_px", "height_px", "crop", "captured_at",
    "latitude", "longitude", "distance", "fmr", "quality", "quality_reasons",
    "status", "category", "reviewer", "reviewed_at", "note", "face_id", "sha256",
    "reference", "reference_crop", "detector", "embedder",
)
# fmt: on
"""The CSV header: ``rows_json`` fields with ``xyxy`` and ``gps`` spread over columns."""


def rows_json(rows: Sequence[ReportRow]) -> list[dict[str, object]]:
    """The rows as JSON-ready dicts (``json.dumps`` them as they are).

    Keys are those ``facesight sightings --json`` uses for the same things (``path``,
    ``kind``, ``crop``, ``status``, ``reviewed_at``, ``reference``), the other
    ``ReportRow`` fields by their names, plus ``timecode`` (``HH:MM:SS.mmm`` or null);
    ``xyxy`` is a list of 4 floats, ``gps`` a [latitude, longitude] list or null. A NaN or
    infinite ``distance`` / ``fmr`` becomes null (JSON has no NaN).
    """
    return [_row_dict(row) for row in rows]


def _row_dict(row: ReportRow) -> dict[str, object]:
    return {
        "person": row.person,
        "path": row.media_path,
        "kind": row.media_kind.value,
        "time_s": row.time_s,
        "start_s": row.start_s,
        "end_s": row.end_s,
        "timecode": row.timecode,
        "frame": row.frame,
        "xyxy": [float(v) for v in row.xyxy],
        "width_px": row.width_px,
        "height_px": row.height_px,
        "crop": row.crop_path,
        "captured_at": row.captured_at,
        "gps": None if row.gps is None else [float(row.gps[0]), float(row.gps[1])],
        "distance": _finite(row.distance),
        "fmr": _finite(row.fmr),
        "quality": row.quality,
        "quality_reasons": row.quality_reasons,
        "status": row.decision,
        "category": row.category,
        "reviewer": row.reviewer,
        "reviewed_at": row.decided_at,
        "note": row.note,
        "face_id": row.face_id,
        "sha256": row.sha256,
        "reference": row.reference_path,
        "reference_crop": row.reference_crop,
        "detector": row.detector,
        "embedder": row.embedder,
    }


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _csv_record(row: ReportRow) -> dict[str, object]:
    record = _row_dict(row)
    del record["xyxy"], record["gps"]
    record.update(zip(("x1", "y1", "x2", "y2"), (float(v) for v in row.xyxy), strict=True))
    lat, lon = row.gps if row.gps is not None else (None, None)
    record.update(latitude=lat, longitude=lon)
    return {key: "" if value is None else value for key, value in record.items()}


def write_csv(rows: Sequence[ReportRow], path: str | os.PathLike[str]) -> None:
    """Write the rows as UTF-8 CSV with the ``CSV_COLUMNS`` header, atomically.

    Empty cells stand for null. Floats are written in full (``repr``), so they read back
    exactly. Every cell goes through :func:`facesight.exports.csv_cells.safe_cell`: a cell that a
    spreadsheet would run as a formula gets a ``'`` in front, control characters are
    written as ``\\x1b`` escapes. OSError from the disk propagates.
    """
    _write_atomic(Path(path), csv_text(CSV_COLUMNS, [_csv_record(row) for row in rows]))


def write_json(
    rows: Sequence[ReportRow],
    path: str | os.PathLike[str],
    meta: dict[str, object] | None = None,
) -> None:
    """Write the report as indented UTF-8 JSON, atomically.

    The document is ``{"schema": REPORT_SCHEMA, <meta: report_meta()>, "rows":
    rows_json(rows)}``.
    """
    document = {"schema": REPORT_SCHEMA, **(meta or {}), "rows": rows_json(rows)}
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)
    _write_atomic(Path(path), text + "\n")


def write_html(html_text: str, path: str | os.PathLike[str]) -> None:
    """Write a page from ``render_html`` as UTF-8, atomically; the parent folder is created."""
    _write_atomic(Path(path), html_text)


def _write_atomic(path: Path, text: str) -> None:
    write_text_atomically(path, text, newline="")
