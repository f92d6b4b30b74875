"""`pip install .` alone, in a fresh virtual environment, gives a working facesight for photos.

The environment is built from this checkout with nothing but ``pip install <repo>`` (PyPI and
pip's cache supply the wheels), so it holds exactly the core dependencies: no PyAV, no
matplotlib. The installed ``facesight`` enrolls and scans the shared photos, ``pip check``
passes, and the optional extras that are missing fail with one line naming the extra.
"""

from __future__ import annotations

import json
import os
import subprocess
import venv
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from facesight import __version__

from .paths import GROUP, LFW_DEV, PEOPLE, REPO, SHARED_FACES

pytestmark = pytest.mark.slow

HAMILTON = SHARED_FACES / "video" / "face_recognition_short_hamilton_clip.mp4"


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A new venv's bin folder, holding facesight installed by ``pip install <repo>`` alone."""
    root = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(root)
    bin_dir = root / ("Scripts" if os.name == "nt" else "bin")
    done = _run(bin_dir / "python", "-m", "pip", "install", "--quiet", str(REPO), timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    yield bin_dir


def _run(program: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    # Without our PYTHONPATH, so the installed copy runs, not this checkout.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "FACESIGHT_LIBRARY"}}
    env["COLUMNS"] = "400"  # rich wraps at 80 columns off a terminal; keep each line whole
    return subprocess.run(
        [str(program), *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def _facesight(bin_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run(bin_dir / "facesight", *args)


def test_fresh_install_passes_pip_check_and_leaves_the_extras_out(fresh_env: Path) -> None:
    check = _run(fresh_env / "python", "-m", "pip", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    probe = "import importlib.util as u; print([m for m in ('av', 'matplotlib') if u.find_spec(m)])"
    found = _run(fresh_env / "python", "-c", probe)
    assert found.stdout.strip() == "[]", found.stdout + found.stderr


def test_install_needs_no_compiler(fresh_env: Path) -> None:
    # Wheels for everything but face_recognition_models, a source archive of weight files
    # and pure Python (packaging it runs no compiler).
    args = ["--dry-run", "--ignore-installed", "--quiet", "--only-binary=:all:"]
    args += ["--no-binary=face_recognition_models", f"{REPO}[video,eval]"]
    done = _run(fresh_env / "python", "-m", "pip", "install", *args)
    assert done.returncode == 0, done.stdout + done.stderr


def test_fresh_install_reports_its_version(fresh_env: Path) -> None:
    done = _facesight(fresh_env, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"facesight, version {__version__}"
    code = (
        "import facesight as f, importlib.metadata as m; "
        "print(f.__version__, m.version('facesight'))"
    )
    both = _run(fresh_env / "python", "-c", code)
    assert both.stdout.split() == [__version__, __version__], both.stderr


def test_fresh_install_enrolls_and_scans_photos(fresh_env: Path, tmp_path: Path) -> None:
    library = str(tmp_path / "library")
    obama, biden = PEOPLE / "Barack_Obama", PEOPLE / "Joe_Biden"
    for name, folder in (("Barack Obama", obama), ("Joe Biden", biden)):
        photo = str(sorted(folder.iterdir())[0])
        done = _facesight(fresh_env, "--library", library, "enroll", name, photo, "--largest")
        assert done.returncode == 0, done.stdout + done.stderr
    done = _facesight(fresh_env, "--library", library, "scan", str(GROUP))
    assert done.returncode == 0, done.stdout + done.stderr
    done = _facesight(fresh_env, "--library", library, "sightings", "--json")
    assert done.returncode == 0, done.stderr
    found: dict[str, set[str]] = defaultdict(set)
    for row in json.loads(done.stdout):
        found[Path(row["path"]).name].add(row["person"])
    assert found["face_recognition_obama_and_biden.jpg"] == {"Barack Obama", "Joe Biden"}


def test_video_without_the_extra_fails_that_file_naming_the_extra(
    fresh_env: Path, tmp_path: Path
) -> None:
    library = str(tmp_path / "library")
    done = _facesight(fresh_env, "--library", library, "scan", str(HAMILTON))
    assert done.returncode == 0, done.stdout + done.stderr
    said = [line for line in done.stderr.splitlines() if HAMILTON.name in line]
    assert len(said) == 1 and "install facesight[video]" in said[0], done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    failures = _facesight(fresh_env, "--library", library, "failures", "--json")
    rows = json.loads(failures.stdout)
    assert [Path(r["path"]).name for r in rows] == [HAMILTON.name], failures.stdout
    assert "install facesight[video]" in rows[0]["message"]
    assert "\n" not in rows[0]["message"]


def test_eval_without_the_extra_names_the_extra(fresh_env: Path, tmp_path: Path) -> None:
    done = _facesight(
        fresh_env,
        "--library",
        str(tmp_path / "library"),
        "eval",
        "pairs",
        str(LFW_DEV / "pairs.txt"),
        str(LFW_DEV / "people"),
        "--det",
        str(tmp_path / "det.png"),
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert "install facesight[eval]" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "det.png").exists()
