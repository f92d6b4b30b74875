"""Helpers of the page tests: a private copy of the workspace's library (so a test may decide
faces the shared ``served`` server's other tests rely on) and its audit log as the CLI
prints it."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from .workspace import Server, facesight


def copy_library(source: Path, destination: Path) -> Path:
    """``source`` copied to ``destination``: the files as they are, the database through
    SQLite's backup (consistent even while a server has it open)."""
    databases = [p for p in source.iterdir() if p.suffix == ".db"]
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("*.db", "*.db-*"))
    for database in databases:
        with sqlite3.connect(database) as src, sqlite3.connect(destination / database.name) as dst:
            src.backup(dst)
    return destination


def audit_records(library: Path, *args: str) -> list[dict[str, Any]]:
    """``facesight audit --json`` on ``library`` (newest first)."""
    run = facesight(library, "audit", "--json", *args)
    assert run.returncode == 0, run.stderr
    records: list[dict[str, Any]] = json.loads(run.stdout)
    return records


def face_ids(record: dict[str, Any]) -> list[int]:
    """The face ids an audit record lists."""
    return [int(i) for i in record.get("items", {}).get("faces", [])]


def stop(server: Server) -> None:
    """End a server started with ``start_server`` and close its pipes."""
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=30)
    for pipe in (server.process.stdout, server.process.stderr):
        if pipe is not None:
            pipe.close()
