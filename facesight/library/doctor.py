"""``facesight doctor``: check a library and repair what can be repaired safely.

Checks, in order: SQLite's ``integrity_check`` and ``foreign_key_check``; that
every table, index and trigger the migrations create is there (a dropped table
or a dropped audit trigger is named); crops that rows name but that are gone;
crop files and temp files no row names (removed); the cached models re-hashed
against the sha256 recorded when they were built (a damaged one is removed, so
the next command rebuilds it); each registered model's file (``facesight models``)
still there with the sha256 it was registered with (a problem to report, never a
repair: the file is the user's). Nothing outside the library is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from facesight.files import sha256_file
from facesight.library.directory import TEMP_GRACE_S, orphan_crops, sweep_leftovers
from facesight.store.sqlite import Store
from facesight.vision.models.dlib_resnet import verify_model_cache

__all__ = ["DoctorReport", "examine_library"]


@dataclass
class DoctorReport:
    """What ``examine_library`` found: ``problems`` left, ``repairs`` made, ``checks`` passed."""

    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)


def examine_library(store: Store, root: Path, *, alone: bool = True) -> DoctorReport:
    """Check the library at ``root`` whose database ``store`` is open (see the module docstring).

    Args:
        alone: no other command has the library open: temp files of any age
            are leftovers (else only those older than ``TEMP_GRACE_S``).
    """
    report = DoctorReport()
    _integrity(store, report)
    _schema(store, report)
    if any("missing table" in p for p in report.problems):
        return report  # the crop checks read those tables
    known = store.stored_crop_paths()
    # empty: crops are not fsynced (vision/pipeline.save_crop), so a power failure may
    # leave one empty rather than gone
    gone = [p for p in sorted(known) if not Path(p).is_absolute() and _missing(root / p)]
    if gone:
        report.problems.append(
            f"{len(gone)} crop file(s) named by rows are missing or empty, e.g. {gone[0]}"
        )
    else:
        report.checks.append(f"crops: all {len(known)} present")
    orphans = len(orphan_crops(root, known))
    removed = sweep_leftovers(root, known, 0.0 if alone else TEMP_GRACE_S)
    if removed:
        report.repairs.append(
            f"removed {removed} orphan crop(s) and temp file(s) ({orphans} orphan crop(s))"
        )
    _models(root / "models", report)
    _registered_models(store, report)
    return report


def _integrity(store: Store, report: DoctorReport) -> None:
    problems = store.integrity_problems()
    report.problems.extend(problems)
    if not any(p.startswith("integrity:") for p in problems):
        report.checks.append("integrity: ok")


def _schema(store: Store, report: DoctorReport) -> None:
    """Every table, index and trigger a freshly migrated database has, by name."""
    missing, total = store.missing_schema_objects()
    for kind, name in missing:
        report.problems.append(f"missing {kind} {name}")
    if not missing:
        report.checks.append(f"schema: all {total} tables, indexes and triggers present")


def _registered_models(store: Store, report: DoctorReport) -> None:
    specs = store.model_specs()
    for spec in specs:
        try:
            changed = sha256_file(Path(spec.path)) != spec.sha256
        except OSError as error:
            report.problems.append(f"registered model {spec.name}: {spec.path}: {error.strerror}")
            continue
        if changed:
            report.problems.append(
                f"registered model {spec.name}: {spec.path} has changed since it was registered; "
                "restore it, or register the new file under another name"
            )
    if specs and not any(p.startswith("registered model") for p in report.problems):
        report.checks.append(f"registered models: all {len(specs)} files as registered")


def _models(directory: Path, report: DoctorReport) -> None:
    if not directory.is_dir():
        return
    problems = verify_model_cache(directory)
    for line in problems:
        path = Path(line.split(": ", 1)[0])
        path.unlink(missing_ok=True)
        report.repairs.append(f"removed the damaged model {line} (rebuilt on next use)")
    if not problems:
        report.checks.append("model cache: every cached model matches its recorded sha256")


def _missing(path: Path) -> bool:
    try:
        return path.stat().st_size == 0 or not path.is_file()
    except OSError:
        return True
