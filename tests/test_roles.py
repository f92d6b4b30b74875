"""The role matrix (``library.roles``) against issue 16's table, one test per cell."""

from __future__ import annotations

import pytest

from facesight.errors import InvalidInputError, PermissionDeniedError
from facesight.library.roles import (
    PERMISSION_ACTIONS,
    ROLE_PERMISSIONS,
    Permission,
    Role,
    allows,
    require,
    role_of,
)

# issue 16, "Roles": action | viewer | reviewer | admin, as written there
ISSUE_TABLE = """
| see people, sightings, crops, frames, videos, unknowns, conflicts | ✅ | ✅ | ✅ |
| search by face (upload) | ✅ | ✅ | ✅ |
| confirm / reject / assign a sighting, add a note | ❌ | ✅ | ✅ |
| split / merge unknown people; mark two people different | ❌ | ✅ | ✅ |
| name an unknown person (enrolls), add or remove a reference, rename, merge people | ❌ | ❌ | ✅ |
| enroll, forget, start scans, manage users and tokens, read the audit log | ❌ | ❌ | ✅ |
| download reports | ✅ | ✅ | ✅ |
"""
ROLES = (Role.VIEWER, Role.REVIEWER, Role.ADMIN)
ROWS = [
    [cell.strip() for cell in line.strip().strip("|").split("|")]
    for line in ISSUE_TABLE.strip().splitlines()
]
CELLS = [(row[0], role, row[1 + i] == "✅") for row in ROWS for i, role in enumerate(ROLES)]


def _permission(action: str) -> Permission:
    return next(p for p, words in PERMISSION_ACTIONS.items() if words == action)


@pytest.mark.parametrize(("action", "role", "allowed"), CELLS)
def test_every_cell_of_the_matrix(action: str, role: Role, allowed: bool) -> None:
    permission = _permission(action)
    assert allows(role, permission) is allowed
    if allowed:
        require(role, permission)
    else:
        with pytest.raises(PermissionDeniedError, match=f"a {role} may not"):
            require(role, permission)


def test_the_matrix_has_the_issues_rows_in_its_order_and_no_more() -> None:
    assert len(CELLS) == 21
    assert [row[0] for row in ROWS] == list(PERMISSION_ACTIONS.values())
    assert list(PERMISSION_ACTIONS) == list(Permission)
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_roles_read_from_text() -> None:
    assert role_of(" Admin ") is Role.ADMIN
    assert role_of(Role.VIEWER) is Role.VIEWER
    with pytest.raises(InvalidInputError, match="viewer, reviewer, admin"):
        role_of("root")
