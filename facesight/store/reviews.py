"""Review decisions: a person confirms or rejects what the system proposes.

Every proposed match is a candidate until a reviewer decides. Decisions are
rows of their own (``reviews``), added and never edited: the latest decision
about a face counts, the earlier ones stay as history. A rescan never touches
them (known content is skipped, and re-matching rewrites only candidates), and
each decision is written in one transaction with its audit record.

Applying decisions to a sighting (:func:`apply_reviews`): a rejected (face,
person) pair is removed from the face's candidates, so that person is never
proposed for that face again, even after new references or a rescan; a
confirmation says who the face is, whatever the candidates say.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from facesight.clock import utc_now_iso
from facesight.errors import InvalidInputError, NotFoundError
from facesight.records import Review, Sighting, person_id_of
from facesight.store.audit import AuditAction, AuditLog
from facesight.store.rows import FaceRow, Place, ReviewCarry, query

__all__ = [
    "ReviewBook",
    "apply_reviews",
    "carry_reviews",
    "move_reviews",
    "person_id_of",
    "reviews_of_content",
]

_CHUNK = 500


class ReviewBook:
    """Reads and writes the review decisions of one library database.

    Args:
        conn: the library's SQLite connection.
        audit: where each decision is recorded (its actor is the reviewer).
    """

    def __init__(self, conn: sqlite3.Connection, audit: AuditLog) -> None:
        self._conn = conn
        self.audit = audit

    def decide(
        self,
        conn: sqlite3.Connection,
        face_id: int,
        person_id: int,
        decision: str,
        note: str = "",
        *,
        manual: bool = False,
    ) -> None:
        """Record a decision inside the caller's transaction, with its audit record.

        ``manual`` marks a confirmation of someone the decision rule did not propose.
        """
        if decision not in ("confirmed", "rejected"):
            raise InvalidInputError(f"a decision is confirmed or rejected, not {decision!r}")
        if conn.execute("SELECT 1 FROM faces WHERE id = ?", (face_id,)).fetchone() is None:
            raise NotFoundError(f"no stored face has id {face_id}; see `facesight review --list`")
        conn.execute(
            "INSERT INTO reviews (face_id, person_id, decision, reviewer, decided_at, note,"
            " manual) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                face_id,
                person_id,
                decision,
                self.audit.actor,
                utc_now_iso(),
                note,
                int(manual),
            ),
        )
        confirmed = decision == "confirmed"
        action = AuditAction.REVIEW_CONFIRM if confirmed else AuditAction.REVIEW_REJECT
        details = f"manual identification: {note}" if manual else note
        self.audit.record(conn, action, faces=[face_id], people=[person_id], details=details)

    def of_faces(self, face_ids: Sequence[int]) -> dict[int, list[Review]]:
        """Every decision about these faces, oldest first."""
        found: dict[int, list[Review]] = {}
        ids = list(face_ids)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for r in self._conn.execute(
                "SELECT r.face_id, r.person_id, p.name, r.decision, r.reviewer, r.decided_at,"
                " r.note, r.manual FROM reviews r JOIN people p ON p.id = r.person_id"
                f" WHERE r.face_id IN ({','.join('?' * len(chunk))}) ORDER BY r.id",
                chunk,
            ):
                found.setdefault(int(r[0]), []).append(_review(r))
        return found

    def confirmed_faces(self, person_id: int | None = None) -> list[int]:
        """Faces whose latest decision confirms someone (this person, if given)."""
        rows = self._conn.execute(
            "SELECT r.face_id, r.person_id, r.decision FROM reviews r"
            " WHERE r.id IN (SELECT MAX(id) FROM reviews GROUP BY face_id)"
        ).fetchall()
        return [
            int(face)
            for face, person, decision in rows
            if decision == "confirmed" and (person_id is None or person == person_id)
        ]

    def rejections(self, person_id: int | None = None) -> list[Review]:
        """The standing rejections (of this person, if given): for each (face, person),
        the latest decision when it is a rejection; in decision order."""
        found = []
        for r in self._conn.execute(
            "SELECT r.face_id, r.person_id, p.name, r.decision, r.reviewer, r.decided_at,"
            " r.note, r.manual FROM reviews r JOIN people p ON p.id = r.person_id"
            " WHERE r.id IN (SELECT MAX(id) FROM reviews GROUP BY face_id, person_id)"
            " AND r.decision = 'rejected' AND (? IS NULL OR r.person_id = ?) ORDER BY r.id",
            (person_id, person_id),
        ):
            found.append(_review(r))
        return found

    def reviewed_faces(self) -> set[int]:
        """Faces with at least one decision."""
        return {int(r[0]) for r in self._conn.execute("SELECT DISTINCT face_id FROM reviews")}


def _review(r: Sequence[Any]) -> Review:
    """A ``Review`` from a row of face, person, name, decision, reviewer, at, note, manual."""
    return Review(
        int(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), str(r[6]), bool(r[7])
    )


def apply_reviews(sighting: Sighting, reviews: Iterable[Review]) -> Sighting:
    """The sighting as the reviewers left it (see the module docstring).

    Decisions apply in order: a later decision about the same person replaces
    an earlier one. The sighting's ``review`` is the standing confirmation, or
    else the latest rejection.
    """
    standing: dict[int, tuple[int, Review]] = {}
    for order, review in enumerate(reviews):
        standing[review.person_id] = (order, review)
    if not standing:
        return sighting
    latest = [r for _, r in sorted(standing.values(), key=lambda pair: pair[0])]
    rejected = {r.person_id for r in latest if r.decision == "rejected"}
    confirmed = [r for r in latest if r.decision == "confirmed"]
    kept = [c for c in sighting.candidates if c.person_id not in rejected]
    shown = confirmed[-1] if confirmed else latest[-1]
    return replace(sighting, candidates=kept, review=shown)


def move_reviews(conn: sqlite3.Connection, from_person: int, to_person: int) -> int:
    """Give every decision about ``from_person`` to ``to_person`` (a merge of two people,
    inside the caller's transaction); returns how many moved."""
    return int(
        conn.execute(
            "UPDATE reviews SET person_id = ? WHERE person_id = ?", (to_person, from_person)
        ).rowcount
    )


def reviews_of_content(conn: sqlite3.Connection, sha256: str) -> list[sqlite3.Row]:
    """Review decisions about the faces of content about to be analysed again."""
    return query(
        conn,
        "SELECT r.person_id, r.decision, r.reviewer, r.decided_at, r.note, r.manual,"
        " f.x1, f.y1, f.x2, f.y2, f.frame, f.start_s, f.end_s"
        " FROM reviews r JOIN faces f ON f.id = r.face_id"
        " JOIN media m ON m.id = f.media_id WHERE m.sha256 = ? ORDER BY r.id",
        (sha256,),
    )


def _place(box: Sequence[float], start: float | None, end: float | None) -> Place:
    x1, y1, x2, y2 = (float(v) for v in box)
    return (x1, y1, x2, y2), start, end


def carry_reviews(
    conn: sqlite3.Connection,
    reviews: list[sqlite3.Row],
    faces: list[tuple[int, FaceRow]],
    carry: ReviewCarry,
) -> None:
    """Give each review of re-analysed content to the new face ``carry`` names."""
    old = [_place([r["x1"], r["y1"], r["x2"], r["y2"]], r["start_s"], r["end_s"]) for r in reviews]
    new = [_place(list(f.xyxy), f.start_s, f.end_s) for _, f in faces]
    for review, index in zip(reviews, carry(old, new), strict=True):
        if index is None:
            continue
        conn.execute(
            "INSERT INTO reviews (face_id, person_id, decision, reviewer, decided_at, note,"
            " manual) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                faces[index][0],
                review["person_id"],
                review["decision"],
                review["reviewer"],
                review["decided_at"],
                review["note"],
                review["manual"],
            ),
        )
