"""Scans on Ray into PostgreSQL: the faces the local scan stores in SQLite, and nothing lost
or doubled when an actor, the driver or a node dies.

One local Ray (``ray.init(num_cpus=2)``) serves the module; the slow tests start their own
processes (a driver, a ``ray start`` head and worker) and stop them by pid. PostgreSQL is
the session's server (``tests/postgres.py``), a fresh database per test.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

from facesight.cli.main import cli
from facesight.errors import MediaError, MissingExtraError
from facesight.library.facade import Library
from facesight.library.scanning import RayOptions
from facesight.records import ScanEvent
from facesight.scan.ray_executor import import_ray, scan_id_of
from facesight.store.backend import open_store
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import DISTRACTORS, GROUP, NOFACE, PEOPLE

ROOTS = [str(GROUP), str(DISTRACTORS), str(NOFACE)]
REFERENCE = PEOPLE / "Barack_Obama"  # in group/face_recognition_obama_and_biden.jpg


def _options(**changes: Any) -> RayOptions:
    return RayOptions(chunk_files=4, **changes)


@pytest.fixture(scope="module")
def ray_session() -> Iterator[ModuleType]:
    ray = import_ray()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _library(
    where: str | Path, detector: FaceDetector, embedder: FaceEmbedder, files: Path | None = None
) -> Library:
    """A library (a folder, or a PostgreSQL URL with its local ``files`` folder) with one
    person enrolled, who is in one of the group photos."""
    library = Library(where, detector=detector, embedder=embedder, files_dir=files)
    library.enroll(REFERENCE.name, sorted(REFERENCE.iterdir())[:2], largest=True)
    return library


def _faces(library: Library) -> list[tuple[Any, ...]]:
    """Every stored face by content: sha256, box (to 0.1 px), best candidate and decision."""
    rows = library.store.query(
        "SELECT m.sha256, f.face_index, f.x1, f.y1, f.x2, f.y2, c.person_id, c.is_match"
        " FROM faces f JOIN media m ON m.id = f.media_id"
        " LEFT JOIN candidates c ON c.face_id = f.id AND c.rank = 1"
    )
    return sorted((r[0], r[1], *(round(float(v), 1) for v in r[2:6]), r[6], r[7]) for r in rows)


def _no_duplicates(library: Library) -> None:
    assert library.store.query("SELECT sha256 FROM media GROUP BY sha256 HAVING COUNT(*) > 1") == []
    assert (
        library.store.query(
            "SELECT m.id FROM media m WHERE m.face_count !="
            " (SELECT COUNT(*) FROM faces f WHERE f.media_id = m.id)"
        )
        == []
    )


@pytest.fixture(scope="module")
def local_faces(
    tmp_path_factory: pytest.TempPathFactory, detector: FaceDetector, embedder: FaceEmbedder
) -> list[tuple[Any, ...]]:
    """The faces the local process pool stores for ``ROOTS`` (SQLite)."""
    with _library(tmp_path_factory.mktemp("local") / "lib", detector, embedder) as library:
        library.scan(ROOTS, workers=2)
        return _faces(library)


def test_ray_scan_into_postgres_stores_the_faces_the_local_scan_stores_in_sqlite(
    ray_session: ModuleType,
    postgres_url: str,
    tmp_path: Path,
    detector: FaceDetector,
    embedder: FaceEmbedder,
    local_faces: list[tuple[Any, ...]],
) -> None:
    events: list[ScanEvent] = []
    totals: list[int] = []
    with _library(postgres_url, detector, embedder, tmp_path / "files") as library:
        summary = library.scan(
            ROOTS, ray=_options(actors=2), on_start=totals.append, on_event=events.append
        )
        assert _faces(library) == local_faces
        assert any(face[-1] for face in local_faces)  # the enrolled person was matched
        _no_duplicates(library)
        assert library.store.query("SELECT COUNT(*) FROM scan_chunks")[0][0] == 0
        again = library.scan(ROOTS, ray=_options(actors=1))
        assert again.media_scanned == 0 and again.media_skipped == summary.media_scanned
    files = sum(1 for root in ROOTS for p in Path(root).iterdir() if p.is_file())
    assert totals == [files] and len(events) == files == summary.files_seen
    assert summary.faces_found == len(local_faces) and summary.failures == []


def test_ray_scan_reports_a_file_the_node_cannot_read(
    ray_session: ModuleType,
    postgres_url: str,
    tmp_path: Path,
    detector: FaceDetector,
    embedder: FaceEmbedder,
) -> None:
    folder = tmp_path / "media"
    folder.mkdir()
    (folder / "a.jpg").write_bytes((GROUP / "deepface_couple.jpg").read_bytes())
    gone = folder / "b.jpg"
    gone.write_bytes((GROUP / "face_recognition_two_people.jpg").read_bytes())
    files = tmp_path / "files"
    with Library(postgres_url, detector=detector, embedder=embedder, files_dir=files) as library:
        # listed by the walk, then missing where the actor looks: a node without the mount
        summary = library.scan([folder], ray=_options(actors=1), on_start=lambda _: gone.unlink())
        assert summary.media_scanned == 1 and summary.faces_found == 2
        assert [f.path for f in summary.failures] == [str(gone)]
        assert "on node" in summary.failures[0].message
        assert [f.path for f in library.failures()] == [str(gone)]
        # --on-error stop: the chunk is stored, then the scan stops at its failure
        gone.write_bytes((GROUP / "face_recognition_two_people.jpg").read_bytes())
        (folder / "c.jpg").write_bytes((GROUP / "facenet-pytorch_multiface.jpg").read_bytes())
        with pytest.raises(MediaError, match="on node"):
            library.scan(
                [folder],
                ray=_options(actors=1),
                stop_on_error=True,
                on_start=lambda _: gone.unlink(),
            )
        assert library.store.query("SELECT COUNT(*) FROM media")[0][0] == 2


def test_ray_scan_of_a_sqlite_library_is_refused_by_the_cli(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--library", str(tmp_path / "lib"), "scan", str(GROUP), "--executor", "ray"]
    )
    assert result.exit_code != 0
    assert "--executor ray needs a PostgreSQL library" in result.output
    assert "Traceback" not in result.output


def test_ray_missing_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what Python does for a missing package
    with pytest.raises(MissingExtraError, match=r"install facesight\[ray\]"):
        import_ray()


def _actor_pids(busy: bool) -> list[int]:
    """Scan actors that are descendants of this test process (its own Ray), busy or not."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode()
            ancestors = _ancestors(int(entry.name))
        except (OSError, ValueError):
            continue
        mine = title.startswith("ray::_ChunkActor") and os.getpid() in ancestors
        if mine and (not busy or title.endswith(".next_chunk")):
            found.append(int(entry.name))
    return found


def _ancestors(pid: int) -> list[int]:
    chain = []
    while pid > 1:
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat.rsplit(")", 1)[1].split()[1])
        chain.append(pid)
    return chain


@pytest.mark.slow
def test_ray_scan_survives_an_actor_killed_mid_chunk(
    ray_session: ModuleType,
    postgres_url: str,
    tmp_path: Path,
    detector: FaceDetector,
    embedder: FaceEmbedder,
    local_faces: list[tuple[Any, ...]],
) -> None:
    killed: list[int] = []

    def kill_one(event: ScanEvent) -> None:
        if not killed and (busy := _actor_pids(busy=True)):
            os.kill(busy[0], signal.SIGKILL)
            killed.append(busy[0])

    with _library(postgres_url, detector, embedder, tmp_path / "files") as library:
        summary = library.scan(ROOTS, ray=_options(actors=2), on_event=kill_one)
        assert killed, "no actor was busy to kill"
        assert summary.failures == []
        assert _faces(library) == local_faces
        _no_duplicates(library)
        again = library.scan(ROOTS, ray=_options(actors=1))
        assert again.media_scanned == 0
        assert _faces(library) == local_faces


_DRIVER = """
import sys
from pathlib import Path
from facesight.library.facade import Library
from facesight.library.scanning import RayOptions
from facesight.vision.embed import FaceEmbedder
url, files, models, *roots = sys.argv[1:]
options = RayOptions(actors=2, chunk_files=2, lease_s=3.0)
with Library(url, embedder=FaceEmbedder(cache_dir=models), files_dir=Path(files)) as library:
    library.scan(roots, ray=options)
"""


@pytest.mark.slow
def test_ray_scan_rerun_after_the_driver_is_killed_finishes_it(
    ray_session: ModuleType,
    postgres_url: str,
    tmp_path: Path,
    detector: FaceDetector,
    embedder: FaceEmbedder,
    local_faces: list[tuple[Any, ...]],
) -> None:
    files = tmp_path / "files"
    with _library(postgres_url, detector, embedder, files) as library:
        scan_id = scan_id_of(ROOTS, library.pipeline.embedder_version)
    driver = subprocess.Popen(
        [sys.executable, "-c", _DRIVER, postgres_url, str(files), str(embedder.cache_dir), *ROOTS],
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while driver.poll() is None:
            with open_store(postgres_url, files_dir=files, create=False) as store:
                if store.scan_chunk_counts(scan_id, time.time()).done >= 2:
                    break
            assert time.monotonic() < deadline, "the driver stored no chunk in time"
            time.sleep(0.3)
        assert driver.poll() is None, "the driver finished before it could be killed"
    finally:
        with contextlib.suppress(ProcessLookupError):  # the driver and the Ray it started
            os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    with Library(postgres_url, detector=detector, embedder=embedder, files_dir=files) as library:
        assert 0 < len(_faces(library)) < len(local_faces)
        summary = library.scan(ROOTS, ray=_options(actors=2, lease_s=3.0))
        assert summary.failures == []
        assert _faces(library) == local_faces
        _no_duplicates(library)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_ray_scan_on_a_cluster_of_a_head_and_a_worker_started_by_ray_start(
    postgres_url: str,
    tmp_path: Path,
    detector: FaceDetector,
    embedder: FaceEmbedder,
    local_faces: list[Any],
) -> None:
    ray_bin = str(Path(sys.executable).parent / "ray")
    port = _free_port()
    # Ray's token authentication, on for every process of this cluster (docs/scale.md)
    env = os.environ | {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")  # the CLI's local files of the library
    # its own temp folder (short: Ray's sockets live there), so that no address file of
    # this cluster is left in /tmp/ray for a later ray.init() to find
    temp = tempfile.mkdtemp(prefix="ray-")
    common = ["--block", "--num-cpus=1", "--disable-usage-stats"]
    head_only = [f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}"]
    head = subprocess.Popen(
        [ray_bin, "start", "--head", *head_only, *common],
        start_new_session=True,
        env=env,
    )
    nodes = [head]
    try:
        _wait_for_ray(ray_bin, port, 1, env)
        nodes.append(
            subprocess.Popen(
                [ray_bin, "start", f"--address=127.0.0.1:{port}", *common],
                start_new_session=True,
                env=env,
            )
        )
        _wait_for_ray(ray_bin, port, 2, env)
        _library(postgres_url, detector, embedder, tmp_path / "files").close()
        address = f"127.0.0.1:{port}"
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "facesight",
                "--library",
                postgres_url,
                "scan",
                *ROOTS,
                "--executor",
                "ray",
                "--ray-address",
                address,
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=400,
            env=env,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        summary = json.loads(run.stdout)
        assert summary["faces_found"] == len(local_faces) and summary["failures"] == []
        with Library(
            postgres_url, detector=detector, embedder=embedder, files_dir=tmp_path / "files"
        ) as library:
            assert _faces(library) == local_faces
    finally:
        for node in reversed(nodes):
            node.send_signal(signal.SIGTERM)  # `ray start --block` stops its node's processes
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)
                node.wait()
        shutil.rmtree(temp, ignore_errors=True)


def _wait_for_ray(ray_bin: str, port: int, nodes: int, env: dict[str, str]) -> None:
    """Until the cluster at ``port`` has ``nodes`` live nodes (``ray status``)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = subprocess.run(
            [ray_bin, "status", f"--address=127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            env=env,
        )
        if status.returncode == 0 and status.stdout.count("node_") >= nodes:
            return
        time.sleep(1)
    raise AssertionError(f"the Ray cluster did not reach {nodes} node(s)")
