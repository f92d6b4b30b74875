"""Sighting reports for people: CSV and JSON of the rows an HTML report shows.

Files are written atomically (a temp file in the same folder, then a rename), so readers never
see half a report.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

from facesight.exports.csv_cells import csv_text
from facesight.exports.report import REPORT_SCHEMA, ReportRow
from facesight.files import write_text_atomically

__all__ = ["CSV_COLUMNS", "rows_json", "write_csv", "write_json"]


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


def _write_atomic(path: Path, text: str) -> None:
    write_text_atomically(path, text, newline="")
