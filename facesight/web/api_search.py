"""``/api/v1/search`` (who is in an uploaded photo) and ``/api/v1/audit`` (the audit log).

An upload is bounded twice: the whole request body by :class:`facesight.web.limits.BodyLimit`
while it is read (a request over the limit is refused before it is stored anywhere), then the
image part by ``max_upload_bytes`` and its header by ``max_upload_pixels``. The image is
written to a private temporary folder (mode 0700), decoded there by the library's own safe
loader (``Library.identify``, as a scan decodes) and deleted when the call returns or fails:
nothing of it is kept. Starlette spools a part over 1 MB to an anonymous temporary file,
unlinked from the start, and closed here.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.datastructures import UploadFile

from facesight.errors import (
    ImageTooLargeError,
    InvalidInputError,
    MediaError,
    UploadTooLargeError,
)
from facesight.library.facade import Library
from facesight.library.roles import Permission
from facesight.records import IdentifiedFace
from facesight.web.api import after_id
from facesight.web.api_models import ERRORS, AuditPage, SearchOut
from facesight.web.auth import Guard, Principal
from facesight.web.serialize import candidate_json, number

__all__ = ["identify_upload", "router"]

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


def _top_k(value: object) -> int:
    if value is None:
        return 3
    text = value.strip() if isinstance(value, str) else ""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_TOP_K:
        raise InvalidInputError(f"top_k must be a whole number from 1 to {MAX_TOP_K}")
    return int(text)


def identify_upload(lib: Library, data: bytes, top_k: int, max_pixels: int) -> list[IdentifiedFace]:
    """Identify the faces of ``data`` through a private file deleted before returning."""
    folder = Path(tempfile.mkdtemp(prefix="facesight-upload-"))
    try:
        image = folder / "upload"
        image.write_bytes(data)
        try:
            return lib.identify(image, top_k=top_k, max_pixels=max_pixels)
        except MediaError as error:  # name the upload, not the private file
            problem = error.problem
            if isinstance(error, ImageTooLargeError):
                # the loader's hint (raise --max-pixels) does not lift an upload's limit
                problem = problem.partition(" (raise")[0] + " for a search upload"
            raise type(error)("the uploaded image", problem) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@router.post("/search", response_model=SearchOut, openapi_extra={"requestBody": _UPLOAD_BODY})
async def search(
    request: Request, principal: Annotated[Principal, Depends(Guard(Permission.SEARCH))]
) -> dict[str, Any]:
    """Every face in an uploaded photo (multipart field ``image``) with its nearest enrolled
    people (``top_k`` of them, default 3). The photo is not kept."""
    settings = request.app.state.settings
    form = await request.form(max_files=1, max_fields=4)
    try:
        upload = form.get("image")
        if not isinstance(upload, UploadFile):
            raise InvalidInputError("send the photo as the multipart file field `image`")
        top_k = _top_k(form.get("top_k"))
        data = await upload.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise UploadTooLargeError(
                f"the uploaded image is over the limit of {settings.max_upload_bytes:,} bytes"
            )
    finally:
        await form.close()
    faces = await request.app.state.gate.run(
        lambda lib: identify_upload(lib, data, top_k, settings.max_upload_pixels),
        actor=principal.account.name,
    )
    return {"faces": [identified_json(f) for f in faces]}


@router.get("/audit", response_model=AuditPage)
async def audit(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.ADMINISTER))],
    after: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    action: Annotated[str | None, Query(max_length=100, description="or a family: review")] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """The audit log, newest first; ``after`` is the id of the last record of the page before."""
    before = after_id(after) or None
    records = await request.app.state.gate.run(
        lambda lib: lib.audit_records(action=action, actor=actor, before=before, limit=limit + 1),
        actor=principal.account.name,
    )
    shown = records[:limit]
    return {
        "items": [
            {
                "id": r.id,
                "at": r.at,
                "actor": r.actor,
                "action": r.action,
                "items": r.items,
                "details": "" if "details" in r.erased else r.details,
                "os_user": r.os_user,
                "claimed_user": r.claimed_user,
                "version": r.version,
                "hash": r.hash,
                "erased": list(r.erased),
            }
            for r in shown
        ],
        "next_after": str(shown[-1].id) if len(records) > limit else None,
    }
