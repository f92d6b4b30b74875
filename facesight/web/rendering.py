"""Server-rendered pages: the Jinja environment (autoescaped, our filters) and ``render``.

Apart from ``app`` so that the page modules import it without importing the app that lists
them (no import cycle in ``facesight.web``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from facesight._version import __version__
from facesight.library.roles import Permission, allows
from facesight.web.auth import Principal
from facesight.web.formats import FILTERS

__all__ = ["render"]

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.filters.update(FILTERS)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page from ``templates/`` with what every page needs (who, their CSRF token, the menu)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    role = principal.account.role if principal is not None else None
    html = _TEMPLATES.get_template(template).render(
        request=request,
        principal=principal,
        csrf=principal.csrf_token if principal is not None else "",
        can={p.value: role is not None and allows(role, p) for p in Permission},
        version=__version__,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)
