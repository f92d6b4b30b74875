"""Tracking faces through real video: the Hamilton clip of ../shared/faces/video."""

from __future__ import annotations

import numpy as np
import pytest

from facesight.media.images import load_image
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder
from facesight.vision.pipeline import FacePipeline, VideoAnalysis, analyze_video
from facesight.vision.track import FaceTracker, TrackedFace

from .paths import PEOPLE, SHARED_FACES

HAMILTON = SHARED_FACES / "video" / "face_recognition_short_hamilton_clip.mp4"
MIRANDA = PEOPLE / "Lin_Manuel_Miranda" / "face_recognition_lin-manuel-miranda.jpg"


@pytest.fixture(scope="module")
def pipeline(detector: FaceDetector, embedder: FaceEmbedder) -> FacePipeline:
    return FacePipeline(detector, embedder)


@pytest.fixture(scope="module")
def hamilton(pipeline: FacePipeline) -> VideoAnalysis:
    return analyze_video(HAMILTON, pipeline)


def test_the_performer_is_one_track_with_a_time_range(
    hamilton: VideoAnalysis, pipeline: FacePipeline
) -> None:
    reference = pipeline.analyze(load_image(MIRANDA).pixels)
    miranda = reference.embedding[reference.largest()]
    nearest = min(hamilton.tracks, key=lambda t: np.linalg.norm(t.descriptor() - miranda))
    assert np.linalg.norm(nearest.descriptor() - miranda) < 0.45
    assert nearest.start_s < 3.1 and nearest.end_s > 6.8 and len(nearest.faces) >= 8
    assert nearest.best.quality > 0.9
    assert hamilton.frames_analyzed == 20  # the 0.5 s grid in 9.2 s, and the cut
    assert len(hamilton.crops) == len(hamilton.tracks)


def test_audience_faces_are_tracks_of_their_own(hamilton: VideoAnalysis) -> None:
    last_shot = [t for t in hamilton.tracks if t.start_s > 7.0]
    assert len(last_shot) >= 4  # the audience: several people, each followed separately
    for track in last_shot:
        descriptors = np.stack([f.embedding for f in track.faces])
        spread = np.linalg.norm(descriptors - track.recent(), axis=1)
        assert spread.max() < 0.55


def _face(time_s: float, x: float, vector: np.ndarray) -> TrackedFace:
    box = np.array([x, 10, x + 50, 60], np.float32)
    kps = np.zeros((5, 2), np.float32)
    return TrackedFace(int(time_s * 4), time_s, box, kps, 0.99, 1.0, vector.astype(np.float32))


def test_two_people_crossing_stay_two_tracks() -> None:
    rng = np.random.default_rng(1)
    a, b = (v / np.linalg.norm(v) * 1.43 for v in rng.normal(size=(2, 128)))
    tracker = FaceTracker()
    for step in range(8):  # they walk past each other
        t = step * 0.25
        tracker.update([_face(t, 20 + 10 * step, a), _face(t, 100 - 10 * step, b)])
    tracks = tracker.finish()
    assert len(tracks) == 2 and all(len(t.faces) == 8 for t in tracks)
    for track in tracks:
        assert len({tuple(np.round(f.embedding[:3], 4)) for f in track.faces}) == 1


def test_tracks_end_at_scene_cuts_and_long_gaps() -> None:
    vector = np.ones(128) / np.sqrt(128) * 1.43
    tracker = FaceTracker(max_gap_s=1.0)
    tracker.update([_face(0.0, 20, vector)])
    tracker.update([_face(0.25, 22, vector)])
    tracker.update([_face(2.0, 24, vector)])  # 1.75 s later: a new track
    tracker.update([_face(2.25, 24, vector)], scene_cut=True)  # a new shot: a new track
    assert [len(t.faces) for t in tracker.finish()] == [2, 1, 1]


def test_several_tracks_ending_together_are_all_kept() -> None:
    rng = np.random.default_rng(2)
    a, b, c = (v / np.linalg.norm(v) * 1.43 for v in rng.normal(size=(3, 128)))
    tracker = FaceTracker(max_gap_s=1.0)
    tracker.update([_face(0.0, 20, a), _face(0.0, 200, b)])
    tracker.update([_face(0.25, 22, a), _face(0.25, 202, b)])
    tracker.update([_face(3.0, 100, c)])  # both earlier tracks end here
    assert [len(t.faces) for t in tracker.finish()] == [2, 2, 1]
