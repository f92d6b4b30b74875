"""The review queue in SQL: which stored faces pass a filter, in a sort order, after a
keyset cursor, and how many pass: the face ids of one page and the total.

A face's decision category (``records.Sighting.category``) comes from its ranked
candidates, the standing reviews (the latest decision per face and person), the match
rule and its imported tags. Most faces have neither a review nor an imported tag nor are
a reference photo ("plain" faces): their category is the rank-1 candidate's alone
(``machine match`` when it passes the rule and is not too poor to be named, else
``unmatched``), so their pages walk an index in the sort order and stop after a page:

* ``fmr``: ``candidates_by_rank_fmr`` (rank, fmr, face_id);
* ``quality``: ``faces_by_quality`` (quality DESC, id);
* ``date``: ``media_by_capture`` (captured_at, id), then the media's faces.

The other ("touched") faces are decided in one set-based query (window functions over
their reviews, candidates and tags, as ``store.reviews.apply_reviews`` and
``library.matching.apply_imported`` decide them) and merged in key order; there are as
many as reviewers decided, tags were imported and reference photos were scanned, not a
million. The total is the plain count (one count of the plain faces passing the filter,
minus the touched ones among them) plus the touched count.

The sort key of a face is that of the person it is named as (``Sighting.named``): a face
confirmed as, or tagged with, someone outside its stored candidates (top 3) has no stored
est. FMR; it is measured when the page is read (``NamedFmr``), as the page shows it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from facesight.records import IMPORTED_CATEGORY
from facesight.store.rows import MatchRule, query
from facesight.store.sightings import REFERENCE_OF_FACE

__all__ = ["QUEUE_INDEXES", "NamedFmr", "QueueIds", "QueueKey", "QueueQuery", "QueueReader"]

QueueKey = tuple[int, Any, int]
"""(missing: 0/1, value, face id): a face's key in one sort order (quality negated)."""

NamedFmr = Callable[[int, int], float | None]
"""The est. FMR of a stored face (id) to a person (id) outside its stored candidates,
measured when asked (``MatchService.candidate_for``); None or NaN: not known."""

QUEUE_INDEXES = """
CREATE INDEX candidates_by_rank_fmr
    ON candidates(rank, fmr, face_id, insufficient_quality, person_id);
CREATE INDEX faces_by_quality ON faces(quality DESC, id);
CREATE INDEX faces_by_media_and_id ON faces(media_id, id);
CREATE INDEX media_by_capture ON media(captured_at, id);
CREATE INDEX reference_faces_by_source ON reference_faces(source_sha256);
CREATE INDEX imported_tags_by_face ON imported_tags(face_id, id)
"""
"""Migration 15: an index per sort of the review queue, and the lookups that tell a plain
face from a touched one (portable SQL)."""

_BANDS = {"good": (0.7, None), "fair": (0.3, 0.7), "poor": (None, 0.3)}
"""``quality.quality_band``'s cut points as ranges: lower bound included, upper excluded."""

_PATH = "(SELECT path FROM media_paths mp WHERE mp.media_id = m.id ORDER BY mp.rowid DESC LIMIT 1)"

_REFERENCE_MEDIA = "SELECT source_sha256 FROM reference_faces"

_TOUCHED = (
    "SELECT face_id FROM reviews UNION SELECT face_id FROM imported_tags"
    " UNION SELECT f2.id FROM faces f2 JOIN media m2 ON m2.id = f2.media_id"
    f" WHERE m2.sha256 IN ({_REFERENCE_MEDIA})"
)

_STANDING = (
    "SELECT face_id, person_id, decision, manual, id FROM (SELECT r.face_id, r.person_id,"
    " r.decision, r.manual, r.id, ROW_NUMBER() OVER (PARTITION BY r.face_id, r.person_id"
    " ORDER BY r.id DESC) AS n FROM reviews r) latest WHERE n = 1"
)
"""The standing decision of each (face, person): the latest."""

_REJECTED = (
    "EXISTS (SELECT 1 FROM standing s WHERE s.face_id = {t}.face_id"
    " AND s.person_id = {t}.person_id AND s.decision = 'rejected')"
)


@dataclass(frozen=True)
class QueueQuery:
    """A checked queue filter: ``category`` None is every pending face (``machine match``
    and ``imported (unverified)``); ``path`` is casefolded; ``until`` compares as many
    characters as it has."""

    category: str | None = None
    person_id: int | None = None
    band: str | None = None
    path: str | None = None
    since: str | None = None
    until: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class QueueIds:
    """The keys of at most ``limit + 1`` faces after the cursor (one more than a page:
    whether another follows), and how many faces pass the filter."""

    keys: list[QueueKey]
    total: int


class QueueReader:
    """Reads review-queue pages from one library connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def page(
        self,
        rule: MatchRule,
        q: QueueQuery,
        sort: str,
        after: QueueKey | None,
        limit: int,
        named_fmr_of: NamedFmr,
    ) -> QueueIds:
        """The keys of the first ``limit + 1`` faces passing ``q`` after ``after`` in
        ``sort`` order (``fmr``, ``quality`` or ``date``), and the total; ``named_fmr_of``
        measures a face against a person none of its stored candidates is."""
        touched = self._touched(rule, q, sort, named_fmr_of)
        shown = sorted(k for k in touched if after is None or k > after)[: limit + 1]
        plain = self._plain_page(rule, q, sort, after, limit + 1)
        keys = sorted([*shown, *plain])[: limit + 1]
        return QueueIds(keys, len(touched) + self._plain_count(rule, q))

    # -- the faces no review, tag or reference touches ---------------------------------

    def _plain(self, rule: MatchRule, q: QueueQuery, touched: str) -> tuple[str, list[Any]] | None:
        """FROM and WHERE of the plain faces passing ``q`` (None: no plain face can);
        ``touched`` is ``NOT`` (the plain faces) or "" (the touched faces counted as plain)."""
        passes = f"c.{rule.column} <= ? AND c.insufficient_quality = 0"
        params: list[Any] = []
        if q.category in (None, "machine match"):
            sql = (
                " FROM candidates c JOIN faces f ON f.id = c.face_id"
                f" JOIN media m ON m.id = f.media_id WHERE c.rank = 1 AND {passes}"
            )
            params.append(rule.limit)
            if q.person_id is not None:
                sql += " AND c.person_id = ?"
                params.append(q.person_id)
        elif q.category == "unmatched" and q.person_id is None:
            sql = (
                " FROM faces f JOIN media m ON m.id = f.media_id"
                " LEFT JOIN candidates c ON c.face_id = f.id AND c.rank = 1"
                f" WHERE NOT (c.face_id IS NOT NULL AND {passes})"
            )
            params.append(rule.limit)
        else:
            return None
        if touched == "NOT":
            sql += (
                " AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.face_id = f.id)"
                " AND NOT EXISTS (SELECT 1 FROM imported_tags t WHERE t.face_id = f.id)"
                f" AND m.sha256 NOT IN ({_REFERENCE_MEDIA})"
            )
        elif touched:
            sql += f" AND f.id IN ({_TOUCHED})"
        where, more = _media_filters(q)
        return sql + "".join(f" AND {w}" for w in where), params + more

    def _plain_count(self, rule: MatchRule, q: QueueQuery) -> int:
        every = self._plain(rule, q, "")
        if every is None:
            return 0
        touched = self._plain(rule, q, "IN")
        assert touched is not None
        counted = self._conn.execute(
            f"SELECT (SELECT COUNT(*){every[0]}) - (SELECT COUNT(*){touched[0]})",
            [*every[1], *touched[1]],
        ).fetchone()
        return int(counted[0])

    def _plain_page(
        self, rule: MatchRule, q: QueueQuery, sort: str, after: QueueKey | None, limit: int
    ) -> list[QueueKey]:
        base = self._plain(rule, q, "NOT")
        if base is None:
            return []
        sql, params = base
        pending = q.category in (None, "machine match")
        if sort == "fmr":
            value, face = ("c.fmr", "c.face_id") if pending else ("NULL", "f.id")
        elif sort == "quality":
            value, face = "f.quality", "f.id"
        else:
            value, face = "m.captured_at", "f.id"
        found: list[QueueKey] = []
        descending = sort == "quality"
        if value != "NULL" and (after is None or after[0] == 0):
            keyset, more = "", []
            if after is not None:
                cut = -after[1] if descending else after[1]
                op = "<" if descending else ">"
                keyset = f" AND {value} {op}= ? AND ({value} {op} ? OR {face} > ?)"
                more = [cut, cut, after[2]]
            order = f"{value} DESC" if descending else value
            rows = self._conn.execute(
                f"SELECT {face}, {value}{sql} AND {value} IS NOT NULL{keyset}"
                f" ORDER BY {order}, {face} LIMIT ?",
                [*params, *more, limit],
            ).fetchall()
            found = [(0, -v if descending else v, int(i)) for i, v in rows]
        if len(found) < limit:
            keyset, more = "", []
            if after is not None and after[0] == 1:
                keyset, more = f" AND {face} > ?", [after[2]]
            null = "" if value == "NULL" else f" AND {value} IS NULL"
            rows = self._conn.execute(
                f"SELECT {face}{sql}{null}{keyset} ORDER BY {face} LIMIT ?",
                [*params, *more, limit - len(found)],
            ).fetchall()
            found += [(1, "" if sort == "date" else 0.0, int(r[0])) for r in rows]
        return found

    # -- the faces a review, a tag or a reference touches ----------------------------

    def _touched(
        self, rule: MatchRule, q: QueueQuery, sort: str, named_fmr_of: NamedFmr
    ) -> list[QueueKey]:
        """The key of every touched face that passes ``q``."""
        passes = f"c.{rule.column} <= ? AND c.insufficient_quality = 0"
        named_fmr = (
            "(SELECT c.fmr FROM candidates c WHERE c.face_id = s.face_id"
            " AND c.person_id = {} ORDER BY c.rank LIMIT 1)"
        )
        sql = f"""
WITH touched(face_id) AS ({_TOUCHED}),
standing AS ({_STANDING}),
confirmed AS (
  SELECT face_id, person_id, manual FROM (
    SELECT face_id, person_id, manual,
      ROW_NUMBER() OVER (PARTITION BY face_id ORDER BY id DESC) AS n
    FROM standing WHERE decision = 'confirmed') c1 WHERE n = 1),
kept AS (
  SELECT face_id, person_id, fmr, hit FROM (
    SELECT c.face_id, c.person_id, c.fmr,
      CASE WHEN {passes} THEN 1 ELSE 0 END AS hit,
      ROW_NUMBER() OVER (PARTITION BY c.face_id ORDER BY c.rank) AS n
    FROM candidates c WHERE c.face_id IN (SELECT face_id FROM touched)
      AND NOT {_REJECTED.format(t="c")}) k1 WHERE n = 1),
tag AS (
  SELECT face_id, person_id FROM (
    SELECT t.face_id, t.person_id,
      ROW_NUMBER() OVER (PARTITION BY t.face_id ORDER BY t.id) AS n
    FROM imported_tags t WHERE NOT {_REJECTED.format(t="t")}) t1 WHERE n = 1),
state AS (
  SELECT f.id AS face_id, f.quality, m.captured_at, m.kind, m.id AS media_id,
    (SELECT rf.person_id FROM reference_faces rf WHERE rf.id = ({REFERENCE_OF_FACE}))
      AS ref_person,
    cf.person_id AS conf_person, cf.manual,
    CASE WHEN k.hit = 1 THEN k.person_id END AS match_person,
    CASE WHEN k.hit = 1 THEN k.fmr END AS match_fmr,
    tg.person_id AS tag_person,
    CASE WHEN EXISTS (SELECT 1 FROM reviews r WHERE r.face_id = f.id) THEN 1 ELSE 0 END
      AS reviewed
  FROM touched t JOIN faces f ON f.id = t.face_id JOIN media m ON m.id = f.media_id
  LEFT JOIN confirmed cf ON cf.face_id = f.id
  LEFT JOIN kept k ON k.face_id = f.id
  LEFT JOIN tag tg ON tg.face_id = f.id)
SELECT s.face_id, s.quality, s.captured_at, s.kind, s.media_id,
  CASE WHEN s.ref_person IS NOT NULL THEN 'reference'
    WHEN s.conf_person IS NOT NULL THEN
      CASE WHEN s.manual = 1 THEN 'manual identification' ELSE 'confirmed' END
    WHEN s.tag_person IS NOT NULL
      AND (s.match_person IS NULL OR s.match_person = s.tag_person) THEN ?
    WHEN s.match_person IS NOT NULL THEN 'machine match'
    WHEN s.reviewed = 1 THEN 'rejected' ELSE 'unmatched' END AS category,
  COALESCE(s.ref_person, s.conf_person, s.match_person, s.tag_person) AS person_id,
  CASE WHEN s.conf_person IS NOT NULL THEN {named_fmr.format("s.conf_person")}
    WHEN s.match_person IS NULL AND s.tag_person IS NOT NULL
      THEN {named_fmr.format("s.tag_person")}
    ELSE s.match_fmr END AS fmr,
  CASE WHEN s.conf_person IS NOT NULL THEN s.conf_person
    WHEN s.match_person IS NULL THEN s.tag_person END AS named_person,
  CASE WHEN EXISTS (SELECT 1 FROM candidates c WHERE c.face_id = s.face_id
    AND c.person_id = COALESCE(s.conf_person, s.tag_person)) THEN 1 ELSE 0 END AS stored
FROM state s JOIN media m ON m.id = s.media_id
"""
        where, params = _media_filters(q, quality="s.quality")
        rows = query(
            self._conn,
            sql + (" WHERE " + " AND ".join(where) if where else ""),
            [rule.limit, IMPORTED_CATEGORY, *params],
        )
        keys: list[QueueKey] = []
        wanted = {"machine match", IMPORTED_CATEGORY} if q.category is None else {q.category}
        for r in rows:
            if r["category"] not in wanted:
                continue
            if q.person_id is not None and r["person_id"] != q.person_id:
                continue
            value = r[{"fmr": "fmr", "quality": "quality", "date": "captured_at"}[sort]]
            if sort == "fmr" and r["named_person"] is not None and not r["stored"]:
                value = named_fmr_of(int(r["face_id"]), int(r["named_person"]))
            if value is None or value != value:
                keys.append((1, "" if sort == "date" else 0.0, int(r["face_id"])))
            else:
                keys.append((0, -float(value) if sort == "quality" else value, int(r["face_id"])))
        return keys


def _media_filters(q: QueueQuery, quality: str = "f.quality") -> tuple[list[str], list[Any]]:
    """WHERE terms on the face's quality and its media (``m``): band, path, dates, kind."""
    where: list[str] = []
    params: list[Any] = []
    if q.band is not None:
        low, high = _BANDS[q.band]
        if low is not None:
            where.append(f"{quality} >= ?")
            params.append(low)
        if high is not None:
            where.append(f"{quality} < ?")
            params.append(high)
        where.append(f"{quality} IS NOT NULL")
    if q.path:
        escaped = q.path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(f"lower({_PATH}) LIKE ? ESCAPE '\\'")
        params.append(f"%{escaped}%")
    if q.since is not None:
        where.append("m.captured_at >= ?")
        params.append(q.since)
    if q.until is not None:
        where.append("substr(m.captured_at, 1, ?) <= ?")
        params.extend([len(q.until), q.until])
    if q.since is not None or q.until is not None:
        where.append("m.captured_at IS NOT NULL")
    if q.kind is not None:
        where.append("m.kind = ?")
        params.append(q.kind)
    return where, params
