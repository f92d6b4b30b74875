"""Test and benchmark clips built from the shared videos (never copied into the repo).

``loop_video`` remuxes a clip's packets back to back (no re-encoding: seconds for
an hour of footage); ``upscale_video`` re-encodes a clip at another size with
libx264, to measure 720p footage from the 360p shared clip.
"""

from __future__ import annotations

from pathlib import Path

import av
import av.container

__all__ = ["loop_video", "upscale_video"]


def loop_video(source: Path, target: Path, times: int) -> Path:
    """``source``'s video stream ``times`` over, one copy after the other."""
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        stream = inp.streams.video[0]
        copy = out.add_stream_from_template(stream)
        first = stream.start_time or 0
        offset = 0
        for _ in range(times):
            inp.seek(0)
            end = 0
            for packet in inp.demux(stream):
                if packet.dts is None or packet.pts is None:
                    continue
                end = max(end, packet.pts + (packet.duration or 0) - first)
                packet.pts += offset
                packet.dts += offset
                packet.stream = copy
                out.mux(packet)
            offset += end
    return target


def upscale_video(source: Path, target: Path, width: int, height: int, crf: int = 23) -> Path:
    """``source`` re-encoded as H.264 at ``width`` x ``height`` (same rate and timestamps)."""
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        stream = inp.streams.video[0]
        rate = stream.average_rate or 30
        encoded = out.add_stream("libx264", rate=rate)
        encoded.width, encoded.height, encoded.pix_fmt = width, height, "yuv420p"
        encoded.options = {"crf": str(crf), "preset": "veryfast"}
        for frame in inp.decode(stream):
            scaled = frame.reformat(width=width, height=height, format="yuv420p")
            scaled.pts, scaled.time_base = frame.pts, frame.time_base
            for packet in encoded.encode(scaled):
                out.mux(packet)
        for packet in encoded.encode(None):
            out.mux(packet)
    return target
