"""The audit log (``/audit``, administrators): the newest records first, a page at a time.

``after`` is the id of the last record shown: the next page holds the records older than it,
so records written meanwhile never push one off a page.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from facesight.library.facade import Library
from facesight.library.roles import Permission
from facesight.web.auth import Guard, Principal
from facesight.web.rendering import render

__all__ = ["RECORDS_PER_PAGE", "router"]

router = APIRouter(include_in_schema=False)

RECORDS_PER_PAGE = 50


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.ADMINISTER))],
    action: Annotated[str | None, Query(max_length=100)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    after: Annotated[int | None, Query()] = None,
) -> HTMLResponse:
    action, actor = action or None, actor or None

    def load(lib: Library) -> list[Any]:
        return list(
            lib.audit_records(action=action, actor=actor, before=after, limit=RECORDS_PER_PAGE + 1)
        )

    records = await request.app.state.gate.run(load, actor=principal.account.name)
    shown = records[:RECORDS_PER_PAGE]
    query = {k: v for k, v in (("action", action), ("actor", actor)) if v}
    next_url = None
    if len(records) > RECORDS_PER_PAGE:
        next_url = "/audit?" + urlencode({**query, "after": shown[-1].id})
    return render(
        request,
        "audit.html",
        records=shown,
        action=action or "",
        actor=actor or "",
        next_url=next_url,
        first_url="/audit?" + urlencode(query) if after is not None else None,
    )
