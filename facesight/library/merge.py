"""Resolving conflicts: two enrolled people merged into one or marked different, and
enrolled names that collide once normalised.

:func:`resolve_merge` moves one person's references and review decisions to the
other and deletes the first; :func:`mark_different` remembers that two people are
not the same (table ``distinct_people``: ``conflicts.person_conflicts`` never lists
the pair again). Both write an audit record (ids only, never names) in the same
transaction as the change.
"""

from __future__ import annotations

from dataclasses import dataclass

from facesight.errors import InvalidInputError
from facesight.library.conflicts import ConflictLibrary
from facesight.store import people as people_tables
from facesight.store.audit import AuditAction
from facesight.store.imported_tags import move_imported_tags
from facesight.store.reviews import move_reviews
from facesight.text import name_key

__all__ = ["MergeResult", "NameCollision", "mark_different", "name_collisions", "resolve_merge"]


@dataclass(frozen=True)
class MergeResult:
    """What :func:`resolve_merge` did."""

    kept_id: int
    kept: str
    absorbed_id: int
    absorbed: str
    references_moved: int
    duplicates_dropped: int
    reviews_moved: int


@dataclass(frozen=True)
class NameCollision:
    """Two enrolled people whose names are one name once normalised (``text.name_key``):
    "José" stored precomposed and decomposed, or in two cases, by a version of
    facesight that did not normalise names. Never merged automatically: they
    may be one person enrolled twice, or two people."""

    first_id: int
    first: str
    second_id: int
    second: str


def name_collisions(library: ConflictLibrary) -> list[NameCollision]:
    """Pairs of enrolled people whose names collide, first enrolled first; pairs
    marked different are left out."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for person_id, name in library.store.people_names():
        groups.setdefault(name_key(name), []).append((person_id, name))
    told_apart = library.store.distinct_pairs()
    return [
        NameCollision(first[0], first[1], other[0], other[1])
        for group in groups.values()
        for first in group[:1]
        for other in group[1:]
        if (min(first[0], other[0]), max(first[0], other[0])) not in told_apart
    ]


# -- resolving ----------------------------------------------------------------


def mark_different(library: ConflictLibrary, first: str, second: str) -> bool:
    """Remember that ``first`` and ``second`` are different people (never a conflict again).

    Returns False when the pair was already marked; the decision is audited either way.

    Raises:
        NotFoundError: either name is not enrolled.
        InvalidInputError: both names are the same person.
    """
    a, b = _two_people(library, first, second)
    low, high = min(a, b), max(a, b)
    with library.store.transaction() as conn:
        added = people_tables.mark_distinct(conn, low, high, library.audit.actor)
        details = "marked different" if added else "marked different again"
        library.audit.record(
            conn, AuditAction.CONFLICT_DIFFERENT, people=[low, high], details=details
        )
    return bool(added)


def resolve_merge(
    library: ConflictLibrary, keep: str, absorb: str, *, rematch: bool = True
) -> MergeResult:
    """Make ``absorb`` part of ``keep``: one person enrolled under two names becomes one.

    ``absorb``'s references (with their crops) and review decisions move to
    ``keep``, as do the pairs it was marked different from; a reference of an
    image ``keep`` already has is dropped. ``absorb`` is then deleted and
    stored faces are matched again (unless ``rematch`` is False: the caller queues it).

    Raises:
        NotFoundError: either name is not enrolled.
        InvalidInputError: both names are the same person.
    """
    keep_id, absorb_id = _two_people(library, keep, absorb)
    names = library.store.person_name(keep_id), library.store.person_name(absorb_id)
    with library.store.transaction() as conn:
        reviews = move_reviews(conn, absorb_id, keep_id)
        move_imported_tags(conn, absorb_id, keep_id)
        merged = people_tables.merge_people(conn, keep_id, absorb_id, library.audit.actor)
        moved, dropped, crops = merged.moved, merged.dropped, merged.crops
        library.audit.record(
            conn,
            AuditAction.CONFLICT_MERGE,
            people=[keep_id, absorb_id],
            details=f"merged person #{absorb_id} into #{keep_id}: {moved} reference(s) moved, "
            f"{dropped} duplicate(s) dropped, {reviews} review decision(s) moved",
        )
    for crop in crops:
        owned = library.store.owned_file(crop)  # never a file outside the library
        if owned is not None:
            owned.unlink(missing_ok=True)
    if rematch:
        library.rematch()
    return MergeResult(keep_id, names[0], absorb_id, names[1], moved, dropped, reviews)


def _two_people(library: ConflictLibrary, first: str, second: str) -> tuple[int, int]:
    ids = [library.store.require_person(name) for name in (first, second)]
    if ids[0] == ids[1]:
        raise InvalidInputError(f"{first!r} and {second!r} are the same enrolled person")
    return ids[0], ids[1]
