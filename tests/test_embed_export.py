"""The ``embed`` export runs on the scan's workers and gives what one image at a time gives.

Issue 18: ``embed`` was sequential (one image at a time, in the calling process);
it now shares the scan's parallel, batched pipeline. Its output (per file: path,
sha256, faces in the same order, with boxes, landmarks, scores and descriptors) must
stay what analysing each file alone gives, and a bad file must give one failure and
let the rest go on, as in a scan.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from facesight.exports.embed_jsonl import embed_lines
from facesight.library.facade import Library
from facesight.media.images import find_media, load_image, sha256_of
from facesight.scan.pool import SMALL_FILE_BYTES, image_tasks

from .paths import GROUP, LFW_DEV, NOFACE, PEOPLE


def _files(tmp_path: Path) -> Path:
    """A folder of 11 files: portraits, a group photo, no face, and a broken JPEG in the middle."""
    folder = tmp_path / "photos"
    folder.mkdir()
    portraits = sorted(PEOPLE.glob("*/*.jpg"))[:8]
    chosen = [*portraits, GROUP / "face_recognition_two_people.jpg", NOFACE / "skimage_moon.jpg"]
    for i, path in enumerate(chosen):
        shutil.copy(path, folder / f"{i:02d}_{path.name}")
    (folder / "05_broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    return folder


def test_embed_in_workers_equals_one_image_at_a_time(library: Library, tmp_path: Path) -> None:
    folder = _files(tmp_path)
    records = list(library.embed([folder], workers=2))
    walked = [str(p) for p in find_media([folder])]
    assert [r.path for r in records] == walked  # the walk's order, whatever the workers do
    failed = [r for r in records if r.failure is not None]
    assert [r.path for r in failed] == [str(folder / "05_broken.jpg")]
    assert failed[0].sha256 is None and len(failed[0].faces) == 0
    faces_written = 0
    for record in records:
        if record.failure is not None:
            continue
        alone = library.pipeline.analyze(load_image(record.path).pixels).faces
        assert record.sha256 == sha256_of(Path(record.path))
        assert len(record.faces) == len(alone), record.path
        np.testing.assert_allclose(record.faces.xyxy, alone.xyxy, atol=1e-3)
        np.testing.assert_allclose(record.faces.kps5, alone.kps5, atol=1e-3)
        np.testing.assert_allclose(record.faces.score, alone.score, atol=1e-5)
        assert record.faces.embedding is not None and alone.embedding is not None
        np.testing.assert_allclose(record.faces.embedding, alone.embedding, atol=1e-4)
        lines = [json.loads(line) for line in embed_lines(record.path, record.sha256, record.faces)]
        faces_written += len(lines)
        assert all(line["path"] == record.path and line["frame"] is None for line in lines)
    assert faces_written >= 9  # eight portraits and two people in the group photo, less misses


def test_embed_writes_no_crops_and_nothing_to_the_library(library: Library, tmp_path: Path) -> None:
    folder = _files(tmp_path)
    list(library.embed([folder], workers=2))
    assert library.store.query("SELECT COUNT(*) AS n FROM media")[0]["n"] == 0
    assert library.store.query("SELECT COUNT(*) AS n FROM media_errors")[0]["n"] == 0
    assert not any(p.is_file() for p in (library.path / "crops").rglob("*"))


def test_small_files_go_sixteen_to_a_task_large_ones_four() -> None:
    portraits = [str(p) for p in sorted((LFW_DEV / "people").glob("A*/*.jpg"))[:20]]
    photos = [str(p) for p in sorted(GROUP.glob("*.jpg"))]
    assert all(os.stat(p).st_size < SMALL_FILE_BYTES for p in portraits)
    assert [len(t) for t in image_tasks(portraits, 4)] == [16, 4]
    big = [p for p in photos if os.stat(p).st_size >= SMALL_FILE_BYTES]
    assert len(big) >= 5
    assert [len(t) for t in image_tasks(big, 4)] == [4] * (len(big) // 4) + (
        [len(big) % 4] if len(big) % 4 else []
    )


def test_embed_on_workers_opens_no_model_in_the_calling_process(tmp_path: Path) -> None:
    """The calling process names the model versions without opening the models (the
    workers run them); a fresh library's converted graph is made, and only one."""
    folder = _files(tmp_path)
    with Library(tmp_path / "lib") as library:
        assert library.pipeline.embedder._session is None
        records = list(library.embed([folder], workers=2))
        assert library.pipeline.embedder._session is None  # the workers ran the models
    assert sum(1 for r in records if r.failure is None and len(r.faces)) >= 8
    made = sorted(p.name for p in (tmp_path / "lib" / "models").iterdir())
    assert len([n for n in made if n.endswith(".onnx")]) == 1, made
    assert not [n for n in made if n.startswith(".tmp-")]
