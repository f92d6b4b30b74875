"""Microsoft Photo regions (``MP:RegionInfo``): Windows Live Photo Gallery, Windows Photos.

The "People Tagging Overview" of the Windows Imaging Component: ``MP:RegionInfo`` holds
``MPRI:Regions``, a bag of structs with ``MPReg:PersonDisplayName`` and
``MPReg:Rectangle``, the text ``"x, y, w, h"``: the *top-left corner* and size, as
fractions of the image. A region with a name but no rectangle (a person named, not
placed) has nothing to match a face with, and is reported.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from facesight.errors import InvalidInputError
from facesight.tags.regions import TaggedRegion, TagReading, normalised_box
from facesight.tags.xmp_packet import items, struct_fields, text_of, top_fields, xmp_toolkit

__all__ = ["MP_TOOL", "mp_regions"]

MP_TOOL = "Microsoft Photo regions"

_MP = "{http://ns.microsoft.com/photo/1.2/}"
_MPRI = "{http://ns.microsoft.com/photo/1.2/t/RegionInfo#}"
_MPREG = "{http://ns.microsoft.com/photo/1.2/t/Region#}"


def mp_regions(root: ET.Element, reading: TagReading) -> None:
    """Add the packet's Microsoft Photo regions to ``reading``; a region with a missing or
    wrong rectangle becomes one line of ``reading.problems``."""
    info = top_fields(root).get(f"{_MP}RegionInfo")
    if info is None or isinstance(info, str):
        return
    software = xmp_toolkit(root)
    tool = f"{MP_TOOL} ({software})" if software else MP_TOOL
    for number, item in enumerate(items(struct_fields(info).get(f"{_MPRI}Regions")), start=1):
        region = struct_fields(item)
        name = " ".join((text_of(region.get(f"{_MPREG}PersonDisplayName")) or "").split())
        try:
            box = _rectangle(text_of(region.get(f"{_MPREG}Rectangle")))
        except InvalidInputError as error:
            reading.problems.append(f"{reading.source}: Microsoft Photo region {number}: {error}")
            continue
        reading.regions.append(TaggedRegion(name, box, tool, reading.source))


def _rectangle(text: str | None) -> tuple[float, float, float, float]:
    if not text:
        raise InvalidInputError("it has no Rectangle")
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise InvalidInputError(f"Rectangle {text!r} is not 'x, y, w, h'")
    try:
        x, y, w, h = (float(p) for p in parts)
    except ValueError:
        raise InvalidInputError(f"Rectangle {text!r} is not four numbers") from None
    x1, y1, x2, y2 = normalised_box(x, y, w, h)
    return (x1, y1, x2, y2)
