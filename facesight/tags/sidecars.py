"""Where a media file's face tags are, and reading them all: sidecars, embedded XMP, Picasa.

A media file ``photo.jpg`` has its tags in:

- a sidecar beside it: ``photo.jpg.xmp`` (digiKam, darktable, Immich, ``export-xmp``) or
  ``photo.xmp`` (Lightroom, Adobe Camera Raw), either case of ``.xmp``;
- or, with a sidecar folder (``--sidecars DIR``, searched recursively), a sidecar there
  paired by the media sha256 that ``export-xmp`` writes into its sidecars
  (``facesight:MediaSHA256``: found whatever the sidecar is called, so its path-hashed
  names ``photo-1a2b3c4d.jpg.xmp`` pair too), else by file name as above;
- its own embedded XMP packet;
- the ``.picasa.ini`` of its folder (or of the sidecar folder).

A sidecar that names another content's sha256 is not used for this file (it describes
another version of the photo: an edit, a resized copy) and is reported.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from facesight.errors import InvalidInputError
from facesight.tags.mp import mp_regions
from facesight.tags.mwg import mwg_regions
from facesight.tags.picasa import PICASA_INI_NAMES, picasa_regions
from facesight.tags.regions import TagReading
from facesight.tags.xmp_packet import embedded_packet, read_sidecar

__all__ = ["SidecarFolder", "read_tags", "read_xmp_sidecar"]


def read_xmp_sidecar(path: Path) -> TagReading:
    """The MWG and Microsoft Photo regions of one XMP sidecar; a file that cannot be read or
    parsed is one line of ``problems`` (never an exception)."""
    reading = TagReading(os.fspath(path))
    try:
        root = read_sidecar(path)
    except InvalidInputError as error:
        reading.problems.append(str(error))
        return reading
    mwg_regions(root, reading)
    mp_regions(root, reading)
    return reading


def _embedded(media: Path) -> TagReading | None:
    reading = TagReading(f"{media} (embedded XMP)")
    try:
        root = embedded_packet(media)
    except InvalidInputError as error:
        reading.problems.append(str(error))
        return reading
    if root is None:
        return None
    mwg_regions(root, reading)
    mp_regions(root, reading)
    reading.media_sha256 = None  # a packet inside the file describes that file
    return reading if reading.regions or reading.problems else None


def _name_keys(media_name: str) -> list[str]:
    stem, dot, _ = media_name.rpartition(".")
    keys = [f"{media_name}.xmp".casefold()]
    if dot and stem:
        keys.append(f"{stem}.xmp".casefold())
    return keys


class SidecarFolder:
    """The sidecars of a separate folder (``--sidecars DIR``), each read once.

    Raises InvalidInputError when ``folder`` is not a folder.
    """

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise InvalidInputError(f"{folder} is not a folder of sidecars")
        self.folder = Path(os.path.abspath(folder))
        self.readings: list[TagReading] = []
        self._by_sha: dict[str, list[TagReading]] = {}
        self._by_name: dict[str, list[TagReading]] = {}
        for path in sorted(self.folder.rglob("*")):
            if path.suffix.casefold() != ".xmp" or not path.is_file():
                continue
            reading = read_xmp_sidecar(path)
            self.readings.append(reading)
            if reading.media_sha256:
                self._by_sha.setdefault(reading.media_sha256, []).append(reading)
            self._by_name.setdefault(path.name.casefold(), []).append(reading)
        self.used: set[str] = set()

    def for_media(self, media: Path, sha256: str) -> list[TagReading]:
        """The sidecars of this content: by sha256 when any names it, else by file name."""
        found = self._by_sha.get(sha256.lower(), [])
        if not found:
            found = [r for key in _name_keys(media.name) for r in self._by_name.get(key, [])]
        self.used.update(r.source for r in found)
        return found

    def picasa_ini(self) -> list[Path]:
        """The ``.picasa.ini`` files directly in the folder."""
        return [p for name in PICASA_INI_NAMES if (p := self.folder / name).is_file()]


def _beside(media: Path) -> list[Path]:
    names = {key for key in _name_keys(media.name)}
    try:
        siblings = list(media.parent.iterdir())
    except OSError:
        return []
    return sorted(p for p in siblings if p.name.casefold() in names and p.is_file())


def read_tags(media: Path, sha256: str, folder: SidecarFolder | None = None) -> list[TagReading]:
    """Every tag reading of one media file (see the module docstring), sidecars first.

    A sidecar that names another content's sha256 is replaced by a reading holding only
    that problem.
    """
    sidecars = [read_xmp_sidecar(p) for p in _beside(media)]
    if folder is not None:
        sidecars += folder.for_media(media, sha256)
    readings = [_checked(r, sha256) for r in sidecars]
    embedded = _embedded(media)
    if embedded is not None:
        readings.append(embedded)
    inis = [media.parent / name for name in PICASA_INI_NAMES]
    if folder is not None:
        inis += folder.picasa_ini()
    for ini in _existing(inis):
        picasa = picasa_regions(ini, media.name)
        if picasa.regions or picasa.problems:
            readings.append(picasa)
    return readings


def _checked(reading: TagReading, sha256: str) -> TagReading:
    if reading.media_sha256 is None or reading.media_sha256 == sha256.lower():
        return reading
    return TagReading(
        reading.source,
        problems=[
            f"{reading.source}: written for content {reading.media_sha256[:12]}..., not this "
            f"file ({sha256[:12]}...); not used"
        ],
    )


def _existing(paths: Iterable[Path]) -> list[Path]:
    seen: dict[Path, None] = {}
    for path in paths:
        if path.is_file():
            seen.setdefault(path.resolve(), None)
    return list(seen)
