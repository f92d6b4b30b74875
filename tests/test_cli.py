"""The command line through CliRunner, on real images and a real library."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from facesight.cli.main import cli

from .paths import GROUP, NOFACE, PEOPLE, REPO

OBAMA = sorted((PEOPLE / "Barack_Obama").glob("*.jpg"))
BIDEN = sorted((PEOPLE / "Joe_Biden").glob("*.jpg"))
TWO_PEOPLE = GROUP / "face_recognition_two_people.jpg"


def _invoke(library: Path, *args: str, input: str | None = None) -> Result:
    # a wide terminal, so that tables print whole names on one line
    runner = CliRunner(env={"COLUMNS": "250"})
    return runner.invoke(cli, ["--library", str(library), *args], input=input)


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_has_help_and_is_in_the_readme(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert len(cli.commands[command].help or "") > 20
    assert f"facesight {command}" in (REPO / "README.md").read_text()


def test_the_browser_walkthrough_in_the_readme_names_commands_that_exist() -> None:
    """Each ``facesight ...`` of README's "Review in the browser" (its command blocks and its
    code spans) is a command the CLI has, with options it takes."""
    from .test_docs import commands_in, fenced_commands, missing

    text = (REPO / "README.md").read_text()
    start = text.index("## Review in the browser")
    named, fenced = [], False
    for line in text[start : text.index("\n## ", start + 1)].splitlines():
        if line.startswith("```"):
            fenced = not fenced
        else:
            named += fenced_commands(line) if fenced else commands_in(line)
    words = {" ".join(c.split()[:3]) for c in named}
    for step in ("enroll", "collections add", "users add", "serve", "audit verify"):
        assert any(w.removeprefix("facesight ").startswith(step) for w in words), step
    problems = [f"{c}: {p}" for c in named for p in missing(c)]
    assert not problems, problems


def test_library_from_environment_variable(tmp_path: Path) -> None:
    library = tmp_path / "from-env"
    env = {"FACESIGHT_LIBRARY": str(library)}
    assert CliRunner().invoke(cli, ["init"], env=env).exit_code == 0
    result = CliRunner().invoke(cli, ["people", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [] and (library / "facesight.db").is_file()


def test_enroll_refusal_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    result = _invoke(tmp_path, "enroll", "Barack Obama", str(OBAMA[0]), str(TWO_PEOPLE))
    assert result.exit_code == 1
    assert "2 faces found; pick one with --face N" in result.stderr
    assert "1 reference(s) added" in result.stdout


def test_enroll_usage_errors(tmp_path: Path) -> None:
    assert _invoke(tmp_path, "enroll").exit_code == 2
    assert "at least one reference image" in _invoke(tmp_path, "enroll", "Someone").output


def test_sightings_table_json_and_csv_agree(tmp_path: Path) -> None:
    assert _invoke(tmp_path, "enroll", "Joe Biden", str(BIDEN[0])).exit_code == 0
    scan = _invoke(tmp_path, "scan", str(TWO_PEOPLE), str(NOFACE / "skimage_coins.jpg"))
    assert scan.exit_code == 0, scan.output
    assert "Scanned 2 image(s)" in scan.stdout and "match = est. FPIR <= 0.01" in scan.stdout
    rows = json.loads(_invoke(tmp_path, "sightings", "--person", "joe biden", "--json").stdout)
    assert [r["person"] for r in rows] == ["Joe Biden"]
    table = list(csv.DictReader(io.StringIO(_invoke(tmp_path, "sightings", "--csv").stdout)))
    assert [r["path"] for r in table] == [rows[0]["path"]]
    every = json.loads(_invoke(tmp_path, "sightings", "--all", "--json").stdout)
    assert len(every) == 2 and sum(r["match"] for r in every) == 1
    text = _invoke(tmp_path, "sightings").stdout
    assert "Joe Biden" in text and "two_people" in text


def test_sightings_of_unknown_person_is_a_clear_error(tmp_path: Path) -> None:
    assert _invoke(tmp_path, "init").exit_code == 0
    result = _invoke(tmp_path, "sightings", "--person", "Nobody Here")
    assert result.exit_code == 1 and "nobody called 'Nobody Here' is enrolled" in result.output


def test_embed_writes_the_contract_fields(tmp_path: Path) -> None:
    out = tmp_path / "faces.jsonl"
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    assert _invoke(tmp_path / "lib", "init").exit_code == 0
    result = _invoke(
        tmp_path / "lib",
        "embed",
        str(TWO_PEOPLE),
        str(NOFACE / "skimage_moon.jpg"),
        str(bad),
        "--output",
        str(out),
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 2
    for line in lines:
        keys = {"path", "sha256", "frame", "xyxy", "kps5", "score", "embedding", "model"}
        assert keys | {"length"} <= set(line)
        assert line["frame"] is None and len(line["embedding"]) == 128
        assert (line["model"], line["length"]) == ("dlib", 128)
        assert len(line["kps5"]) == 5 and all(len(p) == 2 for p in line["kps5"])
        assert all(isinstance(v, float) for v in line["xyxy"])
    assert "3 file(s): 2 face(s) written, 1 without faces, 1 could not be used" in result.stderr
    assert "broken.jpg" in result.stderr
    assert f"no face: {NOFACE / 'skimage_moon.jpg'}" in result.stderr


def test_identify_and_compare_print_distances_and_the_threshold(tmp_path: Path) -> None:
    _invoke(tmp_path, "enroll", "Barack Obama", str(OBAMA[0]))
    identified = json.loads(_invoke(tmp_path, "identify", str(TWO_PEOPLE), "--json").stdout)
    assert len(identified) == 2
    assert sorted(str(f["match"]) for f in identified) == ["Barack Obama", "None"]
    text = _invoke(tmp_path, "identify", str(TWO_PEOPLE)).stdout
    assert "distance" in text and "est. FMR" in text and "est. FPIR <= 0.01" in text
    investigated = json.loads(
        _invoke(tmp_path, "identify", str(TWO_PEOPLE), "--investigate", "--json").stdout
    )
    assert [f["match"] for f in investigated] == [None, None]
    assert all(c["match"] is None for f in investigated for c in f["candidates"])
    assert investigated[0]["candidates"][0]["fmr"] is not None
    compared = json.loads(
        _invoke(tmp_path, "compare", str(OBAMA[0]), str(OBAMA[1]), "--json").stdout
    )
    # 1:1 at the default target: the distance where strangers come as close 1 time in 100.
    assert compared["same_person"] is True and compared["fmr"] < 1e-4
    assert 0.55 < compared["max_distance"] < 0.65


def test_forget_asks_first_then_erases(tmp_path: Path) -> None:
    _invoke(tmp_path, "enroll", "Barack Obama", str(OBAMA[0]))
    assert _invoke(tmp_path, "forget", "Barack Obama", input="n\n").exit_code == 1
    assert len(json.loads(_invoke(tmp_path, "people", "--json").stdout)) == 1
    result = _invoke(tmp_path, "forget", "Barack Obama", "--yes")
    assert result.exit_code == 0 and "Erased Barack Obama: 1 reference(s)" in result.stdout
    assert json.loads(_invoke(tmp_path, "people", "--json").stdout) == []


def test_search_face_lists_stored_faces_as_json_and_table(tmp_path: Path) -> None:
    assert _invoke(tmp_path, "scan", str(TWO_PEOPLE), str(BIDEN[0])).exit_code == 0
    rows = json.loads(_invoke(tmp_path, "search-face", str(BIDEN[1]), "--json").stdout)
    distances = [r["probe_distance"] for r in rows]
    assert len(rows) == 3 and distances == sorted(distances)
    assert [r["probe_same_person"] for r in rows] == [True, True, False]
    keys = {"probe_fmr", "path", "xyxy", "crop", "face_id", "probe_max_distance"}
    assert keys <= set(rows[0])
    table = _invoke(tmp_path, "search-face", str(BIDEN[1]), "--top-k", "1")
    assert table.exit_code == 0 and Path(rows[0]["path"]).name in table.stdout


def test_failure_lines_print_brackets_as_written(tmp_path: Path) -> None:
    # rich markup used to swallow "[...]": a file named "[trip] day 1.jpg" lost "[trip]", and
    # "install facesight[video]" lost the extra's name.
    bad = tmp_path / "photos" / "[trip] day 1.jpg"
    bad.parent.mkdir()
    bad.write_bytes(b"not an image")
    result = _invoke(tmp_path / "lib", "scan", str(bad.parent))
    assert result.exit_code == 0, result.output
    assert f"skipped {bad}:" in result.stderr
    table = _invoke(tmp_path / "lib", "failures")
    assert "[trip] day 1.jpg" in table.stdout, table.stdout
