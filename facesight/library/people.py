"""Looking after enrolled people: rename, their references listed and removed, a confirmed
sighting made a reference, and the counts the people pages show.

``PeopleService`` takes its collaborators (the store, the audit log, how a stored face becomes
a reference, how stored faces are matched again and what to call when references changed);
``Library`` composes it and offers ``people``, ``rename``, ``references``,
``remove_reference``, ``add_reference_from_face`` and ``people_overview``.

Each change writes its audit record (ids only, never names: a name is the person's data,
and ``forget`` must be able to leave none) in the transaction that makes it.

A person's counts come from SQL (``Store.people_counts``: each person's faces by decision
category, counted as the review queue counts its totals), never from every sighting read
(O(faces)); ``bench/queue_at_scale.py`` times them at a million faces (docs/scale.md).

Anything that changes references can match every stored face again; a request of the review
workspace asks not to (``rematch=False``) and queues a re-match job instead, since at a million
faces re-matching takes minutes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from facesight.errors import InvalidInputError, NotFoundError
from facesight.records import (
    IMPORTED_CATEGORY,
    Decision,
    PersonSummary,
    Sighting,
    person_id_of,
)
from facesight.store.audit import AuditAction, AuditLog
from facesight.store.people import StoredReference
from facesight.store.sqlite import Store
from facesight.text import check_name, name_key

__all__ = ["PeopleService", "PersonOverview", "RemovedReference", "Renamed", "StoredReference"]


@dataclass(frozen=True)
class Renamed:
    """What :meth:`PeopleService.rename` did."""

    person_id: int
    old: str
    new: str


@dataclass(frozen=True)
class RemovedReference:
    """What :meth:`PeopleService.remove_reference` did."""

    reference_id: int
    person_id: int
    person: str
    crop_deleted: bool
    references_left: int


@dataclass
class PersonOverview:
    """One enrolled person as the people list shows them: counts by decision and a few
    reference ids (whose crops are kept) to show."""

    person: PersonSummary
    confirmed: int = 0
    """confirmed by a reviewer (manual identifications included)"""
    pending: int = 0
    """named by the decision rule or an imported tag, not reviewed yet"""
    sample_references: list[int] = field(default_factory=list)


CONFIRMED_CATEGORIES = ("confirmed", "manual identification")
"""The decision categories of a face a reviewer confirmed (``Decision.CONFIRMED``)."""

PENDING_CATEGORIES = ("machine match", IMPORTED_CATEGORY)
"""The decision categories of a face named but not reviewed (``Decision.PENDING``)."""


class PeopleService:
    """Renaming people and curating their references.

    Args:
        store, audit: the library database and its audit log.
        listed: everyone enrolled as stored, before their sightings are counted.
        counts: each person's stored faces by decision category (``Store.people_counts``
            under the library's match rule), person ids to counts.
        sighting: one stored face, decided and reviewed (``NotFoundError`` when unknown).
        reference_from_face: make a stored face one of a person's references inside the
            transaction it is given (audited ``reference.from_face``); its reference id,
            None when the face already is one.
        rematch: match every stored face again.
        references_changed: forget what was read of the references and names (the gallery).
    """

    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        *,
        listed: Callable[[], list[PersonSummary]],
        counts: Callable[[], dict[int, dict[str, int]]],
        sighting: Callable[[int], Sighting],
        reference_from_face: Callable[[sqlite3.Connection, Sighting, int], int | None],
        rematch: Callable[[], int],
        references_changed: Callable[[], None],
    ) -> None:
        self.store = store
        self.audit = audit
        self._listed = listed
        self._counts = counts
        self._sighting = sighting
        self._reference_from_face = reference_from_face
        self._rematch = rematch
        self._references_changed = references_changed

    def person(self, person_id: int) -> PersonSummary:
        """One enrolled person by id, with counts (``NotFoundError`` when none has it)."""
        found = [p for p in self.people() if p.id == person_id]
        if not found:
            raise NotFoundError(f"no enrolled person has id {person_id}")
        return found[0]

    def names(self) -> list[tuple[int, str]]:
        """(id, name) of everyone enrolled, by name (one query: no counts)."""
        return sorted(self.store.people_names(), key=lambda p: (name_key(p[1]), p[0]))

    def name_of(self, person_id: int) -> str:
        """The name of the person ``person_id`` (``NotFoundError`` when none has it)."""
        return self.store.person_name(person_id)

    def people(self) -> list[PersonSummary]:
        """Everyone enrolled, with reference and sighting counts: a person's sightings
        are counted as ``Library.sightings`` lists them (confirmed and pending faces, not
        rejected ones, never their own reference photos)."""
        counts = self._counts()
        return [
            replace(
                p, sightings=_sum(counts.get(p.id, {}), CONFIRMED_CATEGORIES + PENDING_CATEGORIES)
            )
            for p in self._listed()
        ]

    def overview(self) -> list[PersonOverview]:
        """Everyone enrolled, with confirmed and pending counts (as :meth:`people` counts
        them) and up to two references with a crop."""
        counts = self._counts()
        everyone = []
        for person in self._listed():
            mine = counts.get(person.id, {})
            confirmed = _sum(mine, CONFIRMED_CATEGORIES)
            pending = _sum(mine, PENDING_CATEGORIES)
            kept = [r.id for r in self.store.references_of(person.id) if r.crop_path]
            everyone.append(
                PersonOverview(
                    replace(person, sightings=confirmed + pending), confirmed, pending, kept[:2]
                )
            )
        return everyone

    def references(self, person: str) -> list[StoredReference]:
        """``person``'s references, oldest first (every descriptor version's)."""
        return self.store.references_of(self.store.require_person(person))

    def rename(self, old: str, new: str) -> Renamed:
        """Call the person ``old`` ``new`` from now on: references, decisions and reports
        follow (they name the person by id). ``new`` follows the rules of an enrolled name
        (``text.check_name``: no control characters, not empty; stored normalised); a new
        spelling of the same name (``jose`` to ``José``) is a rename too. Audited
        ``people.rename`` with the person's id only.

        Raises:
            NotFoundError: nobody called ``old`` is enrolled.
            InvalidInputError: ``new`` is not a valid name, or another person has it
                (compared as ``text.name_key`` compares names).
        """
        person_id = self.store.require_person(old)
        stored = self.store.person_name(person_id)
        name = check_name(new)
        key = name_key(name)
        for other_id, other in self.store.people_names():
            if other_id != person_id and name_key(other) == key:
                raise InvalidInputError(
                    f"another enrolled person is already called {other!r}: choose another "
                    "name, or merge the two people if they are one"
                )
        if name == stored:
            return Renamed(person_id, stored, name)
        with self.store.transaction() as conn:
            self.store.rename_person(conn, person_id, name)
            self.audit.record(
                conn, AuditAction.PEOPLE_RENAME, people=[person_id], details="renamed"
            )
        self._references_changed()  # the cached gallery holds the names
        return Renamed(person_id, stored, name)

    def remove_reference(self, reference_id: int, *, rematch: bool = True) -> RemovedReference:
        """Delete one reference and its crop file; stored faces are matched again unless
        ``rematch`` is False. A person keeps at least one reference: removing the last
        is refused (erasing a person is ``forget``). Audited ``reference.remove``.

        Raises:
            NotFoundError: no reference has this id.
            InvalidInputError: it is the person's last reference.
        """
        found = self.store.reference(reference_id)
        person = self.store.person_name(found.person_id)
        left = len(self.store.references_of(found.person_id)) - 1
        if left < 1:
            raise InvalidInputError(
                f"reference {reference_id} is the last one of {person!r}: a person needs a "
                "reference; to remove them altogether, forget them (`facesight forget`)"
            )
        with self.store.transaction() as conn:
            crop = self.store.delete_reference(conn, reference_id)
            self.audit.record(
                conn,
                AuditAction.REFERENCE_REMOVE,
                people=[found.person_id],
                references=[reference_id],
                faces=[] if found.face_id is None else [found.face_id],
            )
        deleted = False
        if crop is not None:
            owned = self.store.owned_file(crop)  # never a file outside the library
            if owned is not None and owned.is_file():
                owned.unlink()
                deleted = True
        self._changed(rematch)
        return RemovedReference(reference_id, found.person_id, person, deleted, left)

    def add_reference_from_face(self, face_id: int, person: str, *, rematch: bool = True) -> int:
        """Make a stored face confirmed as ``person`` one of their references (its crop
        copied); stored faces are matched again unless ``rematch`` is False. Audited
        ``reference.from_face``. Returns the new reference's id.

        Raises:
            NotFoundError: unknown face or person.
            InvalidInputError: the face is not confirmed as ``person`` (confirm it first), or
                already is one of their references.
        """
        person_id = self.store.require_person(person)
        sighting = self._sighting(face_id)
        confirmed = sighting.decision == Decision.CONFIRMED and person_id_of(sighting) == person_id
        if not confirmed:
            raise InvalidInputError(
                f"face {face_id} is not confirmed as {self.store.person_name(person_id)!r} "
                f"(it is {sighting.category}): only a face a reviewer confirmed as the person "
                "becomes their reference"
            )
        with self.store.transaction() as conn:
            reference_id = self._reference_from_face(conn, sighting, person_id)
        if reference_id is None:
            raise InvalidInputError(f"face {face_id} already is a reference of this person")
        self._changed(rematch)
        return reference_id

    def _changed(self, rematch: bool) -> None:
        self._references_changed()
        if rematch:
            self._rematch()


def _sum(counts: dict[str, int], categories: tuple[str, ...]) -> int:
    return sum(counts.get(category, 0) for category in categories)
