"""kill -9 soak: random kills during scans and review actions, then check nothing was lost.

A clean library scans the collection, dealt into one folder per kill. A soaked
library, enrolled the same way, runs ``facesight scan`` of each folder (two
workers) or ``facesight review confirm|reject`` as real subprocesses, each
killed with SIGKILL at a random moment within the time the command takes. After
every kill: SQLite's ``integrity_check`` and ``foreign_key_check``, a rescan of
the folder to completion, and a comparison with the clean library: the same
media (by sha256), the same faces (media, face index) and references, none
twice, every crop a row names on disk and no crop file without a row. The figures in
docs/reliability.md come from this script.

Usage: python scripts/soak_kill.py [--kills 20] [--quick] [--seed 1] [--collection DIR]
       [--images N] [--workdir DIR] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "faces"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


@dataclass
class SoakResult:
    """What the soak did and found; every count but ``kills`` should be 0."""

    kills: int = 0
    kills_mid_run: int = 0
    killed_scans: int = 0
    killed_reviews: int = 0
    integrity_failures: int = 0
    lost_rows: int = 0
    duplicated_rows: int = 0
    missing_crops: int = 0
    orphan_crops: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _facesight(library: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "facesight", "--library", str(library), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ | {"PYTHONPATH": str(REPO)},
    )


def _run(library: Path, *args: str) -> None:
    process = _facesight(library, *args)
    if process.wait() not in (0, 1):  # 1: a bad file or a refused review is fine
        raise RuntimeError(f"facesight {' '.join(args)} failed with {process.returncode}")


def _prepare(library: Path, references: list[Path]) -> None:
    for image in references:
        _run(library, "enroll", image.parent.name.replace("_", " "), str(image))


def _rows(library: Path) -> dict[str, list[tuple[object, ...]]]:
    """The rows that must match the clean library, by content, not by id."""
    with sqlite3.connect(f"file:{library / 'facesight.db'}?mode=ro", uri=True) as conn:
        return {
            "media": conn.execute("SELECT sha256, face_count FROM media ORDER BY 1").fetchall(),
            "faces": conn.execute(
                "SELECT m.sha256, f.face_index, f.frame FROM faces f"
                " JOIN media m ON m.id = f.media_id ORDER BY 1, 2, 3"
            ).fetchall(),
            "references": conn.execute(
                "SELECT p.name, r.source_sha256 FROM reference_faces r"
                " JOIN people p ON p.id = r.person_id ORDER BY 1, 2"
            ).fetchall(),
        }


def _integrity(library: Path) -> list[str]:
    with sqlite3.connect(library / "facesight.db") as conn:
        found = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
    return ([] if found == ["ok"] else found) + [f"foreign key: {b}" for b in broken]


def _crops(library: Path) -> tuple[int, int]:
    """(crops rows name that are missing, crop files no row names)."""
    with sqlite3.connect(f"file:{library / 'facesight.db'}?mode=ro", uri=True) as conn:
        stored = {
            str(r[0])
            for r in conn.execute(
                "SELECT crop_path FROM faces UNION SELECT crop_path FROM reference_faces"
            )
            if r[0]
        }
    on_disk = {p.relative_to(library).as_posix() for p in (library / "crops").rglob("*.jpg")}
    return len(stored - on_disk), len(on_disk - stored)


def _compare(clean: dict[str, list[tuple[object, ...]]], soaked: Path, result: SoakResult) -> None:
    rows = _rows(soaked)
    for table, want in clean.items():
        got = rows[table]
        lost = len(set(want) - set(got))
        duplicated = len(got) - len(set(got))
        extra = len(set(got) - set(want))
        result.lost_rows += lost
        result.duplicated_rows += duplicated + extra
        if lost or duplicated or extra:
            result.problems.append(f"{table}: {lost} lost, {duplicated} twice, {extra} extra")
    missing, orphans = _crops(soaked)
    result.missing_crops += missing
    result.orphan_crops += orphans


def _review_target(library: Path, rng: random.Random) -> tuple[str, str] | None:
    with sqlite3.connect(f"file:{library / 'facesight.db'}?mode=ro", uri=True) as conn:
        ids = [int(r[0]) for r in conn.execute("SELECT id FROM faces")]
    if not ids:
        return None
    return rng.choice(["confirm", "reject"]), str(rng.choice(ids))


def _chunks(collection: Path, count: int, workdir: Path) -> list[Path]:
    """The collection dealt into ``count`` folders of links: each killed scan has new work."""
    files = sorted(p for p in collection.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    folders = []
    for i in range(count):
        folder = workdir / "chunks" / f"{i:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for j, image in enumerate(files[i::count]):
            (folder / f"{j:03d}_{image.name}").symlink_to(image.resolve())
        folders.append(folder)
    return folders


def _sha256s(folder: Path) -> set[str]:
    return {hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def _timed(library: Path, *args: str) -> float:
    started = time.perf_counter()
    _run(library, *args)
    return time.perf_counter() - started


def _clean_rows_up_to(
    clean: dict[str, list[tuple[object, ...]]], shas: set[str]
) -> dict[str, list[tuple[object, ...]]]:
    """The clean library's rows for the media scanned so far (references: all)."""
    return {
        table: rows if table == "references" else [r for r in rows if r[0] in shas]
        for table, rows in clean.items()
    }


def soak(
    collection: Path, references: list[Path], kills: int, seed: int, workdir: Path
) -> SoakResult:
    """Run the soak (see the module docstring) in ``workdir``.

    The collection is dealt into one folder per kill. Each round kills a scan of
    its folder (or, one round in three, a review action) after a delay drawn
    uniformly up to how long that command took uninterrupted in the clean
    library, so kills land from start-up to the last commit; then the folder is
    scanned to completion and the library compared with the clean one.
    """
    rng = random.Random(seed)
    started = time.perf_counter()
    clean, soaked = workdir / "clean", workdir / "soaked"
    chunks = _chunks(collection, kills, workdir)
    _prepare(clean, references)
    scan_s = [_timed(clean, "scan", str(chunk), "--workers", "2") for chunk in chunks]
    clean_rows = _rows(clean)
    target = _review_target(clean, rng)
    review_s = _timed(clean, "review", *target) if target else 1.0
    _prepare(soaked, references)
    result = SoakResult()
    scanned: set[str] = set()
    for i, chunk in enumerate(chunks):
        review = _review_target(soaked, rng) if i and rng.random() < 1 / 3 else None
        if review is not None:
            process = _facesight(soaked, "review", *review)
            delay = rng.uniform(0.1, review_s)
            result.killed_reviews += 1
        else:
            process = _facesight(soaked, "scan", str(chunk), "--workers", "2")
            delay = rng.uniform(0.1, scan_s[i])
            result.killed_scans += 1
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            result.kills_mid_run += 1  # else it had finished: that kill hit nothing
        process.wait()
        result.kills += 1
        problems = _integrity(soaked)
        result.integrity_failures += bool(problems)
        result.problems.extend(problems)
        _run(soaked, "scan", str(chunk), "--workers", "2")
        scanned |= _sha256s(chunk)
        _compare(_clean_rows_up_to(clean_rows, scanned), soaked, result)
    result.seconds = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="3 kills, 24 images")
    parser.add_argument(
        "--images", type=int, help="use the first N images of the collection (linked)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--collection", type=Path, default=SHARED / "people")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    references = [
        sorted((SHARED / "people" / name).glob("*.jpg"))[0]
        for name in ("Joe_Biden", "Barack_Obama")
    ]
    kills = 3 if args.quick else args.kills
    collection = args.collection
    with tempfile.TemporaryDirectory(prefix="facesight-soak-") as scratch:
        workdir = args.workdir or Path(scratch)
        images = 24 if args.quick else args.images
        if images:
            collection = workdir / "collection"
            collection.mkdir(parents=True, exist_ok=True)
            for image in sorted(args.collection.rglob("*.jpg"))[:images]:
                link = collection / f"{image.parent.name}_{image.name}"
                if not link.exists():
                    link.symlink_to(image)
        result = soak(collection, references, kills, args.seed, workdir)
    if args.json:
        print(json.dumps(asdict(result), indent=2))
    else:
        print(
            f"{result.kills} kill -9 ({result.killed_scans} scans, {result.killed_reviews} "
            f"reviews; {result.kills_mid_run} while the command ran) in {result.seconds:.0f} s: "
            f"{result.integrity_failures} integrity "
            f"failures, {result.lost_rows} lost and {result.duplicated_rows} duplicated rows, "
            f"{result.missing_crops} missing and {result.orphan_crops} orphan crops"
        )
        for problem in result.problems:
            print(f"  {problem}")
    clean = not (
        result.integrity_failures
        or result.lost_rows
        or result.duplicated_rows
        or result.missing_crops
        or result.orphan_crops
    )
    sys.exit(0 if clean else 1)


if __name__ == "__main__":
    main()
