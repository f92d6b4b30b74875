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
from facesight.store.changes import change_mark
from facesight.store.rows import MatchRule, query
from facesight.store.sightings import REFERENCE_OF_FACE

__all__ = [
    "QUEUE_INDEXES",
    "NamedFmr",
    "QueueIds",
    "QueueKey",
    "QueueMemo",
    "QueueQuery",
    "QueueReader",
    "change_mark",
]

QueueKey = tuple[int, Any, int]
"""(missing: 0/1, value, face id): a face's key in one sort order (quality negated)."""

NamedFmr = Callable[[list[tuple[int, int]]], dict[tuple[int, int], float]]
"""The est. FMR of stored faces to people outside their stored candidates, (face id,
person id) pairs measured in one match when asked (``MatchService.fmrs_to``); a pair
left out, or NaN: not known."""

QUEUE_INDEXES = """
CREATE INDEX candidates_by_rank_fmr
    ON candidates(rank, fmr, face_id, insufficient_quality, person_id);
CREATE INDEX faces_by_quality ON faces(quality DESC, id);
CREATE INDEX faces_by_media_and_id ON faces(media_id, id);
CREATE INDEX media_by_capture ON media(captured_at, id);
CREATE INDEX reference_faces_by_source ON reference_faces(source_sha256);
CREATE INDEX imported_tags_by_face ON imported_tags(face_id, id);
CREATE INDEX reviews_by_decision ON reviews(decision, face_id);
CREATE INDEX candidates_by_person_fmr ON candidates(person_id, fmr, face_id)
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

_REJECTED = (
    "COALESCE((SELECT r.decision FROM reviews r WHERE r.face_id = {t}.face_id"
    " AND r.person_id = {t}.person_id ORDER BY r.id DESC LIMIT 1), '') = 'rejected'"
)
"""The standing decision of (face, person) is a rejection (an index probe per row)."""


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


class QueueMemo:
    """What pages of one filter share, kept until the library changes: each touched
    face's key and the plain faces' count (the costly part of a page, the same on every
    page of a filter). ``mark`` tells a change: ``store.changes.change_mark``, which moves
    on every write the queue reads (by any connection) and on nothing else, so a page's
    own view record, a session touch or a job heartbeat keep it; None (PostgreSQL, or
    inside a transaction): nothing is kept."""

    def __init__(self) -> None:
        self._mark: Any = None
        self._kept: dict[tuple[Any, ...], Any] = {}
        self.made = 0
        """How many answers were worked out (not found kept): what tests count."""

    def get(self, mark: Any, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        if mark is None:
            return make()
        if mark != self._mark:
            self._mark, self._kept = mark, {}
        if key not in self._kept:
            if len(self._kept) >= _MEMO_ENTRIES:
                self._kept.clear()
            self._kept[key] = make()
            self.made += 1
        return self._kept[key]

    def clear(self) -> None:
        """Forget everything kept (a bench times a page as after a change)."""
        self._mark, self._kept = None, {}


_MEMO_ENTRIES = 256
"""Filters kept at most (each a few kB: its touched faces' keys and a count)."""


class QueueReader:
    """Reads review-queue pages from one library connection (``memo``: the store's)."""

    def __init__(self, conn: sqlite3.Connection, memo: QueueMemo | None = None) -> None:
        self._conn = conn
        self._memo = memo or QueueMemo()

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
        mark = change_mark(self._conn)
        touched: list[QueueKey] = self._memo.get(
            mark,
            ("touched", rule, q, sort),
            lambda: sorted(self._touched(rule, q, sort, named_fmr_of)),
        )
        counted: int = self._memo.get(mark, ("count", rule, q), lambda: self._plain_count(rule, q))
        shown = [k for k in touched if after is None or k > after][: limit + 1]
        plain = self._plain_page(rule, q, sort, after, limit + 1)
        keys = sorted([*shown, *plain])[: limit + 1]
        return QueueIds(keys, len(touched) + counted)

    def people_counts(self, rule: MatchRule) -> dict[int, dict[str, int]]:
        """Each person's stored faces by decision category (``records.Sighting.category``;
        the person is the one ``records.person_id_of`` names; a category with none left
        out, rejected and unmatched faces name nobody), as the queue's totals count
        them: the plain faces' machine matches in one GROUP BY over the passing rank-1
        candidates, the touched faces decided in one query (``_decided``, without their
        media) and grouped. Kept until the library changes, as the queue's totals are."""
        kept: dict[int, dict[str, int]] = self._memo.get(
            change_mark(self._conn), ("people", rule), lambda: self._people_counts(rule)
        )
        return {person_id: dict(counts) for person_id, counts in kept.items()}

    def _people_counts(self, rule: MatchRule) -> dict[int, dict[str, int]]:
        counts: dict[int, dict[str, int]] = {}

        def add(person_id: Any, category: str, n: int) -> None:
            per = counts.setdefault(int(person_id), {})
            per[category] = per.get(category, 0) + n

        # the plain faces: their rank-1 candidate's person's when it passes (the unary
        # plus keeps SQLite on the (rank, fmr) index range, grouping after it)
        body, params = _passing(rule, QueueQuery(), "")
        plain = f"SELECT +c.person_id, COUNT(*){body} AND c.face_id NOT IN ({_TOUCHED})"
        grouped = self._conn.execute(f"{plain} GROUP BY +c.person_id", params).fetchall()
        for person_id, n in grouped:
            add(person_id, "machine match", int(n))
        decided = (
            _decided(rule, _TOUCHED, True, media=False)
            + f"SELECT person_id, category, COUNT(*) FROM (SELECT {_PERSON} AS person_id,"
            f" {_CATEGORY} AS category FROM state s) d WHERE person_id IS NOT NULL"
            " GROUP BY person_id, category"
        )
        arguments = [rule.limit, rule.limit, IMPORTED_CATEGORY]
        for person_id, category, n in self._conn.execute(decided, arguments).fetchall():
            add(person_id, str(category), int(n))
        return counts

    # -- the faces no review, tag or reference touches ---------------------------------

    def _plain_count(self, rule: MatchRule, q: QueueQuery) -> int:
        """Plain faces passing ``q``: counted over every face, less the touched ones (the
        few), so no face is probed for being touched; a category's count is an index
        range (pending: ``candidates_by_rank_fmr``) or the faces less the pending."""
        if q.category in (None, "machine match"):
            terms = [(1, _passing(rule, q, "")), (-1, _passing(rule, q, "IN"))]
        elif q.category == "unmatched" and q.person_id is None:
            terms = [
                (1, _every(q, "")),
                (-1, _passing(rule, q, "")),
                (-1, _every(q, "IN")),
                (1, _passing(rule, q, "IN")),
            ]
        else:
            return 0
        sql = " + ".join(f"({sign}) * (SELECT COUNT(*){body})" for sign, (body, _) in terms)
        params = [p for _, (_, more) in terms for p in more]
        return int(self._conn.execute(f"SELECT {sql}", params).fetchone()[0])

    def _plain_page(
        self, rule: MatchRule, q: QueueQuery, sort: str, after: QueueKey | None, limit: int
    ) -> list[QueueKey]:
        pending = q.category in (None, "machine match")
        if not pending and not (q.category == "unmatched" and q.person_id is None):
            return []
        value = {"fmr": "c.fmr", "quality": "f.quality", "date": "m.captured_at"}[sort]
        if not pending and sort == "fmr":
            value = "NULL"  # nobody is named: every unmatched face lacks a figure
        face = "c.face_id" if pending and sort == "fmr" else "f.id"
        sql, params = _walk(rule, q, sort, pending)
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
        named_fmr = (
            "(SELECT c.fmr FROM candidates c WHERE c.face_id = s.face_id"
            " AND c.person_id = {} ORDER BY c.rank LIMIT 1)"
        )
        chosen, chosen_params = _touched_superset(rule, q)
        # a confirmed face's category and figure need neither its kept candidate nor its
        # tag (its person's are used)
        sql = _decided(rule, chosen, q.category not in ("confirmed", "manual identification"))
        sql += f"""
SELECT s.face_id, s.quality, s.captured_at, s.kind, s.media_id,
  {_CATEGORY} AS category, {_PERSON} AS person_id,
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
            [*chosen_params, rule.limit, rule.limit, IMPORTED_CATEGORY, *params],
        )
        wanted = {"machine match", IMPORTED_CATEGORY} if q.category is None else {q.category}
        rows = [
            r
            for r in rows
            if r["category"] in wanted and (q.person_id is None or r["person_id"] == q.person_id)
        ]
        measure = [
            (int(r["face_id"]), int(r["named_person"]))
            for r in rows
            if sort == "fmr" and r["named_person"] is not None and not r["stored"]
        ]
        measured = named_fmr_of(measure) if measure else {}
        keys: list[QueueKey] = []
        for r in rows:
            value = r[{"fmr": "fmr", "quality": "quality", "date": "captured_at"}[sort]]
            if sort == "fmr" and r["named_person"] is not None and not r["stored"]:
                value = measured.get((int(r["face_id"]), int(r["named_person"])))
            if value is None or value != value:
                keys.append((1, "" if sort == "date" else 0.0, int(r["face_id"])))
            else:
                keys.append((0, -float(value) if sort == "quality" else value, int(r["face_id"])))
        return keys


def _decided(rule: MatchRule, chosen: str, kept_and_tag: bool, *, media: bool = True) -> str:
    """``WITH ... state``: each face ``chosen`` selects with what decides it (as
    ``store.reviews.apply_reviews`` and ``library.matching.apply_imported`` decide it):
    the person of the reference photo it is, the standing confirmation, and unless it
    is confirmed, the kept candidate passing ``rule`` and the standing imported tag
    (``kept_and_tag`` False: neither is read); ``media``: with the face's quality and
    media (a row each to read: a count of categories needs neither). Its parameters:
    ``chosen``'s, then ``rule.limit`` twice."""
    passes_k = f"k.{rule.column} <= ? AND k.insufficient_quality = 0"
    kept = tag = "CAST(NULL AS INTEGER)"
    if kept_and_tag:
        kept = (
            "CASE WHEN t.conf_id IS NULL THEN (SELECT c.rank FROM candidates c"
            f" WHERE c.face_id = t.face_id AND NOT {_REJECTED.format(t='c')}"
            " ORDER BY c.rank LIMIT 1) END"
        )
        tag = (
            "CASE WHEN t.conf_id IS NULL THEN (SELECT g.id FROM imported_tags g"
            f" WHERE g.face_id = t.face_id AND NOT {_REJECTED.format(t='g')}"
            " ORDER BY g.id LIMIT 1) END"
        )
    columns = "f.quality, m.captured_at, m.kind, m.id AS media_id," if media else ""
    joined = " JOIN faces f ON f.id = p.face_id JOIN media m ON m.id = f.media_id" if media else ""
    return f"""
WITH touched(face_id) AS MATERIALIZED ({chosen}),
confirming AS MATERIALIZED (
  SELECT t.face_id,
    (SELECT r.id FROM reviews r WHERE r.face_id = t.face_id AND r.decision = 'confirmed'
      AND NOT EXISTS (SELECT 1 FROM reviews r2 WHERE r2.face_id = r.face_id
        AND r2.person_id = r.person_id AND r2.id > r.id)
      ORDER BY r.id DESC LIMIT 1) AS conf_id
  FROM touched t),
picked AS MATERIALIZED (
  SELECT t.face_id, t.conf_id, {kept} AS kept_rank, {tag} AS tag_id FROM confirming t),
state AS (
  SELECT p.face_id, {columns}
    CASE WHEN p.face_id IN ({_REFERENCE_FACES}) THEN (SELECT (SELECT rf.person_id
      FROM reference_faces rf WHERE rf.id = ({REFERENCE_OF_FACE}))
      FROM faces f JOIN media m ON m.id = f.media_id WHERE f.id = p.face_id) END
      AS ref_person,
    cr.person_id AS conf_person, cr.manual,
    CASE WHEN {passes_k} THEN k.person_id END AS match_person,
    CASE WHEN {passes_k} THEN k.fmr END AS match_fmr,
    tg.person_id AS tag_person,
    CASE WHEN EXISTS (SELECT 1 FROM reviews r WHERE r.face_id = p.face_id) THEN 1 ELSE 0 END
      AS reviewed
  FROM picked p{joined}
  LEFT JOIN reviews cr ON cr.id = p.conf_id
  LEFT JOIN candidates k ON k.face_id = p.face_id AND k.rank = p.kept_rank
  LEFT JOIN imported_tags tg ON tg.id = p.tag_id)
"""


_CATEGORY = """CASE WHEN s.ref_person IS NOT NULL THEN 'reference'
    WHEN s.conf_person IS NOT NULL THEN
      CASE WHEN s.manual = 1 THEN 'manual identification' ELSE 'confirmed' END
    WHEN s.tag_person IS NOT NULL
      AND (s.match_person IS NULL OR s.match_person = s.tag_person) THEN ?
    WHEN s.match_person IS NOT NULL THEN 'machine match'
    WHEN s.reviewed = 1 THEN 'rejected' ELSE 'unmatched' END"""
"""A decided face's category (``records.Sighting.category``) from ``_decided``'s state;
its parameter: ``IMPORTED_CATEGORY``."""

_PERSON = "COALESCE(s.ref_person, s.conf_person, s.match_person, s.tag_person)"
"""Who a decided face is (``records.person_id_of``)."""


_REFERENCE_FACES = (
    "SELECT f2.id AS face_id FROM faces f2 JOIN media m2 ON m2.id = f2.media_id"
    f" WHERE m2.sha256 IN ({_REFERENCE_MEDIA})"
)


_PLAIN = (
    " AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.face_id = f.id)"
    " AND NOT EXISTS (SELECT 1 FROM imported_tags t WHERE t.face_id = f.id)"
    " AND f.media_id NOT IN (SELECT m2.id FROM media m2"
    f" WHERE m2.sha256 IN ({_REFERENCE_MEDIA}))"
)
"""The face is plain; the media of reference photos are few (a list, not a join: a join
of the media table makes SQLite build a filter over all of it first)."""


def _passes(rule: MatchRule) -> str:
    return f"c.{rule.column} <= ? AND c.insufficient_quality = 0"


def _joins(q: QueueQuery) -> tuple[bool, bool]:
    """Whether ``q``'s filters read the face row, and the media row."""
    media = bool(q.path) or q.since is not None or q.until is not None or q.kind is not None
    return media or q.band is not None, media


def _filtered(
    sql: str, params: list[Any], q: QueueQuery, *, joined: bool = True
) -> tuple[str, list[Any]]:
    """``sql`` with ``q``'s filters; ``joined`` False: the media (``m``) is not joined,
    its filters (after the band's, as their values) are a list of media ids."""
    where, more = _media_filters(q)
    if not joined:
        media = [w for w in where if "m." in w]
        where = [w for w in where if "m." not in w]
        if media:
            where.append(f"f.media_id IN (SELECT m.id FROM media m WHERE {' AND '.join(media)})")
    return sql + "".join(f" AND {w}" for w in where), params + more


_TOUCHED_ONCE = (
    "SELECT face_id FROM reviews GROUP BY face_id"
    " UNION ALL SELECT face_id FROM imported_tags g WHERE NOT EXISTS"
    " (SELECT 1 FROM reviews r WHERE r.face_id = g.face_id) GROUP BY face_id"
    " UNION ALL SELECT f2.id FROM faces f2 JOIN media m2 ON m2.id = f2.media_id"
    f" WHERE m2.sha256 IN ({_REFERENCE_MEDIA})"
    " AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.face_id = f2.id)"
    " AND NOT EXISTS (SELECT 1 FROM imported_tags g WHERE g.face_id = f2.id)"
)
"""The touched faces, each once, read in index order (no sort to drop repeats): what a
count of the touched faces among the plain-looking ones starts from."""


def _passing(rule: MatchRule, q: QueueQuery, touched: str) -> tuple[str, list[Any]]:
    """FROM/WHERE of the faces whose rank-1 candidate passes ``rule`` (and is ``q``'s
    person's), through ``q``'s filters; ``touched`` "IN": only the touched ones."""
    face, media = _joins(q)
    sql = f" FROM ({_TOUCHED_ONCE}) t CROSS JOIN candidates c" if touched else " FROM candidates c"
    sql += " JOIN faces f ON f.id = c.face_id" if face else ""
    sql += " JOIN media m ON m.id = f.media_id" if media else ""
    sql += f" WHERE c.rank = 1 AND {_passes(rule)}"
    sql += " AND c.face_id = t.face_id" if touched else ""
    params: list[Any] = [rule.limit]
    if q.person_id is not None:
        sql += " AND c.person_id = ?"
        params.append(q.person_id)
    return _filtered(sql, params, q)


def _every(q: QueueQuery, touched: str) -> tuple[str, list[Any]]:
    """FROM/WHERE of every face through ``q``'s filters (``touched`` as in ``_passing``)."""
    media = _joins(q)[1]
    sql = f" FROM ({_TOUCHED_ONCE}) t CROSS JOIN faces f" if touched else " FROM faces f"
    sql += " JOIN media m ON m.id = f.media_id" if media else ""
    sql += " WHERE " + ("f.id = t.face_id" if touched else "1 = 1")
    return _filtered(sql, [], q)


def _walk(rule: MatchRule, q: QueueQuery, sort: str, pending: bool) -> tuple[str, list[Any]]:
    """FROM/WHERE of the plain pending (or unmatched) faces passing ``q``, joined so that
    the sort's index leads (``CROSS JOIN`` fixes SQLite's join order): a page reads about
    as many faces as the share of them that pass, not every face that passes and a sort.
    A person's faces are few: their rank-1 candidates lead."""
    params: list[Any] = [rule.limit]
    narrow = _joins(q)[1] and sort == "quality"  # few pending faces of some media: lead
    if pending and (q.person_id is not None or sort == "fmr" or narrow):
        sql = (
            " FROM candidates c JOIN faces f ON f.id = c.face_id"
            f" JOIN media m ON m.id = f.media_id WHERE c.rank = 1 AND {_passes(rule)}"
        )
        if q.person_id is not None:
            sql += " AND c.person_id = ?"
            params.append(q.person_id)
    else:
        dated = sort == "date"
        lead = " FROM media m CROSS JOIN faces f" if dated else " FROM faces f"
        on = "m.id = f.media_id AND " if dated else ""
        if pending:
            sql = (
                f"{lead} CROSS JOIN candidates c WHERE {on}c.face_id = f.id"
                f" AND c.rank = 1 AND {_passes(rule)}"
            )
        else:
            sql = (
                f"{lead} LEFT JOIN candidates c ON c.face_id = f.id AND c.rank = 1"
                f" WHERE {on}NOT (c.face_id IS NOT NULL AND {_passes(rule)})"
            )
        return _filtered(sql + _PLAIN, params, q, joined=dated)
    return _filtered(sql + _PLAIN, params, q)


def _touched_superset(rule: MatchRule, q: QueueQuery) -> tuple[str, list[Any]]:
    """The touched faces that may pass ``q``, from what decides it cheaply (indexes on
    reviews by decision and by person, tags, a person's passing candidates): a superset,
    each then decided whole. A face whose latest review confirms someone is confirmed,
    so a pending or rejected face has a rejected review or a tag; only a face of a
    reference photo's media can be a reference, or unmatched while touched."""
    arms: list[str] = []
    params: list[Any] = []
    if q.category == "rejected":
        arms.append(
            f"SELECT face_id FROM reviews WHERE decision = 'rejected' UNION {_REFERENCE_FACES}"
        )
    elif q.category in (None, "machine match", IMPORTED_CATEGORY):
        # a rejected face is pending again only when a candidate not rejected passes
        arms.append(
            "SELECT r.face_id FROM reviews r WHERE r.decision = 'rejected' AND EXISTS"
            " (SELECT 1 FROM candidates c WHERE c.face_id = r.face_id"
            f" AND {_passes(rule)} AND NOT {_REJECTED.format(t='c')})"
            f" UNION SELECT face_id FROM imported_tags UNION {_REFERENCE_FACES}"
        )
        params.append(rule.limit)
    elif q.category in ("confirmed", "manual identification"):
        arms.append(
            f"SELECT face_id FROM reviews WHERE decision = 'confirmed' UNION {_REFERENCE_FACES}"
        )
    else:
        arms.append(_REFERENCE_FACES)
    if q.person_id is not None:
        arms.append(
            "SELECT face_id FROM reviews WHERE person_id = ?"
            " UNION SELECT face_id FROM imported_tags WHERE person_id = ?"
            f" UNION {_REFERENCE_FACES}"
            f" UNION SELECT c.face_id FROM candidates c WHERE c.person_id = ?"
            f" AND c.{rule.column} <= ? AND (EXISTS (SELECT 1 FROM reviews r"
            " WHERE r.face_id = c.face_id) OR EXISTS (SELECT 1 FROM imported_tags t"
            " WHERE t.face_id = c.face_id))"
        )
        params += [q.person_id, q.person_id, q.person_id, rule.limit]
    if len(arms) == 1:
        return arms[0], params
    return f"SELECT face_id FROM ({arms[0]}) a WHERE face_id IN ({arms[1]})", params


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
