"""``facesight eval``: real lfw-dev images, real models, the CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from facesight.cli.main import cli
from facesight.eval.datasets import read_pairs
from facesight.eval.described import DescriptorCache

from .paths import LFW_DEV

LFW_PEOPLE = LFW_DEV / "people"


def _eval(library: Path, *args: str, init: bool = True) -> dict[str, object]:
    if init:  # with a library, its pipeline; without one, the default (no database made)
        CliRunner().invoke(cli, ["--library", str(library), "init"])
    result = CliRunner().invoke(cli, ["--library", str(library), "eval", *args, "--json"])
    assert result.exit_code == 0, result.output
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


@pytest.fixture(scope="module")
def person_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder per person linking to lfw-dev: 8 people with 4 images, 12 with one."""
    root = tmp_path_factory.mktemp("people")
    folders = sorted(p for p in LFW_PEOPLE.iterdir() if p.is_dir())
    several = [f for f in folders if len(list(f.glob("*.jpg"))) >= 4][:8]
    single = [f for f in folders if len(list(f.glob("*.jpg"))) == 1][:12]
    for folder in several + single:
        (root / folder.name).mkdir()
        for image in sorted(folder.glob("*.jpg"))[:4]:
            (root / folder.name / image.name).symlink_to(image)
    return root


def test_eval_identify_reports_the_protocol_and_writes_det_and_html(
    person_tree: Path, tmp_path: Path
) -> None:
    det, html = tmp_path / "det.png", tmp_path / "report.html"
    report = _eval(
        tmp_path / "lib",
        *("identify", str(person_tree), "--det", str(det), "--html", str(html)),
        init=False,
    )
    assert not (tmp_path / "lib" / "facesight.db").exists()  # evaluating makes no library
    assert (report["enrolled"], report["mated_probes"], report["nonmated_probes"]) == (8, 24, 12)
    assert report["failure_to_detect_rate"] == 0.0
    assert isinstance(report["rank1_accuracy"], float) and report["rank1_accuracy"] >= 0.9
    assert set(report["fnir_at_fpir"]) == {"0.01", "0.001"}  # type: ignore[arg-type]
    assert report["default_target_fpir"] == 0.01 and report["template_fusion"] == "centroid"
    with Image.open(det) as plot:
        assert plot.size == (640, 480)
    page = html.read_text()
    assert "FNIR at FPIR 0.01" in page and "data:image/png;base64," in page


def test_eval_identify_with_three_references_on_the_same_probes(
    person_tree: Path, tmp_path: Path
) -> None:
    outputs = ("--det", str(tmp_path / "det.png"), "--html", str(tmp_path / "report.html"))
    one = _eval(tmp_path / "lib", "identify", str(person_tree), "--probes-from", "3", *outputs)
    three = _eval(tmp_path / "lib", "identify", str(person_tree), "--references", "3", *outputs)
    assert one["mated_probes"] == three["mated_probes"] == 8
    assert (one["references_per_person"], three["references_per_person"]) == (1, 3)
    # Every image was described once: the second run read the cache.
    cache = DescriptorCache(tmp_path / "lib" / "cache" / "eval-descriptors.db")
    rows = cache._conn.execute("SELECT COUNT(*) FROM described").fetchone()[0]
    cache.close()
    assert rows == 8 * 4 + 12


def test_eval_pairs_on_a_fold_headed_list(tmp_path: Path) -> None:
    pairs = read_pairs(LFW_DEV / "pairs.txt")
    lines = []
    for fold in (0, 1):
        mine = [p for p in pairs if p.fold == fold]
        same = [p for p in mine if p.same][:15]
        different = [p for p in mine if not p.same][:15]
        lines.append(f"fold {fold + 1} 30")
        lines += [f"{p.first[0]}\t{p.first[1]}\t{p.second[1]}" for p in same]
        lines += [f"{p.first[0]}\t{p.first[1]}\t{p.second[0]}\t{p.second[1]}" for p in different]
    listing = tmp_path / "pairs.txt"
    listing.write_text("\n".join(lines) + "\n")
    report = _eval(
        tmp_path / "lib", "pairs", str(listing), str(LFW_PEOPLE), "--det", str(tmp_path / "d.png")
    )
    assert (report["pairs"], report["same_pairs"], report["folds"]) == (60, 30, 2)
    assert report["faces_not_found"] == 0
    assert isinstance(report["mean_accuracy"], float) and report["mean_accuracy"] >= 0.93
    assert set(report["tar_at_far"]) == {"0.01", "0.001"}  # type: ignore[arg-type]
    honesty = report["estimated_vs_observed_fmr"]
    assert isinstance(honesty, dict) and 0.5 < honesty["distance_at_0.01"] < 0.7
    assert (tmp_path / "d.png").is_file()


def test_eval_pairs_names_a_missing_image(tmp_path: Path) -> None:
    listing = tmp_path / "pairs.txt"
    listing.write_text("1 1\nNobody_Here\t1\t2\nNobody_Here\t1\tNobody_Else\t1\n")
    CliRunner().invoke(cli, ["--library", str(tmp_path / "lib"), "init"])
    result = CliRunner().invoke(
        cli, ["--library", str(tmp_path / "lib"), "eval", "pairs", str(listing), str(LFW_PEOPLE)]
    )
    assert result.exit_code == 1
    assert "3 image(s) are not under" in result.output
    assert "Nobody_Else/Nobody_Else_0001.jpg, Nobody_Here/Nobody_Here_0001.jpg" in result.output


def test_descriptor_cache_round_trips(tmp_path: Path) -> None:
    from facesight.eval.described import DescribedImage

    cache = DescriptorCache(tmp_path / "c.db")
    vector = np.linspace(-1, 1, 128).astype(np.float32)
    cache.put("k1", DescribedImage("a.jpg", vector, 0.5))
    cache.put("k2", DescribedImage("b.jpg", None, None, "unreadable"))
    cache.commit()
    first, second = cache.get("k1"), cache.get("k2")
    cache.close()
    assert first is not None and first.descriptor is not None
    np.testing.assert_array_equal(first.descriptor, vector)
    assert second is not None and not second.found and second.error == "unreadable"
