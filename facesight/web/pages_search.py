"""Search by face (``/search``): upload a photo, see who its faces may be.

The page calls the library exactly as ``POST /api/v1/search`` does (its ``identify_upload``: the
photo written to a private temporary folder, decoded by the library's safe loader with the
upload pixel limit, deleted before the answer; ``Library.identify`` writes the audit record).
The request body is bounded by the app's ``BodyLimit``, the image by ``max_upload_bytes``.
A refused upload shows the page again with the reason (and the status the API would give).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import HTMLResponse

from facesight.errors import InvalidInputError, MediaError, UploadTooLargeError
from facesight.library.roles import Permission
from facesight.web.api_search import identify_upload
from facesight.web.auth import Guard, Principal
from facesight.web.rendering import render
from facesight.web.settings import ServeSettings

__all__ = ["CANDIDATES", "router"]

router = APIRouter(include_in_schema=False)

CANDIDATES = 3
"""Enrolled people listed for each face found (as the API's default ``top_k``)."""

Searcher = Annotated[Principal, Depends(Guard(Permission.SEARCH))]


@router.get("/search", response_class=HTMLResponse)
async def search_page(request: Request, principal: Searcher) -> HTMLResponse:
    return render(request, "search.html", faces=None, limits=request.app.state.settings)


@router.post("/search", response_class=HTMLResponse)
async def search_upload(
    request: Request, principal: Searcher, image: Annotated[UploadFile, File()]
) -> HTMLResponse:
    settings: ServeSettings = request.app.state.settings
    name = image.filename or "the upload"
    try:
        data = await image.read(settings.max_upload_bytes + 1)
        if not data:
            raise InvalidInputError("the upload is empty: choose a photo")
        if len(data) > settings.max_upload_bytes:
            raise UploadTooLargeError(
                f"the photo is over the limit of {settings.max_upload_bytes:,} bytes"
            )
        faces = await request.app.state.gate.run(
            lambda lib: identify_upload(lib, data, CANDIDATES, settings.max_upload_pixels),
            actor=principal.account.name,
        )
    except (InvalidInputError, MediaError) as error:
        status = 413 if isinstance(error, UploadTooLargeError) else 422
        return render(
            request,
            "search.html",
            status,
            faces=None,
            limits=settings,
            error=str(error),
            upload=name,
        )
    finally:
        await image.close()
    return render(request, "search.html", faces=faces, limits=settings, upload=name)
