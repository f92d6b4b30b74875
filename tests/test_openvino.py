"""The OpenVINO descriptor session: what ``device="cpu"`` runs dlib's ResNet on.

Its figures against float32 on lfw-dev are in docs/speed.md
(``scripts/studies/measure_bf16_inference.py``); here: what it reports, that one session
serves several threads, that it refuses a bad graph in one error, and that an evaluation
never mixes its descriptors with float32's.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from facesight.errors import ModelError
from facesight.eval.described import DescriptorCache, describe_images
from facesight.media.images import load_image
from facesight.vision.align import align_faces
from facesight.vision.detect import FaceDetector
from facesight.vision.device import openvino_core
from facesight.vision.embed import FaceEmbedder
from facesight.vision.models.dlib_resnet import load_dlib_resnet_onnx
from facesight.vision.models.openvino import BATCH_MULTIPLE, bf16_is_fast, create_ov_session
from facesight.vision.pipeline import FacePipeline

from .paths import LFW_DEV, PEOPLE


@pytest.fixture(scope="module")
def chips(detector: FaceDetector) -> NDArray[np.uint8]:
    found = []
    for path in sorted(PEOPLE.glob("*/*.jpg"))[::9][:6]:
        pixels = load_image(path).pixels
        found.append(align_faces(pixels, detector.detect(pixels).kps5[:1]))
    return np.concatenate(found)


def test_default_cpu_device_runs_the_descriptor_in_openvino_and_names_its_precision(
    embedder: FaceEmbedder, detector: FaceDetector
) -> None:
    precision = "bf16" if bf16_is_fast() else "f32"
    assert embedder.provider == f"openvino:CPU {precision}"
    assert detector.provider == "onnxruntime:CPUExecutionProvider"  # float32: docs/speed.md


def test_float32_openvino_equals_onnxruntime(
    chips: NDArray[np.uint8], models_dir: Path, embedder_fp32: FaceEmbedder
) -> None:
    session = create_ov_session(load_dlib_resnet_onnx(models_dir), name="t", precision="f32")
    assert session.provider == "openvino:CPU f32"
    (ours,) = session.run(chips)
    assert np.abs(ours - embedder_fp32.embed(chips)).max() < 1e-4


def test_one_session_serves_several_threads(
    chips: NDArray[np.uint8], embedder: FaceEmbedder
) -> None:
    expected = embedder.embed(chips)
    results: list[NDArray[np.float32]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                results.append(embedder.embed(chips))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 15
    for got in results:
        np.testing.assert_array_equal(got, expected)


def test_a_graph_that_is_not_onnx_is_one_model_error() -> None:
    with pytest.raises(ModelError, match="cannot compile the broken model with OpenVINO"):
        create_ov_session(b"not an onnx graph", name="broken")


def test_an_evaluation_never_mixes_bf16_and_float32_descriptors(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder, embedder_fp32: FaceEmbedder
) -> None:
    paths = sorted((LFW_DEV / "people").glob("*/*.jpg"))[:3]
    cache = DescriptorCache(tmp_path / "cache.db")
    fast = describe_images(paths, FacePipeline(detector, embedder), cache=cache)
    exact = describe_images(paths, FacePipeline(detector, embedder_fp32), cache=cache)
    again = describe_images(paths, FacePipeline(detector, embedder_fp32), cache=cache)
    cache.close()
    for a, b, c in zip(fast, exact, again, strict=True):
        assert a.descriptor is not None and b.descriptor is not None
        np.testing.assert_array_equal(b.descriptor, c.descriptor)  # the cache answers
        if bf16_is_fast():
            assert np.linalg.norm(a.descriptor - b.descriptor) > 1e-4  # but never across engines


def test_bfloat16_only_where_the_cpu_has_amx(tmp_path: Path) -> None:
    avx512_bf16_only = tmp_path / "cooper-lake"
    avx512_bf16_only.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n")
    assert not bf16_is_fast(avx512_bf16_only)  # bfloat16 there runs at float32's speed
    assert not bf16_is_fast(tmp_path / "no-such-file")
    amx = tmp_path / "sapphire-rapids"
    amx.write_text("flags\t\t: fpu avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n")
    capabilities = openvino_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    assert bf16_is_fast(amx) == ("BF16" in capabilities)  # and OpenVINO computes in bfloat16


def test_sessions_leave_threads_unpinned(models_dir: Path) -> None:
    # pinned (OpenVINO's default), every scan worker's thread sat on the same first core
    # and each worker got half of it (docs/speed.md, "What this stop changed")
    session = create_ov_session(load_dlib_resnet_onnx(models_dir), name="t", threads=1)
    assert session.compiled.get_property("ENABLE_CPU_PINNING") is False


def test_openvino_loads_without_its_model_converter_which_stays_importable() -> None:
    probe = (
        "import sys\n"
        "from facesight.vision.device import openvino_core\n"
        "openvino_core().get_property('CPU', 'FULL_DEVICE_NAME')\n"
        "print(sorted(m for m in sys.modules if m.startswith(('openvino.tools', 'openvino_t'))))\n"
        "from openvino.tools.ovc import convert_model\n"
        "print(callable(convert_model))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.splitlines() == ["[]", "True"], done.stderr


class _Recording:
    """An OpenVINO compiled model that records the batch sizes its requests run."""

    def __init__(self, compiled: Any) -> None:
        self.compiled, self.sizes = compiled, set[int]()
        self.outputs = compiled.outputs

    def create_infer_request(self) -> Any:
        request, sizes = self.compiled.create_infer_request(), self.sizes

        class Request:
            def infer(self, inputs: dict[int, NDArray[np.uint8]]) -> Any:
                sizes.add(len(inputs[0]))
                return request.infer(inputs)

        return Request()


def test_batches_run_in_few_sizes_with_the_same_descriptors(
    chips: NDArray[np.uint8], models_dir: Path
) -> None:
    """OpenVINO prepares every new input shape on its first run (15-45 ms a batch size,
    once per process: ``bench/descriptor_throughput.py --sizes``); a scan's batches take
    every size from 1 to 32, so they are padded to a multiple of 4."""
    graph = load_dlib_resnet_onnx(models_dir)
    many = np.concatenate([chips] * 6)[:33]
    (alone,) = create_ov_session(graph, name="t", threads=1).run(many)
    session = create_ov_session(graph, name="t", threads=1, batch_multiple=BATCH_MULTIPLE)
    session.compiled = recording = _Recording(session.compiled)
    for size in range(1, 34):
        (got,) = session.run(many[:size])
        assert got.shape == (size, 128)
        np.testing.assert_array_equal(got, alone[:size])
    assert recording.sizes == {4, 8, 12, 16, 20, 24, 28, 32, 36}
