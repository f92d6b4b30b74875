"""The review queue: the faces waiting for a reviewer, filtered, sorted and paged.

What the review pages, the REST API and ``facesight review --json`` show: pending faces
(``Decision.PENDING``: proposed by the decision rule or named by an imported tag, not yet
decided), or the faces of another decision category when the filter asks for one; each with
its :func:`decision_state` (what a decision made on it must still find, else
``DecisionConflictError``) and the nearest reference of the person it is named as.

Paging is a keyset over (sort key, face id): ``after`` is the last item's key, so a page
begins after the last item shown, whatever was decided meanwhile; a decided face leaves the
queue without moving the others (offsets would skip faces). Matching again (new references)
changes est. FMRs, so a face may then cross the cursor: the next page is still in order,
and the face's state changed, so a decision on what was shown before is refused. The order
is fixed per sort:

* ``fmr``: est. FMR of the person named, lowest (strongest evidence) first; faces
  without a figure (uncalibrated model) last;
* ``quality``: face quality (``facesight.quality``), best first; unknown last;
* ``date``: capture time (EXIF, or the video's creation time), oldest first; unknown last.

Cost: the filter, the order, the keyset and the total are SQL in ``store/queue.py``
(``Store.queue_page``, under the library's match rule), with an index per sort (migration
15); only the page's faces are then read whole (``MatchService.sightings_by_face``), so
a page costs about the same at any depth and library size. It gives exactly the faces,
order and totals the earlier Python path gave (every face read, decided, filtered and
sorted in Python: ``tests/test_queue_sql.py`` keeps it as the reference, on SQLite and
PostgreSQL). ``python bench/queue_at_scale.py LIBRARY`` prints the time of each kind of
page on a million faces (docs/scale.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path

from facesight.errors import InvalidInputError
from facesight.quality import QUALITY_BANDS, quality_band
from facesight.records import DECISION_CATEGORIES, Sighting, person_id_of
from facesight.store.queue import QueueIds, QueueKey, QueueQuery

__all__ = [
    "MAX_PAGE",
    "MEDIA_KINDS",
    "QUALITY_BANDS",
    "QueueFilter",
    "QueueItem",
    "QueuePage",
    "QueueSort",
    "ReviewQueue",
    "decision_state",
    "describe_state",
]

MAX_PAGE = 500
"""The most faces one page holds."""

MEDIA_KINDS = ("image", "video")
"""``QueueFilter.kind``: stills or video tracks."""


class QueueSort(StrEnum):
    """The order of the review queue (see the module docstring)."""

    FMR = "fmr"
    QUALITY = "quality"
    DATE = "date"


@dataclass(frozen=True)
class QueueFilter:
    """Which faces the queue shows (every field None: all pending faces).

    Attributes:
        person: who the face is named as (proposed, or confirmed for that category).
        category: a ``DECISION_CATEGORIES`` key; ``machine match`` and ``imported
            (unverified)`` are pending faces, any other shows the faces of that category.
        quality: a band of ``facesight.quality.quality_band``: ``good`` (score >= 0.7),
            ``fair`` (>= 0.3) or ``poor`` (the cut points ``quality.py`` documents and
            matching's calibration uses); a face of unknown quality is in none.
        path: a piece of the media file's path (case-insensitive).
        since, until: ISO dates (or date-times) bounding the capture time, both included;
            a face without a capture time is left out when either is given.
        kind: ``image`` or ``video``.
    """

    person: str | None = None
    category: str | None = None
    quality: str | None = None
    path: str | None = None
    since: str | None = None
    until: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class QueueItem:
    """One face of the queue.

    Attributes:
        sighting: the face with its evidence (candidates, distance, est. FMR, quality).
        state: :func:`decision_state` of ``sighting``: hand it back as ``expected``.
        reference_id: the reference of the person the face is named as whose descriptor
            is nearest this face's (``Candidate.reference_id``), when its crop is kept
            (``Library.reference_crop_file``); None when nobody is named or no crop.
    """

    sighting: Sighting
    state: str
    reference_id: int | None

    @property
    def band(self) -> str | None:
        """The face's quality band (``good``, ``fair``, ``poor``), None when unknown."""
        quality = self.sighting.quality
        return None if quality is None else quality_band(quality)


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue; ``next_after`` is the cursor of the next (None: the last).
    ``total`` counts the faces that pass the filter, on every page."""

    items: list[QueueItem]
    next_after: str | None
    total: int = 0


def decision_state(sighting: Sighting) -> str:
    """A short text that changes whenever a decision on the face changes.

    ``<decision>:<person id or ->`` (``pending:3``, ``confirmed:3``, ``rejected:-``,
    ``unmatched:-``), then, once anyone decided on the face, ``@<decided_at>#<8 hex>`` of
    its standing review (decision, person, reviewer, time, note, manual), so a
    confirmation made again by someone else, or a new proposal after a rematch, is a
    change too. Two identical decisions by one reviewer within one second read the same.
    """
    person = person_id_of(sighting)
    head = f"{sighting.decision}:{'-' if person is None else person}"
    review = sighting.review
    if review is None:
        return head
    seen = "|".join(
        (
            review.decision,
            str(review.person_id),
            review.reviewer,
            review.decided_at,
            review.note,
            str(review.manual),
        )
    )
    digest = hashlib.sha256(seen.encode("utf-8")).hexdigest()[:8]
    return f"{head}@{review.decided_at}#{digest}"


def describe_state(sighting: Sighting) -> str:
    """The face's decision in words, for a conflict's message."""
    review = sighting.review
    if review is not None:
        return (
            f"{sighting.category} ({review.decision} {review.person} by {review.reviewer}"
            f" at {review.decided_at})"
        )
    if sighting.person is not None:
        return f"{sighting.category} ({sighting.person} proposed)"
    return sighting.category


_Key = QueueKey
"""(missing: 0/1, value, face id): the keyset of one face in one sort order."""


class ReviewQueue:
    """The review queue of one library.

    Args:
        ids: the store's page of face keys for a checked filter, a sort, a cursor and a
            limit (``Store.queue_page`` under the library's match rule).
        sightings_by_face: the faces of a page, decided under the library's settings.
        person_id: the id of a person's name (``NotFoundError`` when unknown).
    """

    def __init__(
        self,
        ids: Callable[[QueueQuery, str, _Key | None, int], QueueIds],
        sightings_by_face: Callable[[list[int]], list[Sighting]],
        person_id: Callable[[str], int],
    ) -> None:
        self._ids = ids
        self._sightings_by_face = sightings_by_face
        self._person_id = person_id

    def page(
        self,
        queue_filter: QueueFilter | None = None,
        *,
        sort: QueueSort | str = QueueSort.FMR,
        after: str | None = None,
        limit: int = 50,
    ) -> QueuePage:
        """At most ``limit`` faces that pass ``queue_filter``, in ``sort`` order, after the
        cursor ``after`` (the previous page's ``next_after``; None: the first page).

        Raises:
            InvalidInputError: an unknown sort, band, category or kind, a malformed date
                or cursor (or one of another sort), or ``limit`` outside 1..``MAX_PAGE``.
            NotFoundError: the filter names a person nobody enrolled.
        """
        try:
            order = QueueSort(sort)
        except ValueError:
            choices = ", ".join(s.value for s in QueueSort)
            raise InvalidInputError(f"sort by {choices}, not {sort!r}") from None
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInputError(f"a page holds 1 to {MAX_PAGE} faces, not {limit}")
        wanted = _checked(queue_filter or QueueFilter(), self._person_id)
        start = None if after is None else _decode_cursor(after, order)
        found = self._ids(wanted, order.value, start, limit)
        shown = found.keys[:limit]
        more = len(found.keys) > limit
        by_id = {s.face_id: s for s in self._sightings_by_face([k[2] for k in shown])}
        items = [
            QueueItem(s, decision_state(s), _reference_shown(s))
            for s in (by_id[k[2]] for k in shown if k[2] in by_id)
        ]
        return QueuePage(items, _encode_cursor(order, shown[-1]) if more else None, found.total)


def _encode_cursor(order: QueueSort, key: _Key) -> str:
    text = json.dumps([order.value, *key], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str, order: QueueSort) -> _Key:
    """The key a cursor holds; it must be one this sort wrote."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        name, missing, key, face = value
        dated = order == QueueSort.DATE
        right_type = isinstance(key, str) if dated else isinstance(key, float | int)
        if (
            name != order.value
            or missing not in (0, 1)
            or not isinstance(face, int)
            or not right_type
            or isinstance(key, bool)
            or isinstance(face, bool)
        ):
            raise ValueError(cursor)
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise InvalidInputError(
            f"not a cursor of the review queue sorted by {order.value}: {cursor[:40]!r}"
        ) from None
    return (int(missing), key if dated else float(key), face)


def _reference_shown(sighting: Sighting) -> int | None:
    named = sighting.named
    if named is None or not named.reference_crop or not Path(named.reference_crop).is_file():
        return None
    return int(named.reference_id)


def _checked(f: QueueFilter, person_id: Callable[[str], int]) -> QueueQuery:
    """The filter checked, as the store reads it."""
    if f.category is not None and f.category not in DECISION_CATEGORIES:
        raise InvalidInputError(
            f"no decision category {f.category!r}: one of {', '.join(DECISION_CATEGORIES)}"
        )
    if f.quality is not None and f.quality not in QUALITY_BANDS:
        raise InvalidInputError(f"no quality band {f.quality!r}: one of {', '.join(QUALITY_BANDS)}")
    if f.kind is not None and f.kind not in MEDIA_KINDS:
        raise InvalidInputError(f"media kind is image or video, not {f.kind!r}")
    return QueueQuery(
        category=f.category,
        person_id=None if f.person is None else person_id(f.person),
        band=f.quality,
        path=None if not f.path else f.path.casefold(),
        since=_iso(f.since, "since"),
        until=_iso(f.until, "until"),
        kind=f.kind,
    )


def _iso(value: str | None, name: str) -> str | None:
    """An ISO date or date-time as given (captured_at is stored so and sorts as text)."""
    if not value:
        return None
    try:
        if len(value) == 10:
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(
            f"{name}: not an ISO date (YYYY-MM-DD) or date-time: {value!r}"
        ) from None
    return value
