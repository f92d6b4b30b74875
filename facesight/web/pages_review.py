"""The review queue (``/review``) and one face (``/faces/{face_id}``).

Both pages only show: the decisions are sent by the page's script to the API
(``/api/v1/faces/{face_id}/decision`` and ``/api/v1/decisions``), so the rule for a conflict or
a manual identification lives once, in ``Library.decide``. Each render writes one view audit
record listing the face ids it shows (``Library.record_view``); the crops it loads are not
audited one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from facesight.errors import MediaError, NotFoundError
from facesight.library.facade import Library
from facesight.library.review_queue import QueueFilter, QueuePage, QueueSort, decision_state
from facesight.library.roles import Permission
from facesight.records import DECISION_CATEGORIES, Review, Sighting
from facesight.web.auth import Guard, Principal
from facesight.web.rendering import render

__all__ = ["KEYS", "PAGE_SIZE", "VIEW_KEYS", "router"]

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 48
"""Faces per queue page: a dense grid that still loads its crops at once on a laptop."""

KEYS = (
    ("j / ↓ / →", "next face"),
    ("k / ↑ / ←", "previous face"),
    ("c", "confirm the proposed person"),
    ("r", "reject the proposed person"),
    ("a", "assign to… (choose a person in the picker, then Enter)"),
    ("s", "skip: leave it pending, go to the next"),
    ("o / Enter", "open the face (full frame or video)"),
    ("x", "select or unselect (shift-click selects a range)"),
    ("Esc", "leave the note or the person picker"),
)
"""The queue's keys, shown on the page (``static/review.js`` binds them)."""

VIEW_KEYS = tuple(k for k in KEYS if k[0] not in ("c", "r", "a", "s", "x", "Esc"))
"""The keys of someone who may look but not decide (a viewer)."""

Viewer = Annotated[Principal, Depends(Guard(Permission.VIEW))]


def _blank(value: str | None) -> str | None:
    """An empty form field is no filter."""
    return value.strip() or None if value is not None else None


@dataclass(frozen=True)
class _Queue:
    page: QueuePage
    people: list[str]


@router.get("/review", response_class=HTMLResponse)
async def review_queue(
    request: Request,
    principal: Viewer,
    person: str | None = None,
    category: str | None = None,
    quality: str | None = None,
    path: Annotated[str | None, Query(max_length=500)] = None,
    since: str | None = None,
    until: str | None = None,
    kind: str | None = None,
    sort: QueueSort = QueueSort.FMR,
    after: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE,
) -> HTMLResponse:
    wanted = QueueFilter(
        person=_blank(person),
        category=_blank(category),
        quality=_blank(quality),
        path=_blank(path),
        since=_blank(since),
        until=_blank(until),
        kind=_blank(kind),
    )

    def load(lib: Library) -> _Queue:
        page = lib.review_queue(wanted, sort=sort, after=_blank(after), limit=limit)
        lib.record_view([item.sighting.face_id for item in page.items], "review queue page")
        # names only: the counts are worked out again after each write (the view above)
        return _Queue(page, [name for _, name in lib.people_names()])

    queue = await request.app.state.gate.run(load, actor=principal.account.name)
    query = {k: v for k, v in request.query_params.items() if k != "after" and v}
    next_url = None
    if queue.page.next_after is not None:
        next_url = "/review?" + urlencode({**query, "after": queue.page.next_after})
    return render(
        request,
        "review.html",
        items=queue.page.items,
        total=queue.page.total,
        people=queue.people,
        filter=wanted,
        sort=sort,
        sorts=list(QueueSort),
        categories=DECISION_CATEGORIES,
        next_url=next_url,
        first_url="/review?" + urlencode(query) if after else None,
        keys=KEYS,
        view_keys=VIEW_KEYS,
    )


@dataclass(frozen=True)
class _Face:
    sighting: Sighting
    state: str
    playable: bool
    mime: str
    why: str
    people: list[str]
    history: list[Review]


@router.get("/faces/{face_id}", response_class=HTMLResponse)
async def face_page(request: Request, principal: Viewer, face_id: int) -> HTMLResponse:
    def load(lib: Library) -> _Face:
        sighting = lib.sighting(face_id)
        playable, mime, why = False, "", ""
        if sighting.kind == "video":
            try:
                media = lib.media_file(face_id)
                playable, mime = media.browser_playable, media.mime
                why = f"A browser cannot play this video ({mime})"
            except (NotFoundError, MediaError) as error:  # the page says why, shows the frame
                why = f"The video cannot be opened ({error})"
        lib.record_view([face_id], "face page")
        people = [name for _, name in lib.people_names()]
        history = lib.reviews.of_faces([face_id]).get(face_id, [])
        return _Face(sighting, decision_state(sighting), playable, mime, why, people, history)

    face = await request.app.state.gate.run(load, actor=principal.account.name)
    return render(
        request,
        "face.html",
        s=face.sighting,
        state=face.state,
        playable=face.playable,
        mime=face.mime,
        why=face.why,
        history=face.history,
        people=face.people,
        keys=KEYS,
        view_keys=VIEW_KEYS,
    )
