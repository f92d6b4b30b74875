"""Sighting reports for people: one self-contained HTML page.

The page has inline CSS, no scripts, and a Content-Security-Policy that allows nothing but
inline styles and ``data:`` images, so it opens offline, can be mailed or archived as one file,
and never makes a network request: each face crop is embedded as a base64 data URI. A crop that
is not on disk is shown as "crop missing", never an error.

Rows keep the order they are given in (the caller's scan order); a page about several people
has one section per person, in order of first appearance. The file is written atomically (a
temp file in the same folder, then a rename), so readers never see half a report.
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path, PurePath

from facesight._version import __version__
from facesight.exports.report import (
    KNOWN_DECISIONS,
    MediaKind,
    ReportHeader,
    ReportRow,
    ReportSummary,
)
from facesight.files import write_text_atomically
from facesight.timecode import format_timecode

__all__ = ["MAX_CROP_BYTES", "render_html", "write_html"]


MAX_CROP_BYTES = 4 << 20
"""Crops larger than this are not embedded (ours are at most 256 px, a few tens of kB)."""

_IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF8", "image/gif"),
)


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
    kind = decision if decision in KNOWN_DECISIONS else "other"
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


def write_html(html_text: str, path: str | os.PathLike[str]) -> None:
    """Write a page from ``render_html`` as UTF-8, atomically; the parent folder is created."""
    write_text_atomically(Path(path), html_text, newline="")
