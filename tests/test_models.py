"""Registered face models end to end, with tiny ONNX models the tests build themselves.

Two models stand in for a user's ArcFace-family file: a fixed random projection of the
aligned 112 px chip (average-pooled) to 64 values (Flatten + MatMul, cosine, the ArcFace
preset) and one of dlib's 150 px chip to 32 values (Gemm, BGR, Euclidean). They are not
good face models; they exercise loading, preprocessing, alignment, batching, tagging and
calibration through the same code a real one goes through. The built-in dlib model is
the proof that the mechanism works: it is registered the same way and must describe
faces exactly as before.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from facesight.cli.main import cli
from facesight.errors import InvalidInputError, ModelError, NotFoundError
from facesight.face_models import ARCFACE_PRESET, DLIB_MODEL
from facesight.identity.calibrate import ReferenceCalibration, load_reference_calibration
from facesight.identity.cluster import (
    DEFAULT_MAX_DISTANCE,
    DEFAULT_MAX_RMS_DISTANCE,
    cluster_distances,
)
from facesight.library.facade import Library
from facesight.library.unknowns import UnknownPeople
from facesight.media.images import load_image
from facesight.vision.align import align_faces
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder
from facesight.vision.onnx_embedder import ARCFACE_KPS5, OnnxFaceEmbedder, template_chips

from .paths import GROUP, PEOPLE

OBAMA = sorted((PEOPLE / "Barack_Obama").glob("*.jpg"))
BIDEN = sorted((PEOPLE / "Joe_Biden").glob("*.jpg"))
OBAMA_AND_BIDEN = GROUP / "face_recognition_obama_and_biden.jpg"

# dlib's descriptor of the face in Barack_Obama/face_recognition_obama.jpg, as the code
# before registered models made it (commit 3a98c6f, this machine's CPU): the built-in
# model must still describe it so
DLIB_OBAMA_HEX = (
    "c857e7bd4f35f93d07f0293cde849ebd3d932ebb248f1ebc96cbc6bd24f6c9bd67452e3eabd2babd83a8803e"
    "e289bd3d7eb56abe1ce903be3c7f083de596e93dd49059bea867b7bd0ecbdfbd5610fdbd6215043d58d60b3b"
    "d45fb03d3363553d5055fdbd5cfbbdbe681f83bdb1fb37bedcc9f9bb86a2bebde01d87bdd85b09bb4d5329be"
    "b52fcebd38371f3d4f530bbd6622973c58c0f53a1522613e8785153dbfaed7bdd379a53db4e7dd3ca920733e"
    "eb20973e544dac3dc14a8ebae525bcbd58aaf23d92bf6fbe188b983d3e71363ebc9f5c3d3948083de640d73d"
    "3f713dbe5027c8bb9385c53d37e80dbe6805b43c06272e3c1f04bfbdded448bdfab6ac3c8bde593e767dd73d"
    "ace007be925b6abd1816223e6fb704bde5c9ec3a9f8aa0bbb95f48be8dcb47be59d160be0373b33d194aca3e"
    "b6ad3d3e72755cbe445bae3c3b094abee337c53b0e1eae3d533c863c5afc8bbd7b3420be91c300bdfeb2393d"
    "d84ccd3d54aa793d6c4126bd428a6f3efe87c5bc8a65703d03dc483dec8f643d24d31bbe041d00bd1bf932be"
    "ea4159bdf99db23be45c41bd9591093dc7f00f3e21dd5dbe2e365c3d122e423c06f4efbca3d7a83c506f883d"
    "6f0818bd72e15dbd0e15963d729e6fbe405f843e674c763ef1cd503d1006383e46b9853d0039b53c4a29f0bb"
    "99ede4bcea7835be40637bbd68e4383daf88813d55037c3dd19a7b3b"
)


def projection_model(path: Path, *, side: int, out: int, pool: int, seed: int, gemm: bool) -> Path:
    """An ONNX model: (n, 3, side, side) -> average pool -> flatten -> a seeded random
    projection to ``out`` values (MatMul, or Gemm with a bias)."""
    pooled = 3 * (side // pool) ** 2
    weights = np.random.default_rng(seed).standard_normal((pooled, out)).astype(np.float32)
    nodes = [
        helper.make_node(
            "AveragePool", ["input"], ["pooled"], kernel_shape=[pool, pool], strides=[pool, pool]
        ),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
    ]
    initializers = [numpy_helper.from_array(weights, "w")]
    if gemm:
        initializers.append(numpy_helper.from_array(np.full(out, 0.1, np.float32), "b"))
        nodes.append(helper.make_node("Gemm", ["flat", "w", "b"], ["embedding"]))
    else:
        nodes.append(helper.make_node("MatMul", ["flat", "w"], ["embedding"]))
    graph = helper.make_graph(
        nodes,
        "projection",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 3, side, side])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", out])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def arcface_like(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "proj64.onnx"
    return projection_model(path, side=112, out=64, pool=4, seed=1, gemm=False)


@pytest.fixture(scope="module")
def dlib_aligned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "gemm32.onnx"
    return projection_model(path, side=150, out=32, pool=5, seed=2, gemm=True)


def _faces_rows(library: Library) -> list[tuple[str, int]]:
    rows = library.store.query(
        "SELECT m.embedder, length(f.embedding) AS n FROM faces f JOIN media m ON m.id = f.media_id"
    )
    return sorted({(str(r["embedder"]), int(r["n"])) for r in rows})


def test_builtin_model_describes_faces_exactly_as_before(
    tmp_path: Path, library: Library, detector: FaceDetector, embedder_fp32: FaceEmbedder
) -> None:
    pixels = load_image(OBAMA[0]).pixels
    stored = np.frombuffer(bytes.fromhex(DLIB_OBAMA_HEX), "<f4")
    with Library(tmp_path / "fp32", detector=detector, embedder=embedder_fp32) as exact:
        analyzed = exact.pipeline.analyze(pixels)
        described = analyzed.embedding[analyzed.largest()]
        # the pipeline hands dlib its own chips, untouched: what the code before did
        chips = align_faces(pixels, analyzed.faces.kps5)
        np.testing.assert_array_equal(analyzed.embedding, exact.pipeline.embedder.describe(chips))
        np.testing.assert_allclose(described, stored, rtol=0, atol=1e-6)
    # the default CPU device (OpenVINO, bfloat16 here): the same descriptor, nearly
    fast = library.pipeline.analyze(pixels)
    assert float(np.linalg.norm(fast.embedding[fast.largest()] - stored)) < 0.03
    assert library.model is None and library.pipeline.embedder.spec is None


def test_register_reads_the_output_length_and_lists_the_builtin_model(
    library: Library, arcface_like: Path, dlib_aligned: Path
) -> None:
    spec = library.add_model(arcface_like, name="proj", **ARCFACE_PRESET)
    other = library.add_model(
        dlib_aligned, name="gemm", input_px=150, align="dlib", bgr=True, metric="l2"
    )
    assert (spec.length, spec.metric, spec.input_px, other.length) == (64, "cosine", 112, 32)
    entries = library.models()
    assert [(e.name, e.active, e.calibration) for e in entries] == [
        (DLIB_MODEL, True, "shipped"),
        ("gemm", False, "none"),
        ("proj", False, "none"),
    ]
    with pytest.raises(InvalidInputError, match="already registered"):
        library.add_model(arcface_like, name="proj", **ARCFACE_PRESET)
    with pytest.raises(InvalidInputError, match="built-in"):
        library.add_model(arcface_like, name=DLIB_MODEL, **ARCFACE_PRESET)
    with pytest.raises(ModelError, match="expected"):
        library.add_model(arcface_like, name="wrong", input_px=150, align="arcface")
    with pytest.raises(NotFoundError, match="no model is called"):
        library.use_model("nobody")


def test_arcface_alignment_puts_the_landmarks_on_the_template() -> None:
    pixels = load_image(OBAMA[0]).pixels
    # a face whose landmarks are the template itself, shifted: its chip is that region
    kps5 = (ARCFACE_KPS5 + np.float32([40, 30]))[None]
    chip = template_chips(pixels, kps5, ARCFACE_KPS5, 112)[0]
    np.testing.assert_allclose(chip[20:90, 20:90], pixels[50:120, 60:130], atol=1)


def test_onnx_embedder_batches_and_orders_channels_as_registered(
    library: Library, dlib_aligned: Path
) -> None:
    rgb = library.add_model(dlib_aligned, name="rgb", input_px=150, align="dlib", metric="l2")
    bgr = replace(rgb, name="bgr", bgr=True)
    pixels = load_image(OBAMA_AND_BIDEN).pixels
    faces = library.pipeline.detector.detect(pixels)
    chips = align_faces(pixels, faces.kps5)
    one_by_one = OnnxFaceEmbedder(rgb, batch_size=1).describe(chips)
    np.testing.assert_allclose(OnnxFaceEmbedder(rgb).describe(chips), one_by_one, atol=1e-6)
    assert one_by_one.shape == (len(chips), 32)
    np.testing.assert_allclose(np.linalg.norm(one_by_one, axis=1), 1.43, rtol=1e-5)
    swapped = np.ascontiguousarray(chips[..., ::-1])
    np.testing.assert_allclose(OnnxFaceEmbedder(bgr).describe(swapped), one_by_one, atol=1e-6)


def test_scan_and_reindex_tag_descriptors_with_the_model(
    library: Library, arcface_like: Path
) -> None:
    library.enroll("Barack Obama", OBAMA[:2])
    library.enroll("Joe Biden", BIDEN[:1])
    library.scan([OBAMA_AND_BIDEN, OBAMA[2], BIDEN[1]])
    dlib_version = library.pipeline.embedder_version
    assert _faces_rows(library) == [(dlib_version, 128 * 4)]
    assert library.sightings("Joe Biden")
    spec = library.add_model(arcface_like, name="proj", **ARCFACE_PRESET)
    library.use_model("proj")
    # another model's descriptors never meet this one's: nothing to match until reindex
    assert len(library.gallery()) == 0 and library.sightings() == []
    assert library.stale() == (3, 3)
    result = library.reindex()
    assert (result.references_updated, result.failures, result.media.failures) == (3, [], [])
    version = f"{spec.version}+len1.43"
    assert _faces_rows(library) == [(version, 64 * 4)]
    gallery = library.gallery()
    assert gallery.embeddings.shape == (3, 64) and gallery.metric == "cosine"
    assert library.stale() == (0, 0)
    # the face index holds this model's 64-value descriptors; its distances are cosine
    hits = library.search_face(OBAMA[2])
    assert hits and hits[0].distance < 1e-3 and all(0 <= h.distance <= 2 for h in hits)
    library.use_model(DLIB_MODEL)  # back to the built-in model: proj's descriptors are stale
    assert library.stale() == (3, 3) and len(library.gallery()) == 0
    assert library.reindex(model="proj").references_updated == 0  # nothing stale for proj
    assert library.model is not None and library.model.name == "proj"


def test_scan_workers_run_the_registered_model(library: Library, dlib_aligned: Path) -> None:
    spec = library.add_model(
        dlib_aligned, name="gemm", input_px=150, align="dlib", bgr=True, metric="l2"
    )
    library.use_model("gemm")
    images = [*OBAMA, *BIDEN, *sorted((PEOPLE / "Katy_Perry").glob("*.jpg"))]
    assert len(images) >= 8  # enough for worker processes (scan.collection.IN_PROCESS_BELOW)
    summary = library.scan(images, workers=2)
    assert summary.media_scanned == len(images) and summary.failures == []
    assert _faces_rows(library) == [(f"{spec.version}+len1.43", 32 * 4)]


def test_uncalibrated_model_ranks_candidates_but_names_nobody(
    library: Library, dlib_aligned: Path, tmp_path: Path
) -> None:
    library.add_model(dlib_aligned, name="gemm", input_px=150, align="dlib", bgr=True, metric="l2")
    library.use_model("gemm")
    library.enroll("Barack Obama", OBAMA[:2])
    library.enroll("Joe Biden", BIDEN[:2])
    library.scan([OBAMA_AND_BIDEN])
    assert library.sightings() == []
    every = [s for s in library.sightings(include_unmatched=True) if s.path == str(OBAMA_AND_BIDEN)]
    assert len(every) >= 2
    for sighting in every:
        distances = [c.distance for c in sighting.candidates]
        assert len(distances) == 2 and distances == sorted(distances)
        assert all(
            c.uncalibrated and not c.is_match and np.isnan(c.fmr) for c in sighting.candidates
        )
    for face in library.identify(OBAMA_AND_BIDEN):
        assert face.candidates[0].uncalibrated and not face.candidates[0].is_match
    # a fixed --max-distance decides for an uncalibrated model
    nearest = min(s.candidates[0].distance for s in every)
    with Library(library.path, max_distance=nearest + 1e-4) as fixed:
        assert fixed.model is not None and fixed.model.name == "gemm"
        named = [s for s in fixed.sightings() if s.path == str(OBAMA_AND_BIDEN)]
        assert len(named) >= 1
        assert all(s.match is not None and s.match.distance <= nearest + 1e-4 for s in named)
    # unknown people are not clustered on distances nobody measured for this model
    with pytest.raises(InvalidInputError, match="calibrate build --model gemm"):
        UnknownPeople(library).clusters()


def test_unknown_people_are_clustered_at_the_false_match_rate_dlib_links_at() -> None:
    shipped = load_reference_calibration()
    assert cluster_distances(shipped, shipped) == (DEFAULT_MAX_DISTANCE, DEFAULT_MAX_RMS_DISTANCE)
    # a model whose strangers sit twice as far at every rate links at twice the distances
    wide = ReferenceCalibration(
        descriptor="wide:0123456789ab+len1.43",
        source="",
        command="",
        tables={k: t.scaled(2.0) for k, t in shipped.tables.items()},
        quality_factors={},
        size_factors=shipped.size_factors,
        fused_factors=shipped.fused_factors,
    )
    link, trim = cluster_distances(wide, shipped, model="wide")
    assert link == pytest.approx(2 * DEFAULT_MAX_DISTANCE, rel=1e-6)
    assert trim == pytest.approx(2 * DEFAULT_MAX_RMS_DISTANCE, rel=1e-6)
    blank = ReferenceCalibration.uncalibrated("blank:0123456789ab+len1.43")
    with pytest.raises(InvalidInputError, match="calibrate build --model blank"):
        cluster_distances(blank, shipped, model="blank")


def _people_folder(root: Path) -> Path:
    """Symlinks to the shared people's photos (never copies): one folder per person."""
    for person in sorted(PEOPLE.iterdir()):
        (root / person.name).mkdir(parents=True)
        for image in sorted(person.glob("*.jpg")):
            (root / person.name / image.name).symlink_to(image)
    return root


def test_calibrate_build_stores_tables_and_matching_then_decides(
    library: Library, arcface_like: Path, tmp_path: Path
) -> None:
    library.add_model(arcface_like, name="proj", **ARCFACE_PRESET)
    library.use_model("proj")
    library.enroll("Joe Biden", BIDEN[:1])
    library.scan([OBAMA_AND_BIDEN])
    unmatched = library.sightings(include_unmatched=True)
    assert unmatched and all(c.uncalibrated for s in unmatched for c in s.candidates)
    people = _people_folder(tmp_path / "people")
    built = CliRunner().invoke(
        cli, ["--library", str(library.path), "calibrate", "build", "--model", "proj", str(people)]
    )
    assert built.exit_code == 0, built.output
    assert "tables measured on" in built.stdout and "check: " in built.stdout
    with Library(library.path, detector=library.pipeline.detector) as calibrated:
        assert [e.calibration for e in calibrated.models() if e.name == "proj"] == ["measured"]
        reference = calibrated.reference_calibration
        assert reference.calibrated and "half 0" in reference.source
        assert reference.size_factors == () and reference.min_centre_distance == 0.0
        calibration = calibrated.calibration()
        for sighting in calibrated.sightings(include_unmatched=True):
            for candidate in sighting.candidates:
                assert not candidate.uncalibrated and np.isfinite(candidate.fmr)
                assert candidate.is_match == (candidate.fmr <= calibration.alpha)
        # the tables are the model's own: the built-in model keeps the shipped ones
        _, shipped = calibrated.model_pipeline(DLIB_MODEL)
        assert shipped.tables[1].pairs != reference.tables[1].pairs


def test_eval_identify_puts_a_model_beside_dlib(
    library: Library, arcface_like: Path, tmp_path: Path
) -> None:
    library.add_model(arcface_like, name="proj", **ARCFACE_PRESET)
    root = tmp_path / "people"
    for person, count in [
        ("Barack_Obama", 4),
        ("Joe_Biden", 2),
        ("Katy_Perry", 2),
        ("Andrew_Morgan", 2),
        ("Alex_Lacamoire", 1),
        ("George_Clooney", 1),
    ]:
        (root / person).mkdir(parents=True)
        for image in sorted((PEOPLE / person).glob("*.jpg"))[:count]:
            (root / person / image.name).symlink_to(image)
    args = [
        "--library",
        str(library.path),
        "eval",
        "identify",
        str(root),
        "--model",
        "proj",
        "--det",
        str(tmp_path / "det.png"),
        "--html",
        str(tmp_path / "report.html"),
    ]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)["models"]
    assert list(figures) == [DLIB_MODEL, "proj"]
    assert figures["proj"]["model"] == "proj" and figures["proj"]["distance"] == "cosine"
    assert figures[DLIB_MODEL]["enrolled"] == figures["proj"]["enrolled"] == 4
    # uncalibrated: it names nobody, so at the default it misses every mated probe
    assert (figures["proj"]["default_observed_fpir"], figures["proj"]["default_fnir"]) == (0, 1)
    assert (tmp_path / "det-proj.png").is_file() and (tmp_path / "report-dlib.html").is_file()
    table = CliRunner(env={"COLUMNS": "250"}).invoke(cli, args)
    assert table.exit_code == 0, table.output
    assert "figure | dlib | proj" in table.stdout and "rank-1 accuracy | " in table.stdout
    fnir = figures[DLIB_MODEL]["fnir_at_fpir"]["0.01"]
    assert f"FNIR at FPIR 0.01 | {fnir:.4f} | " in table.stdout


def test_a_changed_model_file_is_refused(library: Library, tmp_path: Path) -> None:
    path = projection_model(tmp_path / "m.onnx", side=112, out=64, pool=4, seed=3, gemm=False)
    library.add_model(path, name="changing", **ARCFACE_PRESET)
    projection_model(path, side=112, out=64, pool=4, seed=4, gemm=False)
    library.use_model("changing")
    with pytest.raises(ModelError, match="has changed since it was registered"):
        library.scan([OBAMA[0]])
    assert any("has changed since it was registered" in p for p in library.doctor().problems)


def test_cli_models_add_use_and_embed_with_model_keys(tmp_path: Path, arcface_like: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "250"})
    lib = ["--library", str(tmp_path / "lib")]
    added = runner.invoke(
        cli, [*lib, "models", "add", str(arcface_like), "--name", "proj", "--preset", "arcface"]
    )
    assert added.exit_code == 0, added.output
    assert "64 values" in added.stdout and "uncalibrated" in added.stdout
    listed = json.loads(runner.invoke(cli, [*lib, "models", "--json"]).stdout)
    assert [(m["name"], m["active"], m["length"]) for m in listed] == [
        ("dlib", True, 128),
        ("proj", False, 64),
    ]
    used = runner.invoke(cli, [*lib, "models", "use", "proj"])
    assert used.exit_code == 0, used.output
    out = tmp_path / "faces.jsonl"
    exported = runner.invoke(cli, [*lib, "embed", str(OBAMA_AND_BIDEN), "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) >= 2
    for line in lines:
        assert (line["model"], line["length"], len(line["embedding"])) == ("proj", 64, 64)
        assert {"path", "sha256", "frame", "xyxy", "kps5", "score"} <= set(line)
    assert runner.invoke(cli, [*lib, "enroll", "Joe Biden", str(BIDEN[0])]).exit_code == 0
    identified = runner.invoke(cli, [*lib, "identify", str(OBAMA_AND_BIDEN)])
    assert identified.exit_code == 0, identified.output
    assert "no automatic match" in identified.stdout and "(uncalibrated)" in identified.stdout
    compared = runner.invoke(cli, [*lib, "compare", str(BIDEN[0]), str(BIDEN[1]), "--json"])
    assert json.loads(compared.stdout)["max_distance"] is None
    missing = runner.invoke(cli, [*lib, "models", "add", str(arcface_like), "--name", "x"])
    assert missing.exit_code == 2 and "--preset arcface" in missing.output
