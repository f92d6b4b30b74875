"""Where a library's database is: a SQLite file in a folder, or a PostgreSQL URL.

``--library`` and ``FACESIGHT_LIBRARY`` take either a folder or a
``postgresql://user@host/db`` URL (``postgres://`` too). A URL is kept as the string it
is (turned into a ``Path`` it would become a folder ``postgresql:/…``), and its password
is never shown: every message, audit record, report and log names the library through
:func:`redact_url`. Prefer a service file (``postgresql:///?service=facesight``, see
``pg_service.conf``) or ``PGPASSWORD`` to a password in the URL.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["POSTGRES_SCHEMES", "is_postgres_url", "redact", "redact_url"]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")

HIDDEN = "***"
"""What a password is replaced with."""

_SECRET_PARAMS = ("password", "sslpassword")
_SECRET_PARAM = re.compile(r"([?&](?:password|sslpassword)=)[^&#]*", re.IGNORECASE)


def is_postgres_url(location: object) -> bool:
    """Whether a library location names a PostgreSQL database (a URL, not a folder)."""
    return isinstance(location, str) and location.strip().lower().startswith(POSTGRES_SCHEMES)


def _password(location: str) -> list[str]:
    """The secrets a URL holds (the password of its user part, password parameters)."""
    found: list[str] = []
    match = re.match(r"^[a-z]+://[^:/@]*:([^@/]*)@", location, re.IGNORECASE)
    if match and match.group(1):
        found.append(match.group(1))
    query = urlsplit(location).query
    found += [v for k, v in parse_qsl(query, keep_blank_values=True) if k in _SECRET_PARAMS and v]
    return found


def redact_url(location: str) -> str:
    """The URL with its password (and password parameters) replaced by ``***``.

    Anything that is not a PostgreSQL URL is returned as it is.
    """
    if not is_postgres_url(location):
        return location
    text = re.sub(r"^([a-z]+://[^:/@]*):[^@/]*@", rf"\1:{HIDDEN}@", location, flags=re.IGNORECASE)
    return _SECRET_PARAM.sub(rf"\1{HIDDEN}", text)


def redact(text: str, location: str) -> str:
    """``text`` (an error message, say) with ``location``'s password nowhere in it."""
    if not is_postgres_url(location):
        return text
    text = text.replace(location, redact_url(location))
    for secret in _password(location):
        for form in {secret, unquote(secret)}:
            text = text.replace(form, HIDDEN)
    return text
