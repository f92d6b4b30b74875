"""Resident memory while scanning 10,000 images: flat, or growing with the collection?

Builds ``--images`` distinct files (default 10,000) from lfw-dev's photos: each
is re-encoded with an 8x8 corner block changed, so every file has its own sha256 and is
really analysed (a plain copy would be skipped as known content). Then one
real ``Library.scan`` with the default workers, sampling the resident memory
(RSS) of the scanning process and of its workers every 0.2 s from /proc.

Prints the peak RSS after the first 1,000 files and after all of them, for the
scanning process and for all processes together, and their ratio.

Usage: python bench/scan_memory.py [--images N] [--workdir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from facesight.library.facade import Library
from facesight.scan.collection import ScanEvent

LFW = Path(__file__).resolve().parents[2] / "shared" / "faces" / "lfw-dev" / "people"
PAGE_KB = os.sysconf("SC_PAGE_SIZE") / 1024


def rss_mb(pid: int) -> float:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * PAGE_KB / 1024


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def make_images(folder: Path, count: int) -> list[Path]:
    sources = sorted(LFW.glob("*/*.jpg"))
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(count):
        target = folder / f"{i:05d}.jpg"
        if not target.exists():
            pixels = np.asarray(Image.open(sources[i % len(sources)]).convert("RGB")).copy()
            pixels[:8, :8] = [i * 37 % 256, i // 7 * 53 % 256, i // 49 * 71 % 256]  # unique file
            Image.fromarray(pixels).save(target, quality=92)
        made.append(target)
    return made


class Sampler:
    """Peak RSS of this process and of all its descendants, sampled in a thread."""

    def __init__(self) -> None:
        self.me = os.getpid()
        self.peak_self = 0.0
        self.peak_total = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            mine = rss_mb(self.me)
            total = mine + sum(rss_mb(pid) for pid in children(self.me))
            self.peak_self = max(self.peak_self, mine)
            self.peak_total = max(self.peak_total, total)
            time.sleep(0.2)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        images = make_images(workdir / "images", args.images)
        checkpoints: dict[str, dict[str, float]] = {}
        done = 0
        with Sampler() as sampler, Library(workdir / "library") as library:

            def on_event(event: ScanEvent) -> None:
                nonlocal done
                done += 1
                if done == 1000:
                    checkpoints["1000"] = {
                        "self_mb": sampler.peak_self,
                        "total_mb": sampler.peak_total,
                    }

            summary = library.scan([workdir / "images"], on_event=on_event)
        checkpoints[str(len(images))] = {
            "self_mb": sampler.peak_self,
            "total_mb": sampler.peak_total,
        }
    first, last = checkpoints["1000"], checkpoints[str(len(images))]
    result = {
        "images": summary.media_scanned,
        "faces": summary.faces_found,
        "images_per_s": summary.images_per_s,
        "peak_rss_mb": checkpoints,
        "growth_self": last["self_mb"] / first["self_mb"],
        "growth_total": last["total_mb"] / first["total_mb"],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{summary.media_scanned} images, {summary.faces_found} faces, "
        f"{summary.images_per_s:.1f} images/s"
    )
    for at, peaks in checkpoints.items():
        print(
            f"peak RSS after {at} files: scanning process {peaks['self_mb']:.0f} MB, "
            f"with workers {peaks['total_mb']:.0f} MB"
        )
    print(
        f"growth from 1,000 to {len(images)} files: {result['growth_self']:.2f}x "
        f"(scanning process), {result['growth_total']:.2f}x (all)"
    )


if __name__ == "__main__":
    main()
