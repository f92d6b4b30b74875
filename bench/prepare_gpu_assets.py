"""Copy what bench/gpu.sh needs on the lent GPU machine into bench/gpu-assets/ (gitignored).

That machine has PyTorch, numpy, onnx and pillow, but neither of the packages that ship
our weights, nor ../shared/faces. So this copies, here:

- ``site/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat``
  (22 MB) and ``site/retinaface/weights.py`` (the RetinaFace ONNX bytes, 4.8 MB): a
  folder laid out like site-packages, which ``gpu_throughput.py`` appends to
  ``sys.path`` so that ``facesight.vision.models.registry`` finds the weights as usual;
- ``samples.npz``: real images from ../shared/faces cut to 640x480, decoded, the
  aligned chips of their faces, and ONNX Runtime's CPU descriptors of those chips
  (the reference the GPU's fp32 and fp16 descriptors are compared with);
- ``manifest.json``: sizes, sha256 of the weights, how the samples were made.

The folder travels to the GPU machine only when the device tool's ``carry`` names it.

Usage: python bench/prepare_gpu_assets.py [--out bench/gpu-assets] [--images 16]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from facesight.files import sha256_file
from facesight.vision.align import align_faces
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder
from facesight.vision.models.registry import (
    DLIB_RESNET_FILE,
    dlib_model_path,
    package_dir,
)

REPO = Path(__file__).resolve().parents[1]
FACES = REPO.parent / "shared" / "faces"
WIDTH_PX, HEIGHT_PX = 640, 480


def cover_crop(path: Path) -> NDArray[np.uint8]:
    """The image scaled to cover 640x480 and centre-cropped to it, RGB uint8."""
    image = Image.open(path).convert("RGB")
    scale = max(WIDTH_PX / image.width, HEIGHT_PX / image.height)
    size = (max(WIDTH_PX, round(image.width * scale)), max(HEIGHT_PX, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.BILINEAR)
    left, top = (size[0] - WIDTH_PX) // 2, (size[1] - HEIGHT_PX) // 2
    return np.asarray(image.crop((left, top, left + WIDTH_PX, top + HEIGHT_PX)))


def sample_paths(count: int) -> list[Path]:
    """Group photos first (several faces each), then one portrait per person."""
    group = sorted((FACES / "group").glob("*.jpg"))
    people = [sorted(folder.glob("*.jpg"))[0] for folder in sorted((FACES / "people").iterdir())]
    return (group + people)[:count]


def copy_weights(site: Path) -> dict[str, str]:
    dat = dlib_model_path(DLIB_RESNET_FILE)
    target = site / "face_recognition_models" / "models" / DLIB_RESNET_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    (site / "face_recognition_models" / "__init__.py").write_text("")
    shutil.copyfile(dat, target)
    retina = site / "retinaface"
    retina.mkdir(parents=True, exist_ok=True)
    (retina / "__init__.py").write_text("")
    shutil.copyfile(package_dir("retinaface") / "weights.py", retina / "weights.py")
    return {"dlib_resnet_sha256": sha256_file(dat)}


def make_samples(count: int) -> dict[str, NDArray[np.generic]]:
    detector, embedder = FaceDetector(), FaceEmbedder()
    images = np.stack([cover_crop(path) for path in sample_paths(count)])
    chips, faces_per_image = [], []
    for image in images:
        faces = detector.detect(image)
        chips.append(align_faces(image, faces.kps5))
        faces_per_image.append(len(faces))
    all_chips = np.concatenate(chips)
    return {
        "images": images,
        "faces_per_image": np.asarray(faces_per_image, np.int32),
        "chips": all_chips,
        "ort_cpu_embed": embedder.embed(all_chips),
        "ort_cpu_describe": embedder.describe(all_chips),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "gpu-assets")
    parser.add_argument("--images", type=int, default=16, help="real 640x480 images to keep")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, object] = copy_weights(args.out / "site")
    samples = make_samples(args.images)
    np.savez_compressed(args.out / "samples.npz", **samples)
    manifest |= {
        "images": f"{len(samples['images'])} x {HEIGHT_PX}x{WIDTH_PX} RGB, cover-cropped",
        "faces": int(samples["faces_per_image"].sum()),
        "reference": "ort_cpu_* are FaceEmbedder() (onnxruntime CPU) outputs for the chips",
        "bytes": {
            str(p.relative_to(args.out)): p.stat().st_size
            for p in sorted(args.out.rglob("*"))
            if p.is_file() and p.name != "manifest.json"
        },
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {args.out} ({total / 2**20:.1f} MiB, {manifest['faces']} faces)")


if __name__ == "__main__":
    main()
