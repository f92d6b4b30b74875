"""A library in PostgreSQL behaves as one in SQLite: the same scan, the same sightings.

Every test here runs on a real PostgreSQL with pgvector, started by the tests
(``tests.postgres``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from facesight.library.facade import Library
from facesight.library.unknowns import UnknownPeople
from facesight.records import Sighting
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE, REPO
from .postgres import PostgresServer

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
            unknowns = UnknownPeople(library)
            found = unknowns.clusters()
            strangers = sorted(sorted(a.path for a in c.appearances) for c in found)
            if found:  # name one: its faces become references, audited
                unknowns.name(found[0].id, "Someone New")
            hits = library.search_face(images[0], top_k=5)  # pgvector there, faiss here
            searched = [(h.sighting.path, round(h.distance, 4), h.same_person) for h in hits]
            people = [p.name for p in library.people()]
            results.append(
                (
                    _seen(every),
                    _seen(matched),
                    library.audit.verify().ok,
                    searched,
                    strangers,
                    people,
                )
            )
    sqlite, postgres = results
    assert postgres[0] == sqlite[0]
    assert postgres[1] == sqlite[1] and len(sqlite[1]) > 10
    assert postgres[2] and sqlite[2]
    assert postgres[3] == sqlite[3] and len(sqlite[3]) == 5
    assert postgres[4] == sqlite[4] and len(sqlite[4]) >= 3  # the same unknown people
    assert postgres[5] == sqlite[5] and "Someone New" in sqlite[5]


def _media_count(url: str) -> int:
    import psycopg

    try:
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT COUNT(*) FROM media").fetchone()
            return int(row[0]) if row else 0
    except psycopg.Error:  # the schema is not there yet
        return 0


def _rows(url: str) -> list[tuple[str, int, int]]:
    import psycopg

    with psycopg.connect(url) as conn:
        return sorted(
            conn.execute(
                "SELECT m.sha256, m.face_count, (SELECT COUNT(*)::int FROM faces f"
                " WHERE f.media_id = m.id) FROM media m"
            ).fetchall()
        )


@pytest.mark.slow
def test_a_scan_killed_mid_way_resumes_in_postgresql(
    postgres_server: PostgresServer, postgres_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in sorted(PEOPLE.glob("*/*.jpg"))[:24]:
        shutil.copy(path, folder / f"{path.parent.name}_{path.name}")
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_DATA_HOME": str(tmp_path / "data")}
    clean_url = postgres_server.url("facesight_clean_scan")
    postgres_server.admin("DROP DATABASE IF EXISTS facesight_clean_scan WITH (FORCE)")
    postgres_server.admin("CREATE DATABASE facesight_clean_scan")

    def scan(url: str) -> list[str]:
        return [sys.executable, "-m", "facesight", "--library", url, "scan", str(folder)]

    process = subprocess.Popen(
        scan(postgres_url), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while _media_count(postgres_url) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(1)  # the server rolls back the killed connection's open transaction
    partial = _media_count(postgres_url)
    assert 4 <= partial < 24, "the kill must land mid-scan"
    subprocess.run(scan(postgres_url), env=env, check=True, capture_output=True)
    subprocess.run(scan(clean_url), env=env, check=True, capture_output=True)
    resumed = _rows(postgres_url)
    assert resumed == _rows(clean_url)
    assert all(count == stored for _, count, stored in resumed)
    assert len(resumed) == len({sha for sha, _, _ in resumed}) == 24
    postgres_server.admin("DROP DATABASE IF EXISTS facesight_clean_scan WITH (FORCE)")
