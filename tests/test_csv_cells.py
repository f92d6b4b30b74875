"""Every CSV facesight writes is safe to open in a spreadsheet and in a terminal.

The dangerous names are enrolled, scanned as file names and reviewed for real; then each
CSV the tool writes is read back as text and every cell checked.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from facesight.exports.csv_cells import safe_cell
from facesight.library.facade import Library
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE, REPO

FORMULAS = ["=cmd|' /C calc'!A0", "@SUM(1+1)*cmd", '+HYPERLINK("http://x")', "-2+3+cmd"]
ESCAPE = "\x1b[31mred\x1b[0m"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1+1", "'+1+1"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Barack Obama", "Barack Obama"),
        ("-0.25", "-0.25"),  # a number stays a number
        ("1e-05", "1e-05"),
        ("a\x1b[31mb", "a\\x1b[31mb"),
        ("x\x00y\x7fz\x85", "x\\x00y\\x7fz\\x85"),
        ("two\nlines", "two\nlines"),  # the csv module quotes these
        ("\x1b=evil", "\\x1b=evil"),
    ],
)
def test_safe_cell_neutralises_formulas_and_control_characters(value: str, expected: str) -> None:
    assert safe_cell(value) == expected


def _cli(library: Path, *args: str) -> str:
    command = [sys.executable, "-m", "facesight", "--library", str(library), *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    return run.stdout


def _check_cells(text: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text)))
    assert rows, "an empty CSV checks nothing"
    for row in rows:
        for value in row:
            assert not value or value[0] not in "=+-@\t\r" or re.fullmatch(r"-[0-9.e+-]+", value), (
                value
            )
            assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", value), value
    return rows


def test_every_csv_the_tool_writes_is_neutralised(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    obama = sorted((PEOPLE / "Barack_Obama").glob("*"))
    for i, name in enumerate(FORMULAS[:3]):
        # file names that are formulas, and one with a terminal escape
        target = photos / (name.replace("/", "_") + f"{i}.jpg")
        target.write_bytes(obama[1 + i].read_bytes())
    jolie = sorted((PEOPLE / "Angelina_Jolie").glob("*"))[0]
    (photos / f"{ESCAPE}.jpg").write_bytes(jolie.read_bytes())
    lib = tmp_path / "lib"
    with Library(lib, detector=detector, embedder=embedder, actor="=evil()") as library:
        library.enroll(FORMULAS[0], obama[:1])
        library.scan([photos])
        face = library.pending()[0].face_id
        library.confirm(face, note="@SUM(1+1)*cmd")
    texts = {
        "people": _cli(lib, "people", "--csv"),
        "sightings": _cli(lib, "sightings", "--all", "--csv"),
        "review": _cli(lib, "review", "--list", "--status", "all", "--csv"),
        "audit": _cli(lib, "audit", "--csv"),
        "search-face": _cli(lib, "search-face", str(obama[2]), "--csv"),
    }
    report = tmp_path / "report.csv"
    _cli(lib, "report", "--all", "--csv", str(report))
    texts["report"] = report.read_text(encoding="utf-8")
    for name, text in texts.items():
        rows = _check_cells(text)
        flat = "\n".join(",".join(r) for r in rows)
        if name in ("people", "sightings", "report", "review"):
            assert "'=cmd|' /C calc'!A0" in flat, name  # the value is kept, made inert
        if name == "sightings":
            assert "\\x1b[31mred\\x1b[0m" in flat, name
    assert "'@SUM(1+1)*cmd" in texts["report"]  # the reviewer's note, made inert
