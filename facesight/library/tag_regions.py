"""Which stored face each tagged region is: regions of one image matched to its faces.

A region read from a sidecar (``facesight.tags``) is normalised in its writer's frame;
it is turned upright with the file's EXIF orientation (``tags.regions``) and compared with
each stored face of the image, normalised by the upright size the scan recorded. A region
is a face when their boxes overlap with an intersection over union of at least
:data:`MIN_TAG_IOU` (the rule that carries reviews to re-analysed faces,
``identity/carry.py``); a region takes the face it overlaps most. Regions naming one
person twice at one place (a sidecar and the embedded packet) count once; two names on
one face are left for the import to list as a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facesight.faces import box_iou
from facesight.records import Sighting
from facesight.tags.regions import TaggedRegion, stored_frame, upright_box
from facesight.text import name_key

__all__ = ["MIN_TAG_IOU", "RegionMatch", "match_regions"]

MIN_TAG_IOU = 0.5
"""Least overlap (IoU) of a tagged region and a detected face box for them to be one face.
Tools draw regions their own way (digiKam's hug the face, Picasa's and Lightroom's add
margin); ``export-xmp`` regions come back at IoU 1.0."""


@dataclass(frozen=True)
class RegionMatch:
    """A tagged region of one image and the stored face under it (None: no face there).

    ``box_px`` is the region in upright pixels of the image, as facesight's boxes are.
    """

    path: str
    region: TaggedRegion
    box_px: tuple[float, float, float, float]
    sighting: Sighting | None
    iou: float


def _distinct(regions: list[TaggedRegion]) -> list[TaggedRegion]:
    kept: list[TaggedRegion] = []
    for region in regions:
        box = np.asarray(region.box, np.float32)
        same = [
            k
            for k in kept
            if name_key(k.name) == name_key(region.name)
            and box_iou(np.asarray([k.box], np.float32), box)[0] >= MIN_TAG_IOU
        ]
        if not same:
            kept.append(region)
    return kept


def match_regions(
    path: str,
    regions: list[TaggedRegion],
    faces: list[Sighting],
    orientation: int,
    upright_px: tuple[int, int],
) -> list[RegionMatch]:
    """Each distinct region of the image ``path`` with its stored face (or None).

    Args:
        faces: the image's stored faces (still-image sightings).
        orientation: the file's EXIF orientation (1-8).
        upright_px: (width, height) of the upright image, as scanned.
    """
    width, height = upright_px
    stored_px = (height, width) if orientation >= 5 else (width, height)
    distinct = _distinct(regions)
    boxes = []
    for region in distinct:
        box = region.box
        if stored_frame(region, orientation, stored_px):
            box = upright_box(box, orientation)
        boxes.append(box)
    face_boxes = np.asarray(
        [
            [f.xyxy[0] / width, f.xyxy[1] / height, f.xyxy[2] / width, f.xyxy[3] / height]
            for f in faces
        ],
        np.float32,
    ).reshape(-1, 4)
    chosen: dict[int, tuple[int, float]] = {}
    for r, box in enumerate(boxes):
        overlaps = box_iou(face_boxes, np.asarray(box, np.float32))
        if len(overlaps) and overlaps.max() >= MIN_TAG_IOU:
            best = int(np.argmax(overlaps))
            chosen[r] = (best, float(overlaps[best]))
    found = []
    for r, (region, box) in enumerate(zip(distinct, boxes, strict=True)):
        x1, y1, x2, y2 = box
        box_px = (x1 * width, y1 * height, x2 * width, y2 * height)
        face, iou = chosen.get(r, (None, 0.0))
        found.append(RegionMatch(path, region, box_px, None if face is None else faces[face], iou))
    return found
