"""Readers for labelled face data: LFW-style ``pairs.txt`` files.

Two layouts are accepted: the standard LFW header (``"10 300"``: folds and
pairs per same/different half) and the fold-header variant, where each
fold's block is preceded by ``"fold K N"``. Lines starting with ``#`` are
comments. A pair line is ``name i j`` (same person) or ``name1 i name2 j``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facesight.errors import InvalidInputError

__all__ = ["Pair", "lfw_image_path", "read_pairs"]


@dataclass(frozen=True)
class Pair:
    """Two images of a pair list: ``same`` says whether they show one person."""

    fold: int
    first: tuple[str, int]
    second: tuple[str, int]
    same: bool


def lfw_image_path(images: Path, name: str, number: int) -> Path:
    """LFW's file layout: ``images/Name/Name_0001.jpg``."""
    return images / name / f"{name}_{number:04d}.jpg"


def read_pairs(path: Path) -> list[Pair]:
    """Every pair of the file, with the fold it belongs to (0-based)."""
    lines = [
        line.split()
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise InvalidInputError(f"{path}: no pairs found")
    if lines[0][0] == "fold":
        return _fold_headed(path, lines)
    return _standard(path, lines)


def _pair(path: Path, fields: list[str], fold: int) -> Pair:
    try:
        if len(fields) == 3:
            return Pair(fold, (fields[0], int(fields[1])), (fields[0], int(fields[2])), True)
        if len(fields) == 4:
            return Pair(fold, (fields[0], int(fields[1])), (fields[2], int(fields[3])), False)
    except ValueError:
        pass
    raise InvalidInputError(f"{path}: not a pair line: {' '.join(fields)!r}")


def _fold_headed(path: Path, lines: list[list[str]]) -> list[Pair]:
    pairs, fold = [], -1
    for fields in lines:
        if fields[0] == "fold":
            fold += 1
        else:
            pairs.append(_pair(path, fields, fold))
    return pairs


def _standard(path: Path, lines: list[list[str]]) -> list[Pair]:
    try:
        folds, per_half = int(lines[0][0]), int(lines[0][1])
    except (ValueError, IndexError) as exc:
        raise InvalidInputError(f"{path}: first line must be 'folds pairs-per-half'") from exc
    body = lines[1:]
    if len(body) != folds * per_half * 2:
        raise InvalidInputError(
            f"{path}: header promises {folds * per_half * 2} pairs, found {len(body)}"
        )
    return [_pair(path, fields, i // (2 * per_half)) for i, fields in enumerate(body)]
