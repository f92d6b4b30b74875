"""Face quality: pose from landmarks, sharpness, size and detector score, with reasons."""

from __future__ import annotations

import numpy as np

from facesight.quality import assess_quality, head_pose, quality_band

FRONTAL = np.array([[38, 52], [74, 52], [56, 72], [41, 92], [71, 92]], np.float32)


def _chip(seed: int = 0, blur: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    chip = rng.integers(0, 255, (150, 150, 3)).astype(np.uint8)
    if blur:
        chip[:] = chip.mean(axis=(0, 1)).astype(np.uint8)
    return chip


def test_frontal_landmarks_give_no_pose_and_top_quality() -> None:
    yaw, pitch = head_pose(FRONTAL)
    assert abs(yaw) < 0.01 and abs(pitch) < 0.06
    quality = assess_quality(_chip(), 120.0, FRONTAL, 0.99)
    assert quality.score == 1.0 and quality.reasons == () and quality.band == "good"


def test_turned_head_is_the_weakest_link_and_named() -> None:
    turned = FRONTAL.copy()
    turned[2, 0] = 56 + 0.5 * 36  # nose half an eye distance to the side
    yaw, _ = head_pose(turned)
    assert 0.45 < yaw < 0.55
    quality = assess_quality(_chip(), 120.0, turned, 0.99)
    assert quality.score < 0.3 and quality.band == "poor"
    assert quality.reasons[0].startswith("turned sideways") and quality.warnings
    # a rotated copy (roll) of the frontal face is still frontal
    angle = np.radians(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    rolled = (FRONTAL - 56) @ rotation.T + 56
    assert abs(head_pose(rolled.astype(np.float32))[0]) < 0.01


def test_small_blurred_unsure_faces_list_every_reason_weakest_first() -> None:
    quality = assess_quality(_chip(blur=True), 20.0, FRONTAL, 0.86)
    assert quality.score == 0.0
    assert [r.split(" ")[0] for r in quality.reasons] == ["blurred", "small", "unsure"]
    assert quality_band(0.5) == "fair" and quality_band(0.1) == "poor"
