"""Importing face tags other tools wrote (``import-tags``), and reading them as ground truth.

``TagImportService`` takes its collaborators (the store, the review book, the audit log,
and callables for what it needs of the library: ``scan``, ``sightings_by_face``,
``enroll_faces``, ``enroll_region``); ``Library`` composes it. For each image under the
paths given it reads every tag (``facesight.tags.sidecars``: sidecars beside the image or
in a sidecar folder, embedded XMP, ``.picasa.ini``), scans the images the library has not
seen, and matches each region to a stored face (``library.tag_regions``). Then a tagged
face becomes, by the caller's choice:

- an *imported (unverified)* naming (``store.imported_tags``), shown with the tool and
  file it came from until a reviewer confirms or rejects it (``Library.confirm``);
- or one of the person's references (``--as-references``: the face is confirmed as them,
  as a manual identification, and enrolled).

A face already decided otherwise (confirmed or rejected, a reference of another person,
named by the decision rule or by an earlier import as someone else) is a conflict: listed,
left as it is. A region with no detected face under it is counted and listed (and with
``force_region`` enrolled from the region itself). Unreadable or malformed tag files are
one problem line each; the rest is imported. One audit record (``import.tags``) lists what
was imported, from which files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from facesight.errors import InvalidInputError, MediaError
from facesight.exports.xmp import exif_orientation
from facesight.library.tag_regions import RegionMatch, match_regions
from facesight.media.images import find_media, sha256_of
from facesight.records import Candidate, Decision, ScanSummary, Sighting
from facesight.store.audit import AuditAction, AuditLog
from facesight.store.reviews import ReviewBook
from facesight.store.sqlite import Store
from facesight.tags.regions import TaggedRegion, TagReading
from facesight.tags.sidecars import SidecarFolder, read_tags
from facesight.text import check_name, name_key

__all__ = ["TagConflict", "TagImport", "TagImportService", "TagTruth", "TaggedFace"]


@dataclass(frozen=True)
class TaggedFace:
    """A tagged face: the stored face (None: no face under the region), who the tag names,
    and the tool and file it came from."""

    path: str
    face_id: int | None
    person: str
    tool: str
    source: str
    box_px: tuple[float, float, float, float]


@dataclass(frozen=True)
class TagConflict:
    """A tag that disagrees with what the library already holds about the face."""

    tag: TaggedFace
    standing: str


@dataclass
class TagImport:
    """What an import did (``--json`` renders it whole).

    Attributes:
        imported: faces named by a tag (as imported tags, or as references).
        agreed: tags the library already held (same person confirmed, referenced, imported).
        conflicts: tags left out because the face stands otherwise.
        unmatched: named regions with no detected face under them.
        forced: those of ``unmatched`` enrolled from the region itself (``force_region``).
        unnamed: face regions without a person's name (nothing to import).
        problems: one line per tag file or region that could not be read.
        unpaired: sidecars of the sidecar folder that no image under the paths took.
    """

    images: int = 0
    tag_files: int = 0
    regions: int = 0
    imported: list[TaggedFace] = field(default_factory=list)
    agreed: list[TaggedFace] = field(default_factory=list)
    conflicts: list[TagConflict] = field(default_factory=list)
    unmatched: list[TaggedFace] = field(default_factory=list)
    forced: list[TaggedFace] = field(default_factory=list)
    unnamed: int = 0
    problems: list[str] = field(default_factory=list)
    unpaired: list[str] = field(default_factory=list)
    scan: ScanSummary | None = None


@dataclass(frozen=True)
class TagTruth:
    """A tagged face as ground truth (``eval tags``): who the tag names and whom the decision
    rule proposes for the face (None: nobody), with the proposal's est. FMR."""

    face_id: int
    path: str
    tagged: str
    proposed: str | None
    fmr: float
    reference: bool


@dataclass
class _Collected:
    matches: list[RegionMatch] = field(default_factory=list)
    report: TagImport = field(default_factory=TagImport)
    sources: set[str] = field(default_factory=set)


class TagImportService:
    """Reading other tools' face tags into the library.

    Args:
        store, reviews, audit: the library database, its review book and audit log.
        scan: scan these images into the library (those not seen yet).
        sightings_by_face: the reviewed sightings of these face ids.
        proposals: whom the decision rule alone names for these face ids.
        enroll_faces: enroll stored faces as references of a person (``ReviewService``).
        enroll_region: enroll a region of an image (upright pixels) as a reference.
    """

    def __init__(
        self,
        store: Store,
        reviews: ReviewBook,
        audit: AuditLog,
        *,
        scan: Callable[[list[Path]], ScanSummary],
        sightings_by_face: Callable[[list[int]], list[Sighting]],
        proposals: Callable[[list[int]], dict[int, Candidate | None]],
        enroll_faces: Callable[[str, Sequence[int], str], int],
        enroll_region: Callable[[str, Path, tuple[float, float, float, float]], None],
    ) -> None:
        self.store = store
        self.reviews = reviews
        self.audit = audit
        self.scan = scan
        self.sightings_by_face = sightings_by_face
        self.proposals = proposals
        self.enroll_faces = enroll_faces
        self.enroll_region = enroll_region

    def import_tags(
        self,
        paths: Iterable[str | Path],
        *,
        sidecars: Path | None = None,
        as_references: bool = False,
        force_region: bool = False,
    ) -> TagImport:
        """Import the face tags of the images under ``paths`` (see the module docstring).

        Raises InvalidInputError when ``sidecars`` is not a folder.
        """
        collected = self._collect(paths, sidecars)
        report = collected.report
        todo: list[TaggedFace] = []
        for match in collected.matches:
            tag = _tagged(match)
            if match.sighting is None:
                report.unmatched.append(tag)
                continue
            standing = self._standing(match.sighting, tag.person)
            if standing is None:
                todo.append(tag)
            elif standing == "":
                report.agreed.append(tag)
            else:
                report.conflicts.append(TagConflict(tag, standing))
        todo = self._named_once(todo, report)
        if as_references:
            self._as_references(todo)
        else:
            self._as_imported(todo)
        report.imported = todo
        if force_region:
            report.forced = self._forced(report.unmatched, report)
        self._audit(report, collected.sources, as_references)
        return report

    def ground_truth(
        self, paths: Iterable[str | Path], *, sidecars: Path | None = None
    ) -> tuple[list[TagTruth], TagImport]:
        """Every tagged face under ``paths`` with whom the decision rule proposes for it
        (reviews and imports left aside): the input of ``eval tags``. Nothing is written but
        the scan of images the library has not seen."""
        collected = self._collect(paths, sidecars)
        faces = [m.sighting.face_id for m in collected.matches if m.sighting is not None]
        proposals = self.proposals(faces)
        truths = []
        for match in collected.matches:
            tag = _tagged(match)
            if match.sighting is None:
                collected.report.unmatched.append(tag)
                continue
            proposal = proposals.get(match.sighting.face_id)
            truths.append(
                TagTruth(
                    face_id=match.sighting.face_id,
                    path=match.path,
                    tagged=tag.person,
                    proposed=None if proposal is None else proposal.person,
                    fmr=float("nan") if proposal is None else proposal.fmr,
                    reference=match.sighting.reference is not None,
                )
            )
        return truths, collected.report

    # -- reading and matching ------------------------------------------------------

    def _collect(self, paths: Iterable[str | Path], sidecars: Path | None) -> _Collected:
        folder = SidecarFolder(sidecars) if sidecars is not None else None
        collected = _Collected()
        report = collected.report
        tagged: list[tuple[Path, str, list[TaggedRegion]]] = []
        for found in find_media(paths):
            if isinstance(found, MediaError):
                report.problems.append(f"{found.path}: {found.problem}")
                continue
            report.images += 1
            found = Path(os.path.abspath(found))  # the audit log names files absolutely
            try:
                sha = sha256_of(found)
            except MediaError as error:
                report.problems.append(f"{error.path}: {error.problem}")
                continue
            regions = self._read(read_tags(found, sha, folder), collected)
            if regions:
                tagged.append((found, sha, regions))
        if folder is not None:  # a sidecar no image pairs with still says what is wrong with it
            report.problems.extend(p for r in folder.readings for p in r.problems)
            report.problems[:] = list(dict.fromkeys(report.problems))
            report.unpaired = [r.source for r in folder.readings if r.source not in folder.used]
        unseen = [path for path, sha, _ in tagged if self.store.media_id(sha) is None]
        if unseen:
            report.scan = self.scan(unseen)
        for path, sha, regions in tagged:
            collected.matches.extend(self._match(path, sha, regions, report))
        return collected

    def _read(self, readings: list[TagReading], collected: _Collected) -> list[TaggedRegion]:
        report = collected.report
        regions = []
        for reading in readings:
            report.tag_files += 1
            report.problems.extend(p for p in reading.problems if p not in report.problems)
            named = [r for r in reading.regions if r.name]
            report.unnamed += len(reading.regions) - len(named)
            regions.extend(named)
            if reading.regions:
                collected.sources.add(reading.source)
        return regions

    def _match(
        self, path: Path, sha: str, regions: list[TaggedRegion], report: TagImport
    ) -> list[RegionMatch]:
        if self.store.media_id(sha) is None:
            report.problems.append(f"{path}: could not be scanned; its tags are not imported")
            return []
        faces = [
            s
            for s in self.sightings_by_face(self.store.face_ids_of_content(sha))
            if s.kind == "image"
        ]
        try:
            orientation = exif_orientation(path)
        except MediaError as error:
            report.problems.append(f"{error.path}: {error.problem}")
            return []
        size = self.store.media_size(sha)
        found = match_regions(os.fspath(path), regions, faces, orientation, size)
        report.regions += len(found)
        return found

    # -- deciding what to do with each tag -----------------------------------------

    def _standing(self, sighting: Sighting, name: str) -> str | None:
        """What the library holds against naming ``sighting`` as ``name``: None (nothing:
        import it), "" (it says the same already) or a conflict in words."""
        person_id = self.store.person_id(name)
        if sighting.reference is not None:
            if sighting.reference.person_id == person_id:
                return ""
            return f"a reference photo of {sighting.reference.person}"
        review = sighting.review
        if review is not None and review.decision == Decision.CONFIRMED:
            return "" if review.person_id == person_id else f"confirmed as {review.person}"
        rejected = self._rejected(sighting.face_id)
        if person_id is not None and person_id in rejected:
            return f"a reviewer rejected {name} for this face"
        match = sighting.match
        if match is not None and match.person_id != person_id:
            return f"the decision rule names {match.person}"
        imported = sighting.imported
        if imported is not None:
            if imported.person_id == person_id:
                return ""
            return f"imported as {imported.person} from {imported.tool} {imported.source}"
        return None

    def _rejected(self, face_id: int) -> set[int]:
        latest = {
            r.person_id: r.decision for r in self.reviews.of_faces([face_id]).get(face_id, [])
        }
        return {person for person, decision in latest.items() if decision == Decision.REJECTED}

    def _named_once(self, todo: list[TaggedFace], report: TagImport) -> list[TaggedFace]:
        """One name per face: two tags naming one face differently are both conflicts;
        names that cannot be stored are problems."""
        names: dict[int | None, set[str]] = {}
        for tag in todo:
            names.setdefault(tag.face_id, set()).add(name_key(tag.person))
        kept: list[TaggedFace] = []
        for tag in todo:
            if len(names[tag.face_id]) > 1:
                report.conflicts.append(TagConflict(tag, "tagged with another name too"))
                continue
            try:
                check_name(tag.person)
            except InvalidInputError as error:
                report.problems.append(f"{tag.source}: {error}")
                continue
            if all(t.face_id != tag.face_id for t in kept):
                kept.append(tag)
        return kept

    def _as_imported(self, todo: list[TaggedFace]) -> None:
        if not todo:
            return
        with self.store.transaction() as conn:
            for tag in todo:
                if tag.face_id is None:  # only matched tags are handed here
                    continue
                person_id = self.store.person_id(tag.person) or self.store.add_person(
                    conn, tag.person
                )
                self.store.imported_tags.add(conn, tag.face_id, person_id, tag.tool, tag.source)

    def _as_references(self, todo: list[TaggedFace]) -> None:
        by_person: dict[str, list[TaggedFace]] = {}
        for tag in todo:
            by_person.setdefault(name_key(tag.person), []).append(tag)
        for tags in by_person.values():
            tools = sorted({t.tool for t in tags})
            note = f"imported from {', '.join(tools)} ({len(tags)} tag(s))"
            self.enroll_faces(tags[0].person, [t.face_id for t in tags if t.face_id], note)

    def _forced(self, unmatched: list[TaggedFace], report: TagImport) -> list[TaggedFace]:
        forced = []
        for tag in unmatched:
            try:
                self.enroll_region(tag.person, Path(tag.path), tag.box_px)
            except (MediaError, InvalidInputError) as error:
                report.problems.append(f"{tag.path}: region of {tag.person} not enrolled: {error}")
                continue
            forced.append(tag)
        return forced

    def _audit(self, report: TagImport, sources: set[str], as_references: bool) -> None:
        people = {
            person_id
            for tag in [*report.imported, *report.forced]
            if (person_id := self.store.person_id(tag.person)) is not None
        }
        counts = {
            "imported": len(report.imported),
            "agreed": len(report.agreed),
            "conflicts": len(report.conflicts),
            "unmatched": len(report.unmatched),
            "forced": len(report.forced),
            "problems": len(report.problems),
        }
        how = "as references" if as_references else "as unverified tags"
        with self.store.transaction() as conn:
            self.audit.record(
                conn,
                AuditAction.IMPORT_TAGS,
                faces=[t.face_id for t in report.imported if t.face_id is not None],
                people=sorted(people),
                paths=sorted(sources),
                counts=counts,
                details=f"other tools' face tags imported {how}",
            )


def _tagged(match: RegionMatch) -> TaggedFace:
    face_id = None if match.sighting is None else match.sighting.face_id
    region = match.region
    return TaggedFace(match.path, face_id, region.name, region.tool, region.source, match.box_px)
