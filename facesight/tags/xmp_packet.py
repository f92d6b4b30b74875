"""Reading XMP safely: a sidecar file, or the packet embedded in a media file.

Sidecars come from anywhere (a shared folder, a download), so the XML is treated as
hostile: a file over :data:`MAX_SIDECAR_BYTES` is refused unread, and any document type
declaration is refused before parsing (entity definitions are how "billion laughs"
expansion and external entities get in; XMP never needs them, ISO 16684-1 section 7.3
forbids them). What is left is parsed with the standard library's ElementTree.

Embedded XMP is found by its ``<x:xmpmeta`` packet among the first
:data:`EMBEDDED_SCAN_BYTES` of the file: JPEG keeps it in an APP1 segment near the start,
PNG in an uncompressed ``iTXt`` chunk, TIFF, WebP and HEIC as a plain packet too. A
compressed PNG ``iTXt`` packet is not found (Pillow, our decoder, writes them uncompressed).
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from facesight.errors import InvalidInputError

__all__ = [
    "EMBEDDED_SCAN_BYTES",
    "MAX_SIDECAR_BYTES",
    "RDF",
    "descriptions",
    "embedded_packet",
    "items",
    "parse_xmp",
    "read_sidecar",
    "struct_fields",
    "text_of",
    "top_fields",
    "xmp_toolkit",
]

MAX_SIDECAR_BYTES = 8 * 1024 * 1024
"""Largest sidecar read: digiKam's and Lightroom's run to tens of kB (with a develop
history); a thousand face regions take about 400 kB."""

EMBEDDED_SCAN_BYTES = 8 * 1024 * 1024
"""How much of a media file is searched for an embedded packet (JPEG's APP1 segments sit
before the image data, in the first 64 kB unless a large thumbnail precedes them)."""

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_X = "{adobe:ns:meta/}"
_XMP = "{http://ns.adobe.com/xap/1.0/}"
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_PACKET = re.compile(rb"<x:xmpmeta[\s>].*?</x:xmpmeta\s*>", re.DOTALL)


def parse_xmp(data: bytes, source: str | os.PathLike[str]) -> ET.Element:
    """The root element of an XMP document, refused when hostile or malformed.

    Raises InvalidInputError naming ``source``: text that is not UTF-8 (a zero byte), a
    document type or entity declaration, XML that does not parse (truncated, not XML at
    all), or no ``rdf:RDF`` in it.
    """
    name = os.fspath(source)
    if b"\x00" in data:
        # UTF-16 and UTF-32 hide a declaration from the check below; XMP tools write UTF-8
        raise InvalidInputError(f"{name}: not UTF-8 text (UTF-16/32 XMP is not read)")
    if _DECLARATION.search(data):
        raise InvalidInputError(
            f"{name}: has a DOCTYPE/ENTITY declaration, which XMP never needs; refused unread "
            "(entity expansion can exhaust memory)"
        )
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InvalidInputError(f"{name}: not well-formed XML ({exc}); is it truncated?") from exc
    if root.tag != f"{RDF}RDF" and root.find(f".//{RDF}RDF") is None:
        raise InvalidInputError(f"{name}: XML without rdf:RDF, so not XMP")
    return root


def read_sidecar(path: Path) -> ET.Element:
    """The parsed XMP of a sidecar file (see :func:`parse_xmp`).

    Raises InvalidInputError for a file over :data:`MAX_SIDECAR_BYTES`, one that cannot be
    read, or XML that :func:`parse_xmp` refuses.
    """
    try:
        size = path.stat().st_size
        if size > MAX_SIDECAR_BYTES:
            raise InvalidInputError(
                f"{path}: {size} bytes, over the {MAX_SIDECAR_BYTES} a sidecar may have; not read"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return parse_xmp(data, path)


def embedded_packet(path: Path) -> ET.Element | None:
    """The XMP packet inside a media file, parsed; None when it has none.

    Raises InvalidInputError when the file cannot be read or its packet is malformed.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(EMBEDDED_SCAN_BYTES)
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    found = _PACKET.search(head)
    if found is None:
        return None
    return parse_xmp(found.group(0), f"{path} (embedded XMP)")


def struct_fields(element: ET.Element) -> dict[str, ET.Element | str]:
    """The fields of an RDF struct, whichever way it is written.

    A struct's fields may be attributes (``<rdf:Description stArea:x="0.5"/>``), child
    elements (``rdf:parseType="Resource"``), or either inside a nested
    ``rdf:Description``; ExifTool, Exiv2 and Adobe's XMP toolkit each use another.
    Keys are ``{namespace}name``.
    """
    fields: dict[str, ET.Element | str] = {
        key: value for key, value in element.attrib.items() if not key.startswith(RDF)
    }
    for child in element:
        if child.tag == f"{RDF}Description":
            fields.update(struct_fields(child))
        else:
            fields[child.tag] = child
    return fields


def text_of(value: ET.Element | str | None) -> str | None:
    """A simple field's text (an attribute's value, or an element's text), else None."""
    if value is None or isinstance(value, str):
        return value
    if len(value) == 0:
        return (value.text or "").strip()
    alt = value.find(f"{RDF}Alt")  # a language alternative: take its first value
    if alt is not None:
        first = alt.find(f"{RDF}li")
        return None if first is None else (first.text or "").strip()
    return None


def items(value: ET.Element | str | None) -> Iterator[ET.Element]:
    """The ``rdf:li`` items of an array field (Bag, Seq or Alt)."""
    if value is None or isinstance(value, str):
        return
    for array in value:
        if array.tag in (f"{RDF}Bag", f"{RDF}Seq", f"{RDF}Alt"):
            yield from array.findall(f"{RDF}li")


def descriptions(root: ET.Element) -> Iterator[ET.Element]:
    """Every top-level ``rdf:Description`` of the packet (properties may be split across)."""
    rdf = root if root.tag == f"{RDF}RDF" else root.find(f".//{RDF}RDF")
    if rdf is not None:
        yield from rdf.findall(f"{RDF}Description")


def top_fields(root: ET.Element) -> dict[str, ET.Element | str]:
    """The properties of the packet's subject, from all its top-level descriptions."""
    fields: dict[str, ET.Element | str] = {}
    for description in descriptions(root):
        fields.update(struct_fields(description))
    return fields


def xmp_toolkit(root: ET.Element) -> str:
    """The software that wrote the packet (``xmp:CreatorTool``, else the ``x:xmptk``
    toolkit), or "" when neither is given."""
    creator = text_of(top_fields(root).get(f"{_XMP}CreatorTool"))
    if creator:
        return creator
    return root.get(f"{_X}xmptk", "") if root.tag == f"{_X}xmpmeta" else ""
