"""Erasure: a person removed from the library, leaving no trace but the fact of it.

``ErasureService`` takes its collaborators (the store, the review book, the audit log,
the face index folder, how stored faces are matched again and how the face index is
rebuilt); ``Library`` composes it and offers ``forget``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from facesight.descriptors import NearestFaces
from facesight.records import ForgetResult
from facesight.store import people as people_tables
from facesight.store.audit import AuditAction, AuditLog
from facesight.store.reviews import ReviewBook
from facesight.store.sqlite import Store

__all__ = ["ErasureService"]


class ErasureService:
    """Erasing people.

    Args:
        store: the library database.
        reviews: the review book (the faces confirmed as the person).
        audit: the audit log (blanked of the person's name; the erasure recorded).
        index_dir: the folder of the face index (rebuilt when faces were deleted).
        rematch: match every stored face again (the person's references are gone).
        face_index: bring the face index in step with the database.
    """

    def __init__(
        self,
        store: Store,
        reviews: ReviewBook,
        audit: AuditLog,
        index_dir: Path,
        *,
        rematch: Callable[[], int],
        face_index: Callable[[], NearestFaces],
    ) -> None:
        self.store = store
        self.reviews = reviews
        self.audit = audit
        self.index_dir = index_dir
        self.rematch = rematch
        self.face_index = face_index

    def forget(
        self, name: str, *, with_sightings: bool = False, rematch: bool = True
    ) -> ForgetResult:
        """Erase a person: references, descriptors, crops and candidates, leaving no trace.

        Deleted rows are overwritten (``secure_delete``) and the WAL is
        checkpointed and truncated, so the name and descriptors do not linger
        in the database files; the reference crops are deleted from disk. The
        audit log keeps that an erasure happened; its paths and notes that may
        name the person, under their name or one they had before (a rename's old
        name, a merged person's: ``store.people.former_names``), are blanked
        (``AuditLog.erase``), its chain still verifies. The former names are deleted
        with the person.

        Faces of the person in scanned media stay (as faces nobody is matched
        to), unless ``with_sightings``: then the faces confirmed as this person
        are deleted too, with their descriptors and crops (see docs/review.md).
        With ``rematch`` False stored faces are not matched again here (the caller queues a
        re-match job): the person's candidate rows are gone already.
        """
        person_id = self.store.require_person(name)
        stored_name = self.store.person_name(person_id)
        with self.store.transaction() as conn:
            faces = self.reviews.confirmed_faces(person_id) if with_sightings else []
            crops = self.store.delete_faces(conn, faces)
            # read before the person's rows go: names the person had, people merged in
            former = people_tables.former_names(conn, person_id)
            refs, cands, reference_crops = self.store.delete_person(conn, person_id)
            erased = self.audit.erase(
                conn, person_id, stored_name, former_names=former.names, former_ids=former.ids
            )
            self.audit.record(
                conn,
                AuditAction.FORGET,
                people=[person_id],
                faces=faces,
                records=erased,
                counts={"references": refs, "faces": len(faces)},
            )
        removed = 0
        for crop in [*reference_crops, *crops]:
            owned = self.store.owned_file(crop)  # never a file outside the library
            if owned is not None and owned.is_file():
                owned.unlink()
                removed += 1
        if rematch:
            self.rematch()
        if faces and self.index_dir.exists():
            self.face_index()  # rebuilt without the erased descriptors
        self.store.checkpoint()
        return ForgetResult(stored_name, refs, cands, removed, len(faces), len(erased))
