"""Helpers of the page tests: the audit log as the CLI prints it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .workspace import facesight


def audit_records(library: Path, *args: str) -> list[dict[str, Any]]:
    """``facesight audit --json`` on ``library`` (newest first)."""
    run = facesight(library, "audit", "--json", *args)
    assert run.returncode == 0, run.stderr
    records: list[dict[str, Any]] = json.loads(run.stdout)
    return records


def face_ids(record: dict[str, Any]) -> list[int]:
    """The face ids an audit record lists."""
    return [int(i) for i in record.get("items", {}).get("faces", [])]
