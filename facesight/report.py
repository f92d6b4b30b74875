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
import csv
import html
import io
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
from facesight.files import write_text_atomically
from facesight.video import format_timecode

__all__ = [
    "CSV_COLUMNS",
    "MediaKind",
    "ReportRow",
    "ReportSummary",
    "render_html",
    "rows_json",
    "write_csv",
    "write_html",
    "write_json",
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

    def __post_init__(self) -> None:
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
    none of confirmed, pending, rejected.
    """

    sightings: int
    confirmed: int
    pending: int
    rejected: int
    other: int
    media: int
    images: int
    videos: int
    people: tuple[str, ...]
    first_seen: ReportRow | None
    last_seen: ReportRow | None
    by_capture_time: bool

    @classmethod
    def from_rows(cls, rows: Sequence[ReportRow]) -> ReportSummary:
        """The summary of ``rows``."""
        decisions = [row.decision.lower() for row in rows]
        counts = {name: decisions.count(name) for name in _KNOWN_DECISIONS}
        kinds = {row.media_path: row.media_kind for row in rows}
        dated = [(t, i) for i, row in enumerate(rows) if (t := _capture_time(row)) is not None]
        first: ReportRow | None = None
        last: ReportRow | None = None
        if dated:
            first, last = rows[min(dated)[1]], rows[max(dated)[1]]
        elif rows:
            first, last = rows[0], rows[-1]
        return cls(
            sightings=len(rows),
            confirmed=counts["confirmed"],
            pending=counts["pending"],
            rejected=counts["rejected"],
            other=len(rows) - sum(counts.values()),
            media=len(kinds),
            images=sum(kind is MediaKind.IMAGE for kind in kinds.values()),
            videos=sum(kind is MediaKind.VIDEO for kind in kinds.values()),
            people=tuple(dict.fromkeys(row.person for row in rows)),
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

_FMR_NOTE = (
    "Distance is between the face's descriptor and the person's template (lower is closer). "
    "Est. FMR is the estimated false-match rate at that distance: the chance that a stranger's "
    "face comes this close to this person's template. Quality (0-1) says how far the face "
    "itself can be trusted as evidence. A candidate is evidence for a reviewer, not a verdict."
)

# fmt: off
_COLUMNS = (
    "#", "Crop", "File", "Time in video", "Captured", "GPS", "Distance", "Est. FMR", "Quality",
    "Decision", "Reviewer",
)
# fmt: on


def render_html(rows: Sequence[ReportRow], *, title: str, generated_at: datetime, rule: str) -> str:
    """The report as one self-contained HTML page (UTF-8 text).

    A summary of all rows comes first (counts by decision, media files, people, first and
    last seen), then a note with the decision ``rule`` (plain text, e.g. "a match is a
    distance of at most 0.52, a 1-in-1000 chance of a false identification for this
    gallery") and how to read the columns, then one section per person with a row per
    sighting: crop, file, timecode (video), capture time, GPS, distance, est. FMR,
    quality, decision and reviewer. ``generated_at`` is printed as given (pass an aware
    datetime to show its zone). All text is HTML-escaped; crops are read from disk and
    embedded, and any that cannot be (missing, unreadable, not JPEG/PNG/GIF, too large)
    is shown as "crop missing" with the reason.
    """
    esc = html.escape
    summary = ReportSummary.from_rows(rows)
    people = summary.people
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
        f'<p class="meta">Generated {esc(generated_at.isoformat(timespec="seconds"))}</p>',
        _summary_html(summary, heading="Summary", level=2, show_people=len(people) > 1),
        '<section class="notes"><h2>How to read this report</h2>',
        f'<p class="note"><strong>Decision rule.</strong> {esc(rule)}</p>',
        f'<p class="note">{esc(_FMR_NOTE)}</p></section>',
    ]
    if not rows:
        parts.append('<p class="empty">No sightings to report.</p>')
    for number, person in enumerate(people, start=1):
        mine = [row for row in rows if row.person == person]
        parts.append(_person_html(number, person, mine, several=len(people) > 1))
    parts.append(
        f"<footer>generated by facesight {esc(__version__)}; "
        f"{summary.sightings} sightings; contains personal data</footer>"
    )
    parts.extend(["</body>", "</html>", ""])
    return "\n".join(parts)


def _summary_html(summary: ReportSummary, *, heading: str, level: int, show_people: bool) -> str:
    esc = html.escape
    decided = (
        f"{summary.confirmed} confirmed, {summary.pending} pending, {summary.rejected} rejected"
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


def _person_html(number: int, person: str, rows: list[ReportRow], *, several: bool) -> str:
    esc = html.escape
    head = "".join(f'<th scope="col">{esc(name)}</th>' for name in _COLUMNS)
    body = "\n".join(_row_html(i, row) for i, row in enumerate(rows, start=1))
    summary = ""
    if several:
        summary = _summary_html(
            ReportSummary.from_rows(rows), heading="Summary", level=3, show_people=False
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
    return (
        f'<span class="file">{esc(row.file_name)}</span><br>'
        f'<span class="path">{esc(row.media_path)}</span><br>'
        f'<span class="small">{esc(box)}</span>'
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
    return f'<span class="decision decision-{kind}">{html.escape(row.decision)}</span>'


def _reviewer_html(row: ReportRow) -> str:
    if row.reviewer is None and row.decided_at is None:
        return '<span class="muted">—</span>'
    text = html.escape(row.reviewer or "unknown")
    if row.decided_at:
        text += f'<br><span class="small when">{html.escape(row.decided_at)}</span>'
    return text


def _gps_text(gps: tuple[float, float] | None) -> str:
    return "unknown" if gps is None else f"{gps[0]:.6f}, {gps[1]:.6f}"


def _fmr_text(fmr: float) -> str:
    return "unknown" if not math.isfinite(fmr) else f"{fmr:.1e}"


def _number(value: float, spec: str) -> str:
    return "unknown" if not math.isfinite(value) else format(value, spec)


# ---------------------------------------------------------------- CSV / JSON

# fmt: off
CSV_COLUMNS = (
    "person", "media_path", "media_kind", "time_s", "start_s", "end_s", "timecode", "frame",
    "x1", "y1", "x2", "y2", "width_px", "height_px", "crop_path", "captured_at",
    "latitude", "longitude", "distance", "fmr", "quality", "quality_reasons",
    "decision", "reviewer", "decided_at", "face_id",
)
# fmt: on
"""The CSV header: ``rows_json`` fields with ``xyxy`` and ``gps`` spread over columns."""


def rows_json(rows: Sequence[ReportRow]) -> list[dict[str, object]]:
    """The rows as JSON-ready dicts (``json.dumps`` them as they are).

    Keys are the ``ReportRow`` fields plus ``timecode`` (``HH:MM:SS.mmm`` or null);
    ``xyxy`` is a list of 4 floats, ``gps`` a [latitude, longitude] list or null. A NaN or
    infinite ``distance`` / ``fmr`` becomes null (JSON has no NaN).
    """
    return [_row_dict(row) for row in rows]


def _row_dict(row: ReportRow) -> dict[str, object]:
    return {
        "person": row.person,
        "media_path": row.media_path,
        "media_kind": row.media_kind.value,
        "time_s": row.time_s,
        "start_s": row.start_s,
        "end_s": row.end_s,
        "timecode": row.timecode,
        "frame": row.frame,
        "xyxy": [float(v) for v in row.xyxy],
        "width_px": row.width_px,
        "height_px": row.height_px,
        "crop_path": row.crop_path,
        "captured_at": row.captured_at,
        "gps": None if row.gps is None else [float(row.gps[0]), float(row.gps[1])],
        "distance": _finite(row.distance),
        "fmr": _finite(row.fmr),
        "quality": row.quality,
        "quality_reasons": row.quality_reasons,
        "decision": row.decision,
        "reviewer": row.reviewer,
        "decided_at": row.decided_at,
        "face_id": row.face_id,
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
    exactly. Text is written as it is: a spreadsheet may treat a cell starting with ``=``
    as a formula, so open untrusted names as text. OSError from the disk propagates.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(_csv_record(row) for row in rows)
    _write_atomic(Path(path), buffer.getvalue())


def write_json(rows: Sequence[ReportRow], path: str | os.PathLike[str]) -> None:
    """Write ``rows_json(rows)`` as an indented UTF-8 JSON array, atomically."""
    text = json.dumps(rows_json(rows), indent=2, ensure_ascii=False, allow_nan=False)
    _write_atomic(Path(path), text + "\n")


def write_html(html_text: str, path: str | os.PathLike[str]) -> None:
    """Write a page from ``render_html`` as UTF-8, atomically; the parent folder is created."""
    _write_atomic(Path(path), html_text)


def _write_atomic(path: Path, text: str) -> None:
    write_text_atomically(path, text, newline="")
