"""Search by face (``/search``): upload a photo, see who its faces may be and where else
the largest one appears in the library.

It calls the library as the API's search does (``Library.identify``, ``Library.search_face``:
each writes its own audit record, the second listing the stored faces found). The upload is
written to a private temporary folder only for as long as the library reads it (the loader
takes a path: the same safe loader as a scan) and is deleted before the page is sent; it is
refused before that when larger than ``ServeSettings.max_upload_bytes`` or, by its header,
``max_upload_pixels``.
"""

from __future__ import annotations

import io
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse
from PIL import Image

from facesight.errors import EnrollmentError, InvalidInputError, MediaError
from facesight.library.facade import Library
from facesight.library.roles import Permission
from facesight.records import FaceHit, IdentifiedFace
from facesight.web.auth import Guard, Principal
from facesight.web.settings import ServeSettings

__all__ = ["STORED_HITS", "router"]

router = APIRouter(include_in_schema=False)

STORED_HITS = 12
"""Stored faces listed for the largest face of an upload."""

Searcher = Annotated[Principal, Depends(Guard(Permission.SEARCH))]


@dataclass
class _Found:
    faces: list[IdentifiedFace] = field(default_factory=list)
    hits: list[FaceHit] = field(default_factory=list)


@router.get("/search", response_class=HTMLResponse)
async def search_page(request: Request, principal: Searcher) -> HTMLResponse:
    from facesight.web.app import render

    return render(request, "search.html", found=None, limits=request.app.state.settings)


@router.post("/search", response_class=HTMLResponse)
async def search_upload(
    request: Request,
    principal: Searcher,
    image: Annotated[UploadFile, File()],
    stored: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    from facesight.web.app import render

    settings: ServeSettings = request.app.state.settings
    name = image.filename or "upload"
    data = await image.read(settings.max_upload_bytes + 1)
    try:
        _check_upload(data, settings)
        found = await _search(request, principal, data, name, stored)
    except InvalidInputError as error:
        message = str(error)
        return render(
            request, "search.html", 422, found=None, limits=settings, error=message, upload=name
        )
    return render(request, "search.html", found=found, limits=settings, upload=name)


def _check_upload(data: bytes, settings: ServeSettings) -> None:
    """Refuse an empty, too large or (by its header) too many-pixel upload."""
    if not data:
        raise InvalidInputError("the upload is empty: choose a photo")
    if len(data) > settings.max_upload_bytes:
        mb = settings.max_upload_bytes / 1e6
        raise InvalidInputError(f"the upload is larger than {mb:.0f} MB: choose a smaller photo")
    try:
        with Image.open(io.BytesIO(data)) as header:  # reads the header only, decodes nothing
            width, height = header.size
    except Exception:  # a format PIL does not know: the library's loader decides
        return
    if width * height > settings.max_upload_pixels:
        raise InvalidInputError(
            f"the photo has {width}x{height} pixels, more than the "
            f"{settings.max_upload_pixels / 1e6:.0f} megapixels an upload may have"
        )


def _suffix(filename: str) -> str:
    """The upload's extension if it is a plain one (the loader reads RAW files by it)."""
    suffix = Path(filename).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ".img"


async def _search(
    request: Request, principal: Principal, data: bytes, name: str, stored: bool
) -> _Found:
    def search(lib: Library) -> _Found:
        with tempfile.TemporaryDirectory(prefix="facesight-upload-") as folder:
            path = Path(folder) / f"upload{_suffix(name)}"
            path.write_bytes(data)
            try:
                found = _Found(faces=lib.identify(path, top_k=3))
                if stored and found.faces:
                    found.hits = lib.search_face(path, top_k=STORED_HITS)
            except (MediaError, EnrollmentError, InvalidInputError) as error:
                # the upload's fault: say so with its name, not the temporary file's
                raise InvalidInputError(str(error).replace(str(path), name)) from error
        return found

    result: _Found = await request.app.state.gate.run(search, actor=principal.account.name)
    return result
