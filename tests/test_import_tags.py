"""``import-tags`` and ``eval tags``: face tags from other tools into a real library.

Sidecars are written by ``export-xmp`` (the round trip) and by ExifTool (MWG and Microsoft
Photo regions, as digiKam, Lightroom and Windows write them), Picasa's ``.picasa.ini`` by
hand; malformed ones (truncated, a billion-laughs DOCTYPE, wrong numbers) are reported per
file while the rest is imported.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from facesight.cli.main import cli
from facesight.eval.tags import TagPair, tag_agreement
from facesight.exports.xmp import FaceRegion, xmp_sidecar
from facesight.library.facade import Library
from facesight.library.reports import export_xmp, report_rows
from facesight.records import Decision
from facesight.tags.mwg import mwg_regions
from facesight.tags.picasa import picasa_regions, rect64_box
from facesight.tags.regions import TaggedRegion, TagReading, stored_frame, upright_box
from facesight.tags.sidecars import read_tags, read_xmp_sidecar
from facesight.tags.xmp_packet import parse_xmp
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import GROUP, PEOPLE

OBAMA_REF = PEOPLE / "Barack_Obama" / "face_recognition_obama.jpg"
BIDEN_REF = PEOPLE / "Joe_Biden" / "face_recognition_biden.jpg"
BOTH = GROUP / "face_recognition_obama_and_biden.jpg"
OBAMA_2 = PEOPLE / "Barack_Obama" / "face_recognition_obama2.jpg"
BIDEN_2 = PEOPLE / "Joe_Biden" / "face_recognition_biden2.jpg"
SCANNED = [BOTH, OBAMA_2, BIDEN_2]
Named = list[tuple[str, tuple[float, float, float, float]]]

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
 xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">&lol3;</rdf:RDF></x:xmpmeta>"""


def _exiftool(exiftool: str, target: Path, *assignments: str) -> None:
    subprocess.run(
        [exiftool, "-q", "-overwrite_original", *assignments, "-o", str(target)]
        if not target.exists()
        else [exiftool, "-q", "-overwrite_original", *assignments, str(target)],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _mwg(regions: Named, w: int, h: int) -> str:
    """ExifTool's struct syntax for MWG regions from (name, normalised x1 y1 x2 y2)."""
    items = ",".join(
        f"{{Area={{X={(x1 + x2) / 2:.6f},Y={(y1 + y2) / 2:.6f},W={x2 - x1:.6f},"
        f"H={y2 - y1:.6f},Unit=normalized}},Name={name},Type=Face}}"
        for name, (x1, y1, x2, y2) in regions
    )
    return (
        f"-XMP-mwg-rs:RegionInfo={{AppliedToDimensions={{W={w},H={h},Unit=pixel}},"
        f"RegionList=[{items}]}}"
    )


def _mp(regions: Named) -> str:
    """ExifTool's struct syntax for Microsoft Photo regions ("x, y, w, h" rectangles)."""
    items = ",".join(
        f"{{PersonDisplayName={name},Rectangle={x1:.6f}|, {y1:.6f}|, {x2 - x1:.6f}|, "
        f"{y2 - y1:.6f}}}"
        for name, (x1, y1, x2, y2) in regions
    )
    return f"-XMP-MP:RegionInfoMP={{Regions=[{items}]}}"


def _tags(library: Library, path: Path) -> Named:
    """(person, normalised box) of the named faces of one image, left to right."""
    found = sorted(
        (s for s in library.sightings() if Path(s.path) == path), key=lambda s: s.xyxy[0]
    )
    return [
        (
            str(s.person),
            (
                s.xyxy[0] / s.width_px,
                s.xyxy[1] / s.height_px,
                s.xyxy[2] / s.width_px,
                s.xyxy[3] / s.height_px,
            ),
        )
        for s in found
    ]


def _named(library: Library) -> dict[tuple[str, int], tuple[str | None, str]]:
    """(sha256, rounded box x1) -> (person, category) of every named face."""
    return {(s.sha256, round(s.xyxy[0])): (s.person, s.category) for s in library.sightings()}


@pytest.fixture(scope="module")
def source(
    tmp_path_factory: pytest.TempPathFactory, detector: FaceDetector, embedder: FaceEmbedder
) -> Iterator[tuple[Library, Path]]:
    """A library that knows Obama and Biden, has scanned three photos, and exported them."""
    root = tmp_path_factory.mktemp("source")
    with Library(root / "lib", detector=detector, embedder=embedder) as library:
        library.enroll("Barack Obama", [OBAMA_REF])
        library.enroll("Joe Biden", [BIDEN_REF])
        library.scan(SCANNED)
        export_xmp(library, root / "xmp")
        yield library, root / "xmp"


@pytest.fixture
def fresh(tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder) -> Iterator[Library]:
    with Library(tmp_path / "fresh", detector=detector, embedder=embedder) as library:
        yield library


# ------------------------------------------------------------------ the round trip


def test_export_then_import_gives_the_same_people_on_the_same_faces(
    source: tuple[Library, Path], fresh: Library
) -> None:
    library, xmp = source
    exported = _named(library)
    assert len(exported) == 4  # two in the group photo, one in each portrait
    assert all("facesight:MediaSHA256" in p.read_text() for p in xmp.glob("*.xmp"))

    result = fresh.import_tags(SCANNED, sidecars=xmp)
    assert result.problems == [] and result.unmatched == [] and result.conflicts == []
    assert len(result.imported) == 4 and result.scan is not None
    imported = _named(fresh)
    assert {k: v[0] for k, v in imported.items()} == {k: v[0] for k, v in exported.items()}
    assert {category for _, category in imported.values()} == {"imported (unverified)"}
    face = fresh.sightings("Joe Biden")[0]
    assert face.decision == Decision.PENDING and face.imported is not None
    assert face.provenance.startswith("imported (unverified) from MWG regions (facesight ")
    assert face.provenance.endswith(".xmp")
    assert {s.face_id for s in fresh.pending()} == {s.face_id for s in fresh.sightings()}

    rows = report_rows(fresh, None)
    assert len(rows) == 4 and {r.category for r in rows} == {"imported (unverified)"}
    assert all(r.note.startswith("imported (unverified) from MWG regions") for r in rows)

    # importing again changes nothing: the tags are already there
    again = fresh.import_tags(SCANNED, sidecars=xmp)
    assert again.imported == [] and len(again.agreed) == 4

    # a reviewer confirms an imported sighting like any proposal
    confirmed = fresh.confirm(face.face_id)
    assert confirmed.decision == Decision.CONFIRMED and confirmed.person == "Joe Biden"
    assert confirmed.provenance == ""

    (record,) = fresh.audit.records(action="import.tags")[-1:]
    assert sorted(record.items["paths"]) == sorted(str(p) for p in xmp.glob("*.xmp"))
    assert len(record.items["faces"]) == 4 and len(record.items["people"]) == 2


def test_sidecars_pair_by_sha256_whatever_their_name(
    source: tuple[Library, Path], fresh: Library, tmp_path: Path
) -> None:
    _, xmp = source
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for number, sidecar in enumerate(sorted(xmp.glob("*.xmp"))):
        shutil.copyfile(sidecar, renamed / f"sidecar{number}.xmp")
    result = fresh.import_tags(SCANNED, sidecars=renamed)
    assert len(result.imported) == 4 and result.problems == []


# ------------------------------------------------------------------ ExifTool's sidecars


def test_exiftool_mwg_and_mp_sidecars_and_picasa_are_read(
    source: tuple[Library, Path], fresh: Library, tmp_path: Path, exiftool: str
) -> None:
    library, _ = source
    both, obama, biden = (_tags(library, p) for p in SCANNED)
    sidecars = tmp_path / "sidecars"
    sidecars.mkdir()
    with Image.open(BOTH) as image:
        width, height = image.size
    # digiKam-style MWG regions for the group photo, Windows' for one portrait, Picasa
    # for the other; the group photo also gets a region where there is no face.
    nobody = (0.0, 0.0, 0.05, 0.05)
    _exiftool(
        exiftool,
        sidecars / f"{BOTH.name}.xmp",
        _mwg([*both, ("Ghost", nobody)], width, height),
    )
    _exiftool(exiftool, sidecars / f"{OBAMA_2.stem}.xmp", _mp(obama))
    x1, y1, x2, y2 = (round(v * 65535) for v in biden[0][1])
    (sidecars / ".picasa.ini").write_text(
        f"[{BIDEN_2.name}]\nfaces=rect64({x1:04x}{y1:04x}{x2:04x}{y2:04x}),4a1b;"
        "rect64(10001000),ffffffffffffffff\n[Contacts2]\n4a1b=Joe Biden;;\n",
        encoding="utf-8",
    )
    result = fresh.import_tags(SCANNED, sidecars=sidecars)
    assert {(Path(t.path).name, t.person) for t in result.imported} == {
        (BOTH.name, "Barack Obama"),
        (BOTH.name, "Joe Biden"),
        (OBAMA_2.name, "Barack Obama"),
        (BIDEN_2.name, "Joe Biden"),
    }
    tools = {t.tool.split(" (")[0] for t in result.imported}
    assert tools == {"MWG regions", "Microsoft Photo regions", "Picasa"}
    (ghost,) = result.unmatched  # counted and listed, never dropped
    assert ghost.person == "Ghost" and ghost.face_id is None and Path(ghost.path) == BOTH
    assert any("no contact name" in p for p in result.problems)  # Picasa's unnamed face
    assert {k: v[0] for k, v in _named(fresh).items()} == {
        k: v[0] for k, v in _named(library).items()
    }


def test_embedded_xmp_regions_are_read(tmp_path: Path, exiftool: str) -> None:
    photo = tmp_path / "photo.jpg"
    shutil.copyfile(OBAMA_REF, photo)
    _exiftool(exiftool, photo, _mwg([("Barack Obama", (0.2, 0.1, 0.6, 0.7))], 10, 10))
    (reading,) = read_tags(photo, "0" * 64)
    assert reading.source.endswith("(embedded XMP)") and reading.problems == []
    (region,) = reading.regions
    assert region.name == "Barack Obama"
    assert region.box == pytest.approx((0.2, 0.1, 0.6, 0.7), abs=1e-5)


# ------------------------------------------------------------------ malformed input


def test_malformed_sidecars_are_reported_per_file_and_the_rest_imported(
    source: tuple[Library, Path], fresh: Library, tmp_path: Path
) -> None:
    _, xmp = source
    sidecars = tmp_path / "mixed"
    shutil.copytree(xmp, sidecars)
    good = sidecars / f"{OBAMA_2.name}.xmp"
    (sidecars / f"{BIDEN_2.name}.xmp").write_text(good.read_text()[:300])  # truncated
    (sidecars / "laughs.xmp").write_text(BILLION_LAUGHS)
    (sidecars / "laughs16.xmp").write_text(BILLION_LAUGHS, encoding="utf-16")
    wrong = good.read_text().replace('stArea:w="', 'stArea:w="-')
    good.write_text(wrong)  # a negative width: wrong numbers

    result = fresh.import_tags(SCANNED, sidecars=sidecars)
    problems = "\n".join(result.problems)
    assert f"{BIDEN_2.name}.xmp: not well-formed XML" in problems
    assert "laughs.xmp: has a DOCTYPE/ENTITY declaration" in problems
    assert "laughs16.xmp: not UTF-8 text" in problems
    assert sorted(Path(p).name for p in result.unpaired) == ["laughs.xmp", "laughs16.xmp"]
    assert f"{OBAMA_2.name}.xmp: MWG region 1: region size must be positive" in problems
    assert {Path(t.path).name for t in result.imported} == {BOTH.name}
    assert len(result.imported) == 2


def test_sidecar_of_other_content_is_not_used(tmp_path: Path) -> None:
    sidecar = tmp_path / "photo.jpg.xmp"
    sidecar.write_text(
        xmp_sidecar([FaceRegion("Ann", (1, 1, 5, 5))], 10, 10, media_sha256="ab" * 32)
    )
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"not read")
    (reading,) = read_tags(photo, "cd" * 32)
    assert reading.regions == [] and "written for content abababababab" in reading.problems[0]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("rect64(zz)", "not rect64"),
        ("rect64(8000800040004000)", "size must be positive"),
    ],
)
def test_picasa_rectangles_with_wrong_numbers_are_reported(
    tmp_path: Path, text: str, problem: str
) -> None:
    ini = tmp_path / ".picasa.ini"
    ini.write_text(f"[a.jpg]\nfaces={text},1;rect64(4000400080008000),2\n[Contacts2]\n2=Ann;;\n")
    reading = picasa_regions(ini, "A.JPG")
    assert [r.name for r in reading.regions] == ["Ann"]
    assert reading.regions[0].box == pytest.approx((0.25, 0.25, 0.5, 0.5), abs=1e-4)
    assert problem in reading.problems[0]
    # leading zeros dropped, as Picasa writes them: 0000 0000 8000 ffff
    assert rect64_box("rect64(8000ffff)") == pytest.approx((0.0, 0.0, 0.5, 1.0), abs=1e-4)


def test_oversized_sidecar_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.xmp"
    with big.open("wb") as handle:
        handle.truncate(9 * 1024 * 1024)
    reading = read_xmp_sidecar(big)
    assert reading.regions == [] and "over the" in reading.problems[0]


# ------------------------------------------------------------------ orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_regions_come_back_upright_from_each_orientation(orientation: int) -> None:
    width, height, box = 300, 200, (30.0, 40.0, 90.0, 140.0)
    packet = xmp_sidecar([FaceRegion("Ann", box)], width, height, orientation=orientation)
    reading = TagReading("x")
    mwg_regions(parse_xmp(packet.encode(), "x"), reading)
    (region,) = reading.regions
    want = (box[0] / width, box[1] / height, box[2] / width, box[3] / height)
    assert upright_box(region.box, orientation) == pytest.approx(want, abs=1e-6)


# ------------------------------------------------------------------ conflicts, references


def test_conflicts_are_listed_and_left_as_they_are(tmp_path: Path, fresh: Library) -> None:
    fresh.enroll("Barack Obama", [OBAMA_REF])
    fresh.enroll("Joe Biden", [BIDEN_REF])
    fresh.scan(SCANNED)
    before = _named(fresh)
    obama_face = next(s for s in fresh.sightings("Barack Obama") if Path(s.path) == OBAMA_2)
    sidecars = tmp_path / "wrong"
    sidecars.mkdir()
    (sidecars / f"{OBAMA_2.name}.xmp").write_text(
        xmp_sidecar(
            [FaceRegion("Joe Biden", obama_face.xyxy)],
            obama_face.width_px,
            obama_face.height_px,
        )
    )
    result = fresh.import_tags([OBAMA_2], sidecars=sidecars)
    (conflict,) = result.conflicts
    assert conflict.tag.face_id == obama_face.face_id and conflict.tag.person == "Joe Biden"
    assert conflict.standing == "the decision rule names Barack Obama"
    assert result.imported == [] and _named(fresh) == before
    (record,) = fresh.audit.records(action="import.tags")
    assert record.items["counts"]["conflicts"] == 1 and record.items["counts"]["imported"] == 0


def test_as_references_enrolls_the_tagged_faces(
    source: tuple[Library, Path], fresh: Library
) -> None:
    _, xmp = source
    result = fresh.import_tags([OBAMA_2, BIDEN_2], sidecars=xmp, as_references=True)
    assert len(result.imported) == 2
    people = {p.name: p.references for p in fresh.people()}
    assert people == {"Barack Obama": 1, "Joe Biden": 1}
    confirmed = [s for s in fresh.sightings(include_unmatched=True) if s.review is not None]
    assert {s.category for s in confirmed} == {"manual identification"}
    assert all("imported from MWG regions" in s.review.note for s in confirmed if s.review)


def test_force_region_enrolls_a_region_with_no_detected_face(
    fresh: Library, tmp_path: Path
) -> None:
    # the Obama portrait shrunk to a corner of a grey canvas, below the detector's
    # smallest face; the user tagged it all the same
    photo = tmp_path / "photos" / "crowd.jpg"
    photo.parent.mkdir()
    with Image.open(OBAMA_REF) as image:
        pixels = np.asarray(image.convert("RGB"))
    small = Image.fromarray(pixels).resize((pixels.shape[1] // 8, pixels.shape[0] // 8))
    canvas = Image.new("RGB", (pixels.shape[1], pixels.shape[0]), (128, 128, 128))
    canvas.paste(small, (10, 10))
    canvas.save(photo, quality=95)
    w, h = small.size
    region = FaceRegion("Barack Obama", (10, 10, 10 + w, 10 + h))
    sidecar = xmp_sidecar([region], canvas.width, canvas.height)
    (photo.parent / f"{photo.name}.xmp").write_text(sidecar)
    plain = fresh.import_tags([photo])
    assert len(plain.unmatched) == 1 and plain.forced == []
    forced = fresh.import_tags([photo], force_region=True)
    assert len(forced.forced) == 1, forced.problems
    assert {p.name: p.references for p in fresh.people()} == {"Barack Obama": 1}


# ------------------------------------------------------------------ the CLI and eval tags


def test_cli_import_tags_json_and_exit_status(source: tuple[Library, Path], tmp_path: Path) -> None:
    _, xmp = source
    sidecars = tmp_path / "cli"
    shutil.copytree(xmp, sidecars)
    (sidecars / "laughs.xmp").write_text(BILLION_LAUGHS)
    library = tmp_path / "cli-lib"
    result = CliRunner().invoke(
        cli,
        [
            "--library",
            str(library),
            "import-tags",
            *map(str, SCANNED),
            "--sidecars",
            str(sidecars),
            "--json",
        ],
    )
    assert result.exit_code == 1, result.output
    found = json.loads(result.stdout)
    assert len(found["imported"]) == 4 and len(found["problems"]) == 1
    assert "DOCTYPE" in result.stderr and "4 imported" in result.stderr
    listed = CliRunner().invoke(cli, ["--library", str(library), "sightings", "--json"])
    rows = json.loads(listed.stdout)
    assert {r["category"] for r in rows} == {"imported (unverified)"}
    assert all(r["imported_from"].startswith("imported (unverified) from MWG") for r in rows)


def test_eval_tags_measures_the_rule_against_the_tags(source: tuple[Library, Path]) -> None:
    library, xmp = source
    result = CliRunner().invoke(
        cli,
        [
            "--library",
            str(library.path),
            "eval",
            "tags",
            *map(str, SCANNED),
            "--sidecars",
            str(xmp),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    # the sidecars were written from this library's own proposals: full agreement
    assert figures["faces"] == 4 and figures["false_matches"] == []
    assert {p["person"]: (p["precision"], p["recall"]) for p in figures["people"]} == {
        "Barack Obama": (1.0, 1.0),
        "Joe Biden": (1.0, 1.0),
    }


def test_tag_agreement_on_hand_made_pairs() -> None:
    pairs = [
        TagPair(1, "a.jpg", "Ann", "Ann"),
        TagPair(2, "a.jpg", "Ann", "Bob", fmr=1e-4),
        TagPair(3, "b.jpg", "Ann", None),
        TagPair(4, "b.jpg", "bob", "Bob"),
        TagPair(5, "c.jpg", "Cleo", "Ann", fmr=2e-3),
        TagPair(6, "c.jpg", "Dan", None),
    ]
    figures = tag_agreement(pairs, ["Ann", "Bob", "Cleo"])
    by_person = {p.person: p for p in figures.people}
    assert set(by_person) == {"Ann", "Bob", "Cleo", "Dan"}
    ann, bob, cleo, dan = (by_person[n] for n in ("Ann", "Bob", "Cleo", "Dan"))
    assert (ann.tagged, ann.proposed, ann.agreed) == (3, 2, 1)
    assert ann.precision == 0.5 and ann.recall == pytest.approx(1 / 3)
    assert (bob.tagged, bob.proposed, bob.agreed) == (1, 2, 1)  # "bob" is Bob
    assert bob.precision == 0.5 and bob.recall == 1.0
    assert cleo.precision is None and cleo.recall == 0.0 and cleo.enrolled
    assert not dan.enrolled and dan.recall == 0.0
    assert [p.face_id for p in figures.false_matches] == [2, 5]
    assert figures.unnamed == 2 and figures.faces == 6


def test_imported_tags_survive_reanalysis_after_a_model_upgrade(
    source: tuple[Library, Path], fresh: Library
) -> None:
    _, xmp = source
    fresh.import_tags([BOTH], sidecars=xmp)
    before = _named(fresh)
    assert len(before) == 2
    with fresh.store.transaction() as conn:
        conn.execute("UPDATE media SET embedder = 'old'")
    fresh.reindex()
    assert fresh.stale() == (0, 0)
    assert _named(fresh) == before  # the same people, still imported, on the new faces


def test_two_names_on_one_face_are_a_conflict_not_a_missing_face(
    source: tuple[Library, Path], fresh: Library, tmp_path: Path
) -> None:
    library, _ = source
    ((_, box),) = _tags(library, OBAMA_2)
    sidecars = tmp_path / "two"
    sidecars.mkdir()
    x1, y1, x2, y2 = (v * 1000 for v in box)  # the face's box in a 1000 x 1000 frame
    on_face = (x1, y1, x2, y2)
    twice = xmp_sidecar(
        [FaceRegion("Barack Obama", on_face), FaceRegion("Someone Else", on_face)],
        1000,
        1000,
    )
    (sidecars / f"{OBAMA_2.name}.xmp").write_text(twice)
    result = fresh.import_tags([OBAMA_2], sidecars=sidecars)
    assert result.unmatched == [] and result.imported == []
    assert sorted(c.tag.person for c in result.conflicts) == ["Barack Obama", "Someone Else"]
    assert {c.standing for c in result.conflicts} == {"tagged with another name too"}


@pytest.mark.parametrize(
    ("applied", "stored"), [((400, 300), True), ((300, 400), False), (None, True)]
)
def test_rotated_regions_given_in_the_upright_size_are_taken_as_upright(
    applied: tuple[int, int] | None, stored: bool
) -> None:
    region = TaggedRegion("Ann", (0.1, 0.1, 0.2, 0.2), "MWG regions", "x.xmp", applied)
    # a landscape file (400 x 300 stored) shown in portrait (orientation 6)
    assert stored_frame(region, 6, (400, 300)) is stored
    assert stored_frame(region, 1, (400, 300)) is True


def test_eval_tags_counts_the_rules_false_matches_whatever_reviewers_said(
    fresh: Library, tmp_path: Path
) -> None:
    fresh.enroll("Barack Obama", [OBAMA_REF])
    fresh.enroll("Joe Biden", [BIDEN_REF])
    fresh.scan([OBAMA_2])
    ((person, box),) = _tags(fresh, OBAMA_2)
    assert person == "Barack Obama"
    face = fresh.sightings("Barack Obama")[0]
    fresh.reject(face.face_id)  # a reviewer's word does not change the rule's answer
    sidecars = tmp_path / "tags"
    sidecars.mkdir()
    x1, y1, x2, y2 = (v * 1000 for v in box)
    (sidecars / f"{OBAMA_2.name}.xmp").write_text(
        xmp_sidecar([FaceRegion("Joe Biden", (x1, y1, x2, y2))], 1000, 1000)
    )
    truths, _ = fresh.tag_ground_truth([OBAMA_2], sidecars=sidecars)
    pairs = [TagPair(t.face_id, t.path, t.tagged, t.proposed, t.fmr) for t in truths]
    figures = tag_agreement(pairs, ["Barack Obama", "Joe Biden"])
    (false,) = figures.false_matches
    assert (false.tagged, false.proposed) == ("Joe Biden", "Barack Obama")
    by_person = {p.person: (p.precision, p.recall) for p in figures.people}
    assert by_person == {"Barack Obama": (0.0, None), "Joe Biden": (None, 0.0)}
