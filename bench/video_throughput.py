"""Video scanning: speed against real time, what sampling misses, and memory against length.

Clips, built in ``--workdir`` from ../shared/faces/video (never copied into the repo):

* the two shared clips as they are (640x360 9.2 s, 1920x1080 4.2 s);
* both re-encoded at 1280x720 (``bench/clips.upscale_video``): the 720p target;
* a long 720p clip: the 720p Hamilton clip looped to ``--long-minutes``;
* for memory, the 360p Hamilton clip looped to 1 and to ``--memory-minutes``.

Every scan is a real ``Library.scan`` (default workers: one per core) into a
fresh library where everyone in ../shared/faces/people is enrolled.

* **Speed**: seconds of footage per second of scanning ("x real time"), with
  the default sampling and, on the short clips, with every frame analysed
  (the peer run: the same clip, the same machine, the same minute). Short
  clips are scanned in this process (models loaded once, first scan included);
  the long clip by ``facesight scan`` in a fresh process, as a user runs it.
* **Sampling coverage**: the (person, time range) sightings found when every
  frame is analysed, and the share of them that the default sampling also
  finds (same person, overlapping time range), by count and by seconds.
* **Memory**: peak resident memory of the scanning process and its workers
  (sampled from /proc every 0.2 s) for the 1-minute and the long looped clip.

Usage: python bench/video_throughput.py [--long-minutes M] [--memory-minutes M]
                                        [--workdir DIR] [--skip-memory] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from clips import loop_video, upscale_video
from scan_memory import Sampler

from facesight.library.facade import Library
from facesight.media.video import DEFAULT_RATE_FPS
from facesight.records import Sighting

SHARED = Path(__file__).resolve().parents[2] / "shared" / "faces"
HAMILTON = SHARED / "video" / "face_recognition_short_hamilton_clip.mp4"
FACENET = SHARED / "video" / "facenet-pytorch_video.mp4"
EVERY_FRAME_FPS = 1000.0  # a sampling grid finer than any frame rate: every frame


def enrolled_template(workdir: Path) -> Path:
    """A library with everyone in shared/faces/people enrolled (copied for each scan)."""
    template = workdir / "template"
    if not (template / Library.DB_NAME).exists():
        with Library(template) as library:
            library.enroll_folders(SHARED / "people", largest=True)
    return template


def scan(template: Path, target: Path, clip: Path, fps: float) -> dict[str, Any]:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(template, target)
    with Sampler() as sampler, Library(target) as library:
        summary = library.scan([clip], video_fps=fps)
        sightings = library.sightings()
    return {
        "footage_s": summary.footage_s,
        "seconds": summary.seconds,
        "realtime": summary.realtime_factor,
        "tracks": summary.faces_found,
        "sightings": [_sighting(s) for s in sightings],
        "peak_rss_mb": sampler.peak_total,
        "peak_rss_self_mb": sampler.peak_self,
    }


def scan_cli(template: Path, target: Path, clip: Path) -> dict[str, Any]:
    """``facesight scan --json`` in a fresh process, as a user runs it (workers included)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(template, target)
    command = [sys.executable, "-m", "facesight", "--library", str(target), "scan", "--json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([*command, str(clip)], capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    summary = json.loads(done.stdout)
    return {
        "footage_s": summary["footage_s"],
        "seconds": summary["seconds"],
        "realtime": summary["realtime_factor"],
        "tracks": summary["faces_found"],
        # CPU seconds of the scan and its workers: steadier than wall time on a shared machine
        "cpu_s": cpu_s,
        "realtime_per_core": summary["footage_s"] / cpu_s,
    }


def _sighting(s: Sighting) -> tuple[str, float, float]:
    assert s.match is not None and s.start_s is not None and s.end_s is not None
    return (s.match.person, s.start_s, s.end_s)


def coverage(
    every: list[tuple[str, float, float]], sampled: list[tuple[str, float, float]], slack: float
) -> dict[str, float]:
    """Share of every-frame sightings that sampled ones of the same person overlap."""
    if not every:
        return {"by_count": 1.0, "by_seconds": 1.0, "sightings": 0}
    found, seconds, total = 0, 0.0, 0.0
    for person, start, end in every:
        mine = [(s - slack, e + slack) for p, s, e in sampled if p == person]
        found += any(s <= end and e >= start for s, e in mine)
        seconds += min(sum(max(0.0, min(end, e) - max(start, s)) for s, e in mine), end - start)
        total += end - start
    return {
        "by_count": found / len(every),
        "by_seconds": seconds / total if total > 0 else 1.0,
        "sightings": len(every),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long-minutes", type=float, default=3.0)
    parser.add_argument("--memory-minutes", type=float, default=30.0)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--only-long", action="store_true", help="Only the long 720p clip.")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        template = enrolled_template(work)
        clips = {
            "hamilton_360p": HAMILTON,
            "facenet_1080p": FACENET,
            "hamilton_720p": _made(work / "hamilton_720p.mp4", HAMILTON, 1280, 720),
            "facenet_720p": _made(work / "facenet_720p.mp4", FACENET, 1280, 720),
        }
        long_720p = work / f"hamilton_720p_{args.long_minutes:g}min.mp4"
        if not long_720p.exists():
            loop_video(clips["hamilton_720p"], long_720p, round(args.long_minutes * 60 / 9.18))
        results: dict[str, Any] = {"clips": {}}
        for name, clip in {} if args.only_long else clips.items():
            sampled = scan(template, work / "lib", clip, DEFAULT_RATE_FPS)
            every = scan(template, work / "lib", clip, EVERY_FRAME_FPS)
            results["clips"][name] = {
                "sampled": _brief(sampled),
                "every_frame": _brief(every),
                "coverage": coverage(every["sightings"], sampled["sightings"], slack=0.25),
                "speedup_over_every_frame": every["seconds"] / sampled["seconds"],
                "sightings_sampled": sampled["sightings"],
                "sightings_every_frame": every["sightings"],
            }
        results["long_720p"] = scan_cli(template, work / "lib", long_720p)
        if not args.skip_memory:
            short = work / "hamilton_360p_1min.mp4"
            long = work / f"hamilton_360p_{args.memory_minutes:g}min.mp4"
            for path, minutes in ((short, 1.0), (long, args.memory_minutes)):
                if not path.exists():
                    loop_video(HAMILTON, path, round(minutes * 60 / 9.18))
            one = scan(template, work / "lib", short, DEFAULT_RATE_FPS)
            many = scan(template, work / "lib", long, DEFAULT_RATE_FPS)
            results["memory"] = {
                "one_minute": _brief(one),
                "long": _brief(many),
                "growth_total": many["peak_rss_mb"] / one["peak_rss_mb"],
                "growth_self": many["peak_rss_self_mb"] / one["peak_rss_self_mb"],
            }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    _print(results)


def _made(target: Path, source: Path, width: int, height: int) -> Path:
    return target if target.exists() else upscale_video(source, target, width, height)


def _brief(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if k != "sightings"}


def _print(results: dict[str, Any]) -> None:
    print(f"{'clip':<16} {'footage':>8} {'sampled':>10} {'every frame':>12} {'coverage':>18}")
    for name, r in results["clips"].items():
        s, e, c = r["sampled"], r["every_frame"], r["coverage"]
        print(
            f"{name:<16} {s['footage_s']:>7.1f}s {s['realtime']:>8.1f}x "
            f"{e['realtime']:>11.2f}x  {c['by_count']:>6.1%} of {c['sightings']:>2}"
            f" ({c['by_seconds']:.1%} s)"
        )
    long = results["long_720p"]
    print(
        f"long 720p: {long['footage_s']:.0f} s of footage in {long['seconds']:.1f} s = "
        f"{long['realtime']:.1f}x real time; {long['cpu_s']:.0f} CPU s = "
        f"{long['realtime_per_core']:.2f}x real time per core"
    )
    if "memory" in results:
        m = results["memory"]
        print(
            f"peak RSS, all processes: 1 min {m['one_minute']['peak_rss_mb']:.0f} MB, "
            f"{m['long']['footage_s'] / 60:.0f} min {m['long']['peak_rss_mb']:.0f} MB "
            f"(x{m['growth_total']:.3f}); scanning process x{m['growth_self']:.3f}"
        )


if __name__ == "__main__":
    main()
