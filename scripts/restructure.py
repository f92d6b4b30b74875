"""One-off: move facesight's flat modules into the packages of issue 15 (delete after use).

Run from anywhere inside a clean checkout::

    python scripts/restructure.py            # moves, rewrites, formats; prints what it did
    python scripts/restructure.py --dry-run  # prints the plan only

What it does, mechanically:

1. checks the tree: clean git status, not restructured yet (refuses to run twice), and every
   top-level module of ``facesight/`` is in the table below (an unknown module stops it: add it
   to ``MODULES`` and rerun; a module of the table that is missing is reported and skipped);
2. ``git mv`` each module (and each whole package in ``PACKAGES``) to its new place, creating
   the packages' ``__init__.py`` (a docstring only: import from the module, never the package);
3. rewrites every reference to a moved module in facesight/, tests/, scripts/, bench/, docs/,
   README.md, pyproject.toml and .ci/: dotted names (``from facesight.store import X``,
   ``import facesight.x``, ``"facesight.x.y"`` strings, ``facesight.cli:main``, ``-m facesight.x``),
   ``from facesight import module`` lines, and paths (``facesight/store.py``);
4. sorts imports and formats the Python files it changed (ruff), so ``ruff check`` stays clean.

The public API (``from facesight import Library`` ...) is untouched: ``facesight/__init__.py``
is rewritten like any other file, and keeps the same names.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

KEEP = ""
"""Table value for a module that stays where it is (the kernel: stdlib and numpy only)."""

# old top-level module of facesight/ -> new dotted path below facesight (KEEP: stays).
# Extend this table for modules other branches add; the script refuses unknown ones.
MODULES: dict[str, str] = {
    # kernel: imports nothing of ours outside the kernel
    "__init__": KEEP,
    "__main__": KEEP,
    "errors": KEEP,
    "faces": KEEP,
    "records": KEEP,
    "files": KEEP,
    "descriptors": KEEP,
    "quality": KEEP,  # quality bands are used by identity and eval: numpy only, so kernel
    "config": KEEP,  # where the library lives; read only by the edges (cli, next web)
    "_version": KEEP,  # branch pack: hatch reads the version from this path
    "text": KEEP,  # branch hard2: user text made printable; store, library and cli use it
    "timecode": KEEP,
    "defaults": KEEP,
    # media: decoding images and video
    "media": "media.images",
    "video": "media.video",
    "formats": "media.formats",  # branch hard2: HEIC, RAW, 16-bit decoding
    # vision: the networks and what runs around them
    "align": "vision.align",
    "detect": "vision.detect",
    "embed": "vision.embed",
    "track": "vision.track",
    "pipeline": "vision.pipeline",
    "device": "vision.device",
    # identity: who a descriptor is
    "calibrate": "identity.calibrate",
    "match": "identity.match",
    "cluster": "identity.cluster",
    # index: nearest-neighbour search
    "index": "index.face_index",
    "index_files": "index.files",
    "vector_sets": "index.vector_sets",
    # store: the SQLite library database
    "store": "store.sqlite",
    "migrations": "store.migrations",
    "audit": "store.audit",
    "audit_chain": "store.audit_chain",
    "review": "store.reviews",
    "store_open": "store.connection",  # branch hard1: opening the database, its failures
    "crop_paths": "store.crop_paths",  # branch hard1: crop paths relative to the library
    # exports: files written for people and other tools
    "report": "exports.report",
    "xmp": "exports.xmp",
    "export": "exports.embed_jsonl",
    "frames": "exports.frames",
    "csv_cells": "exports.csv_cells",  # branch evidence: spreadsheet-safe CSV cells
    "manifest": "exports.manifest",  # branch evidence: sha256 list of what an export wrote
    # scan: walking a collection
    "scan": "scan.collection",
    "scan_workers": "scan.workers",
    "scan_video": "scan.video",
    # library: the facade and the services it composes
    "library": "library.facade",
    "library_enroll": "library.enroll",
    "library_review": "library.review",
    "conflicts": "library.conflicts",
    "unknowns": "library.unknowns",
    "reporting": "library.reports",
    "library_dir": "library.directory",  # branch hard1: the library folder on disk
    "doctor": "library.doctor",  # branch hard1: check and repair a library
    # cli: one module per command family
    "cli": "cli.main",
    "cli_common": "cli.common",
    "cli_conflicts": "cli.conflicts",
    "cli_reports": "cli.reports",
    "cli_review": "cli.review",
    "cli_unknowns": "cli.unknowns",
}

# old sub-package (folder) of facesight/ -> new dotted path (KEEP: stays); moved whole.
PACKAGES: dict[str, str] = {
    "models": "vision.models",
    "eval": KEEP,
    "data": KEEP,  # package data (calibration.json), read through importlib.resources
}

# the docstring of each new package's __init__.py
PACKAGE_DOCS: dict[str, str] = {
    "media": "Decoding media: still images (EXIF-oriented, size-capped) and video frames.",
    "vision": "The networks and what runs around them: detect, align, quality, embed, track.",
    "identity": "Who a descriptor is: calibration, matching, clustering. No SQL, no I/O.",
    "index": "Nearest-neighbour search over stored descriptors, and its files.",
    "store": "The SQLite library database: schema, migrations, rows, audit log, reviews.",
    "exports": "Files written for people and other tools: reports, XMP, JSON Lines, frames.",
    "scan": "Walking a collection: files to workers, video segments, results into the store.",
    "library": "The Library facade and the services it composes (enroll, review, unknowns ...).",
    "cli": "The command line: one module per command family, rendering only.",
}

ROOTS = ("facesight", "tests", "scripts", "bench", "docs", ".ci")
FILES = ("README.md", "pyproject.toml")
SELF = Path(__file__).resolve()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    args = parser.parse_args()
    started = time.monotonic()
    repo = Path(git("rev-parse", "--show-toplevel", cwd=SELF.parent).strip())
    plan = check_and_plan(repo)
    for old, new in plan:
        print(f"  {old} -> {new}")
    if args.dry_run:
        return 0
    move(repo, plan)
    changed = rewrite_references(repo)
    tidy(repo, [p for p in changed if p.suffix == ".py"])
    print(
        f"moved {len(plan)} paths, rewrote {len(changed)} files "
        f"in {time.monotonic() - started:.1f} s"
    )
    return 0


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def check_and_plan(repo: Path) -> list[tuple[str, str]]:
    """The (old path, new path) moves, after checking the tree can take them."""
    pkg = repo / "facesight"
    targets = {new.split(".")[0] for new in [*MODULES.values(), *PACKAGES.values()] if new}
    already = sorted(t for t in targets if (pkg / t / "__init__.py").is_file())
    if already:
        sys.exit(f"refusing: already restructured (facesight/{already[0]}/__init__.py exists)")
    if git("status", "--porcelain", "--untracked-files=no", cwd=repo).strip():
        sys.exit("refusing: commit or stash your changes first (git status is not clean)")
    modules = {p.stem for p in pkg.glob("*.py")}
    folders = {p.name for p in pkg.iterdir() if p.is_dir() and p.name != "__pycache__"}
    unknown = sorted(modules - MODULES.keys()) + sorted(f + "/" for f in folders - PACKAGES.keys())
    if unknown:
        sys.exit(
            "refusing: modules missing from the table in scripts/restructure.py: "
            + ", ".join(f"facesight/{u}" for u in unknown)
        )
    table = {**MODULES, **PACKAGES}
    for gone in sorted(n for n in table.keys() - modules - folders if table[n] != KEEP):
        print(f"note: facesight/{gone} is in the table but not in the tree; skipped")
    plan = [
        (f"facesight/{old}.py", "facesight/" + new.replace(".", "/") + ".py")
        for old, new in MODULES.items()
        if new and old in modules
    ]
    plan += [
        (f"facesight/{old}", "facesight/" + new.replace(".", "/"))
        for old, new in PACKAGES.items()
        if new and old in folders
    ]
    return plan


def move(repo: Path, plan: list[tuple[str, str]]) -> None:
    # through a temporary folder: facesight/store.py must leave before facesight/store/ exists
    staging = "facesight/_restructure_staging"
    (repo / staging).mkdir()
    for i, (old, _new) in enumerate(plan):
        git("mv", old, f"{staging}/{i}", cwd=repo)
    for package in sorted({new.split(".")[0] for new in MODULES.values() if new}):
        init = repo / "facesight" / package / "__init__.py"
        init.parent.mkdir(exist_ok=True)
        init.write_text(f'"""{PACKAGE_DOCS[package]}"""\n')
        git("add", str(init.relative_to(repo)), cwd=repo)
    for i, (_old, new) in enumerate(plan):
        (repo / new).parent.mkdir(parents=True, exist_ok=True)
        git("mv", f"{staging}/{i}", new, cwd=repo)
    shutil.rmtree(repo / staging, ignore_errors=True)


def renames() -> dict[str, str]:
    """Old dotted name below facesight -> new one, for every module and package that moves."""
    moved = {old: new for old, new in MODULES.items() if new}
    moved.update({old: new for old, new in PACKAGES.items() if new})
    return moved


def rewrite_references(repo: Path) -> list[Path]:
    moved = renames()
    names = "|".join(sorted(map(re.escape, moved), key=len, reverse=True))
    dotted = re.compile(rf"(?<![\w.])facesight\.({names})(?!\w)")
    path_py = re.compile(rf"(?<![\w/.])facesight/({names})\.py\b")
    path_dir = re.compile(
        rf"(?<![\w/.])facesight/({'|'.join(re.escape(p) for p, n in PACKAGES.items() if n)})(?=/)"
    )
    from_pkg = re.compile(r"^(\s*)from facesight import (\([^)]*\)|[^\n(]+)$", re.M)

    def module_import(match: re.Match[str]) -> str:
        return rewrite_from_package(match, moved)

    changed = []
    tracked = git("ls-files", "--", *ROOTS, *FILES, cwd=repo).splitlines()
    for rel in tracked:
        path = repo / rel
        if path.resolve() == SELF or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        # dotted names first: the lines from_pkg writes already hold the new names
        new = dotted.sub(lambda m: "facesight." + moved[m[1]], text)
        new = from_pkg.sub(module_import, new) if path.suffix == ".py" else new
        new = path_py.sub(lambda m: "facesight/" + moved[m[1]].replace(".", "/") + ".py", new)
        new = path_dir.sub(lambda m: "facesight/" + PACKAGES[m[1]].replace(".", "/"), new)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def rewrite_from_package(match: re.Match[str], moved: dict[str, str]) -> str:
    """``from facesight import cli_review, Library`` -> one import line per module moved."""
    indent, body = match[1], match[2].strip().strip("()")
    kept, lines = [], []
    for item in (part.strip() for part in body.split(",")):
        if not item:
            continue
        name, _, alias = (w.strip() for w in item.partition(" as "))
        if name not in moved:
            kept.append(item)
            continue
        parent, _, leaf = ("facesight." + moved[name]).rpartition(".")
        local = alias or name
        alias_part = f" as {local}" if local != leaf else ""
        lines.append(f"{indent}from {parent} import {leaf}{alias_part}")
    if not lines:
        return match[0]
    if kept:
        lines.insert(0, f"{indent}from facesight import {', '.join(kept)}")
    return "\n".join(lines)


def tidy(repo: Path, files: list[Path]) -> None:
    """Sort the imports the rewrite disturbed, then format (only the files it changed)."""
    if not files:
        return
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    paths = [str(p) for p in files]
    sort_imports = [ruff, "check", "--select", "I", "--fix", "--quiet", *paths]
    subprocess.run(sort_imports, cwd=repo, check=False)
    subprocess.run([ruff, "format", "--quiet", *paths], cwd=repo, check=False)


if __name__ == "__main__":
    sys.exit(main())
