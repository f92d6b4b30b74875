"""What every ``facesight`` command shares: opening the library, tables, JSON and CSV rows.

Commands live in the modules of ``facesight.cli``, one per command family (``main`` holds
the group and its global options); they parse, call the library, and print with these
helpers. No business logic here.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from facesight.config import resolve_library
from facesight.errors import FaceSightError
from facesight.exports.csv_cells import csv_text
from facesight.library.decision_rule import decision_note as rule_in_words
from facesight.library.facade import Library
from facesight.location import redact_url
from facesight.records import Candidate, MediaFailure, Sighting
from facesight.text import printable
from facesight.timecode import format_timecode

__all__ = [
    "TextSafeGroup",
    "candidate_row",
    "cell",
    "console",
    "decision_note",
    "escape_log_records",
    "failure_text",
    "fmt_rate",
    "on_error_option",
    "open_library",
    "output_options",
    "print_rows",
    "rate",
    "report_failure",
    "shorten_paths",
    "shown",
    "sighting_row",
    "table_status",
    "timecode",
    "walked_past_line",
    "when",
]

F = TypeVar("F", bound=Callable[..., Any])


def console(stderr: bool = False) -> Console:
    """A console on stdout or stderr; pipes and files get 200 columns, not rich's 80."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 200
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


class TextSafeGroup(click.Group):
    """The command group whose errors print as one line: click writes an error's
    message as it is, so a file name with a newline or an ESC sequence in it
    would forge lines or drive the terminal; escape them first."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as error:
            # click marks ``message`` Final; it is still the text ``show()`` prints
            setattr(error, "message", printable(error.message))  # noqa: B010
            raise


class _PrintableRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = printable(record.getMessage()), None
        return True


_PRINTABLE_RECORDS = _PrintableRecords()


def escape_log_records() -> None:
    """Log lines on the root logger's handlers show control characters escaped."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(_PRINTABLE_RECORDS)


def shown(value: object) -> str:
    """User text (a path, a person's name, an error that names a file) ready to go
    into a rich markup string: control characters escaped (``facesight.text``)
    and markup brackets escaped, so it prints as the text it is."""
    return escape(printable(value))


def output_options(func: F) -> F:
    """``--json`` / ``--csv`` switches shared by listing commands."""
    func = click.option("--csv", "as_csv", is_flag=True, help="Print CSV rows.")(func)
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")(func)


def on_error_option(func: F) -> F:
    return click.option(
        "--on-error",
        type=click.Choice(["skip", "stop"]),
        default="skip",
        show_default=True,
        help="skip: report a bad file on stderr, record it and go on; stop: end at the first.",
    )(func)


@contextmanager
def open_library(ctx: click.Context, *, create: bool = False) -> Iterator[Library]:
    """Open the library; errors inside the block become one line and exit status 1.

    Only ``init``, ``enroll`` and ``scan`` pass ``create``: any other command on
    a missing library says so instead of making an empty one. The library's
    ``notices`` (permissions tightened, leftovers removed, read-only, audit
    entries not recorded) go to stderr once.
    """
    opts = ctx.obj
    library: Library | None = None
    try:
        with Library(
            resolve_library(opts["library"]),
            max_pixels=opts["max_pixels"],
            max_distance=opts["max_distance"],
            target_fpir=opts["target_fpir"],
            device=opts["device"],
            actor=opts.get("user"),
            create=create,
        ) as library:
            try:
                yield library
            finally:
                _print_notices(library)
    except FaceSightError as error:
        raise click.ClickException(str(error)) from error
    except OSError as error:  # a full disk, a vanished folder: one line, no traceback
        where = f"{error.filename}: " if error.filename else ""
        raise click.ClickException(f"{where}{error.strerror or error}") from error
    except sqlite3.Error as error:
        raise click.ClickException(
            f"the library {redact_url(str(resolve_library(opts['library'])))} is not as expected "
            f"({error}); run `facesight doctor`"
        ) from error


def _print_notices(library: Library) -> None:
    for notice in dict.fromkeys(library.notices):
        console(stderr=True).print(f"note: {notice}", markup=False)
    library.notices.clear()


def decision_note(library: Library) -> str:
    """The library's decision rule in words (``library.decision_rule``)."""
    return rule_in_words(library.calibration(), library.max_distance)


def print_rows(rows: list[dict[str, Any]], as_json: bool, as_csv: bool, title: str) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    elif as_csv:
        if rows:
            cells = [{k: cell(v) for k, v in r.items()} for r in rows]
            click.echo(csv_text(list(rows[0]), cells), nl=False)
    else:
        # cells are Text, not markup strings: names and paths print as they are
        table = Table(title=Text(printable(title)), title_justify="left")
        for column in rows[0] if rows else ["(none)"]:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(Text(printable(cell(v))) for v in row.values()))
        console().print(table)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        # rates run down to 1e-12: keep their digits instead of printing 0.000
        return f"{value:.2e}" if 0 < abs(value) < 1e-3 else f"{value:.3f}"
    if isinstance(value, list | tuple | dict):
        return json.dumps(value)
    return str(value)


def report_failure(failure: MediaFailure) -> None:
    console(stderr=True).print(f"[red]skipped[/red] {failure_text(failure)}", markup=True)


def failure_text(failure: MediaFailure) -> str:
    """``path: message (kind)`` as markup that prints as written (control characters escaped)."""
    return f"{shown(failure.path)}: {shown(failure.message)} ({failure.kind})"


_WALKED_PAST = {
    "raw": "camera RAW (install facesight[raw] to read them)",
    "sidecar": "sidecar (.xmp, .aae, .thm, .json)",
    "other": "other",
}


def walked_past_line(counts: dict[str, int]) -> str:
    """'Walked past 15 file(s) ...: 3 camera RAW (install ...), 12 other.' (markup-safe)."""
    order = [k for k in _WALKED_PAST if k in counts] + sorted(set(counts) - set(_WALKED_PAST))
    parts = ", ".join(f"{counts[k]} {_WALKED_PAST.get(k, k)}" for k in order)
    total = sum(counts.values())
    return escape(f"Walked past {total} file(s) in the folders without opening them: {parts}.")


def candidate_row(c: Candidate, decide: bool = True) -> dict[str, Any]:
    return {
        "person": c.person,
        "distance": round(c.distance, 4),
        "fmr": rate(c.fmr),
        "fpir": rate(c.fpir),
        "references": c.references,
        "reference": c.reference_path,
        "reference_distance": round(c.reference_distance, 4),
        "match": c.is_match if decide else None,
        "max_distance": round(c.max_distance, 4) if decide else None,
    }


def rate(value: float) -> float | None:
    return None if value != value else float(f"{value:.3g}")  # NaN (not known) -> null


def sighting_row(s: Sighting) -> dict[str, Any]:
    # the figures of the person the face is named as (a manual identification's too),
    # else of the nearest candidate
    best = s.named or (s.candidates[0] if s.candidates else None)
    review = s.review
    return {
        "face_id": s.face_id,
        "person": s.person,
        "status": s.decision,
        "category": s.category,
        "reviewer": review.reviewer if review else None,
        "reviewed_at": review.decided_at if review else None,
        "note": review.note if review else None,
        "path": s.path,
        "kind": s.kind,
        "frame": s.frame,
        "time_s": s.time_s,
        "timecode": timecode(s.time_s),
        "start_s": s.start_s,
        "end_s": s.end_s,
        "start": timecode(s.start_s),
        "end": timecode(s.end_s),
        "frames_seen": s.frames_seen,
        "xyxy": [round(v, 1) for v in s.xyxy],
        "score": round(s.score, 4),
        "distance": round(best.distance, 4) if best else None,
        "fmr": rate(best.fmr) if best else None,
        "fpir": rate(best.fpir) if best else None,
        "decision": "match" if s.match else "no match",
        "quality": None if s.quality is None else round(s.quality, 3),
        "quality_reasons": s.quality_reasons,
        "match": bool(s.match),
        "nearest": best.person if best else None,
        "reference": best.reference_path if best else None,
        "reference_distance": round(best.reference_distance, 4) if best else None,
        "captured_at": s.captured_at,
        "gps": list(s.gps) if s.gps else None,
        "crop": s.crop_path,
        "sha256": s.sha256,
        "image_size": [s.width_px, s.height_px],
        "kps5": [[round(x, 1), round(y, 1)] for x, y in s.kps5],
        "candidates": [candidate_row(c) for c in s.candidates],
        "detector": s.detector,
        "embedder": s.embedder,
    }


def table_status(row: dict[str, Any]) -> str:
    """For tables: the status, or ``manual identification`` for a confirmation of someone
    the rule did not propose (it must never read like a confirmed machine match)."""
    manual = row["category"] == "manual identification"
    return "manual identification" if manual else str(row["status"])


def timecode(seconds: float | None) -> str | None:
    return None if seconds is None else format_timecode(seconds)


def when(row: dict[str, Any]) -> str:
    """For tables: a video sighting's time range and best frame, '' for a still."""
    if row["start"] is None:
        return ""
    return f"{row['start']}-{row['end']} (best {row['timecode']}, {row['frames_seen']} frames)"


def shorten_paths(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For tables: paths relative to the folder all of them share, named once on stderr."""
    paths = [r[k] for r in rows for k in ("path", "reference") if r.get(k)]
    if len(paths) < 2:
        return rows
    root = os.path.commonpath([os.path.dirname(p) for p in paths])
    if root in ("", os.sep):
        return rows
    console(stderr=True).print(f"paths relative to {shown(root)}")
    return [
        r | {k: os.path.relpath(r[k], root) for k in ("path", "reference") if r.get(k)}
        for r in rows
    ]


def fmt_rate(value: float | None) -> str:
    """An estimated rate for people: '12.0%', '3.1e-05', '<1e-12', or '' when not known."""
    if value is None or value != value:
        return ""
    if value >= 1e-3:
        return f"{value:.1%}"
    return "<1e-12" if value < 1e-12 else f"{value:.1e}"
