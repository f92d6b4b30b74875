"""The largest request body the app reads: refused while it arrives, never stored first.

A declared ``Content-Length`` over the limit is answered 413 before the body is read; a body
sent without one (chunked) is counted as it is read and stops the request once over. The
limit is the search upload's (``ServeSettings.max_upload_bytes``) plus room for the multipart
headers and the form's other fields; every other body (JSON decisions) is far smaller.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facesight.errors import UploadTooLargeError

__all__ = ["FORM_OVERHEAD_BYTES", "BodyLimit"]

FORM_OVERHEAD_BYTES = 64 * 1024
"""Room beside the image for the multipart boundaries, part headers and small fields."""


class BodyLimit:
    """ASGI middleware refusing request bodies over ``max_bytes`` (HTTP 413)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise UploadTooLargeError(self._message())
            return message

        await self.app(scope, counted, send)

    def _message(self) -> str:
        return f"the request body is over the limit of {self.max_bytes:,} bytes"

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": self._message(), "error": "UploadTooLargeError"}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
