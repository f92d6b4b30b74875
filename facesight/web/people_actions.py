"""What the People pages and ``/api/v1/people`` do to a person, once for both.

Each function runs on the library's thread (``LibraryGate.run``) under the signed-in account.
A change that would match every stored face again (a reference added or removed, two people
merged, someone forgotten) calls the library with re-matching off and queues a re-match job
(``JobKind.REMATCH``): at a million faces re-matching takes minutes, a request must not.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from facesight.errors import InvalidInputError, NotFoundError
from facesight.library.facade import Library
from facesight.library.jobs import JobKind
from facesight.records import ForgetResult

__all__ = [
    "Done",
    "add_reference",
    "forget",
    "merge",
    "queue_rematch",
    "remove_reference",
    "rename",
]


@dataclass(frozen=True)
class Done:
    """What an action did: the person to show next (None: forgotten), the re-match job it
    queued, and what it made or erased."""

    person_id: int | None
    job_id: int | None = None
    reference_id: int | None = None
    absorbed_id: int | None = None
    forgotten: ForgetResult | None = None


def queue_rematch(lib: Library) -> int:
    """Queue a re-match of every stored face (the jobs worker runs it); the job's id."""
    return lib.jobs.submit(JobKind.REMATCH, {}).id


def rename(lib: Library, person_id: int, name: str) -> Done:
    """Call the person ``person_id`` ``name`` (names live in one row: nothing to re-match)."""
    lib.rename(lib.person_name(person_id), name)
    return Done(person_id)


def add_reference(lib: Library, person_id: int, face_id: int) -> Done:
    """Make the face ``face_id``, confirmed as the person, one of their references."""
    made = lib.add_reference_from_face(face_id, lib.person_name(person_id), rematch=False)
    return Done(person_id, queue_rematch(lib), reference_id=made)


def remove_reference(lib: Library, person_id: int, reference_id: int) -> Done:
    """Remove one of the person's references (never their last)."""
    owned = {r.id for r in lib.references(lib.person_name(person_id))}
    if reference_id not in owned:
        raise NotFoundError(f"person {person_id} has no reference {reference_id}")
    lib.remove_reference(reference_id, rematch=False)
    return Done(person_id, queue_rematch(lib), reference_id=reference_id)


def merge(lib: Library, person_id: int, other_id: int, keep: str) -> Done:
    """Merge the people ``person_id`` and ``other_id`` into one; ``keep`` (``this`` or
    ``other``) says whose name, and id, survives."""
    if keep not in ("this", "other"):
        raise InvalidInputError(f"keep this or the other person's name, not {keep!r}")
    this, other = lib.person_name(person_id), lib.person_name(other_id)
    kept, absorbed = (this, other) if keep == "this" else (other, this)
    result = lib.merge_people(kept, absorbed, rematch=False)
    return Done(result.kept_id, queue_rematch(lib), absorbed_id=result.absorbed_id)


def forget(lib: Library, person_id: int, typed: str, with_sightings: bool) -> Done:
    """Forget the person ``person_id`` when ``typed`` is their exact name.

    Raises:
        InvalidInputError: ``typed`` is not the person's name exactly as it is stored.
    """
    name = lib.person_name(person_id)
    if unicodedata.normalize("NFC", typed) != name:
        raise InvalidInputError(
            "to forget this person, type their name exactly as it is shown; nothing was erased"
        )
    result = lib.forget(name, with_sightings=with_sightings, rematch=False)
    return Done(None, queue_rematch(lib), forgotten=result)
