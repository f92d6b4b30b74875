"""Keyset pages of a list the library returns sorted: the cursor is the last item's sort key.

The unknown people and their faces, and the ambiguous sightings, are sorted by what they
show (media count, quality, closeness of the call), not by id. A page continues after the
*key* of the last item shown, never after a position, so an item that leaves the list
between two pages (named, merged, decided) makes the next page skip nothing. The cursor is
the key as compact JSON: opaque to clients, checked on the way back in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from facesight.errors import InvalidInputError

__all__ = ["KeysetPage", "keyset_page"]

T = TypeVar("T")
Key = tuple[float | int | str, ...]


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    """Up to ``limit`` items after the cursor; ``next_after`` is None on the last page."""

    items: list[T]
    next_after: str | None
    total: int


def keyset_page(
    items: Sequence[T], key: Callable[[T], Key], after: str | None, limit: int
) -> KeysetPage[T]:
    """The page of ``items`` (sorted by ``key``) that follows the cursor ``after``.

    Raises:
        InvalidInputError: ``after`` is not a cursor of a list of this shape.
    """
    start = _parse(after, key(items[0]) if items else None)
    rest = [item for item in items if start is None or key(item) > start]
    shown = rest[:limit]
    more = len(rest) > limit
    cursor = json.dumps(list(key(shown[-1])), separators=(",", ":")) if more else None
    return KeysetPage(shown, cursor, len(items))


def _parse(after: str | None, example: Key | None) -> Key | None:
    if not after:
        return None
    try:
        value = json.loads(after)
    except ValueError:
        value = None
    if example is None and isinstance(value, list):
        return None  # an empty list: any well-formed cursor ends it
    if not isinstance(value, list) or example is None or len(value) != len(example):
        raise InvalidInputError(f"after={after[:40]!r} is not a cursor this list gave")
    for given, shape in zip(value, example, strict=True):
        number = isinstance(given, int | float) and not isinstance(given, bool)
        fits = isinstance(given, str) if isinstance(shape, str) else number
        if not fits or (number and math.isnan(given)):
            raise InvalidInputError(f"after={after[:40]!r} is not a cursor this list gave")
    return tuple(value)
