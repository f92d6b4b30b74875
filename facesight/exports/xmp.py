"""XMP sidecars with named face regions, for photo managers to read (digiKam, Lightroom, Immich).

A sidecar holds the Metadata Working Group region schema (``mwg-rs:Regions``, MWG Guidelines
2.0 section 5.9), which digiKam, Lightroom Classic, Immich, PiGallery2 and ExifTool read: the
image size the regions apply to (``mwg-rs:AppliedToDimensions``, pixels) and one ``Face``
region per person with its name and area. Areas are normalised 0-1 with ``stArea:x/y`` the
*centre* of the box (not its corner) and ``stArea:w/h`` its size. The names are repeated in
``Iptc4xmpExt:PersonInImage`` (IPTC Extension "person shown"), which Lightroom and IPTC-aware
catalogues list without reading regions. They are not written as keywords (``dc:subject``):
importing would mix them into the user's own keyword list. The content's sha256 is written
as ``facesight:MediaSHA256`` (namespace ``defaults.FACESIGHT_XMP_NS``): ``import-tags``
pairs a sidecar with its media by it, whatever either file is called.

Orientation: MWG regions apply to the *stored* pixels, before the EXIF Orientation tag is
applied, and a viewer rotates them with the image. facesight's boxes are in upright pixels
(orientation applied), so :func:`xmp_sidecar` takes the file's orientation
(:func:`exif_orientation`) and maps boxes and dimensions back to the stored image.

Naming (:func:`sidecar_path`): ``photo.jpg`` -> ``photo.jpg.xmp``, the convention of digiKam,
darktable and Immich (which also reads ``photo.xmp``). Lightroom and Adobe Camera Raw name
sidecars ``photo.xmp`` instead, but only read sidecars for raw files, and ``photo.xmp`` is
ambiguous when a camera writes ``photo.jpg`` and ``photo.cr2`` side by side, so we keep the
full file name. Sidecars are written into an export folder; media from different folders
that share a file name get a short hash of their full path (``photo-1a2b3c4d.jpg.xmp``) so
none overwrites another (:func:`sidecar_paths`). Copy a sidecar next to its media file under
the plain name for a catalogue to pick it up.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, UnidentifiedImageError

from facesight._version import __version__
from facesight.defaults import FACESIGHT_XMP_NS
from facesight.errors import (
    CorruptMediaError,
    ImageTooLargeError,
    InvalidInputError,
    UnreadableMediaError,
    UnsupportedMediaError,
)
from facesight.files import write_text_atomically
from facesight.media.formats import register_heif

__all__ = [
    "FaceRegion",
    "exif_orientation",
    "sidecar_path",
    "sidecar_paths",
    "write_sidecar",
    "xmp_sidecar",
]

_TOOLKIT = "facesight"
_ORIENTATION_TAG = 0x0112
# XML 1.0 cannot carry these characters at all, escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class FaceRegion:
    """A named face box: ``xyxy`` in pixels of the upright image (as facesight stores boxes).

    An empty ``name`` writes an unnamed face region. Raises InvalidInputError for a box that
    is not finite with ``x2 > x1`` and ``y2 > y1``, or a name with characters XML cannot
    carry (control characters other than tab and newline).
    """

    name: str
    xyxy: tuple[float, float, float, float]

    def __post_init__(self) -> None:
        if len(self.xyxy) != 4:
            raise InvalidInputError(f"face box must be (x1, y1, x2, y2), got {self.xyxy}")
        x1, y1, x2, y2 = self.xyxy
        if not all(math.isfinite(v) for v in self.xyxy) or x2 <= x1 or y2 <= y1:
            raise InvalidInputError(
                f"face box must be finite (x1, y1, x2, y2) with x2 > x1 and y2 > y1, "
                f"got {self.xyxy}"
            )
        if _NOT_XML.search(self.name):
            raise InvalidInputError(
                f"name {self.name!r} has control characters that XMP cannot hold; remove them"
            )


def xmp_sidecar(
    regions: Sequence[FaceRegion],
    width_px: int,
    height_px: int,
    *,
    orientation: int = 1,
    media_sha256: str | None = None,
) -> str:
    """An XMP packet (UTF-8 text) with one MWG ``Face`` region per item of ``regions``.

    ``width_px`` x ``height_px`` is the upright image the boxes are in; ``orientation`` is
    the file's EXIF Orientation (1-8, 1 = stored upright), used to express regions and
    ``AppliedToDimensions`` in stored pixels as MWG requires. Boxes are clipped to the
    image; areas are written with 6 decimals (under a hundredth of a pixel at 10,000 px).
    With no regions the packet is valid but empty (a sidecar that says nothing).
    ``media_sha256`` (the content the regions were found in) is written as
    ``facesight:MediaSHA256``, so ``import-tags --sidecars`` pairs the sidecar with its
    media whatever either is called.

    Raises InvalidInputError for a non-positive size, an orientation outside 1-8, or a box
    that lies wholly outside the image.
    """
    if width_px <= 0 or height_px <= 0:
        raise InvalidInputError(f"image size must be positive, got {width_px}x{height_px}")
    if orientation not in range(1, 9):
        raise InvalidInputError(f"EXIF orientation must be 1-8, got {orientation}")
    stored_w, stored_h = (height_px, width_px) if orientation >= 5 else (width_px, height_px)
    items = "\n".join(
        _region_xml(region, _stored_area(region, width_px, height_px, orientation))
        for region in regions
    )
    names = list(dict.fromkeys(region.name for region in regions if region.name))
    people = "".join(f"\n      <rdf:li>{escape(name)}</rdf:li>" for name in names)
    parts = [_REGIONS.format(w=stored_w, h=stored_h, items=items)] if regions else []
    if names:
        parts.append(_PEOPLE.format(people=people))
    if media_sha256:
        parts.append(f"\n   <facesight:MediaSHA256>{escape(media_sha256)}</facesight:MediaSHA256>")
    return _PACKET.format(
        toolkit=escape(f"{_TOOLKIT} {__version__}"),
        namespace=FACESIGHT_XMP_NS,
        body="".join(parts),
    )


_PACKET = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="{toolkit}">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
    xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#"
    xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#"
    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    xmlns:facesight="{namespace}">{body}
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""

_REGIONS = """
   <mwg-rs:Regions rdf:parseType="Resource">
    <mwg-rs:AppliedToDimensions stDim:w="{w}" stDim:h="{h}" stDim:unit="pixel"/>
    <mwg-rs:RegionList>
     <rdf:Bag>
{items}
     </rdf:Bag>
    </mwg-rs:RegionList>
   </mwg-rs:Regions>"""

_PEOPLE = """
   <Iptc4xmpExt:PersonInImage>
    <rdf:Bag>{people}
    </rdf:Bag>
   </Iptc4xmpExt:PersonInImage>"""


def _region_xml(region: FaceRegion, area: tuple[float, float, float, float]) -> str:
    # The layout Lightroom Classic writes, which every reader we target parses.
    x, y, w, h = (f"{v:.6f}" for v in area)
    name = f" mwg-rs:Name={quoteattr(region.name)}" if region.name else ""
    return (
        f'      <rdf:li>\n       <rdf:Description{name} mwg-rs:Type="Face">\n'
        f'        <mwg-rs:Area stArea:x="{x}" stArea:y="{y}" stArea:w="{w}" stArea:h="{h}"'
        ' stArea:unit="normalized"/>\n'
        "       </rdf:Description>\n      </rdf:li>"
    )


def _stored_area(
    region: FaceRegion, width_px: int, height_px: int, orientation: int
) -> tuple[float, float, float, float]:
    """(centre x, centre y, w, h) normalised to the stored image, from an upright box."""
    x1, y1, x2, y2 = region.xyxy
    x1, x2 = max(x1, 0.0), min(x2, float(width_px))
    y1, y2 = max(y1, 0.0), min(y2, float(height_px))
    if x2 <= x1 or y2 <= y1:
        raise InvalidInputError(
            f"face box {region.xyxy} of {region.name!r} lies outside the "
            f"{width_px}x{height_px} image"
        )
    u, v = (x1 + x2) / 2 / width_px, (y1 + y2) / 2 / height_px
    w, h = (x2 - x1) / width_px, (y2 - y1) / height_px
    # Where the upright point (u, v) was in the stored image, for each EXIF orientation.
    x, y = {
        1: (u, v),
        2: (1 - u, v),
        3: (1 - u, 1 - v),
        4: (u, 1 - v),
        5: (v, u),
        6: (v, 1 - u),
        7: (1 - v, 1 - u),
        8: (1 - v, u),
    }[orientation]
    return (x, y, h, w) if orientation >= 5 else (x, y, w, h)


def exif_orientation(path: str | os.PathLike[str]) -> int:
    """The EXIF Orientation (1-8) of an image file; 1 when it has none or an invalid one.

    Only the header is read. Raises UnreadableMediaError when the file cannot be read,
    UnsupportedMediaError when it is not an image Pillow knows, CorruptMediaError for a
    broken header and ImageTooLargeError past Pillow's decompression-bomb limit.
    """
    path = Path(path)
    register_heif()  # a phone's HEIC gets a sidecar too, in a process that decoded none
    try:
        with warnings.catch_warnings():
            # A huge header is not our concern here: no pixel is decoded.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # damaged metadata: Pillow warns and goes on (tests/test_fuzz.py)
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
            with Image.open(path) as image:
                value = image.getexif().get(_ORIENTATION_TAG, 1)
    except UnidentifiedImageError as exc:
        raise UnsupportedMediaError(path, "not an image; no EXIF orientation to read") from exc
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(path, str(exc)) from exc
    except OSError as exc:
        raise UnreadableMediaError(path, f"cannot read: {exc.strerror or exc}") from exc
    except (ValueError, SyntaxError) as exc:
        raise CorruptMediaError(path, f"cannot read the image header: {exc}") from exc
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def sidecar_path(
    media_path: str | os.PathLike[str], output_dir: str | os.PathLike[str], *, unique: bool = False
) -> Path:
    """``<output_dir>/<media file name>.xmp``; with ``unique``, the name carries a path hash.

    ``unique`` inserts the first 8 hex digits of the SHA-256 of the full ``media_path``
    before the extension (``photo-1a2b3c4d.jpg.xmp``), so media with one file name in
    different folders get different sidecars. Raises InvalidInputError for a path with no
    file name.
    """
    name = PurePath(media_path).name
    if not name or name in (".", ".."):
        raise InvalidInputError(f"media path {os.fspath(media_path)!r} has no file name")
    if unique:
        digest = hashlib.sha256(os.fsencode(media_path)).hexdigest()[:8]
        stem, dot, suffix = name.rpartition(".")
        name = f"{stem}-{digest}.{suffix}" if dot and stem else f"{name}-{digest}"
    return Path(output_dir) / f"{name}.xmp"


def sidecar_paths(
    media_paths: Iterable[str | os.PathLike[str]], output_dir: str | os.PathLike[str]
) -> dict[str, Path]:
    """The sidecar of each media path (keyed by ``os.fspath``), unique within the export.

    A file name shared by two or more different paths (compared case-insensitively, as on
    macOS and Windows disks) makes all of them ``unique`` names, whatever their order;
    others keep the plain name. Raises InvalidInputError if two sidecars would still clash.
    """
    paths = list(dict.fromkeys(os.fspath(p) for p in media_paths))
    shared = Counter(PurePath(p).name.casefold() for p in paths)
    result = {
        p: sidecar_path(p, output_dir, unique=shared[PurePath(p).name.casefold()] > 1)
        for p in paths
    }
    clashes = Counter(path.name.casefold() for path in result.values())
    if any(count > 1 for count in clashes.values()):
        taken = sorted(name for name, count in clashes.items() if count > 1)
        raise InvalidInputError(f"sidecar names clash in {os.fspath(output_dir)}: {taken}")
    return result


def write_sidecar(path: str | os.PathLike[str], packet: str) -> None:
    """Write an XMP packet as UTF-8, atomically; the parent folder is created.

    An existing file is replaced only if facesight wrote it: a sidecar from digiKam or
    Lightroom holds the user's own edits. Raises InvalidInputError for such a file (export
    to another folder, or move it away), OSError from the disk.
    """
    target = Path(path)
    if target.exists() and not _ours(target):
        raise InvalidInputError(
            f"{target} exists and was not written by facesight; it may hold edits from "
            "another program, so it is left alone: export to an empty folder or move it away"
        )
    write_text_atomically(target, packet)


def _ours(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return f'x:xmptk="{_TOOLKIT} '.encode() in head
