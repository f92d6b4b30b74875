"""Search by face (``/search``): from a stored face (``?face_id=N``, the "Find similar" link
under every face crop) or an uploaded photo; every stored face nearest first, enrolled or not.

The page calls the library exactly as ``/api/v1/search`` does: a stored face is searched
from its stored descriptor (nothing analysed); an upload is written to a private temporary
folder, decoded by the library's safe loader with the upload pixel limit and deleted before
the answer (``api_search.with_upload``). The request body is bounded by the app's
``BodyLimit``, the image by ``max_upload_bytes``. A refused upload shows the page again with
the reason (and the status the API would give). Each search writes one audit record
(``search.face``) listing the faces it showed.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse

from facesight.errors import InvalidInputError, MediaError, UploadTooLargeError
from facesight.library.roles import Permission
from facesight.library.search import MAX_DEPTH, FaceSearch
from facesight.web.api_models import MAX_ID
from facesight.web.api_search import PAGE_SIZE, photo_search, read_upload
from facesight.web.auth import Guard, Principal
from facesight.web.rendering import render
from facesight.web.settings import ServeSettings

__all__ = ["CANDIDATES", "router"]

router = APIRouter(include_in_schema=False)

CANDIDATES = 3
"""Enrolled people listed for each face found (as the API's default ``top_k``)."""

Searcher = Annotated[Principal, Depends(Guard(Permission.SEARCH))]


def _more_url(found: FaceSearch) -> str | None:
    """The next page of a search from a stored face (an upload is not kept to page on)."""
    end = found.offset + len(found.hits)
    if not found.more or found.probe_face_id is None or end >= MAX_DEPTH:
        return None
    return "/search?" + urlencode({"face_id": found.probe_face_id, "offset": end})


@router.get("/search", response_class=HTMLResponse)
async def search_page(
    request: Request,
    principal: Searcher,
    face_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    offset: Annotated[int, Query(ge=0, lt=MAX_DEPTH)] = 0,
) -> HTMLResponse:
    settings: ServeSettings = request.app.state.settings
    found = None
    if face_id is not None:
        found = await request.app.state.gate.run(
            lambda lib: lib.search_stored(face_id, offset=offset, limit=PAGE_SIZE),
            actor=principal.account.name,
        )
    return render(
        request, "search.html", found=found, limits=settings, more_url=found and _more_url(found)
    )


@router.post("/search", response_class=HTMLResponse)
async def search_upload(
    request: Request,
    principal: Searcher,
    image: Annotated[UploadFile, File()],
    face: Annotated[int | None, Form(ge=1, le=10_000)] = None,
) -> HTMLResponse:
    settings: ServeSettings = request.app.state.settings
    name = image.filename or "the upload"
    try:
        data = await read_upload(image, settings.max_upload_bytes)

        found = await photo_search(
            request, principal, data, face=face, offset=0, limit=PAGE_SIZE, top_k=CANDIDATES
        )
    except (InvalidInputError, MediaError) as error:
        status = 413 if isinstance(error, UploadTooLargeError) else 422
        return render(
            request,
            "search.html",
            status,
            found=None,
            limits=settings,
            error=str(error),
            upload=name,
        )
    finally:
        await image.close()
    return render(request, "search.html", found=found, limits=settings, upload=name)
