"""From analysed files to the rows a scan stores: matched faces, media records, events.

Shared by the local scan (``scan.collection``: this process writes each batch) and the
distributed one (``scan.chunk_worker``: each worker writes its chunk), so both store the
same rows for the same files. No writes here: the callers own their transactions.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from facesight.errors import MediaError
from facesight.records import Candidate, MediaFailure, ScanEvent, ScanStatus
from facesight.scan.video import AssembledVideo, media_row, track_descriptors, track_rows
from facesight.scan.workers import AnalyzedFile
from facesight.store.rows import FaceRow, MediaRow
from facesight.vision.pipeline import FacePipeline

__all__ = ["Matcher", "NewMedia", "new_media_rows", "video_failure", "video_rows"]

NewMedia = tuple[str, MediaRow, list[FaceRow]]
"""One file to store: its path, its media record and its faces (``Store.save_media_batch``)."""


class Matcher(Protocol):
    """Ranks enrolled people for (n, d) descriptors of faces of (n,) qualities, (n,) box
    widths in pixels, and (n,) numbers of faces fused into each descriptor (a video
    track's): the library's calibrated ``Library.match``."""

    def __call__(
        self,
        embeddings: NDArray[np.float32],
        qualities: NDArray[np.float64] | None = None,
        *,
        widths: NDArray[np.float64] | None = None,
        fused: NDArray[np.int64] | None = None,
    ) -> list[list[Candidate]]: ...


def new_media_rows(
    new: list[AnalyzedFile], pipeline: FacePipeline, match: Matcher
) -> tuple[list[NewMedia], list[ScanEvent]]:
    """Match the faces of new images in one call; their rows and one event each."""
    events = []
    embeddings = np.concatenate([r.embedding for r in new])
    widths = np.concatenate([r.xyxy[:, 2] - r.xyxy[:, 0] for r in new]).astype(np.float64)
    ranked = match(embeddings, np.concatenate([r.quality for r in new]), widths=widths)
    batch, start = [], 0
    for result in new:
        rows = _face_rows(result, ranked[start : start + len(result)])
        start += len(result)
        batch.append((result.path, _media_row(result, pipeline, len(rows)), rows))
        matched = sum(1 for row in rows if row.candidates and row.candidates[0].is_match)
        events.append(ScanEvent(result.path, ScanStatus.SCANNED, faces=len(rows), matched=matched))
    return batch, events


def video_failure(video: AssembledVideo) -> MediaError | None:
    """The damage met in a video, saying whether the faces before it are kept."""
    if video.error is None:
        return None if video.readable else MediaError(video.path, "no frame could be read")
    kept = "; the faces before the damage are kept" if video.readable else ""
    return type(video.error)(video.error.path, video.error.problem + kept)


def video_rows(
    video: AssembledVideo, pipeline: FacePipeline, match: Matcher
) -> tuple[NewMedia, ScanEvent]:
    """A readable video's record and its tracks (one face each), matched; its event."""
    descriptors, qualities, widths, fused = track_descriptors(video)
    ranked = match(descriptors, qualities, widths=widths, fused=fused) if len(fused) else []
    rows = track_rows(video, descriptors, ranked)
    media = media_row(video, pipeline.detector_version, pipeline.embedder_version)
    error = video_failure(video)
    failure = None if error is None else MediaFailure.from_error(error)
    matched = sum(1 for row in rows if row.candidates and row.candidates[0].is_match)
    footage = video.info.duration_s or (video.tracks[-1].end_s if video.tracks else 0.0)
    event = ScanEvent(
        video.path, ScanStatus.SCANNED, len(rows), matched, failure, footage_s=footage
    )
    return (video.path, media, rows), event


def _media_row(result: AnalyzedFile, pipeline: FacePipeline, face_count: int) -> MediaRow:
    return MediaRow(
        sha256=result.sha256,
        kind="image",
        width_px=result.width_px,
        height_px=result.height_px,
        captured_at=result.captured_at,
        gps=result.gps,
        face_count=face_count,
        detector=pipeline.detector_version,
        embedder=pipeline.embedder_version,
    )


def _face_rows(result: AnalyzedFile, candidates: list[list[Candidate]]) -> list[FaceRow]:
    return [
        FaceRow(
            frame=None,
            face_index=i,
            xyxy=result.xyxy[i],
            kps5=result.kps5[i],
            score=float(result.score[i]),
            embedding=result.embedding[i],
            crop_path=result.crop_paths[i],
            candidates=candidates[i],
            quality=float(result.quality[i]),
            quality_reasons=result.quality_reasons[i],
        )
        for i in range(len(result))
    ]
