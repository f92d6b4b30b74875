"""Face quality: pose from landmarks, sharpness, size and detector score, with reasons."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facesight.identity.calibrate import Calibration, load_reference_calibration
from facesight.identity.match import Gallery, match_faces
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


def test_faces_near_the_centre_of_all_faces_are_never_named() -> None:
    reference = load_reference_calibration()
    centre = np.asarray(reference.centre, np.float32)
    assert len(centre) == 128 and 0.3 < reference.min_centre_distance < 0.6
    rng = np.random.default_rng(5)
    direction = rng.normal(size=128).astype(np.float32)
    direction /= np.linalg.norm(direction)
    far = centre + 0.6 * direction  # a distinct face
    near = centre + 0.5 * reference.min_centre_distance * direction  # a collapsed one
    assert list(reference.usable(np.stack([far, near]))) == [True, False]
    gallery = Gallery(far[None, :], np.array([1]), ["A"], np.array([1]), ["a.jpg"])
    calibration = Calibration(reference, (1,))
    # both probes are closer to A than any stranger usually comes; only one may be named
    ranked = match_faces(np.stack([far, near + 0.5 * (far - near)]), gallery, calibration)
    assert ranked[0][0].is_match and not ranked[0][0].insufficient_quality
    assert ranked[1][0].insufficient_quality and not ranked[1][0].is_match
    # nor with a fixed decision distance that everyone is under
    fixed = match_faces(np.stack([far, near]), gallery, calibration, max_distance=5.0)
    assert fixed[0][0].is_match and not fixed[1][0].is_match


@pytest.mark.slow
def test_the_quality_rule_script_prints_its_tables_in_quick_mode(tmp_path: Path) -> None:
    script = Path(__file__).parents[1] / "scripts" / "data" / "measure_quality_rule.py"
    done = subprocess.run(
        [sys.executable, str(script), "--quick", "--cache", str(tmp_path / "probes.npz")],
        capture_output=True,
        text=True,
        check=True,
    )
    for variant in ("clean", "48px", "gauss5", "motion17"):
        assert f"| {variant} |" in done.stdout
    assert "| distance to centre |" in done.stdout and "min_centre_distance" in done.stdout
    # heavy blur costs misses: its miss rate at 1e-3 is over clean faces'
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines() if "|" in line}
    miss = {v: float(rows[v].split("|")[-2].split()[0].rstrip("%")) for v in ("clean", "gauss5")}
    assert miss["gauss5"] > miss["clean"] + 20
