"""The home page: who is enrolled, and where to go next."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from facesight.library.roles import Permission
from facesight.web.auth import Guard, Principal
from facesight.web.rendering import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request, principal: Annotated[Principal, Depends(Guard(Permission.VIEW))]
) -> HTMLResponse:
    people = await request.app.state.gate.run(
        lambda lib: lib.people(), actor=principal.account.name
    )
    return render(request, "home.html", people=people)
