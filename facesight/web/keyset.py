"""Keyset pages of a list the library returns sorted: a page follows the last item's sort key.

The unknown people and their faces, and the ambiguous sightings, are sorted by what they
show (media count, quality, closeness of the call), not by id. A page continues after the
*key* of the last item shown, never after a position, so an item that leaves the list
between two pages (named, merged, decided) makes the next page skip nothing. The cursor a
client sends back names that item: its id where the item can be found again by id (an
unknown person, a face: the store's keyset pages use the same cursors), else the key itself
as compact JSON (:func:`key_cursor`, :func:`parse_key`), checked on the way back in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from facesight.errors import InvalidInputError

__all__ = ["Key", "KeysetPage", "key_cursor", "keyset_page", "parse_key"]

T = TypeVar("T")
Key = tuple[float | int | str, ...]


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    """Up to ``limit`` items after the cursor; ``next_after`` is None on the last page."""

    items: list[T]
    next_after: str | None
    total: int


def keyset_page(
    items: Sequence[T],
    key: Callable[[T], Key],
    after: Key | None,
    limit: int,
    cursor: Callable[[T], str],
) -> KeysetPage[T]:
    """The page of ``items`` (sorted by ``key``) after the key ``after`` (None: the first);
    ``next_after`` is ``cursor`` of its last item when more follow."""
    rest = [item for item in items if after is None or key(item) > after]
    shown = rest[:limit]
    more = len(rest) > limit
    return KeysetPage(shown, cursor(shown[-1]) if more else None, len(items))


def key_cursor(key: Key) -> str:
    """A sort key as a cursor (compact JSON)."""
    return json.dumps(list(key), separators=(",", ":"))


def parse_key(after: str | None, example: Key | None) -> Key | None:
    """The key a :func:`key_cursor` cursor holds, shaped as ``example`` (a key of the list;
    None when the list is empty, which any well-formed cursor ends).

    Raises:
        InvalidInputError: ``after`` is not a cursor of a list of this shape.
    """
    if not after:
        return None
    try:
        value = json.loads(after)
    except ValueError:
        value = None
    if example is None and isinstance(value, list):
        return None
    if not isinstance(value, list) or example is None or len(value) != len(example):
        raise InvalidInputError(f"after={after[:40]!r} is not a cursor this list gave")
    for given, shape in zip(value, example, strict=True):
        number = isinstance(given, int | float) and not isinstance(given, bool)
        fits = isinstance(given, str) if isinstance(shape, str) else number
        if not fits or (number and math.isnan(given)):
            raise InvalidInputError(f"after={after[:40]!r} is not a cursor this list gave")
    return tuple(value)
