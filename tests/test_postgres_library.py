"""A library in PostgreSQL behaves as one in SQLite: the same scan, the same sightings.

Every test here runs on a real PostgreSQL with pgvector, started by the tests
(``tests.postgres``).
"""

from __future__ import annotations

from pathlib import Path

from facesight.library.facade import Library
from facesight.records import Sighting
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE

ENROLLED = ("Barack_Obama", "Joe_Biden", "Katy_Perry")


def _open(
    location: str | Path, tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> Library:
    return Library(location, detector=detector, embedder=embedder, files_dir=tmp_path / "files")


def _enroll_and_scan(library: Library, images: list[Path], workers: int) -> None:
    for name in ENROLLED:
        first = sorted((PEOPLE / name).glob("*.jpg"))[0]
        library.enroll(name.replace("_", " "), [first], largest=True)
    library.scan(images, workers=workers)


def _seen(sightings: list[Sighting]) -> list[tuple[object, ...]]:
    return [
        (
            s.path,
            s.frame,
            tuple(round(float(v), 2) for v in s.xyxy),
            tuple((c.person, round(c.distance, 4), c.is_match) for c in s.candidates),
            s.review.decision if s.review else None,
        )
        for s in sightings
    ]


def test_scan_into_postgresql_gives_the_sightings_of_sqlite(
    postgres_url: str, tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    images = sorted(PEOPLE.glob("*/*.jpg"))
    results = []
    for location, workers in ((tmp_path / "sqlite", 0), (postgres_url, 2)):
        with _open(location, tmp_path / str(workers), detector, embedder) as library:
            _enroll_and_scan(library, images, workers)
            every = library.sightings(include_unmatched=True)
            matched = library.sightings()
            crops = [s.crop_path for s in every if s.crop_path]
            assert crops and all(Path(c).is_file() for c in crops)
            hits = library.search_face(images[0], top_k=5)  # pgvector there, faiss here
            searched = [(h.sighting.path, round(h.distance, 4), h.same_person) for h in hits]
            results.append((_seen(every), _seen(matched), library.audit.verify().ok, searched))
    sqlite, postgres = results
    assert postgres[0] == sqlite[0]
    assert postgres[1] == sqlite[1] and len(sqlite[1]) > 10
    assert postgres[2] and sqlite[2]
    assert postgres[3] == sqlite[3] and len(sqlite[3]) == 5
