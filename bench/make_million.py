"""Build a library of a million stored faces (the workspace's scale benches run on it).

Two stages. First a small real library: ``--people`` lfw-dev people (of those with four
or more images) enrolled from their first image, then ``--seed-images`` lfw-dev images
scanned (the rest of those people's images and strangers): real detections, descriptors,
crops, references and candidates from the real pipeline and matcher. Then the seed faces
are multiplied to ``--faces`` rows written straight into the store's tables (executemany
in big transactions, ids given):

* media: mostly images of 1-3 faces, ``--video-share`` of them videos of 2-6 tracks
  (frame, time range, frames seen), capture dates spread over 2005-2024 (some unknown),
  paths under ``/photos/<year>/`` (no file behind them: the pages serve crops);
* faces: each a copy of one seed face (box, landmarks, quality, crop file: the seed's
  crop is reused, never copied) with its descriptor perturbed (Gaussian noise, about 0.15
  from the seed, scaled back to ``DESCRIPTOR_LENGTH``), so searches find real clusters;
* candidates: the seed face's rows as the matcher wrote them (distances, est. FMR,
  match flags), so a face is proposed exactly when its seed was;
* reviews: of the proposed faces ``--confirmed`` confirmed and ``--rejected`` rejected,
  the rest pending; ``--manual`` of the others confirmed by hand as someone;
* unknown clusters: ``--clustered`` of the unmatched faces, in clusters of one seed each.

``--matched-share`` sets how many faces copy a seed the matcher proposed (the pending
queue's share). Finally the library is opened once (migrations, the face index built:
about 90 s at 1M) and the review queue read. Each stage prints its time.

Usage: python bench/make_million.py [--faces N] [--out DIR]   (DIR must not exist)
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facesight.descriptors import DESCRIPTOR_LENGTH
from facesight.library.facade import Library
from facesight.library.review_queue import QueueFilter
from facesight.store.media import CANDIDATE_COLUMNS, FACE_COLUMNS, MEDIA_COLUMNS

LFW = Path(__file__).resolve().parents[2] / "shared" / "faces" / "lfw-dev" / "people"
REVIEWERS = ("alice", "bob", "carol", "dan")
BATCH = 50_000
_MEDIA = MEDIA_COLUMNS
_FACES = ("id", *FACE_COLUMNS)


def _q(n: int) -> str:
    return ", ".join("?" * n)


@contextmanager
def stage(name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    print(f"{name}: {time.perf_counter() - start:.1f} s", flush=True)


def build_seed(out: Path, people: int, images: int) -> None:
    """Enroll ``people`` lfw-dev people and scan ``images`` more lfw-dev images."""
    folders = sorted(p for p in LFW.iterdir() if p.is_dir())
    enrolled = [p for p in folders if len(list(p.iterdir())) >= 4][:people]
    theirs = [f for p in enrolled for f in sorted(p.iterdir())[1:4]]
    taken = set(enrolled)
    strangers = [sorted(p.iterdir())[0] for p in folders if p not in taken]
    scan = (theirs + strangers)[:images]
    with Library(out, actor="bench") as lib:
        for folder in enrolled:
            first = sorted(folder.iterdir())[0]
            lib.enroll(folder.name.replace("_", " "), [first], largest=True, rematch=False)
        summary = lib.scan(scan, workers=2)
        print(
            f"  seed: {len(enrolled)} people enrolled, {summary.media_scanned} images scanned, "
            f"{summary.faces_found} faces, {summary.faces_matched} matched"
        )


@dataclass
class Seed:
    """The real faces the million copies."""

    faces: list[tuple[object, ...]]  # FACE_COPIED columns
    vectors: np.ndarray  # (n, d) float32
    candidates: dict[int, list[tuple[object, ...]]]  # seed index -> rows without face_id
    matched: list[int]  # seed indexes the matcher proposed (rank 1 is_match)
    unmatched: list[int]
    person_of: dict[int, int]  # matched seed index -> person proposed
    people: list[int]
    detector: str
    embedder: str


FACE_COPIED = ("x1", "y1", "x2", "y2", "kps5", "score", "crop_path", "quality", "quality_reasons")
CANDIDATE_COPIED = (
    "rank",
    "person_id",
    "reference_id",
    "distance",
    "is_match",
    "max_distance",
    "fmr",
    "reference_distance",
    "template_size",
    "insufficient_quality",
)


def read_seed(conn: sqlite3.Connection) -> Seed:
    rows = conn.execute(
        f"SELECT f.id, f.embedding, {', '.join('f.' + c for c in FACE_COPIED)}"
        " FROM faces f WHERE f.crop_path IS NOT NULL ORDER BY f.id"
    ).fetchall()
    index_of = {int(r[0]): i for i, r in enumerate(rows)}
    vectors = np.stack([np.frombuffer(r[1], "<f4") for r in rows])
    candidates: dict[int, list[tuple[object, ...]]] = {}
    for row in conn.execute(
        f"SELECT face_id, {', '.join(CANDIDATE_COPIED)} FROM candidates ORDER BY face_id, rank"
    ):
        if int(row[0]) in index_of:
            candidates.setdefault(index_of[int(row[0])], []).append(tuple(row[1:]))
    person_of = {
        i: int(rows_[0][1])
        for i, rows_ in candidates.items()
        if rows_ and rows_[0][0] == 1 and rows_[0][4] == 1
    }
    matched = sorted(person_of)
    unmatched = [i for i in range(len(rows)) if i not in person_of]
    detector, embedder = conn.execute("SELECT detector, embedder FROM media LIMIT 1").fetchone()
    return Seed(
        faces=[tuple(r[2:]) for r in rows],
        vectors=vectors,
        candidates=candidates,
        matched=matched,
        unmatched=unmatched,
        person_of=person_of,
        people=[int(r[0]) for r in conn.execute("SELECT id FROM people")],
        detector=str(detector),
        embedder=str(embedder),
    )


@dataclass
class Plan:
    """Fractions of the generated library (see the module docstring)."""

    faces: int
    matched_share: float
    video_share: float
    confirmed: float
    rejected: float
    manual: float
    clustered: float


def _iso(rng: random.Random) -> str | None:
    if rng.random() < 0.1:
        return None
    return (
        f"{rng.randint(2005, 2024):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        f"T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    )


def _perturbed(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = vectors + rng.normal(0.0, 0.013, vectors.shape).astype(np.float32)
    norms = np.linalg.norm(noisy, axis=1, keepdims=True)
    return (noisy / norms * DESCRIPTOR_LENGTH).astype("<f4")


def generate(conn: sqlite3.Connection, seed: Seed, plan: Plan, at: str) -> dict[str, int]:
    """Write ``plan.faces`` faces (with their media, candidates, reviews, clusters)."""
    rng = random.Random(17)
    nprng = np.random.default_rng(17)
    media_id = int(conn.execute("SELECT IFNULL(MAX(id), 0) FROM media").fetchone()[0])
    face_id = int(conn.execute("SELECT IFNULL(MAX(id), 0) FROM faces").fetchone()[0])
    review_id = int(conn.execute("SELECT IFNULL(MAX(id), 0) FROM reviews").fetchone()[0])
    cluster_base = int(
        conn.execute("SELECT IFNULL(MAX(id), 0) FROM unknown_clusters").fetchone()[0]
    )
    counts = dict.fromkeys(("media", "videos", "faces", "candidates", "reviews", "members"), 0)
    clusters: set[int] = set()
    written: set[int] = set()
    made = 0
    while made < plan.faces:
        media, paths, faces, cands, reviews, members = [], [], [], [], [], []
        batch_seeds: list[int] = []
        layout: list[tuple[int, bool, int]] = []  # (media id, video, faces)
        while len(batch_seeds) < BATCH and made + len(batch_seeds) < plan.faces:
            media_id += 1
            video = rng.random() < plan.video_share
            n = rng.randint(2, 6) if video else rng.choice((1, 1, 1, 2, 2, 3))
            n = min(n, plan.faces - made - len(batch_seeds))
            layout.append((media_id, video, n))
            for _ in range(n):
                pool = seed.matched if rng.random() < plan.matched_share else seed.unmatched
                batch_seeds.append(rng.choice(pool))
        vectors = _perturbed(seed.vectors[batch_seeds], nprng)
        k = 0
        for mid, video, n in layout:
            captured = _iso(rng)
            year = captured[:4] if captured else "undated"
            kind = "video" if video else "image"
            duration = round(rng.uniform(20.0, 600.0), 2) if video else None
            media.append(
                (
                    mid,
                    hashlib.sha256(f"bench-{mid}".encode()).hexdigest(),
                    kind,
                    1920 if video else 250,
                    1080 if video else 250,
                    captured,
                    None,
                    None,
                    n,
                    seed.detector,
                    seed.embedder,
                    at,
                    duration,
                )
            )
            ext = "mp4" if video else "jpg"
            paths.append((mid, f"/photos/{year}/{kind}-{mid:08d}.{ext}", at))
            for index in range(n):
                face_id += 1
                s = batch_seeds[k]
                x1, y1, x2, y2, kps5, score, crop, quality, reasons = seed.faces[s]
                if video and duration is not None:
                    start_s = round(rng.uniform(0.0, duration - 5.0), 2)
                    end_s = round(start_s + rng.uniform(0.5, 5.0), 2)
                    frame = int(start_s * 25)
                    track = (frame, start_s, start_s, end_s, rng.randint(2, 120))
                else:
                    track = (None, None, None, None, None)
                vector = vectors[k].tobytes()
                head = (face_id, mid, track[0], index, x1, y1, x2, y2, kps5, score, vector)
                faces.append((*head, crop, quality, reasons, *track[1:]))
                for row in seed.candidates.get(s, []):
                    cands.append((face_id, *row))
                person = seed.person_of.get(s)
                roll = rng.random()
                if person is not None and roll < plan.confirmed + plan.rejected:
                    decision = "confirmed" if roll < plan.confirmed else "rejected"
                    review_id += 1
                    reviews.append(
                        (review_id, face_id, person, decision, rng.choice(REVIEWERS), at, 0)
                    )
                elif person is None and roll < plan.manual:
                    review_id += 1
                    named = rng.choice(seed.people)
                    reviews.append(
                        (review_id, face_id, named, "confirmed", rng.choice(REVIEWERS), at, 1)
                    )
                elif person is None and roll < plan.manual + plan.clustered:
                    cluster = cluster_base + 1 + s * 16 + rng.randrange(16)
                    clusters.add(cluster)
                    members.append((face_id, cluster))
                k += 1
        with conn:
            conn.executemany(
                f"INSERT INTO media (id, {', '.join(_MEDIA)}) VALUES ({_q(len(_MEDIA) + 1)})", media
            )
            conn.executemany(
                "INSERT INTO media_paths (media_id, path, first_seen_at) VALUES (?, ?, ?)", paths
            )
            conn.executemany(
                f"INSERT INTO faces ({', '.join(_FACES)}) VALUES ({_q(len(_FACES))})", faces
            )
            conn.executemany(
                f"INSERT INTO candidates (face_id, {', '.join(CANDIDATE_COPIED)})"
                f" VALUES ({_q(len(CANDIDATE_COPIED) + 1)})",
                cands,
            )
            conn.executemany(
                "INSERT INTO reviews"
                " (id, face_id, person_id, decision, reviewer, decided_at, manual)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                reviews,
            )
            new = sorted(clusters - written)
            conn.executemany(
                "INSERT INTO unknown_clusters (id, created_at) VALUES (?, ?)",
                [(c, at) for c in new],
            )
            written.update(new)
            conn.executemany(
                "INSERT INTO unknown_members (face_id, cluster_id) VALUES (?, ?)", members
            )
        made += len(batch_seeds)
        counts["media"] += len(media)
        counts["videos"] += sum(1 for _, video, _ in layout if video)
        counts["faces"] += len(faces)
        counts["candidates"] += len(cands)
        counts["reviews"] += len(reviews)
        counts["members"] += len(members)
        print(f"  {made:,} faces written", flush=True)
    counts["clusters"] = len(clusters)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/facesight-million"))
    parser.add_argument("--people", type=int, default=80)
    parser.add_argument("--seed-images", type=int, default=400)
    parser.add_argument("--matched-share", type=float, default=0.08)
    parser.add_argument("--video-share", type=float, default=0.05)
    parser.add_argument("--confirmed", type=float, default=0.2)
    parser.add_argument("--rejected", type=float, default=0.05)
    parser.add_argument("--manual", type=float, default=0.002)
    parser.add_argument("--clustered", type=float, default=0.2)
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"{args.out} exists: give a new folder")
    assert set(CANDIDATE_COPIED) < set(CANDIDATE_COLUMNS)
    total = time.perf_counter()
    with stage("seed library (enroll, scan: real pipeline)"):
        build_seed(args.out, args.people, args.seed_images)
    conn = sqlite3.connect(args.out / Library.DB_NAME, isolation_level=None)
    conn.isolation_level = "DEFERRED"
    conn.execute("PRAGMA synchronous = OFF")
    with stage("read seed"):
        seed = read_seed(conn)
        print(f"  {len(seed.faces)} seed faces, {len(seed.matched)} proposed by the matcher")
    plan = Plan(
        args.faces - len(seed.faces),
        args.matched_share,
        args.video_share,
        args.confirmed,
        args.rejected,
        args.manual,
        args.clustered,
    )
    at = conn.execute("SELECT MAX(scanned_at) FROM media").fetchone()[0]
    with stage("generate rows"):
        counts = generate(conn, seed, plan, str(at))
        print("  " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    with stage("analyze"):
        conn.execute("ANALYZE")
    conn.close()
    with (
        stage("first open (migrations, face index built)"),
        Library(args.out, actor="bench") as lib,
    ):
        page = lib.review_queue(QueueFilter(), limit=50)
        print(f"  review queue: {page.total:,} pending")
    print(f"total: {time.perf_counter() - total:.0f} s; library in {args.out}")


if __name__ == "__main__":
    main()
