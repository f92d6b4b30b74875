"""Hostile names and terminals: control characters, rich markup and Unicode spellings.

File names, person names and ``--user`` are typed by someone else. Each command
that prints them is run here with names that would forge output lines, drive
the terminal (ESC/OSC sequences) or be read as rich markup.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import sqlite3
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from facesight.cli.common import escape_log_records
from facesight.cli.main import cli
from facesight.errors import InvalidInputError
from facesight.library.facade import Library
from facesight.text import check_name, name_key, printable

from .paths import GROUP, PEOPLE

OBAMA = sorted((PEOPLE / "Barack_Obama").glob("*.jpg"))
BIDEN = sorted((PEOPLE / "Joe_Biden").glob("*.jpg"))
TWO_PEOPLE = GROUP / "face_recognition_two_people.jpg"

ESC_TITLE = "\x1b]0;owned\x07"  # OSC: sets the terminal's window title
RED = "\x1b[31m"


def _invoke(library: Path, *args: str, input: str | None = None) -> Result:
    runner = CliRunner(env={"COLUMNS": "250"})
    return runner.invoke(cli, ["--library", str(library), *args], input=input)


def _no_raw_control(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text


def test_printable_escapes_controls_separators_and_bidi() -> None:
    assert printable("a\nb") == "a\\nb"
    assert printable(ESC_TITLE) == "\\x1b]0;owned\\x07"
    assert printable("x\u202eyz\u2028\x85\x7f") == "x\\u202eyz\\u2028\\x85\\x7f"
    assert printable("José 山田 [bold]") == "José 山田 [bold]"


def test_names_normalise_to_nfc_and_compare_casefolded() -> None:
    composed, decomposed = "Jos\u00e9", "Jose\u0301"
    assert check_name(decomposed) == composed
    assert name_key(decomposed) == name_key("JOSÉ") == name_key(composed)
    assert check_name("  Mary   Smith ") == "Mary Smith"
    with pytest.raises(InvalidInputError, match="control characters"):
        check_name("Eve\nMallory")
    with pytest.raises(InvalidInputError, match="control characters"):
        check_name(f"Eve{RED}")
    with pytest.raises(InvalidInputError, match="cannot be empty"):
        check_name(" \u3000 ")


def test_enroll_from_folders_refuses_a_control_name_and_enrolls_the_rest(
    library: Library, tmp_path: Path
) -> None:
    root = tmp_path / "people"
    for name, photo in (("Joe_Biden", BIDEN[0]), ("Eve\nMallory", OBAMA[0])):
        (root / name).mkdir(parents=True)
        shutil.copy(photo, root / name / "a.jpg")
    results = {r.person: r for r in library.enroll_folders(root)}
    assert results["Joe Biden"].added
    refused = results["Eve\\nMallory"]
    assert not refused.added and refused.failures[0].kind == "refused"
    assert [p.name for p in library.people()] == ["Joe Biden"]


def test_enroll_refuses_control_characters_in_names(tmp_path: Path) -> None:
    for name in ("Eve\nFake line", f"Eve{ESC_TITLE}", "Eve\u202eevE"):
        result = _invoke(tmp_path, "enroll", name, str(OBAMA[0]))
        assert result.exit_code == 1
        assert "cannot hold control characters" in result.stderr
        _no_raw_control(result.output)
        assert result.output.count("\n") == 1  # one line, not a forged second one
    people = json.loads(_invoke(tmp_path, "people", "--json").stdout)
    assert people == []


def test_markup_in_a_name_prints_as_text_in_enroll_and_people(tmp_path: Path) -> None:
    result = _invoke(tmp_path, "enroll", "[/bold]Joe", str(BIDEN[0]))
    assert result.exit_code == 0, result.output
    assert "[/bold]Joe: 1 reference(s) added" in result.stdout
    listed = _invoke(tmp_path, "people")
    assert listed.exit_code == 0, listed.output
    assert "[/bold]Joe" in listed.stdout
    styled = _invoke(tmp_path, "enroll", "[red]Ann[/red]", str(OBAMA[0]))
    assert "[red]Ann[/red]: 1 reference(s) added" in styled.stdout
    assert "[red]Ann[/red]" in _invoke(tmp_path, "people").stdout


def test_nfc_and_nfd_spellings_are_one_person(tmp_path: Path) -> None:
    composed, decomposed = "Jos\u00e9 Obama", "Jose\u0301 Obama"
    assert _invoke(tmp_path, "enroll", composed, str(OBAMA[0])).exit_code == 0
    assert _invoke(tmp_path, "enroll", decomposed, str(OBAMA[1])).exit_code == 0
    assert _invoke(tmp_path, "enroll", "JOSÉ OBAMA", str(OBAMA[2])).exit_code == 0
    people = json.loads(_invoke(tmp_path, "people", "--json").stdout)
    assert [p["name"] for p in people] == [composed]
    assert people[0]["references"] == 3


def _hostile_folder(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A folder '[' holding 'red]bad.jpg' (garbage), a newline-named bad file and a good photo
    whose name carries an OSC sequence."""
    folder = tmp_path / "photos"
    bracket = folder / "["
    bracket.mkdir(parents=True)
    markup = bracket / "red]bad.jpg"
    markup.write_bytes(b"not an image")
    forged = folder / "x.jpg\nError: forged line.jpg"
    forged.write_bytes(b"")
    good = folder / f"biden{ESC_TITLE}.jpg"
    shutil.copy(BIDEN[0], good)
    return folder, markup, forged


def test_scan_and_failures_print_hostile_paths_as_one_escaped_line(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    folder, markup, _ = _hostile_folder(tmp_path)
    result = _invoke(library, "scan", str(folder))
    assert result.exit_code == 0, result.output
    _no_raw_control(result.output)
    assert "Error: forged line" not in [line[:19] for line in result.output.splitlines()]
    assert "x.jpg\\nError: forged line.jpg" in result.stdout
    assert str(markup) in result.stdout  # ".../[/red]bad.jpg" printed as it is
    assert "x.jpg\\nError: forged line.jpg" in result.stderr
    listed = _invoke(library, "failures")
    assert listed.exit_code == 0, listed.output
    _no_raw_control(listed.output)
    assert "x.jpg\\nError: forged line.jpg" in listed.stdout
    assert "red]bad.jpg" in listed.stdout


def test_sightings_identify_and_review_print_hostile_paths_and_names(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    folder, _, _ = _hostile_folder(tmp_path)
    assert _invoke(library, "enroll", "[b]Joe Biden", str(BIDEN[1])).exit_code == 0
    assert _invoke(library, "scan", str(folder)).exit_code == 0
    good = next(folder.glob("biden*.jpg"))
    for args in (
        ("sightings",),
        ("sightings", "--person", "[b]joe biden"),
        ("identify", str(good)),
        ("review",),
        ("review", "--list"),
    ):
        result = _invoke(library, *args, input="q\n")
        assert result.exit_code == 0, (args, result.output)
        _no_raw_control(result.output)
        assert "[b]Joe Biden" in result.stdout, args
    face = json.loads(_invoke(library, "sightings", "--json").stdout)[0]["face_id"]
    confirm = _invoke(library, "--user", f"mallory{RED}", "review", "confirm", str(face))
    assert confirm.exit_code == 0, confirm.output
    assert f"face {face}: confirmed as [b]Joe Biden" in confirm.stdout
    table = _invoke(library, "audit")
    assert table.exit_code == 0, table.output
    _no_raw_control(table.output)
    assert "mallory\\x1b[31m" in table.stdout


def test_errors_naming_hostile_input_are_one_line(tmp_path: Path) -> None:
    result = _invoke(tmp_path, "sightings", "--person", f"Nobody\nError: forged{ESC_TITLE}")
    assert result.exit_code == 1
    _no_raw_control(result.output)
    assert result.output.count("\n") == 1
    missing = _invoke(tmp_path, "identify", str(tmp_path / "no\nsuch.jpg"))
    assert missing.exit_code != 0
    assert "\nsuch" not in missing.output


def test_conflicts_lists_names_that_collide_in_an_old_library_and_never_merges(
    tmp_path: Path, library: Library
) -> None:
    library.enroll("Jos\u00e9 Biden", [BIDEN[0]])
    # an older facesight stored names as typed: add the decomposed spelling as it would have
    with sqlite3.connect(library.store.path) as conn:
        conn.execute(
            "INSERT INTO people (name, created_at) VALUES (?, '2026-01-01T00:00:00')",
            (unicodedata.normalize("NFD", "José Biden"),),
        )
    conn.close()
    lib = library.path
    rows = json.loads(_invoke(lib, "conflicts", "--json").stdout)
    names = [r for r in rows if r["kind"] == "name"]
    assert len(names) == 1
    assert names[0]["first_spelling"] == ascii("Jos\u00e9 Biden")
    assert names[0]["second_spelling"] == ascii("Jose\u0301 Biden")
    assert len(json.loads(_invoke(lib, "people", "--json").stdout)) == 2  # not merged
    table = _invoke(lib, "conflicts")
    assert table.exit_code == 0, table.output
    assert "One name spelt two ways" in table.stdout
    merged = _invoke(lib, "conflicts", "merge", "Jos\u00e9 Biden", "Jose\u0301 Biden", "--yes")
    assert merged.exit_code == 0, merged.output
    assert len(json.loads(_invoke(lib, "people", "--json").stdout)) == 1
    assert not [r for r in json.loads(_invoke(lib, "conflicts", "--json").stdout)]


def test_forget_conflicts_review_report_and_embed_print_names_as_text(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    assert _invoke(library, "enroll", "[b]Joe Biden", str(BIDEN[0])).exit_code == 0
    assert _invoke(library, "enroll", "[i]Ann[/i]", str(OBAMA[0])).exit_code == 0
    different = _invoke(library, "conflicts", "different", "[b]Joe Biden", "[i]Ann[/i]")
    assert different.exit_code == 0, different.output
    assert "[b]Joe Biden and [i]Ann[/i] are now marked as different people." in different.stdout
    assert _invoke(library, "scan", str(TWO_PEOPLE)).exit_code == 0
    faces = json.loads(_invoke(library, "sightings", "--json").stdout)
    joe = next(f for f in faces if f["person"] == "[b]Joe Biden")
    rejected = _invoke(library, "review", "reject", str(joe["face_id"]))
    assert rejected.exit_code == 0, rejected.output
    assert f"face {joe['face_id']}: rejected" in rejected.stdout
    report = _invoke(library, "report", "--person", "[i]ann[/i]", "--json", str(tmp_path / "r"))
    assert report.exit_code == 0, report.output
    assert "Sightings of [i]Ann[/i]" in report.stderr
    forgot = _invoke(library, "forget", "[b]Joe Biden", "--yes")
    assert forgot.exit_code == 0, forgot.output
    assert "Erased [b]Joe Biden:" in forgot.stdout
    blank = tmp_path / f"blank\n{RED}[red]x.jpg"
    Image.new("RGB", (64, 64), (90, 90, 90)).save(blank)
    embedded = _invoke(library, "embed", str(blank), "--output", str(tmp_path / "f.jsonl"))
    assert embedded.exit_code == 0, embedded.output
    _no_raw_control(embedded.output)
    assert "no face: " in embedded.stderr and "blank\\n\\x1b[31m[red]x.jpg" in embedded.stderr


def test_frames_and_export_xmp_print_a_moved_hostile_path_as_one_line(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    photo = tmp_path / f"joe\n{RED}[red]x.jpg"
    shutil.copy(BIDEN[0], photo)
    assert _invoke(library, "enroll", "Joe Biden", str(BIDEN[1])).exit_code == 0
    assert _invoke(library, "scan", str(photo)).exit_code == 0
    photo.unlink()  # moved away since the scan: both commands name it
    escaped = "joe\\n\\x1b[31m[red]x.jpg"
    frames = _invoke(library, "sightings", "--frames", str(tmp_path / "frames"))
    assert frames.exit_code == 0, frames.output
    exported = _invoke(library, "export-xmp", "--output", str(tmp_path / "xmp"))
    assert exported.exit_code == 1, exported.output  # an image skipped
    for result in (frames, exported):
        _no_raw_control(result.output)
        assert escaped in result.stderr


def test_log_lines_show_control_characters_escaped() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        escape_log_records()
        logging.getLogger("facesight.test").warning("model at %s", f"/m\nFAKE{ESC_TITLE}")
    finally:
        root.removeHandler(handler)
    assert stream.getvalue() == "model at /m\\nFAKE\\x1b]0;owned\\x07\n"


def test_export_xmp_skips_an_old_control_name_and_writes_the_rest(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(BIDEN[0], photos / "joe.jpg")
    shutil.copy(OBAMA[1], photos / "barack.jpg")
    assert _invoke(library, "enroll", "Joe Biden", str(BIDEN[1])).exit_code == 0
    assert _invoke(library, "enroll", "Barack Obama", str(OBAMA[0])).exit_code == 0
    assert _invoke(library, "scan", str(photos)).exit_code == 0
    # a library from before names were checked could hold this
    with sqlite3.connect(library / "facesight.db") as conn:
        conn.execute("UPDATE people SET name = ? WHERE name = 'Joe Biden'", (f"Joe{RED}",))
    conn.close()
    exported = _invoke(library, "export-xmp", "--output", str(tmp_path / "xmp"))
    assert exported.exit_code == 1, exported.output
    _no_raw_control(exported.output)
    assert "joe.jpg" in exported.stderr and "control characters" in exported.stderr
    assert sorted(p.name for p in (tmp_path / "xmp").iterdir()) == ["barack.jpg.xmp"]
