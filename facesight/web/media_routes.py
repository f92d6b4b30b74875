"""Crops, evidence frames and original media, served by id only.

Every file comes from a library method given an id (``crop_file``, ``reference_crop_file``,
``media_file``): a path from the request is never opened, and an id the library does not
know is a 404. All are ``Cache-Control: private`` (a browser may keep them five minutes, a
shared proxy never). The original media answers Range requests (Starlette's ``FileResponse``:
206 with ``Content-Range``), so a video player can seek; a file a browser cannot play (HEVC,
AVI, MPG, HEIC, RAW) is a 404 saying why, and the page shows the evidence frame instead.

Crops are thumbnails of a page that was audited already and are not audited one by one; a
full evidence frame and the opening of an original file (a request without a Range, or one
from byte 0: a player's first) each write one view record.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import FileResponse, Response

from facesight.errors import NotFoundError
from facesight.library.evidence import EvidenceImage, MediaFile
from facesight.library.facade import Library
from facesight.library.roles import Permission
from facesight.web.api_models import MAX_ID
from facesight.web.auth import Guard, Principal

__all__ = ["CACHE_CONTROL", "header_text", "router"]

CACHE_CONTROL = "private, max-age=300"
_CACHE = {"Cache-Control": CACHE_CONTROL}
_FROM_START = re.compile(r"^\s*bytes\s*=\s*0\s*-")

router = APIRouter(include_in_schema=False)

FaceId = Annotated[int, Path(ge=1, le=MAX_ID)]
ReferenceId = Annotated[int, Path(ge=1, le=MAX_ID)]
Viewer = Annotated[Principal, Depends(Guard(Permission.VIEW))]


def header_text(text: str) -> str:
    """``text`` as one line of printable ASCII (a header cannot carry more; a reason may
    quote a file's problem)."""
    line = " ".join(text.split())
    return "".join(c if " " <= c <= "~" else "?" for c in line)[:300]


@router.get("/faces/{face_id}/crop")
async def face_crop(request: Request, principal: Viewer, face_id: FaceId) -> Response:
    """The face's crop (JPEG)."""
    path = await request.app.state.gate.run(
        lambda lib: lib.crop_file(face_id), actor=principal.account.name
    )
    return FileResponse(path, media_type="image/jpeg", headers=_CACHE)


@router.get("/references/{reference_id}/crop")
async def reference_crop(
    request: Request, principal: Viewer, reference_id: ReferenceId
) -> Response:
    """A reference photo's crop (JPEG)."""
    path = await request.app.state.gate.run(
        lambda lib: lib.reference_crop_file(reference_id), actor=principal.account.name
    )
    return FileResponse(path, media_type="image/jpeg", headers=_CACHE)


@router.get("/faces/{face_id}/frame")
async def face_frame(request: Request, principal: Viewer, face_id: FaceId) -> Response:
    """The full image, or the video's frame, with the face's box drawn (JPEG)."""

    def job(lib: Library) -> EvidenceImage:
        frame = lib.evidence_frame(face_id)
        lib.record_view([face_id], "evidence frame")
        return frame

    frame = await request.app.state.gate.run(job, actor=principal.account.name)
    headers = _CACHE | {"X-Evidence-Source": header_text(frame.source)}
    return Response(frame.jpeg, media_type="image/jpeg", headers=headers)


@router.get("/faces/{face_id}/media")
async def face_media(request: Request, principal: Viewer, face_id: FaceId) -> Response:
    """The original image or video (Range requests answered), when a browser can play it."""
    opening = _FROM_START.match(request.headers.get("range", "bytes=0-")) is not None

    def job(lib: Library) -> MediaFile:
        media = lib.media_file(face_id)
        if not media.browser_playable:
            kind = PurePath(media.path).suffix.lower() or media.mime
            raise NotFoundError(
                f"face {face_id}: a browser cannot play this {media.kind} ({kind}, "
                f"{media.mime}); its evidence frame is at /faces/{face_id}/frame"
            )
        if opening:
            lib.record_view([face_id], f"original {media.kind}")
        return media

    media = await request.app.state.gate.run(job, actor=principal.account.name)
    return FileResponse(media.path, media_type=media.mime, headers=_CACHE)
