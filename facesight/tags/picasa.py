"""Picasa's face tags: ``.picasa.ini`` in each photo folder.

A section per file (``[IMG_0001.jpg]``) may hold ``faces=rect64(3f845bcb59418507),
8e62398ebda8c1a5;rect64(...),...``: each face a ``rect64`` (up to 16 hex digits, leading
zeros dropped: four 16-bit numbers left, top, right, bottom, each a fraction of 65535) and
a contact id. ``[Contacts2]`` maps contact ids to ``name;;`` (and Picasa's own contact
database holds the rest: an id not listed here has no name we can read, and
``ffffffffffffffff`` is Picasa's "face found, nobody named"). Section names compare
case-insensitively, as on the Windows disks Picasa ran on.
"""

from __future__ import annotations

import re
from pathlib import Path

from facesight.errors import InvalidInputError
from facesight.tags.regions import TaggedRegion, TagReading, normalised_box
from facesight.tags.xmp_packet import MAX_SIDECAR_BYTES

__all__ = ["PICASA_INI_NAMES", "PICASA_TOOL", "picasa_regions", "rect64_box"]

PICASA_TOOL = "Picasa"
PICASA_INI_NAMES = (".picasa.ini", "Picasa.ini")
"""The file names Picasa 3 and Picasa 2 gave it."""

_NOBODY = "ffffffffffffffff"
_SECTION = re.compile(r"^\s*\[(.*)\]\s*$")
_RECT = re.compile(r"^rect64\(([0-9a-fA-F]{1,16})\)$")


def picasa_regions(ini: Path, media_name: str) -> TagReading:
    """The face regions a ``.picasa.ini`` gives the file ``media_name`` of its folder.

    A face with wrong numbers, or without a contact name, is one line of ``problems``
    (unnamed faces are listed once as a count); a file that cannot be read is one too.
    """
    reading = TagReading(str(ini))
    try:
        if ini.stat().st_size > MAX_SIDECAR_BYTES:
            raise InvalidInputError(f"{ini}: over {MAX_SIDECAR_BYTES} bytes; not read")
        text = ini.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        reading.problems.append(f"{ini}: cannot read: {exc.strerror or exc}")
        return reading
    except InvalidInputError as error:
        reading.problems.append(str(error))
        return reading
    sections = _sections(text)
    contacts = {key.lower(): value.split(";")[0].strip() for key, value in _contacts(sections)}
    faces = sections.get(media_name.casefold(), {}).get("faces", "")
    unnamed = 0
    for number, entry in enumerate(filter(None, faces.split(";")), start=1):
        rect, _, contact = entry.partition(",")
        try:
            box = rect64_box(rect.strip())
        except InvalidInputError as error:
            reading.problems.append(f"{ini}: [{media_name}] face {number}: {error}")
            continue
        name = " ".join(contacts.get(contact.strip().lower(), "").split())
        if not name:
            unnamed += 1
            continue
        reading.regions.append(TaggedRegion(name, box, PICASA_TOOL, str(ini)))
    if unnamed:
        reading.problems.append(
            f"{ini}: [{media_name}] {unnamed} face(s) with no contact name in [Contacts2] "
            "(unnamed in Picasa, or named only in Picasa's own database)"
        )
    return reading


def rect64_box(text: str) -> tuple[float, float, float, float]:
    """(x1, y1, x2, y2) normalised from ``rect64(hex)``. Raises InvalidInputError."""
    found = _RECT.match(text)
    if found is None:
        raise InvalidInputError(f"{text!r} is not rect64(up to 16 hex digits)")
    digits = found.group(1).zfill(16)
    left, top, right, bottom = (int(digits[i : i + 4], 16) / 65535 for i in range(0, 16, 4))
    x1, y1, x2, y2 = normalised_box(left, top, right - left, bottom - top)
    return (x1, y1, x2, y2)


def _sections(text: str) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        header = _SECTION.match(line)
        if header is not None:
            current = sections.setdefault(header.group(1).strip().casefold(), {})
        elif current is not None and "=" in line:
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    return sections


def _contacts(sections: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
    listed = sections.get("contacts2", {})
    return [(key, value) for key, value in listed.items() if key.lower() != _NOBODY]
