"""Server time of the review queue, a person's sightings and the unknowns list on a big
library (``bench/make_million.py`` builds one): the library calls the pages make.

For each case the call is repeated ``--repeats`` times (after one warm-up) and p50/p95
printed, in milliseconds, with the page's total: the pending queue's first page in each
sort (as pages read it between writes, and as the first page after a write, when what
pages of a filter share is worked out again: ``store.queue.QueueMemo``), a page 20
pages deep (its cursor found first), the categories and a few filters
(quality band, media kind, capture dates, a path piece), the person pages (each decision
category of the people with the most and the fewest proposed faces, by date, as the person
page asks), the unknowns list (first and a later page, refresh off as the workspace reads
it) and the faces of the largest unknown person, and the people list (``Library.people``:
the home page, ``/api/v1/people``, ``facesight people``; ``Library.people_overview``: the
People page), between writes and as the first call after a write; and each of those
pages "after a page view": a view record of the faces of the page before
(``Library.record_view``, the audit record every page a user opens writes) then the
page, both timed, as a served library answers one page after another (the view record
leaves what pages share in place: ``store.changes``). One library call, in process: what
the web adds (serialising, the crops' URLs) is in ``bench/page_timing.py``'s figures.

The library is opened writable (the view records are written to its audit log; an older
library is migrated on the first run).

Usage: python bench/queue_at_scale.py LIBRARY [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from facesight.library.facade import Library
from facesight.library.review_queue import QueueFilter, QueueSort
from facesight.library.unknowns import UnknownPeople
from facesight.records import DECISION_CATEGORIES


def _time(name: str, call: Callable[[], Any], repeats: int, total: Callable[[Any], Any]) -> None:
    found = call()  # warm-up (and the figure shown)
    spent = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        spent.append((time.perf_counter() - start) * 1000)
    spent.sort()
    p95 = spent[min(len(spent) - 1, round(0.95 * (len(spent) - 1)))]
    print(f"| {name} | {statistics.median(spent):.1f} | {p95:.1f} | {total(found)} |", flush=True)


def _deep(lib: Library, f: QueueFilter, sort: QueueSort, pages: int) -> str | None:
    after = None
    for _ in range(pages):
        after = lib.review_queue(f, sort=sort, after=after, limit=50).next_after
        if after is None:
            break
    return after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library", type=Path)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    n = args.repeats
    with Library(args.library) as lib:
        faces = lib.store.query("SELECT COUNT(*) AS n FROM faces")[0]["n"]
        print(f"{faces:,} stored faces; {n} calls per line after a warm-up\n")
        print("| library call | p50 ms | p95 ms | total |")
        print("| --- | ---: | ---: | ---: |")

        def page(f: QueueFilter, sort: QueueSort = QueueSort.FMR, after: str | None = None):  # type: ignore[no-untyped-def]
            return lambda: lib.review_queue(f, sort=sort, after=after, limit=50)

        def total(p: Any) -> str:
            return f"{p.total:,}"

        for sort in QueueSort:
            _time(f"pending, by {sort.value}", page(QueueFilter(), sort), n, total)
        for sort in QueueSort:

            def fresh(sort: QueueSort = sort) -> Any:
                lib.store.queue_memo.clear()  # as after a write: touched faces and count again
                return lib.review_queue(QueueFilter(), sort=sort, limit=50)

            _time(f"pending, by {sort.value}, first page after a write", fresh, n, total)
            _time(
                f"pending, by {sort.value}, after a page view",
                _viewed(lib, page(QueueFilter(), sort)),
                n,
                total,
            )
        for category in ("confirmed", "manual identification", "rejected"):

            def fresh_category(category: str = category) -> Any:
                lib.store.queue_memo.clear()
                return lib.review_queue(QueueFilter(category=category), limit=50)

            _time(f"category {category}, by fmr, after a write", fresh_category, n, total)
            _time(
                f"category {category}, by fmr, after a page view",
                _viewed(lib, page(QueueFilter(category=category))),
                n,
                total,
            )
        for sort in QueueSort:
            deep = _deep(lib, QueueFilter(), sort, 20)
            _time(f"pending, by {sort.value}, page 21", page(QueueFilter(), sort, deep), n, total)
        for category in DECISION_CATEGORIES:
            _time(f"category {category}, by fmr", page(QueueFilter(category=category)), n, total)
        deep = _deep(lib, QueueFilter(category="unmatched"), QueueSort.DATE, 20)
        _time(
            "category unmatched, by date, page 21",
            page(QueueFilter(category="unmatched"), QueueSort.DATE, deep),
            n,
            total,
        )
        filters = {
            "quality good": QueueFilter(quality="good"),
            "quality poor, unmatched": QueueFilter(quality="poor", category="unmatched"),
            "videos": QueueFilter(kind="video"),
            "captured 2010-2012": QueueFilter(since="2010-01-01", until="2012-12-31"),
            "path /photos/2015/": QueueFilter(path="/photos/2015/"),
        }
        for name, f in filters.items():
            for sort in QueueSort:
                _time(f"pending, {name}, by {sort.value}", page(f, sort), n, total)
        proposed = lib.store.query(
            "SELECT p.name, COUNT(*) AS n FROM candidates c JOIN people p ON p.id = c.person_id"
            " WHERE c.rank = 1 AND c.is_match = 1 GROUP BY p.name ORDER BY n DESC, p.name"
        )
        for row in (proposed[0], proposed[-1]):
            for category in (None, *DECISION_CATEGORIES):
                f = QueueFilter(person=row["name"], category=category)
                _time(
                    f"person ({row['n']:,} proposed), {category or 'pending'}, by date",
                    page(f, QueueSort.DATE),
                    n,
                    total,
                )
        unknowns = UnknownPeople(lib)
        first = unknowns.clusters(limit=24, refresh=False)
        count = lib.store.query("SELECT COUNT(DISTINCT cluster_id) AS n FROM unknown_members")
        clusters = f"{count[0]['n']:,} clusters"
        _time(
            "unknowns, first 24",
            lambda: unknowns.clusters(limit=24, refresh=False),
            n,
            lambda _: clusters,
        )

        def fresh_unknowns() -> Any:
            lib.store.queue_memo.clear()  # as after a write: every cluster's size again
            return unknowns.clusters(limit=24, refresh=False)

        _time("unknowns, first 24, after a write", fresh_unknowns, n, lambda _: clusters)
        _time(
            "unknowns, first 24, after a page view",
            _viewed(lib, lambda: unknowns.clusters(limit=24, refresh=False)),
            n,
            lambda _: clusters,
        )
        later = unknowns.clusters_after(first[-1].id, limit=24 * 10)[-1].id
        _time(
            "unknowns, 24 after 264",
            lambda: unknowns.clusters_after(later, limit=24),
            n,
            lambda _: clusters,
        )
        _time(
            "unknowns, min 3 media, first 24",
            lambda: unknowns.clusters(min_media=3, limit=24, refresh=False),
            n,
            lambda _: clusters,
        )
        biggest = first[0]
        _time(
            f"faces of the largest unknown person ({biggest.faces:,}), first 50",
            lambda: unknowns.faces_after(biggest.id, None, limit=50),
            n,
            lambda _: f"{biggest.faces:,}",
        )
        _people(lib, n)


def _people(lib: Library, n: int) -> None:
    """The people list and the People page's counts, between writes and after one."""

    def counted(people: list[Any]) -> str:
        seen = sum(getattr(p, "person", p).sightings for p in people)
        return f"{len(people)} people, {seen:,} sightings"

    def fresh_people() -> Any:
        lib.store.queue_memo.clear()  # as after a write: every person's counts again
        return lib.people()

    def fresh_overview() -> Any:
        lib.store.queue_memo.clear()
        return lib.people_overview()

    _time("people (Library.people)", lib.people, n, counted)
    _time("people, first call after a write", fresh_people, n, counted)
    _time("people, after a page view", _viewed(lib, lib.people), n, counted)
    _time("people overview (Library.people_overview)", lib.people_overview, n, counted)
    _time("people overview, first call after a write", fresh_overview, n, counted)
    _time("people overview, after a page view", _viewed(lib, lib.people_overview), n, counted)


def _viewed(lib: Library, call: Callable[[], Any]) -> Callable[[], Any]:
    """``call`` after the audit record of a page of faces shown (what each page a user
    opens writes), the record's time included."""
    shown = [int(r["id"]) for r in lib.store.query("SELECT id FROM faces ORDER BY id LIMIT 50")]

    def view_then_call() -> Any:
        lib.record_view(shown, "review queue page")
        return call()

    return view_then_call


if __name__ == "__main__":
    main()
