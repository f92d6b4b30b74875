"""One thread owns the library; requests reach it through :class:`LibraryGate`.

The ``Library`` holds one database connection and models that are not meant to be shared
between threads, and its audit log is told who acts (``Library.acting_as``) for each call.
So every call runs on one worker thread, one at a time, inside the acting account's
``acting_as``: a decision and its audit record are always made under the right name, and the
event loop stays free to stream files meanwhile. A small team's requests are short (a page of
the queue, one decision); scans and other long work are background jobs (``library.jobs``),
run by a worker process, whose changes each call notices first (``Library.notice_changes``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from facesight.library.facade import Library

__all__ = ["LibraryGate"]

T = TypeVar("T")


class LibraryGate:
    """Runs library calls on the thread that opened the library.

    Args:
        open_library: makes the ``Library`` (called once, on the worker thread).
    """

    def __init__(self, open_library: Callable[[], Library]) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facesight-library")
        self._library: Library = self._executor.submit(open_library).result()

    async def run(self, call: Callable[[Library], T], *, actor: str | None = None) -> T:
        """``call(library)`` on the library's thread; under ``actor``'s name when given."""

        def job() -> T:
            # the job worker (another process) may have changed the library since the
            # last call: drop what the library keeps from the database (gallery, model)
            self._library.notice_changes()
            if actor is None:
                return call(self._library)
            with self._library.acting_as(actor):
                return call(self._library)

        return await asyncio.wrap_future(self._executor.submit(job))

    def run_blocking(self, call: Callable[[Library], T]) -> T:
        """``call(library)`` from outside the event loop (start-up, tests, shutdown)."""
        return self._executor.submit(call, self._library).result()

    def close(self) -> None:
        """Close the library (on its thread) and stop the thread."""
        self._executor.submit(self._library.close).result()
        self._executor.shutdown(wait=True)
