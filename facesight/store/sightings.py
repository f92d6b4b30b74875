"""Reading sightings: stored faces with their media, ranked candidates and the reference
each one *is*, as ``records.Sighting``; whole (ordered for people) or a page at a time.

A page is keyset-paginated on the face id (``WHERE f.id > after ORDER BY f.id LIMIT n``),
so the web workspace can page through millions of faces at the cost of one index range per
page, whatever the page's depth; the cursor is the last id returned.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from facesight.errors import InvalidInputError
from facesight.records import Candidate, ReferenceFace, Sighting
from facesight.store.rows import MatchRule, or_nan, query, vector

__all__ = ["REFERENCE_OF_FACE", "SightingPage", "SightingReader"]

_CHUNK = 500


@dataclass(frozen=True)
class SightingPage:
    """One page of sightings, by face id, and the cursor of the next (None: the last page)."""

    sightings: list[Sighting]
    next_after: int | None


class SightingReader:
    """Reads sightings from one library connection.

    Args:
        conn: the library's connection.
        file_path: resolves a stored crop path against the library directory.
    """

    def __init__(
        self, conn: sqlite3.Connection, file_path: Callable[[str | None], str | None]
    ) -> None:
        self._conn = conn
        self._file_path = file_path

    def page(
        self,
        rule: MatchRule | None,
        person_id: int | None = None,
        *,
        after: int | None = None,
        limit: int = 100,
    ) -> SightingPage:
        """At most ``limit`` faces with an id above ``after`` (the first page: None) that
        pass ``rule`` and ``person_id`` at rank 1, by id, and the next page's cursor."""
        if limit < 1:
            raise InvalidInputError(f"a page holds at least one sighting, got limit={limit}")
        where, params = _filters(rule, person_id, None, any_rank=False)
        if after is not None:
            where.append("f.id > ?")
            params.append(int(after))
        # one more than asked: whether a next page exists, without a COUNT
        rows = self._select(where, params, " ORDER BY f.id LIMIT ?", [limit + 1])
        more = len(rows) > limit
        found = self._build(rows[:limit])
        return SightingPage(found, found[-1].face_id if more else None)

    def sightings(
        self,
        rule: MatchRule | None,
        person_id: int | None = None,
        face_ids: Sequence[int] | None = None,
        any_rank: bool = False,
    ) -> list[Sighting]:
        """Stored faces with their candidates.

        Args:
            rule: keep faces whose first candidate passes it (None: every face).
            person_id: keep faces whose first candidate is this person.
            face_ids: keep only these faces.
            any_rank: apply ``rule`` and ``person_id`` to any candidate, not only the
                first (reviews may have rejected the ones before).
        """
        where, params = _filters(rule, person_id, face_ids, any_rank)
        return self._build(
            self._select(where, params, " ORDER BY path, f.start_s, f.frame, f.face_index", [])
        )

    def _select(
        self, where: list[str], params: list[Any], order: str, tail: list[Any]
    ) -> list[sqlite3.Row]:
        return query(
            self._conn,
            "SELECT f.*, m.sha256, m.width, m.height, m.captured_at, m.gps_lat, m.gps_lon,"
            " m.detector, m.embedder, m.kind, m.duration_s,"
            " (SELECT path FROM media_paths mp WHERE mp.media_id = m.id"
            "   ORDER BY mp.rowid DESC LIMIT 1) AS path,"
            f" ({REFERENCE_OF_FACE}) AS reference_id"
            " FROM faces f JOIN media m ON m.id = f.media_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + order,
            [*params, *tail],
        )

    def _build(self, rows: list[sqlite3.Row]) -> list[Sighting]:
        candidates = self._candidates_for([int(r["id"]) for r in rows])
        references = self._references_by_id(
            [int(r["reference_id"]) for r in rows if r["reference_id"] is not None]
        )
        return [
            self._sighting(
                r, candidates.get(int(r["id"]), []), references.get(r["reference_id"] or 0)
            )
            for r in rows
        ]

    def _references_by_id(self, reference_ids: list[int]) -> dict[int, ReferenceFace]:
        found: dict[int, ReferenceFace] = {}
        for start in range(0, len(reference_ids), _CHUNK):
            chunk = reference_ids[start : start + _CHUNK]
            for r in query(
                self._conn,
                "SELECT r.id, r.person_id, p.name FROM reference_faces r"
                " JOIN people p ON p.id = r.person_id"
                f" WHERE r.id IN ({','.join('?' * len(chunk))})",
                chunk,
            ):
                found[int(r["id"])] = ReferenceFace(int(r["id"]), int(r["person_id"]), r["name"])
        return found

    def _candidates_for(self, face_ids: list[int]) -> dict[int, list[Candidate]]:
        found: dict[int, list[Candidate]] = {}
        for start in range(0, len(face_ids), _CHUNK):
            chunk = face_ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for r in query(
                self._conn,
                "SELECT c.*, p.name, r.source_path, r.crop_path AS reference_crop"
                " FROM candidates c"
                " JOIN people p ON p.id = c.person_id"
                " JOIN reference_faces r ON r.id = c.reference_id"
                f" WHERE c.face_id IN ({marks}) ORDER BY c.face_id, c.rank",
                chunk,
            ):
                found.setdefault(int(r["face_id"]), []).append(
                    Candidate(
                        r["person_id"],
                        r["name"],
                        r["reference_id"],
                        r["source_path"],
                        r["distance"],
                        bool(r["is_match"]),
                        r["max_distance"],
                        fmr=or_nan(r["fmr"]),
                        reference_distance=or_nan(r["reference_distance"]),
                        references=int(r["template_size"]),
                        reference_crop=self._file_path(r["reference_crop"]),
                        insufficient_quality=bool(r["insufficient_quality"]),
                    )
                )
        return found

    def _sighting(
        self, r: sqlite3.Row, candidates: list[Candidate], reference: ReferenceFace | None = None
    ) -> Sighting:
        kps = vector(r["kps5"]).reshape(5, 2)
        gps = None if r["gps_lat"] is None else (float(r["gps_lat"]), float(r["gps_lon"]))
        return Sighting(
            face_id=int(r["id"]),
            path=str(r["path"]),
            sha256=str(r["sha256"]),
            frame=r["frame"],
            width_px=int(r["width"]),
            height_px=int(r["height"]),
            xyxy=(r["x1"], r["y1"], r["x2"], r["y2"]),
            kps5=[(float(x), float(y)) for x, y in kps],
            score=float(r["score"]),
            crop_path=self._file_path(r["crop_path"]),
            captured_at=r["captured_at"],
            gps=gps,
            detector=str(r["detector"]),
            embedder=str(r["embedder"]),
            candidates=candidates,
            quality=r["quality"],
            quality_reasons=str(r["quality_reasons"]),
            kind=str(r["kind"]),
            time_s=r["time_s"],
            start_s=r["start_s"],
            end_s=r["end_s"],
            frames_seen=r["frames_seen"],
            duration_s=r["duration_s"],
            reference=reference,
        )


REFERENCE_OF_FACE = (
    "SELECT r.id FROM reference_faces r WHERE r.source_sha256 = m.sha256 AND f.frame IS NULL"
    " AND MAX(0, MIN(f.x2, r.x2) - MAX(f.x1, r.x1)) * MAX(0, MIN(f.y2, r.y2) - MAX(f.y1, r.y1))"
    " * 3 >= ((f.x2 - f.x1) * (f.y2 - f.y1) + (r.x2 - r.x1) * (r.y2 - r.y1))"
    " ORDER BY r.id LIMIT 1"
)
"""The enrolled reference a stored face *is*: the same content (sha256) and boxes with an
intersection over union of at least 0.5 (inter >= 0.5 * (a + b - inter), i.e. 3 * inter >=
a + b). A face made a reference from a sighting has ``<sha256>#face<id>`` as its source, so
it stays a (confirmed) sighting."""


def _filters(
    rule: MatchRule | None,
    person_id: int | None,
    face_ids: Sequence[int] | None,
    any_rank: bool,
) -> tuple[list[str], list[Any]]:
    """The WHERE terms and parameters of a sightings query (see ``sightings``)."""
    where: list[str] = []
    params: list[Any] = []
    if face_ids is not None:
        where.append(f"f.id IN ({','.join('?' * len(face_ids))})")
        params.extend(int(i) for i in face_ids)
    ranks = "rank >= 1" if any_rank else "rank = 1"
    if rule is not None and person_id is not None:
        where.append(
            f"f.id IN (SELECT face_id FROM candidates WHERE {ranks} AND person_id = ?"
            f" AND {rule.column} <= ?)"
        )
        params.extend((person_id, rule.limit))
    elif rule is not None:
        where.append(
            f"f.id IN (SELECT face_id FROM candidates WHERE {ranks} AND {rule.column} <= ?)"
        )
        params.append(rule.limit)
    elif person_id is not None:
        where.append(f"f.id IN (SELECT face_id FROM candidates WHERE {ranks} AND person_id = ?)")
        params.append(person_id)
    return where, params
