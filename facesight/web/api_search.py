"""``/api/v1/search``: the stored faces nearest a face, from an uploaded photo or a stored face.

``GET /api/v1/search?face_id=N`` searches from a stored face's stored descriptor: nothing
is analysed. ``POST /api/v1/search`` takes a photo: every face in it with its nearest
enrolled people, and the stored faces nearest one of them (``face``, default the largest).
Both page with ``offset`` and ``limit`` (``next_offset`` names the next page).

An upload is bounded twice: the whole request body by :class:`facesight.web.limits.BodyLimit`
while it is read (a request over the limit is refused before it is stored anywhere), then the
image part by ``max_upload_bytes`` and its header by ``max_upload_pixels``. The image is
written to a private temporary folder (mode 0700), decoded there by the library's own safe
loader (as a scan decodes) and deleted when the call returns or fails: nothing of it is
kept. Starlette spools a part over 1 MB to an anonymous temporary file, unlinked from the
start, and closed here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.datastructures import UploadFile

from facesight.errors import (
    InvalidInputError,
    UploadTooLargeError,
)
from facesight.library.roles import Permission
from facesight.library.search import MAX_DEPTH, PAGE_LIMIT, FaceSearch
from facesight.records import FaceHit, IdentifiedFace, person_id_of
from facesight.timecode import format_timecode
from facesight.web.api_models import ERRORS, MAX_ID, SearchOut
from facesight.web.auth import Guard, Principal
from facesight.web.photos import PhotoLane
from facesight.web.serialize import candidate_json, number

__all__ = ["PAGE_SIZE", "hit_json", "photo_search", "read_upload", "router", "search_json"]

PAGE_SIZE = 50
"""Stored faces per page of a search, unless ``limit`` says otherwise."""

Searcher = Annotated[Principal, Depends(Guard(Permission.SEARCH))]

router = APIRouter(prefix="/api/v1", tags=["api"], responses=ERRORS)

MAX_TOP_K = 20
_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["image"],
                "properties": {
                    "image": {"type": "string", "format": "binary"},
                    "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K, "default": 3},
                    "face": {"type": "integer", "minimum": 1, "description": "1 = leftmost"},
                    "offset": {"type": "integer", "minimum": 0, "default": 0},
                    "limit": {"type": "integer", "minimum": 1, "maximum": PAGE_LIMIT},
                },
            }
        }
    },
}


def identified_json(face: IdentifiedFace) -> dict[str, Any]:
    """A face found in an upload, with its nearest enrolled people."""
    match = face.match
    return {
        "index": face.index,
        "box": [number(v) for v in face.xyxy],
        "score": number(face.score),
        "quality": number(face.quality),
        "quality_reasons": list(face.quality_reasons),
        "warnings": list(face.warnings),
        "proposed": candidate_json(match) if match is not None else None,
        "candidates": [candidate_json(c) for c in face.candidates],
    }


def hit_json(hit: FaceHit) -> dict[str, Any]:
    """A stored face near the face searched for: the pair's figures and the face's own."""
    s = hit.sighting
    time_s = s.time_s if s.kind == "video" else None
    return {
        "face_id": s.face_id,
        "distance": number(hit.distance),
        "est_fmr": number(hit.fmr),
        "same_person": hit.same_person,
        "max_distance": number(hit.max_distance),
        "person": s.person,
        "person_id": person_id_of(s),
        "category": s.category,
        "quality": number(s.quality),
        "path": s.path,
        "kind": s.kind,
        "frame": s.frame,
        "time_s": number(time_s),
        "timecode": format_timecode(time_s) if time_s is not None else None,
        "crop_url": f"/faces/{s.face_id}/crop",
        "face_url": f"/faces/{s.face_id}",
    }


def search_json(found: FaceSearch) -> dict[str, Any]:
    """A page of a search (the API's answer)."""
    more = found.offset + len(found.hits) if found.more else None
    return {
        "faces": [identified_json(f) for f in found.faces or []],
        "probe_face_id": found.probe_face_id,
        "probe_index": found.probe_index,
        "results": [hit_json(h) for h in found.hits],
        "searched": found.searched,
        "offset": found.offset,
        "next_offset": more if more is not None and more < MAX_DEPTH else None,
    }


def _whole(value: object, name: str, low: int, high: int, default: int) -> int:
    """A form field that must be a whole number from ``low`` to ``high`` (absent: default)."""
    if value is None or value == "":
        return default
    text = value.strip() if isinstance(value, str) else ""
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise InvalidInputError(f"{name} must be a whole number from {low} to {high}")
    return int(text)


async def read_upload(upload: object, max_bytes: int) -> bytes:
    """The uploaded image's bytes, refused when missing, empty or over ``max_bytes``."""
    if not isinstance(upload, UploadFile):
        raise InvalidInputError("send the photo as the multipart file field `image`")
    data = await upload.read(max_bytes + 1)
    if not data:
        raise InvalidInputError("the upload is empty: choose a photo")
    if len(data) > max_bytes:
        raise UploadTooLargeError(f"the uploaded image is over the limit of {max_bytes:,} bytes")
    return data


async def photo_search(
    request: Request,
    principal: Principal,
    data: bytes,
    *,
    face: int | None,
    offset: int,
    limit: int,
    top_k: int,
) -> FaceSearch:
    """An uploaded photo analysed on the app's photo lane (``web/photos.py``: off the
    library's thread), then searched through the gate."""
    lane: PhotoLane = request.app.state.photos
    analyzed = await lane.analyze(data, request.app.state.settings.max_upload_pixels)
    found: FaceSearch = await request.app.state.gate.run(
        lambda lib: lib.search_analyzed(
            analyzed,
            "the uploaded image",
            lane.version,
            face=face,
            offset=offset,
            limit=limit,
            top_k=top_k,
        ),
        actor=principal.account.name,
    )
    return found


@router.post("/search", response_model=SearchOut, openapi_extra={"requestBody": _UPLOAD_BODY})
async def search(request: Request, principal: Searcher) -> dict[str, Any]:
    """Every face in an uploaded photo (multipart field ``image``) with its nearest enrolled
    people (``top_k`` of them, default 3), and the stored faces nearest one of them
    (``face``: 1 = leftmost, default the largest), ``limit`` of them after ``offset``.
    The photo is not kept."""
    settings = request.app.state.settings
    form = await request.form(max_files=1, max_fields=8)
    try:
        top_k = _whole(form.get("top_k"), "top_k", 1, MAX_TOP_K, 3)
        face = _whole(form.get("face"), "face", 1, 10_000, 0) or None
        offset = _whole(form.get("offset"), "offset", 0, MAX_DEPTH - 1, 0)
        limit = _whole(form.get("limit"), "limit", 1, PAGE_LIMIT, PAGE_SIZE)
        data = await read_upload(form.get("image"), settings.max_upload_bytes)
    finally:
        await form.close()

    found = await photo_search(
        request, principal, data, face=face, offset=offset, limit=limit, top_k=top_k
    )
    return search_json(found)


@router.get("/search", response_model=SearchOut)
async def search_stored(
    request: Request,
    principal: Searcher,
    face_id: Annotated[int, Query(ge=1, le=MAX_ID, description="the stored face to search from")],
    offset: Annotated[int, Query(ge=0, lt=MAX_DEPTH)] = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = PAGE_SIZE,
) -> dict[str, Any]:
    """The stored faces nearest the stored face ``face_id`` (its stored descriptor: nothing
    is analysed), nearest first, enrolled or not, ``limit`` of them after ``offset``."""
    found = await request.app.state.gate.run(
        lambda lib: lib.search_stored(face_id, offset=offset, limit=limit),
        actor=principal.account.name,
    )
    return search_json(found)
