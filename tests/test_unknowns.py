"""Unknown people on real photos: clustering, incremental refresh, split, merge, name, CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from facesight.cli.main import cli
from facesight.errors import InvalidInputError, NotFoundError
from facesight.library.copy import copy_library
from facesight.library.facade import Library
from facesight.library.unknowns import SAMPLE_CROPS, UnknownCluster, UnknownPeople
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE

OBAMA = sorted((PEOPLE / "Barack_Obama").glob("*.jpg"))  # 4 photos
DAMON = sorted((PEOPLE / "Matt_Damon").glob("*.jpg"))  # 5 photos
CLOONEY = sorted((PEOPLE / "George_Clooney").glob("*.jpg"))  # 4 photos, one with a poor 2nd face
BIDEN = sorted((PEOPLE / "Joe_Biden").glob("*.jpg"))  # 2 photos


def _scan(library: Library, *groups: list[Path]) -> None:
    # one person at a time: fewer than 8 files are analysed in this process
    for paths in groups:
        summary = library.scan(paths, workers=0)
        assert not summary.failures


def _folders(cluster: UnknownCluster) -> set[str]:
    return {Path(a.path).parent.name for a in cluster.appearances}


def _face_ids(cluster: UnknownCluster) -> list[int]:
    return sorted(f for a in cluster.appearances for f in a.face_ids)


def _by_folder(unknowns: UnknownPeople) -> dict[str, UnknownCluster]:
    found = {}
    for cluster in unknowns.clusters():
        (folder,) = _folders(cluster)  # each cluster holds one person's photos only
        assert folder not in found, f"{folder} is split over two clusters"
        found[folder] = cluster
    return found


@pytest.fixture(scope="module")
def template(
    tmp_path_factory: pytest.TempPathFactory, detector: FaceDetector, embedder: FaceEmbedder
) -> Path:
    """A library with four people's photos scanned once, nobody enrolled."""
    directory = tmp_path_factory.mktemp("unknowns") / "lib"
    with Library(directory, detector=detector, embedder=embedder) as library:
        _scan(library, OBAMA, DAMON, CLOONEY, BIDEN)
    return directory


@pytest.fixture
def scanned(
    template: Path, tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> Iterator[UnknownPeople]:
    """A copy of the template library: everyone in it is unknown."""
    shutil.copytree(template, tmp_path / "lib")
    with Library(tmp_path / "lib", detector=detector, embedder=embedder) as library:
        yield UnknownPeople(library)


def test_clusters_group_each_persons_photos_by_distinct_media(scanned: UnknownPeople) -> None:
    found = scanned.clusters()
    assert [(_folders(c).pop(), c.media) for c in found] == [
        ("Matt_Damon", 5),
        ("Barack_Obama", 4),
        ("George_Clooney", 4),
        ("Joe_Biden", 2),
    ]
    for cluster in found:
        assert 1 <= len(cluster.sample_crops) <= SAMPLE_CROPS
        assert all(Path(crop).is_file() for crop in cluster.sample_crops)
        assert cluster.faces == sum(len(a.face_ids) for a in cluster.appearances)
    assert [c.id for c in scanned.clusters(min_media=4)] == [c.id for c in found[:3]]
    assert len(scanned.clusters(limit=2)) == 2


def test_pages_of_clusters_and_of_a_clusters_faces_follow_the_whole_listing(
    scanned: UnknownPeople,
) -> None:
    found = scanned.clusters()
    paged: list[UnknownCluster] = []
    after = None
    while page := scanned.clusters_after(after, limit=1):
        paged += page
        after = page[-1].id
    assert paged == found
    assert scanned.clusters_after(found[0].id, min_media=4) == found[1:3]
    for cluster in found:
        every = [s.face_id for s in scanned.faces(cluster.id, refresh=False)]
        shown: list[int] = []
        last = None
        while faces := scanned.faces_after(cluster.id, last, limit=2):
            shown += [s.face_id for s in faces]
            last = faces[-1].face_id
        assert shown == every and len(shown) == cluster.faces
    with pytest.raises(NotFoundError):
        scanned.faces_after(10_000, None)


def test_poor_faces_do_not_seed_clusters(scanned: UnknownPeople) -> None:
    conn = scanned.library.store.connection
    poor = {r[0] for r in conn.execute("SELECT id FROM faces WHERE quality < 0.3")}
    assert poor, "the Clooney photo with a tiny background face should give a poor face"
    # each cluster holds at least two good faces: poor ones may only join
    for cluster in scanned.clusters():
        assert len(set(_face_ids(cluster)) - poor) >= 2


def test_refresh_is_incremental_and_keeps_cluster_ids(library: Library) -> None:
    _scan(library, OBAMA[:2], DAMON[:2])
    unknowns = UnknownPeople(library)
    before = {folder: c.id for folder, c in _by_folder(unknowns).items()}
    assert set(before) == {"Barack_Obama", "Matt_Damon"}
    assert unknowns.refresh() is False  # nothing changed: nothing recomputed

    _scan(library, OBAMA[2:3], DAMON[2:3], BIDEN)
    assert unknowns.refresh() is True
    after = _by_folder(unknowns)
    assert {f: after[f].id for f in before} == before
    assert (after["Barack_Obama"].media, after["Matt_Damon"].media) == (3, 3)
    assert after["Joe_Biden"].id > max(before.values())


def test_split_faces_never_rejoin_their_cluster(scanned: UnknownPeople) -> None:
    damon = _by_folder(scanned)["Matt_Damon"]
    members = _face_ids(damon)
    taken = members[:2]
    assert scanned.split(damon.id, taken) is None

    conn = scanned.library.store.connection
    assert scanned.refresh(force=True) is True
    now = {r[0]: r[1] for r in conn.execute("SELECT face_id, cluster_id FROM unknown_members")}
    assert all(now.get(f) != damon.id for f in taken)
    assert [now[f] for f in members[2:]] == [damon.id] * 3
    barred = set(conn.execute("SELECT face_id, cluster_id FROM unknown_exclusions"))
    assert barred == {(f, damon.id) for f in taken}
    (record,) = scanned.library.audit.records(action="unknowns.split")
    assert record.items == {"faces": sorted(taken), "clusters": [damon.id]}


def test_split_into_a_new_cluster_and_merge_back(scanned: UnknownPeople) -> None:
    damon = _by_folder(scanned)["Matt_Damon"]
    members = _face_ids(damon)
    new_id = scanned.split(damon.id, members[:2], as_new=True)
    assert new_id is not None and new_id > max(c.id for c in scanned.clusters() if c.id != new_id)
    sizes = {c.id: c.faces for c in scanned.clusters()}
    assert (sizes[damon.id], sizes[new_id]) == (3, 2)

    assert scanned.merge(damon.id, new_id) == 5
    assert new_id not in {c.id for c in scanned.clusters()}
    conn = scanned.library.store.connection
    # the user put the split faces back: their exclusions are lifted, the merged id is gone
    assert conn.execute("SELECT COUNT(*) FROM unknown_exclusions").fetchone()[0] == 0
    with pytest.raises(NotFoundError, match=f"unknown person {new_id} is gone"):
        scanned.faces(new_id)
    (record,) = scanned.library.audit.records(action="unknowns.merge")
    assert record.items == {"faces": members[:2], "clusters": [damon.id, new_id]}


def test_merge_carries_the_other_clusters_exclusions(scanned: UnknownPeople) -> None:
    people = _by_folder(scanned)
    obama, clooney = people["Barack_Obama"], people["George_Clooney"]
    outcast = obama.appearances[0].face_ids[0]
    scanned.split(obama.id, [outcast])
    scanned.merge(clooney.id, obama.id)
    conn = scanned.library.store.connection
    barred = set(conn.execute("SELECT face_id, cluster_id FROM unknown_exclusions"))
    assert barred == {(outcast, clooney.id)}
    scanned.refresh(force=True)
    assert outcast not in [f for c in scanned.clusters() for f in _face_ids(c)]


def test_decisions_refuse_unknown_clusters_and_foreign_faces(scanned: UnknownPeople) -> None:
    people = _by_folder(scanned)
    damon, biden = people["Matt_Damon"], people["Joe_Biden"]
    with pytest.raises(NotFoundError, match="no unknown person has id 999"):
        scanned.split(999, [1])
    with pytest.raises(NotFoundError, match="no unknown person has id 999"):
        scanned.merge(damon.id, 999)
    with pytest.raises(InvalidInputError, match="are not in unknown person"):
        scanned.split(damon.id, [biden.appearances[0].face_ids[0]])
    with pytest.raises(InvalidInputError, match="all 2 faces"):
        scanned.split(biden.id, _face_ids(biden))
    with pytest.raises(InvalidInputError, match="with itself"):
        scanned.merge(damon.id, damon.id)
    with pytest.raises(InvalidInputError, match="at least one face"):
        scanned.name(damon.id, "Matt Damon", best=0)
    assert scanned.library.audit.records(action="unknowns") == []


def test_name_enrolls_the_cluster_and_its_sightings_follow(scanned: UnknownPeople) -> None:
    library = scanned.library
    obama = _by_folder(scanned)["Barack_Obama"]
    members = _face_ids(obama)
    best = [s.face_id for s in scanned.best_faces(obama.id, 2)]

    person_id = scanned.name(obama.id, "Barack Obama", best=2)

    assert sorted(s.face_id for s in library.sightings("Barack Obama")) == members
    refs = library.store.connection.execute(
        "SELECT source_sha256 FROM reference_faces WHERE person_id = ?", (person_id,)
    ).fetchall()
    assert sorted(int(r[0].split("#face")[1]) for r in refs) == sorted(best)
    remaining = _by_folder(scanned)
    assert "Barack_Obama" not in remaining and len(remaining) == 3
    with pytest.raises(NotFoundError, match="is gone"):
        scanned.faces(obama.id)
    (record,) = library.audit.records(action="unknowns.name")
    assert record.items == {"faces": members, "people": [person_id], "clusters": [obama.id]}
    assert "Barack" not in record.details  # the audit log never holds a name


def _run(library: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The real command line, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "facesight", "--library", str(library), *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        env={**os.environ, "COLUMNS": "250", "FACESIGHT_USER": "tester"},
    )


def _invoke(library: Path, *args: str, stdin: str | None = None) -> Result:
    runner = CliRunner(env={"COLUMNS": "250", "FACESIGHT_USER": "tester"})
    return runner.invoke(cli, ["--library", str(library), *args], input=stdin)


def test_cli_lists_splits_merges_and_names(scanned: UnknownPeople) -> None:
    directory = scanned.library.path
    listed = _run(directory, "unknowns", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["media"] for r in rows] == [5, 4, 4, 2]
    obama = next(r for r in rows if "Barack_Obama" in r["appears_in"][0]["path"])
    damon = rows[0]

    table = _invoke(directory, "unknowns", "--min-media", "4")
    assert table.exit_code == 0, table.output
    assert "Matt_Damon" in table.stdout and "Joe_Biden" not in table.stdout

    shown = _invoke(directory, "unknowns", "show", str(damon["id"]), "--json")
    faces = json.loads(shown.stdout)
    assert len(faces) == 5 and all(f["crop"] for f in faces)
    taken = [str(f["face_id"]) for f in faces[-2:]]
    split = _invoke(directory, "unknowns", "split", str(damon["id"]), *taken, "--new-cluster")
    assert split.exit_code == 0 and "into new unknown person" in split.stdout
    new_id = int(split.stdout.split("new unknown person")[1].split()[0])
    merged = _invoke(directory, "unknowns", "merge", str(damon["id"]), str(new_id))
    assert merged.exit_code == 0 and "5 face(s)" in merged.stdout
    missing = _invoke(directory, "unknowns", "show", "999")
    assert missing.exit_code == 1 and "no unknown person has id 999" in missing.stderr

    refused = _invoke(directory, "name", str(obama["id"]), "Barack Obama", stdin="n\n")
    assert refused.exit_code == 1 and "References of Barack Obama" in refused.stdout
    named = _run(directory, "name", str(obama["id"]), "Barack Obama", "--yes")
    assert named.returncode == 0, named.stderr
    seen = json.loads(_invoke(directory, "sightings", "--person", "Barack Obama", "--json").stdout)
    assert len(seen) == 4
    left = json.loads(_invoke(directory, "unknowns", "--json").stdout)
    assert obama["id"] not in [r["id"] for r in left] and len(left) == 3
    actions = [r.action for r in scanned.library.audit.records(action="unknowns")]
    assert actions == ["unknowns.name", "unknowns.merge", "unknowns.split"]


def test_the_listing_and_its_pages_on_postgresql(
    scanned: UnknownPeople, postgres_url: str, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    here = scanned.clusters()
    copy_library(scanned.library.path, postgres_url)
    with Library(postgres_url, detector=detector, embedder=embedder) as library:
        there = UnknownPeople(library)
        listed = [(c.id, c.faces, c.media, c.first_seen) for c in here]
        found = there.clusters(refresh=False)
        assert [(c.id, c.faces, c.media, c.first_seen) for c in found] == listed
        assert [c.id for c in there.clusters_after(here[0].id, limit=2)] == [
            c.id for c in here[1:3]
        ]
        for cluster in here:
            faces = [s.face_id for s in scanned.faces(cluster.id, refresh=False)]
            assert [s.face_id for s in there.faces_after(cluster.id, None, limit=500)] == faces
