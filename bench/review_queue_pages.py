"""What one page of the review queue costs as the library grows (``Library.review_queue``).

A library of the first ``--images`` lfw-dev portraits (in name order) plus every image of
the first ``--people`` people with four or more, those people enrolled from their first
image: most faces are unmatched strangers, a few hundred pending. Then each sort is timed
for the first page (50 faces) of the pending queue and of the ``unmatched`` category (the
population the queue reads for a category other than pending: every stored face), with
``sightings()`` alone beside them (a page was once a read of its whole population; the
queue is SQL now, ``facesight/store/queue.py``; ``bench/queue_at_scale.py`` times it on a
million faces).

Usage: python bench/review_queue_pages.py [--images N] [--people N] [--library DIR]
(``--library``: keep the library there and reuse it on the next run).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from facesight.library.facade import Library
from facesight.library.review_queue import QueueFilter, QueueSort

LFW = Path(__file__).resolve().parents[2] / "shared" / "faces" / "lfw-dev" / "people"


def _build(lib: Library, images: int, people: int) -> None:
    folders = sorted(p for p in LFW.iterdir() if p.is_dir())
    enrolled = [p for p in folders if len(list(p.iterdir())) >= 4][:people]
    for folder in enrolled:
        first = sorted(folder.iterdir())[0]
        lib.enroll(folder.name.replace("_", " "), [first], largest=True, rematch=False)
    lib.rematch()
    strangers = sorted(f for p in folders for f in p.iterdir())[:images]
    theirs = [f for p in enrolled for f in sorted(p.iterdir())[1:]]
    start = time.perf_counter()
    summary = lib.scan([*strangers, *theirs], workers=1)
    print(
        f"scanned {summary.media_scanned} images in {time.perf_counter() - start:.0f} s: "
        f"{summary.faces_found} faces, {summary.faces_matched} matched"
    )


def _page_ms(lib: Library, category: str | None, sort: QueueSort) -> tuple[int, float]:
    start = time.perf_counter()
    page = lib.review_queue(QueueFilter(category=category), sort=sort, limit=50)
    return page.total, (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1800)
    parser.add_argument("--people", type=int, default=60)
    parser.add_argument("--library", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        where = args.library or Path(scratch) / "lib"
        with Library(where, actor="bench") as lib:
            if not lib.people():
                _build(lib, args.images, args.people)
            for category, name in ((None, "pending"), ("unmatched", "unmatched")):
                for sort in QueueSort:
                    total, ms = _page_ms(lib, category, sort)
                    print(f"{name:9s} sort {sort.value:8s} {total:6d} faces {ms:7.1f} ms a page")
            start = time.perf_counter()
            count = len(lib.sightings(include_unmatched=True))
            ms = (time.perf_counter() - start) * 1000
            print(f"sightings(include_unmatched=True): {count} faces in {ms:.1f} ms")


if __name__ == "__main__":
    main()
