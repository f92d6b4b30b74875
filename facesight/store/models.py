"""The ``models`` table: registered face-descriptor models and which one is active.

The one writer of ``models`` (``Store`` calls it). A row is a ``face_models.ModelSpec``;
at most one row has ``active = 1``, and none means the built-in dlib model
(``face_models.DLIB_MODEL``), which has no row.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

from facesight.clock import utc_now_iso
from facesight.descriptors import EMBEDDING_DIM
from facesight.errors import InvalidInputError
from facesight.face_models import ModelSpec
from facesight.store.rows import query

__all__ = [
    "active_model",
    "add_model",
    "descriptor_dim",
    "model_specs",
    "set_active",
    "set_calibration",
]

_COLUMNS = (
    "name, path, sha256, input_px, align, mean, std, bgr, distance, length, calibration, added_at"
)


def _spec(row: sqlite3.Row) -> ModelSpec:
    return ModelSpec(
        name=str(row["name"]),
        path=str(row["path"]),
        sha256=str(row["sha256"]),
        input_px=int(row["input_px"]),
        align=row["align"],
        mean=float(row["mean"]),
        std=float(row["std"]),
        bgr=bool(row["bgr"]),
        metric=row["distance"],
        length=int(row["length"]),
        calibration=None if row["calibration"] is None else json.loads(row["calibration"]),
        added_at=str(row["added_at"]),
    )


def model_specs(conn: sqlite3.Connection) -> list[ModelSpec]:
    """Every registered model, by name."""
    return [_spec(r) for r in query(conn, f"SELECT {_COLUMNS} FROM models ORDER BY name")]


def descriptor_dim(conn: sqlite3.Connection, embedder: str) -> int:
    """How many values a descriptor of this embedder version has: its registered model's
    length (the version starts with ``ModelSpec.version``), else dlib's ``EMBEDDING_DIM``."""
    for name, sha256, length in conn.execute("SELECT name, sha256, length FROM models"):
        if embedder.startswith(f"{name}:{str(sha256)[:12]}+"):
            return int(length)
    return EMBEDDING_DIM


def active_model(conn: sqlite3.Connection) -> ModelSpec | None:
    """The active registered model; None: the built-in dlib model."""
    rows = query(conn, f"SELECT {_COLUMNS} FROM models WHERE active = 1 ORDER BY name LIMIT 1")
    return _spec(rows[0]) if rows else None


def add_model(conn: sqlite3.Connection, spec: ModelSpec) -> ModelSpec:
    """Register ``spec`` (its ``added_at`` set now); a name already taken is refused."""
    taken = conn.execute("SELECT 1 FROM models WHERE name = ?", (spec.name,)).fetchone()
    if taken is not None:
        raise InvalidInputError(
            f"a model called {spec.name!r} is already registered; choose another --name"
        )
    added = utc_now_iso()
    conn.execute(
        f"INSERT INTO models ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            spec.name,
            spec.path,
            spec.sha256,
            spec.input_px,
            str(spec.align),
            spec.mean,
            spec.std,
            int(spec.bgr),
            str(spec.metric),
            spec.length,
            spec.calibration_text(),
            added,
        ),
    )
    return replace(spec, added_at=added)


def set_active(conn: sqlite3.Connection, name: str | None) -> None:
    """Make the registered model ``name`` the active one (None: the built-in dlib model)."""
    conn.execute("UPDATE models SET active = 0 WHERE active != 0")
    if name is not None:
        conn.execute("UPDATE models SET active = 1 WHERE name = ?", (name,))


def set_calibration(conn: sqlite3.Connection, name: str, calibration: str | None) -> None:
    """Store (or clear, None) the impostor tables of the registered model ``name``."""
    conn.execute("UPDATE models SET calibration = ? WHERE name = ?", (calibration, name))
