"""Calibrated scores: the estimated false-match rate is checked against real impostors.

The shipped tables were measured on half of lfw-dev's people (``scripts/
build_calibration.py``); these checks use the *other* half, described here by
the real pipeline, so the test is not circular.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from facesight.errors import ModelError
from facesight.eval.calibration import poisson_interval, shared_distance, template_scale
from facesight.eval.described import describe_images
from facesight.identity.calibrate import (
    Calibration,
    ImpostorTable,
    gallery_factor,
    load_reference_calibration,
    write_measured_fields,
)
from facesight.identity.match import pairwise_distances
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder
from facesight.vision.pipeline import FacePipeline

from .paths import LFW_DEV, REPO

REFERENCE = load_reference_calibration()


def _checking_half(name: str) -> bool:
    return hashlib.sha1(name.encode()).digest()[0] % 2 == 1


@pytest.fixture(scope="module")
def other_half(
    detector: FaceDetector, embedder: FaceEmbedder
) -> tuple[NDArray[np.float32], NDArray[np.str_]]:
    """Descriptors of every 4th image of the people the tables were not measured on."""
    paths = sorted(p for p in (LFW_DEV / "people").glob("*/*.jpg") if _checking_half(p.parent.name))
    sample = paths[::4]
    described = describe_images(sample, FacePipeline(detector, embedder))
    found = [(p, d.descriptor) for p, d in zip(sample, described, strict=True) if d.found]
    assert len(found) >= 0.99 * len(sample)
    names = np.array([p.parent.name for p, _ in found])
    return np.stack([d for _, d in found]), names  # type: ignore[misc]


def test_estimated_fmr_is_honest_on_lfw_dev_impostors(
    other_half: tuple[NDArray[np.float32], NDArray[np.str_]],
) -> None:
    vectors, names = other_half
    distances = pairwise_distances(vectors, vectors)
    impostor = np.triu(names[:, None] != names[None, :], 1)
    observed_pairs = distances[impostor]
    assert len(observed_pairs) > 100_000  # >= 100 events expected at 1e-3
    table = REFERENCE.table(1)
    for estimated in (1e-2, 1e-3):
        observed = float(np.mean(observed_pairs <= table.distance_at(estimated)))
        assert estimated / 2 <= observed <= estimated * 2, (estimated, observed)


def test_table_inverts_and_extrapolates_its_tail() -> None:
    rng = np.random.default_rng(7)
    table = ImpostorTable.measure(rng.normal(0.8, 0.08, 400_000))
    for rate in (1e-2, 1e-3, 1e-4):
        assert math.isclose(float(table.fmr(table.distance_at(rate))), rate, rel_tol=1e-6)
    # A normal's tail, 1e-4 at about 0.8 - 3.72 sd: the table measures it.
    assert abs(table.distance_at(1e-4) - (0.8 - 3.719 * 0.08)) < 0.01
    below = table.distances[0] - 0.05
    assert 0 < float(table.fmr(below)) < float(table.fmr(table.distances[0]))
    rates = table.fmr(np.linspace(0.2, 1.4, 50))
    assert np.all(np.diff(rates) >= 0) and rates[-1] <= 1.0


def test_fused_tables_are_the_single_table_scaled() -> None:
    # a size-k table borrows the size-1 tail (every person on both sides), scaled by the
    # ratio a fused template sits closer at 1e-2..1e-3 (eval.calibration.measure_tables)
    rng = np.random.default_rng(11)
    single = ImpostorTable.measure(rng.normal(0.8, 0.08, 200_000))
    fused = ImpostorTable.measure(0.93 * rng.normal(0.8, 0.08, 200_000))
    scale = template_scale(single, fused)
    assert abs(scale - 0.93) < 0.005
    derived = single.scaled(scale)
    for rate in (1e-2, 1e-4, 1e-6):  # inside the table and in its extrapolated tail
        assert math.isclose(derived.distance_at(rate), scale * single.distance_at(rate))
        assert math.isclose(float(derived.fmr(scale * single.distance_at(rate))), rate)
    for size in (2, 3, 4):
        ratios = [
            REFERENCE.table(size).distance_at(r) / REFERENCE.table(1).distance_at(r)
            for r in (1e-2, 1e-4, 1e-6)
        ]
        assert max(ratios) - min(ratios) < 1e-3 and ratios[0] < 1.0


def test_poisson_interval_is_garwoods() -> None:
    # exact 95 % limits (Garwood 1936; chi-square quantiles / 2)
    assert poisson_interval(0) == (0.0, pytest.approx(3.6889, abs=1e-3))
    assert poisson_interval(1) == (pytest.approx(0.0253, abs=1e-3), pytest.approx(5.5716, abs=1e-3))
    assert poisson_interval(10) == (
        pytest.approx(4.7954, abs=1e-3),
        pytest.approx(18.390, abs=1e-3),
    )


def test_identification_level_compounds_over_the_gallery() -> None:
    small = Calibration(REFERENCE, (1,) * 10, target_fpir=1e-2)
    large = Calibration(REFERENCE, (1,) * 1000, target_fpir=1e-2)
    assert math.isclose(small.fpir_of(small.alpha), 1e-2, rel_tol=1e-9)
    assert math.isclose(large.fpir_of(large.alpha), 1e-2, rel_tol=1e-9)
    assert large.alpha < small.alpha / 50  # 100x the people: ~100x stricter per person
    assert large.threshold(1) < small.threshold(1)
    # A template of three faces is matched by strangers more often at equal distance.
    assert REFERENCE.table(3).fmr(0.5) > 2 * REFERENCE.table(1).fmr(0.5)
    assert small.threshold(3) < small.threshold(1)


def test_gallery_factor_rises_only_for_look_alike_galleries() -> None:
    table = REFERENCE.table(1)
    rng = np.random.default_rng(3)
    # Distances drawn from the reference itself: no correction.
    levels = rng.uniform(0, 1, 200_000)
    typical = np.interp(np.log10(levels), table.log10_fmr, table.distances)
    sizes = np.ones(len(typical), np.int64)
    assert gallery_factor(REFERENCE, typical, sizes) < 1.3
    # The same gallery where 1 in 1000 cross-person pairs is very close: corrected upwards.
    alike = typical.copy()
    alike[:200] = 0.40
    assert gallery_factor(REFERENCE, alike, sizes) > 3
    assert gallery_factor(REFERENCE, np.zeros(0), np.zeros(0, np.int64)) == 1.0


def test_shipped_calibration_names_its_descriptor_and_command(embedder: FaceEmbedder) -> None:
    assert REFERENCE.descriptor == embedder.descriptor_version
    assert REFERENCE.command == "python scripts/data/build_calibration.py"
    assert (Path(__file__).parents[1] / "scripts" / "data" / "build_calibration.py").is_file()
    assert sorted(REFERENCE.tables) == [1, 2, 3, 4]


def test_small_and_fused_probes_are_matched_by_strangers_more_often() -> None:
    reference = load_reference_calibration()
    # measured on lfw-dev's check half (scripts/data/measure_video_rules.py, docs/video.md):
    # smaller faces and more fused faces are matched more often, never less than 1x
    steps = reference.size_factors
    assert steps and all(a[0] < b[0] and a[1] >= b[1] >= 1.0 for a, b in itertools.pairwise(steps))
    assert reference.size_factor(steps[0][0] - 1) == steps[0][1] > 1.0
    assert reference.size_factor(100.0) == 1.0 and reference.size_factor(None) == 1.0
    assert reference.fused_factor(1) == 1.0 < reference.fused_factor(2) < reference.fused_factor(3)
    assert reference.fused_factor(9) == reference.fused_factor(3)
    poor = reference.quality_factor("poor")
    # a small face is also a poor one: the larger factor counts, not both
    small = reference.size_factor(24.0)
    assert reference.probe_factor(0.0, 24.0) == max(poor, small)
    assert reference.probe_factor(0.0, 200.0) == poor
    assert reference.probe_factor(0.9, 24.0, fused=3) == small * reference.fused_factor(3)
    calibration = Calibration(reference, (1,) * 10)
    # a stricter probe needs a smaller distance to be named
    assert calibration.threshold_for(1, 4.0) < calibration.threshold_for(1, 1.0)


README_BOUND = 1.5
"""README and docs/accuracy.md: observed FPIR within 1.5x of the target on unseen people."""

CONFIGS = {(10, 1), (100, 1), (1000, 1), (10, 3), (100, 3), (200, 3)}


@pytest.fixture(scope="module")
def unseen_json() -> dict[str, Any]:
    """``scripts/data/check_calibration.py --quick --json``: its whole output."""
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "data" / "check_calibration.py"),
            "--quick",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    checked: dict[str, Any] = json.loads(done.stdout)
    return checked


@pytest.fixture(scope="module")
def unseen_check(unseen_json: dict[str, Any]) -> list[dict[str, Any]]:
    """The check's rows: both directions, every row."""
    checked = unseen_json
    assert checked["max_ratio"] == README_BOUND
    rows: list[dict[str, Any]] = checked["rows"]
    assert {(r["build_half"], r["people"], r["references"], r["target_fpir"]) for r in rows} == {
        (h, n, k, t) for h in (0, 1) for n, k in CONFIGS for t in (1e-2, 1e-3)
    }
    return rows


@pytest.mark.slow
def test_decision_never_names_unseen_people_more_often_than_it_claims(
    unseen_check: list[dict[str, Any]],
) -> None:
    # the side that matters to a court: a row may exceed its claim by more than 1.5x
    # only where its 95 % interval still holds the claim (a handful of look-alike pairs)
    for r in unseen_check:
        low, high = r["interval"]
        assert low <= high and (r["observed"] == 0 or low <= r["ratio"] <= high)
        assert r["ratio"] <= README_BOUND or low <= 1.0, r
    # and the shipped tables (built on half 0) hold it on half 1 wherever there are events
    # enough to tell 1.5x from 1x
    shipped = [r for r in unseen_check if r["build_half"] == 0 and r["events"] >= 20]
    assert len(shipped) >= 4
    assert all(1 / README_BOUND <= r["ratio"] <= README_BOUND for r in shipped), shipped


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="issue 11 item 3 is not met in every row and cannot be on lfw-dev's halves: for "
    "3-reference galleries of 100 and 200 people no single distance holds both halves within "
    "1.5x (test_no_table_can_hold_both_halves_in_every_row; docs/accuracy.md, "
    "python scripts/data/check_calibration.py)",
)
def test_decision_holds_its_fpir_on_people_it_never_saw(
    unseen_check: list[dict[str, Any]],
) -> None:
    # a row is judged where enough false positives are expected to tell 1.5x from 1x
    judged = [r for r in unseen_check if r["claimed"] >= 15]
    assert len(judged) >= 20
    off = [r for r in judged if not 1 / README_BOUND <= r["ratio"] <= README_BOUND]
    assert off == [], [(r["build_half"], r["drawn"], r["references"], r["ratio"]) for r in off]


NO_TABLE_HOLDS = {(100, 3, 1e-3), (200, 3, 1e-2), (200, 3, 1e-3)}


@pytest.mark.slow
def test_no_table_can_hold_both_halves_in_every_row(unseen_json: dict[str, Any]) -> None:
    # what blocks issue 11 item 3 (docs/accuracy.md): even the one distance chosen with both
    # halves' strangers in view misses 1.5x on one half for 3-reference galleries of 100 and
    # 200 people; every 1-reference row, and the 10-person 3-reference rows, it can hold
    shared = {
        (r["people"], r["references"], r["target_fpir"]): r for r in unseen_json["shared_distance"]
    }
    assert set(shared) == {(n, k, t) for n, k in CONFIGS for t in (1e-2, 1e-3)}
    for (people, refs, target), r in shared.items():
        assert r["level"] == pytest.approx(target / people)
        within = all(1 / README_BOUND <= ratio <= README_BOUND for ratio in r["ratios"])
        assert within == ((people, refs, target) not in NO_TABLE_HOLDS), r


@pytest.mark.slow
def test_the_shipped_tables_are_what_the_build_script_writes(tmp_path: Path) -> None:
    # no number in the tables is typed by hand: a rerun writes the same file
    # (descriptors come from the library's cache; a cold cache describes half of lfw-dev)
    out = tmp_path / "calibration.json"
    script = REPO / "scripts" / "data" / "build_calibration.py"
    subprocess.run([sys.executable, str(script), "--output", str(out)], check=True)
    rebuilt = json.loads(out.read_text())
    shipped = json.loads((REPO / "facesight" / "data" / "calibration.json").read_text())
    for key in ("descriptor", "source", "command", "tables", "quality_factors", "centre"):
        assert rebuilt[key] == shipped[key], key
    # copied forward from the scripts that measure them (measure_quality_rule.py --write,
    # measure_video_rules.py --write), with the record of which command wrote them
    for key in ("min_centre_distance", "size_factors", "fused_factors", "written_by"):
        assert rebuilt[key] == shipped[key], key


SHIPPED = REPO / "facesight" / "data" / "calibration.json"
VIDEO_RULES = "python scripts/data/measure_video_rules.py --write"


def test_a_measuring_script_writes_its_fields_and_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    path.write_text(SHIPPED.read_text())
    before = json.loads(path.read_text())
    write_measured_fields(path, {"fused_factors": {"2": 1.5, "3": 1.75}}, "python measure.py")
    after = json.loads(path.read_text())
    assert after["fused_factors"] == {"2": 1.5, "3": 1.75}
    assert after["written_by"]["fused_factors"] == "python measure.py"
    # every other field, and what wrote it, is kept
    for key in set(before) - {"fused_factors", "written_by"}:
        assert after[key] == before[key], key
    for key in set(before.get("written_by", {})) - {"fused_factors"}:
        assert after["written_by"][key] == before["written_by"][key], key
    # a field that breaks the file is refused and the file is left as it was
    with pytest.raises(ModelError, match="not a calibration file"):
        write_measured_fields(path, {"tables": "nonsense"}, "python measure.py")
    assert json.loads(path.read_text()) == after


@pytest.mark.slow
def test_the_shipped_size_and_fused_factors_are_what_the_video_script_measures(
    tmp_path: Path,
) -> None:
    # no factor is typed by hand: `measure_video_rules.py --write` wrote them, and a rerun
    # of its quick mode (descriptors of rendered views from the library's cache; cold,
    # about 1,700 small renderings) lands near them
    shipped = json.loads(SHIPPED.read_text())
    assert shipped["written_by"]["size_factors"] == VIDEO_RULES
    assert shipped["written_by"]["fused_factors"] == VIDEO_RULES
    out = tmp_path / "video-rules.json"
    script = REPO / "scripts" / "data" / "measure_video_rules.py"
    subprocess.run(
        [sys.executable, str(script), "--quick", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    quick = json.loads(out.read_text())["derived"]
    # the same structure: the same width steps, the same numbers of fused faces
    assert [w for w, _ in shipped["size_factors"]] == [w for w, _ in quick["size_factors"]]
    assert sorted(shipped["fused_factors"]) == sorted(quick["fused_factors"])
    # Each value within 3 of the quick run's bootstrap standard errors (probes, or
    # tracks, resampled), plus 0.01 for rounding up. Why 3: quick mode measures every
    # 4th person's probes, a subset of the full run's, so the sd of quick - full is
    # about sqrt(1 - 1/4) = 0.87 of the quick one's; 3 se is 3.5 sd (a chance under
    # 1e-3 per value), with room for the small upward bias the max over two levels adds
    # to a smaller sample. The quick run is deterministic (fixed people, fixed seed).
    # The fused factors come from every photo track in both modes: equal up to rounding.
    se = quick["size_factor_se"]
    steps = zip(shipped["size_factors"], quick["size_factors"], se, strict=True)
    for (width, full), (_, measured), error in steps:
        assert abs(full - measured) <= 3 * error + 0.01, (width, full, measured, error)
    for k, full in shipped["fused_factors"].items():
        measured, error = quick["fused_factors"][k], quick["fused_factor_se"][k]
        assert abs(full - measured) <= 3 * error + 0.01, (k, full, measured, error)


def test_the_shared_distance_is_the_best_compromise_between_two_sets_of_people() -> None:
    # strangers of set B sit 0.1 further than set A's: at level 0.1 the best one distance x
    # balances x / 0.1 against 0.1 / (x - 0.1), which gives the golden ratio either side
    a = np.linspace(0.0, 1.0, 100_001)
    b = a + 0.1
    ones = np.ones_like(a)
    shared = shared_distance((a, ones), (b, ones), 0.1)
    golden = (1 + math.sqrt(5)) / 2
    assert shared.distance == pytest.approx(0.1 * golden, abs=1e-3)
    assert shared.ratios[0] == pytest.approx(golden, abs=1e-2)
    assert shared.ratios[1] == pytest.approx(1 / golden, abs=1e-2)
    # the same people on both sides: the distance at the level holds both exactly
    same = shared_distance((a, ones), (a, ones), 0.1)
    assert same.ratios == pytest.approx((1.0, 1.0), abs=1e-3)
    # weights count: doubling the weight of the nearest half of set A's pairs raises its rate
    heavy = np.where(a < 0.5, 2.0, 1.0)
    assert shared_distance((a, heavy), (a, ones), 0.1).ratios[0] > 1.0
