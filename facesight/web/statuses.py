"""The one table of which HTTP status answers which library error (pages and API alike).

A route never picks a status itself: it raises the library's error, and ``app.py``'s handler
answers ``status_of(error)``; a bulk decision's outcome, which carries only the error's class
name, is given the status a single decision would have answered (``status_of_name``).
"""

from __future__ import annotations

from facesight import errors
from facesight.errors import (
    AuthenticationError,
    DecisionConflictError,
    FaceSightError,
    InvalidInputError,
    JobCancelledError,
    ManualIdentificationError,
    MediaError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    StoreError,
    UploadTooLargeError,
)
from facesight.web.auth import NotSignedInError

__all__ = ["status_of", "status_of_name"]

_STATUS: list[tuple[type[FaceSightError], int]] = [
    (NotSignedInError, 401),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (DecisionConflictError, 409),
    (ManualIdentificationError, 409),
    (JobCancelledError, 409),
    (RateLimitedError, 429),
    (UploadTooLargeError, 413),
    (InvalidInputError, 422),
    (MediaError, 422),
    (StoreError, 503),
]


def _status_of_kind(kind: type[FaceSightError]) -> int:
    return next((status for known, status in _STATUS if issubclass(kind, known)), 500)


def status_of(error: FaceSightError) -> int:
    """The HTTP status a library error answers with (500 for one not listed)."""
    return _status_of_kind(type(error))


def status_of_name(error_type: str) -> int:
    """The status of a library error known by its class name (a bulk decision's outcome)."""
    kind = getattr(errors, error_type, None)
    if isinstance(kind, type) and issubclass(kind, FaceSightError):
        return _status_of_kind(kind)
    return 500
