"""Metadata Working Group face regions (``mwg-rs:Regions``): digiKam, Lightroom, darktable,
ExifTool, and ``facesight export-xmp``.

MWG Guidelines 2.0 section 5.9: ``mwg-rs:RegionList`` holds structs with ``mwg-rs:Name``,
``mwg-rs:Type`` (``Face``, ``Pet``, ``Focus``, ``BarCode``) and ``mwg-rs:Area``, whose
``stArea:x``/``stArea:y`` are the region's *centre* and ``stArea:w``/``stArea:h`` its size,
in ``stArea:unit`` ``normalized`` (fractions of ``mwg-rs:AppliedToDimensions``); a
``pixel`` unit is converted with those dimensions. Regions of another type than ``Face``
are left out; a region without a type is taken as a face (older digiKam wrote none).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from facesight.defaults import FACESIGHT_XMP_NS
from facesight.errors import InvalidInputError
from facesight.tags.regions import TaggedRegion, TagReading, normalised_box
from facesight.tags.xmp_packet import items, struct_fields, text_of, top_fields, xmp_toolkit

__all__ = ["MWG_TOOL", "mwg_regions"]

MWG_TOOL = "MWG regions"

_RS = "{http://www.metadataworkinggroup.com/schemas/regions/}"
_AREA = "{http://ns.adobe.com/xmp/sType/Area#}"
_DIM = "{http://ns.adobe.com/xap/1.0/sType/Dimensions#}"


def mwg_regions(root: ET.Element, reading: TagReading) -> None:
    """Add the packet's MWG face regions to ``reading`` (and its facesight media sha256);
    a region with wrong numbers becomes one line of ``reading.problems``."""
    fields = top_fields(root)
    sha = text_of(fields.get(f"{{{FACESIGHT_XMP_NS}}}MediaSHA256"))
    if sha:
        reading.media_sha256 = sha.lower()
    regions = fields.get(f"{_RS}Regions")
    if regions is None or isinstance(regions, str):
        return
    info = struct_fields(regions)
    applied = _dimensions(info.get(f"{_RS}AppliedToDimensions"))
    software = xmp_toolkit(root)
    tool = f"{MWG_TOOL} ({software})" if software else MWG_TOOL
    for number, item in enumerate(items(info.get(f"{_RS}RegionList")), start=1):
        region = struct_fields(item)
        kind = text_of(region.get(f"{_RS}Type")) or "Face"
        if kind != "Face":
            continue
        name = " ".join((text_of(region.get(f"{_RS}Name")) or "").split())
        try:
            box = _area(region.get(f"{_RS}Area"), applied)
        except InvalidInputError as error:
            reading.problems.append(f"{reading.source}: MWG region {number}: {error}")
            continue
        reading.regions.append(TaggedRegion(name, box, tool, reading.source, applied))


def _number(fields: dict[str, ET.Element | str], key: str) -> float:
    text = text_of(fields.get(key))
    if text is None or text == "":
        raise InvalidInputError(f"{key.rpartition('}')[2]} is missing")
    try:
        return float(text)
    except ValueError:
        raise InvalidInputError(f"{key.rpartition('}')[2]} is not a number: {text!r}") from None


def _dimensions(value: ET.Element | str | None) -> tuple[int, int] | None:
    if value is None or isinstance(value, str):
        return None
    fields = struct_fields(value)
    try:
        w, h = _number(fields, f"{_DIM}w"), _number(fields, f"{_DIM}h")
    except InvalidInputError:
        return None
    return (round(w), round(h)) if w > 0 and h > 0 else None


def _area(
    value: ET.Element | str | None, applied: tuple[int, int] | None
) -> tuple[float, float, float, float]:
    if value is None or isinstance(value, str):
        raise InvalidInputError("it has no Area")
    fields = struct_fields(value)
    x, y = _number(fields, f"{_AREA}x"), _number(fields, f"{_AREA}y")
    w, h = _number(fields, f"{_AREA}w"), _number(fields, f"{_AREA}h")
    unit = text_of(fields.get(f"{_AREA}unit")) or "normalized"
    if unit == "pixel":
        if applied is None:
            raise InvalidInputError("a pixel Area without AppliedToDimensions")
        x, w = x / applied[0], w / applied[0]
        y, h = y / applied[1], h / applied[1]
    elif unit != "normalized":
        raise InvalidInputError(f"Area unit {unit!r} is neither normalized nor pixel")
    x1, y1, x2, y2 = normalised_box(x - w / 2, y - h / 2, w, h)
    return (x1, y1, x2, y2)
