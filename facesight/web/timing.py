"""``Server-Timing: app;dur=<ms>`` on every response: the server time the scale figures use.

The time runs from the moment the request reaches the app (outside every other middleware)
to the moment the response's headers leave it: the wait for the one library thread, the
library call and the rendering, without the network or the client. A streamed body (a video)
is timed to its first byte. ``bench/workspace_pages.py`` and ``bench/load_test.py`` read it.
A plain ASGI middleware (not ``BaseHTTPMiddleware``): it adds one header and no task per
request.
"""

from __future__ import annotations

import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SERVER_TIMING", "ServerTiming"]

SERVER_TIMING = "Server-Timing"


class ServerTiming:
    """Adds ``Server-Timing: app;dur=<ms>`` (milliseconds, 0.1 ms steps) to HTTP answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed_ms = (time.perf_counter() - start) * 1000
                MutableHeaders(scope=message).append(SERVER_TIMING, f"app;dur={elapsed_ms:.1f}")
            await send(message)

        await self.app(scope, receive, timed)
