"""Faults: leftovers of kill -9, damaged databases, doctor, locks, SIGTERM, a full disk."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from facesight.cli.main import cli
from facesight.errors import StoreError
from facesight.library.facade import Library
from facesight.store.sqlite import Store
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE

BIDEN = sorted((PEOPLE / "Joe_Biden").glob("*.jpg"))
OBAMA = sorted((PEOPLE / "Barack_Obama").glob("*.jpg"))


def _cli(library: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--library", str(library), *args])


@pytest.fixture
def enrolled(tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder) -> Path:
    with Library(tmp_path / "lib", detector=detector, embedder=embedder) as library:
        library.enroll("Joe Biden", BIDEN[:1])
    return tmp_path / "lib"


_KILLED = """
import os, signal, sys
from facesight.library.facade import Library
library = Library(sys.argv[1])
(library.path / "crops" / "ab").mkdir()
(library.path / "crops" / "ab" / ("ab" * 32 + "_0.jpg")).write_bytes(b"crop, never committed")
(library.path / "crops" / ".tmp-x1.jpg").touch()
(library.path / "models" / ".tmp-model").write_bytes(b"half a model")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_next_open_sweeps_what_a_killed_command_left(
    enrolled: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    killed = subprocess.run([sys.executable, "-c", _KILLED, str(enrolled)], check=False)
    assert killed.returncode == -signal.SIGKILL
    assert (enrolled / "crops" / "ab").iterdir()
    with Library(enrolled, detector=detector, embedder=embedder) as library:
        assert any("removed 3 leftover file(s)" in n for n in library.notices), library.notices
        assert len(library.people()) == 1
    leftovers = [p.name for p in enrolled.rglob("*") if p.is_file() and ".tmp-" in p.name]
    assert leftovers == [] and not list((enrolled / "crops" / "ab").iterdir())
    assert len(list((enrolled / "crops" / "references").iterdir())) == 1
    assert not list(enrolled.glob(".session-*"))


def test_a_dropped_table_is_one_line_suggesting_doctor(enrolled: Path) -> None:
    with sqlite3.connect(enrolled / "facesight.db") as conn:
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("DROP TABLE candidates")
    result = _cli(enrolled, "people")
    assert result.exit_code == 1, result.output
    assert "facesight doctor" in result.output and str(enrolled) in result.output
    assert "Traceback" not in result.output
    doctor = _cli(enrolled, "doctor")
    assert doctor.exit_code == 1 and "missing table candidates" in doctor.output


def test_doctor_checks_a_sound_library_and_sweeps_orphans(enrolled: Path) -> None:
    # runs the models, so builds the library's model cache ("people" no longer opens them)
    assert _cli(enrolled, "identify", str(BIDEN[0])).exit_code == 0
    orphan = enrolled / "crops" / "references" / "ref_99.jpg"
    orphan.write_bytes(b"no row names me")
    os.utime(orphan, (time.time() - 3600, time.time() - 3600))
    result = _cli(enrolled, "doctor")
    assert result.exit_code == 0, result.output
    assert "integrity: ok" in result.output and "1 orphan crop(s)" in result.output
    assert not orphan.exists()
    [model] = (enrolled / "models").glob("dlib_resnet_*.onnx")
    with model.open("r+b") as handle:
        handle.seek(model.stat().st_size // 2)
        handle.write(b"\0" * 100)
    damaged = _cli(enrolled, "doctor")
    assert damaged.exit_code == 0 and "removed the damaged model" in damaged.output
    assert not model.exists()


def test_doctor_names_an_empty_crop(enrolled: Path) -> None:
    """Crops are not fsynced (issue 18), so a power failure may leave one empty."""
    [crop] = (enrolled / "crops" / "references").iterdir()
    crop.write_bytes(b"")
    result = _cli(enrolled, "doctor")
    assert "1 crop file(s) named by rows are missing or empty" in result.output, result.output


@pytest.fixture
def locked(enrolled: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Another process holding the library's write lock."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(60)",
            str(enrolled / "facesight.db"),
        ],
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
    yield holder
    holder.kill()
    holder.wait()
    holder.stdout.close()


def test_a_lock_held_elsewhere_is_named_after_the_stated_wait(
    enrolled: Path, locked: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("facesight.store.connection.LOCK_TIMEOUT_S", 0.5)
    store = Store(enrolled / "facesight.db", create=False)
    try:
        with (
            pytest.raises(StoreError, match=rf"locked by pid {locked.pid} .*waited 0 s"),
            store.transaction() as conn,
        ):
            conn.execute("DELETE FROM people")
    finally:
        store.close()


@pytest.mark.slow
def test_sigterm_during_a_scan_ends_cleanly(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    command = [sys.executable, "-m", "facesight", "--library", str(library)]
    subprocess.run([*command, "init"], check=True, capture_output=True)
    scan = subprocess.Popen(
        [*command, "scan", str(PEOPLE.parent / "lfw-dev"), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not list((library / "crops").rglob("*.jpg")) and time.monotonic() < deadline:
        time.sleep(0.2)  # the workers are running
    scan.send_signal(signal.SIGTERM)
    _, stderr = scan.communicate(timeout=120)
    assert scan.returncode == 143
    assert "leaked semaphore" not in stderr and "Traceback" not in stderr, stderr
    assert not list(library.glob(".session-*"))


_KILLED_AFTER_ERASURE = """
import os, signal, sys
from facesight.library.facade import Library
library = Library(sys.argv[1])
person = library.store.person_id("Joe Biden")
with library.store.transaction() as conn:
    library.store.delete_person(conn, person)
os.kill(os.getpid(), signal.SIGKILL)  # committed, never checkpointed
"""


def test_an_erasure_killed_before_its_checkpoint_is_finished_on_the_next_open(
    enrolled: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    database = enrolled / "facesight.db"
    killed = subprocess.run([sys.executable, "-c", _KILLED_AFTER_ERASURE, str(enrolled)])
    assert killed.returncode == -signal.SIGKILL
    assert b"Joe Biden" in database.read_bytes()  # the old page, still in the main file
    with Library(enrolled, detector=detector, embedder=embedder) as library:
        assert library.people() == []
        raw = b"".join(p.read_bytes() for p in enrolled.glob("facesight.db*"))
        assert b"Joe Biden" not in raw


_KILLED_WRITING_A_SIDECAR = """
import os, signal, sys
from pathlib import Path
from facesight.files import atomic_path
with atomic_path(Path(sys.argv[1]) / "photo.jpg.xmp") as temporary:
    os.kill(os.getpid(), signal.SIGKILL)  # after the temp file is made, before its rename
"""


def test_an_export_sweeps_the_temp_files_a_killed_export_left(
    enrolled: Path, tmp_path: Path
) -> None:
    sidecars = tmp_path / "sidecars"
    sidecars.mkdir()
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITING_A_SIDECAR, str(sidecars)], check=False
    )
    assert killed.returncode == -signal.SIGKILL
    (left,) = sidecars.iterdir()
    assert left.name.startswith(".tmp-") and left.stat().st_size == 0
    mine = sidecars / f".tmp-{os.getpid()}-live.xmp"  # a live writer's temp file stays
    mine.touch()
    export = _cli(enrolled, "export-xmp", "--output", str(sidecars))
    assert export.exit_code == 0, export.output
    assert sorted(sidecars.iterdir()) == [mine]
    assert "removed 1 temp file(s) left by an interrupted export" in export.output
