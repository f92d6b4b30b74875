"""Who may do what in the review workspace: three roles, seven permissions, one matrix.

The matrix is issue 16's table, kept here as data (``ROLE_PERMISSIONS``) so the pages,
the API and the CLI ask one place; docs/review-workspace.md prints the same table and
tests/test_roles.py checks every cell against the issue's.

========================================================================  ======  ========  =====
action                                                                    viewer  reviewer  admin
========================================================================  ======  ========  =====
see people, sightings, crops, frames, videos, unknowns, conflicts (VIEW)    yes     yes      yes
search by face, upload (SEARCH)                                             yes     yes      yes
confirm / reject / assign a sighting, add a note (DECIDE)                   no      yes      yes
split / merge unknown people; mark two people different (CURATE)            no      yes      yes
name an unknown (enrolls), add/remove a reference, rename, merge (NAME)     no      no       yes
enroll, forget, start scans, users and tokens, the audit log (ADMINISTER)   no      no       yes
download reports (REPORTS)                                                  yes     yes      yes
========================================================================  ======  ========  =====
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from facesight.errors import InvalidInputError, PermissionDeniedError

__all__ = [
    "PERMISSION_ACTIONS",
    "ROLE_PERMISSIONS",
    "Permission",
    "Role",
    "allows",
    "require",
    "role_of",
]


class Role(StrEnum):
    """What an account is for: looking (viewer), deciding (reviewer), running it (admin)."""

    VIEWER = "viewer"
    REVIEWER = "reviewer"
    ADMIN = "admin"


class Permission(StrEnum):
    """A kind of action the matrix grants or refuses (one row of the issue's table)."""

    VIEW = "view"  # people, sightings, crops, frames, videos, unknowns, conflicts
    SEARCH = "search"  # search by face (upload)
    DECIDE = "decide"  # confirm / reject / assign a sighting, add a note
    CURATE = "curate"  # split / merge unknown people; mark two people different
    NAME = "name"  # name an unknown (enrolls), add/remove a reference, rename, merge people
    ADMINISTER = "administer"  # enroll, forget, start scans, users and tokens, the audit log
    REPORTS = "reports"  # download reports


PERMISSION_ACTIONS: Mapping[Permission, str] = MappingProxyType(
    {
        Permission.VIEW: "see people, sightings, crops, frames, videos, unknowns, conflicts",
        Permission.SEARCH: "search by face (upload)",
        Permission.DECIDE: "confirm / reject / assign a sighting, add a note",
        Permission.CURATE: "split / merge unknown people; mark two people different",
        Permission.NAME: (
            "name an unknown person (enrolls), add or remove a reference, rename, merge people"
        ),
        Permission.ADMINISTER: (
            "enroll, forget, start scans, manage users and tokens, read the audit log"
        ),
        Permission.REPORTS: "download reports",
    }
)
"""Each permission's row of the matrix, in the issue's words and order (for docs and pages)."""

_EVERYONE = frozenset({Permission.VIEW, Permission.SEARCH, Permission.REPORTS})
_REVIEWING = _EVERYONE | {Permission.DECIDE, Permission.CURATE}

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.VIEWER: _EVERYONE,
        Role.REVIEWER: _REVIEWING,
        Role.ADMIN: frozenset(Permission),
    }
)
"""What each role may do: issue 16's matrix as data."""


def allows(role: Role, permission: Permission) -> bool:
    """True when ``role`` may do what ``permission`` covers."""
    return Permission(permission) in ROLE_PERMISSIONS[Role(role)]


def require(role: Role, permission: Permission) -> None:
    """``PermissionDeniedError`` unless ``role`` may do what ``permission`` covers."""
    if not allows(role, permission):
        raise PermissionDeniedError(
            f"a {Role(role)} may not {PERMISSION_ACTIONS[Permission(permission)]}"
            f" (needs the {_least_role(Permission(permission))} role)"
        )


def role_of(value: Role | str) -> Role:
    """``value`` as a ``Role``, or ``InvalidInputError`` naming the three there are."""
    try:
        return Role(str(value).strip().lower())
    except ValueError:
        raise InvalidInputError(
            f"no role {value!r}: one of {', '.join(r.value for r in Role)}"
        ) from None


def _least_role(permission: Permission) -> Role:
    return next(r for r in (Role.VIEWER, Role.REVIEWER, Role.ADMIN) if allows(r, permission))
