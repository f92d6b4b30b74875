"""Reviewing: deciding on stored faces, and faces made references.

``ReviewService`` takes its collaborators (the store, the review book, the audit log, the
crops folder, where reviewed sightings come from and how stored faces are matched again);
``Library`` composes it and offers its methods (``Library.confirm``, ``reject``, ...).
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from facesight.errors import (
    DecisionConflictError,
    FaceSightError,
    InvalidInputError,
    ManualIdentificationError,
    NotFoundError,
)
from facesight.library.review_queue import decision_state, describe_state
from facesight.records import Decision, Sighting, person_id_of
from facesight.store.audit import AuditAction, AuditLog
from facesight.store.reviews import ReviewBook
from facesight.store.sqlite import Store
from facesight.text import check_name

__all__ = ["DECISION_ACTIONS", "DecisionOutcome", "DecisionRequest", "ReviewService"]

DECISION_ACTIONS = ("confirm", "reject", "assign")
"""What a reviewer can do with a face in the review queue (``ReviewService.decide``)."""


@dataclass(frozen=True)
class DecisionRequest:
    """One decision of a bulk action (``ReviewService.decide_many``); as ``decide`` takes it."""

    face_id: int
    action: str
    person: str | None = None
    note: str = ""
    expected: str | None = None
    force: bool = False


@dataclass(frozen=True)
class DecisionOutcome:
    """What became of one decision of a bulk action: ``ok`` with the face as it now stands,
    or the ``error`` in one line and its class name (``DecisionConflictError``,
    ``ManualIdentificationError``, ``NotFoundError``, ...); after a conflict ``sighting``
    is the face as it now stands, else None."""

    face_id: int
    ok: bool
    sighting: Sighting | None
    error: str = ""
    error_type: str = ""


class ReviewService:
    """Review decisions on stored faces.

    Args:
        store: the library database.
        reviews: where decisions are written, each with its audit record.
        audit: the audit log (references made from faces).
        crops_dir: the library's crops folder (a reference's crop is copied there).
        sightings_by_face: the reviewed sightings of these face ids.
        sightings: every reviewed, matched sighting.
        rematch: match every stored face again (after references changed).
    """

    def __init__(
        self,
        store: Store,
        reviews: ReviewBook,
        audit: AuditLog,
        crops_dir: Path,
        *,
        sightings_by_face: Callable[[list[int]], list[Sighting]],
        sightings: Callable[[], list[Sighting]],
        rematch: Callable[[], int],
    ) -> None:
        self.store = store
        self.reviews = reviews
        self.audit = audit
        self.crops_dir = crops_dir
        self.sightings_by_face = sightings_by_face
        self._sightings = sightings
        self.rematch = rematch

    def sighting(self, face_id: int) -> Sighting:
        """One stored face, decided and reviewed.

        Raises:
            NotFoundError: no stored face has this id.
        """
        found = self.sightings_by_face([face_id])
        if not found:
            raise NotFoundError(f"no stored face has id {face_id}; see `facesight sightings --all`")
        return found[0]

    def pending(self) -> list[Sighting]:
        """Proposed matches no reviewer has decided on yet, in media order."""
        return [s for s in self._sightings() if s.decision == Decision.PENDING]

    def confirm(
        self,
        face_id: int,
        person: str | None = None,
        *,
        as_reference: bool = False,
        note: str = "",
        force: bool = False,
        expected: str | None = None,
    ) -> Sighting:
        """Say that a stored face is ``person`` (default: the proposed match).

        Naming someone the decision rule did not propose for this face (another
        person than the proposal, or anyone when nobody is proposed) is a *manual
        identification*: it needs ``force``, is recorded as such (``Review.manual``,
        category ``manual identification``) and also rejects the proposal. The
        distance and est. FMR shown with it are those of the face to the person named.
        Confirming a face again as who it is already confirmed as needs no ``force``.
        With ``as_reference`` the face becomes one of the person's references, and
        stored faces are matched again. ``expected``: the ``decision_state`` the reviewer
        saw; checked again under the write lock, in the transaction that writes.

        Raises:
            NotFoundError: unknown face or person.
            InvalidInputError: no person given and none proposed.
            ManualIdentificationError: a manual identification without ``force``.
            DecisionConflictError: the face's decision is no longer ``expected``.
        """
        sighting = self._as_expected(self.sighting(face_id), expected)
        target = self._person_to_decide(sighting, person)
        current = person_id_of(sighting)
        manual = current != target
        review = sighting.review
        if not manual and review is not None and review.decision == Decision.CONFIRMED:
            manual = review.manual  # confirmed again as who it was named: still manual
        if current != target and not force:
            proposed = (
                "nobody is proposed" if current is None else (f"the proposal is {sighting.person}")
            )
            raise ManualIdentificationError(
                f"face {face_id}: {proposed}, not {self.store.person_name(target)}; naming "
                "someone the rule did not propose is a manual identification: confirm it "
                "with force (--force)"
            )
        with self.store.transaction() as conn:
            self._still_expected(face_id, expected)
            if current is not None and current != target:
                self.reviews.decide(conn, face_id, current, "rejected", f"assigned to #{target}")
            self.reviews.decide(conn, face_id, target, "confirmed", note, manual=manual)
            if as_reference:
                self.reference_from_face(conn, sighting, target)
        if as_reference:
            self.rematch()
        return self.sighting(face_id)

    def reject(
        self,
        face_id: int,
        person: str | None = None,
        *,
        note: str = "",
        expected: str | None = None,
    ) -> Sighting:
        """Say that a stored face is not ``person`` (default: who it is proposed or
        confirmed as); that person is never proposed for this face again. ``expected``
        as in :meth:`confirm` (``DecisionConflictError``)."""
        sighting = self._as_expected(self.sighting(face_id), expected)
        target = self._person_to_decide(sighting, person)
        with self.store.transaction() as conn:
            self._still_expected(face_id, expected)
            self.reviews.decide(conn, face_id, target, "rejected", note)
        return self.sighting(face_id)

    def decide(
        self,
        face_id: int,
        action: str,
        *,
        person: str | None = None,
        note: str = "",
        expected: str | None = None,
        force: bool = False,
    ) -> Sighting:
        """One reviewer's decision from the review queue: ``confirm`` (the proposal, or
        ``person``), ``reject`` (the proposal, or ``person``) or ``assign`` (confirm as
        ``person``: naming someone the rule did not propose is a manual identification,
        which needs ``force``). ``expected`` is the ``decision_state`` the reviewer saw.

        Raises:
            InvalidInputError: an unknown action, or ``assign`` without a person.
            ManualIdentificationError: a manual identification without ``force``.
            DecisionConflictError: the face's decision changed since ``expected``.
            NotFoundError: unknown face or person.
        """
        if action not in DECISION_ACTIONS:
            raise InvalidInputError(
                f"face {face_id}: the action is {', '.join(DECISION_ACTIONS)}, not {action!r}"
            )
        if action == "reject":
            return self.reject(face_id, person, note=note, expected=expected)
        if action == "assign" and not person:
            raise InvalidInputError(f"face {face_id}: assign to whom? (a person's name)")
        return self.confirm(face_id, person, note=note, force=force, expected=expected)

    def decide_many(self, decisions: Sequence[DecisionRequest]) -> list[DecisionOutcome]:
        """Each decision in turn, each in its own transaction with its audit record; one
        that fails (a conflict, an unknown face, a manual identification without force)
        is reported in its outcome and the others go on."""
        outcomes = []
        for d in decisions:
            try:
                sighting = self.decide(
                    d.face_id,
                    d.action,
                    person=d.person,
                    note=d.note,
                    expected=d.expected,
                    force=d.force,
                )
            except FaceSightError as error:
                current = error.current if isinstance(error, DecisionConflictError) else None
                outcomes.append(
                    DecisionOutcome(d.face_id, False, current, str(error), type(error).__name__)
                )
            else:
                outcomes.append(DecisionOutcome(d.face_id, True, sighting))
        return outcomes

    def _as_expected(self, sighting: Sighting, expected: str | None) -> Sighting:
        """``sighting`` when its decision state is ``expected`` (or nothing is expected)."""
        if expected is not None and decision_state(sighting) != expected:
            raise DecisionConflictError(
                f"face {sighting.face_id} changed since it was shown (decided meanwhile, or "
                f"matched again): it is now {describe_state(sighting)}; look at it again",
                sighting,
            )
        return sighting

    def _still_expected(self, face_id: int, expected: str | None) -> None:
        """Check ``expected`` again inside the writing transaction: its write lock (SQLite's
        BEGIN IMMEDIATE, PostgreSQL's advisory lock) holds off every other writer, so no
        decision lands between this read and the write."""
        if expected is not None:
            self._as_expected(self.sighting(face_id), expected)

    def _person_to_decide(self, sighting: Sighting, person: str | None) -> int:
        if person is not None:
            return self.store.require_person(person)
        current = person_id_of(sighting)
        if current is None:
            raise InvalidInputError(
                f"face {sighting.face_id} has no proposed match: say who it is (--as NAME)"
            )
        return current

    def reference_from_face(
        self, conn: sqlite3.Connection, sighting: Sighting, person_id: int
    ) -> int | None:
        """Make a stored face one of ``person_id``'s references (in ``conn``), audited
        ``reference.from_face``; its reference id, None when it already is one."""
        row = self.store.face_reference_row(sighting.face_id)
        ref_id = self.store.add_reference(conn, person_id, row)
        if ref_id is None:
            return None
        if sighting.crop_path and Path(sighting.crop_path).exists():
            crop = self.crops_dir / "references" / f"ref_{ref_id}.jpg"
            crop.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sighting.crop_path, crop)
            self.store.set_reference_crop(conn, ref_id, str(crop))
        self.audit.record(
            conn, AuditAction.REFERENCE_FROM_FACE, faces=[sighting.face_id], people=[person_id]
        )
        return ref_id

    def enroll_faces(
        self, name: str, face_ids: Sequence[int], *, note: str = "", rematch: bool = True
    ) -> int:
        """Enroll stored faces as references of ``name`` (created on first use).

        Each face is also confirmed as that person, as a manual identification (the
        decision rule proposed nobody for them); stored faces are matched again (unless
        ``rematch`` is False: the caller queues a re-match job instead). Returns the
        person's id.
        """
        name = check_name(name)
        sightings = self.sightings_by_face(list(face_ids))
        missing = set(face_ids) - {s.face_id for s in sightings}
        if missing:
            raise NotFoundError(f"no stored face has id(s) {sorted(missing)}")
        with self.store.transaction() as conn:
            person_id = self.store.person_id(name) or self.store.add_person(conn, name)
            for sighting in sightings:
                self.reference_from_face(conn, sighting, person_id)
                # nobody proposed them: a person named these faces
                self.reviews.decide(
                    conn, sighting.face_id, person_id, "confirmed", note, manual=True
                )
            self.audit.record(
                conn, AuditAction.ENROLL, people=[person_id], faces=[s.face_id for s in sightings]
            )
        if rematch:
            self.rematch()
        return person_id
