"""The one way facesight writes "now": UTC, ISO 8601, to the second.

Every timestamp stored or printed (audit records, reviews, scan runs, reports)
is written by :func:`utc_now_iso`, so they sort as text and compare across machines.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["iso_at", "utc_now_iso"]


def utc_now_iso(timespec: str = "seconds") -> str:
    """The current time in UTC as ISO 8601 to the second (``2026-01-31T12:00:00+00:00``).

    ``timespec`` as :meth:`datetime.isoformat` takes it: ``"auto"`` keeps the
    microseconds, as the schema's migration records were always written.
    """
    return datetime.now(UTC).isoformat(timespec=timespec)


def iso_at(seconds: float) -> str:
    """The instant ``seconds`` since the epoch (``time.time()``) as :func:`utc_now_iso`
    writes it: for a service given its own clock (``library.accounts``, its tests)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
