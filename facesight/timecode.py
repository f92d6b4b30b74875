"""Positions in video as people read them: ``HH:MM:SS.mmm``."""

from __future__ import annotations

__all__ = [
    "format_timecode",
]


def format_timecode(seconds: float) -> str:
    """``HH:MM:SS.mmm``, e.g. ``00:01:23.400``."""
    millis = round(max(seconds, 0.0) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"
