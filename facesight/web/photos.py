"""A thread of its own, with models of its own, for the photos uploaded to a search.

Decoding a photo and finding and describing its faces takes from a tenth of a second to
seconds on a CPU (a 40-megapixel upload). On the library's one thread
(:class:`~facesight.web.gate.LibraryGate`) every other request would wait behind it, so an
upload is analysed here (``search.analyze_photo`` with ``Library.photo_pipeline``: the
library's models with sessions of their own) and only the search itself, an index lookup
and a few rows, goes through the gate (``Library.search_analyzed``). Uploads are analysed
one at a time: a second waits here, not in the gate.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from facesight.errors import ImageTooLargeError, MediaError
from facesight.library.search import AnalyzedFaces, analyze_photo
from facesight.web.gate import LibraryGate

__all__ = ["PhotoLane", "with_upload"]

T = TypeVar("T")


def with_upload(data: bytes, call: Callable[[Path], T]) -> T:
    """``call`` on ``data`` written to a private file, deleted before returning; a media
    error names the upload, never the private file."""
    folder = Path(tempfile.mkdtemp(prefix="facesight-upload-"))
    try:
        image = folder / "upload"
        image.write_bytes(data)
        try:
            return call(image)
        except MediaError as error:  # name the upload, not the private file
            problem = error.problem
            if isinstance(error, ImageTooLargeError):
                # the loader's hint (raise --max-pixels) does not lift an upload's limit
                problem = problem.partition(" (raise")[0] + " for a search upload"
            raise type(error)("the uploaded image", problem) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class PhotoLane:
    """Analyses uploaded photos on its own thread with its own copy of the library's models.

    Args:
        gate: the library's gate (asked once for the models, :meth:`Library.photo_pipeline`).
    """

    def __init__(self, gate: LibraryGate) -> None:
        self._pipeline = gate.run_blocking(lambda lib: lib.photo_pipeline())
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facesight-photos")

    @property
    def version(self) -> str:
        """What the descriptors this lane makes are (``Library.search_analyzed`` checks it)."""
        return self._pipeline.embedder_version

    async def analyze(self, data: bytes, max_pixels: int) -> AnalyzedFaces:
        """The faces of the uploaded ``data`` (a private file, deleted before returning)."""

        def job() -> AnalyzedFaces:
            return with_upload(data, lambda image: analyze_photo(self._pipeline, image, max_pixels))

        return await asyncio.wrap_future(self._executor.submit(job))

    def close(self) -> None:
        """Stop the thread once the photo being analysed (if any) is done."""
        self._executor.shutdown(wait=True)
