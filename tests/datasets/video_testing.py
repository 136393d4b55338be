"""Helpers of the dataset tests: tiny videos whose frames carry their own index, csv files.

A module with its own name (not conftest) so that test files can import it whatever other
conftest modules pytest has loaded.
"""

import math
from fractions import Fraction
from typing import List, Optional, Sequence

import av
import numpy as np
import torch

BLOCK = 16  # side of one bit block in pixels


def frame_image(index: int, height: int, width: int) -> np.ndarray:
    """An RGB frame whose 16x16 blocks spell ``index`` in binary (row-major, bit 0 first) over a gradient."""
    rows, cols = height // BLOCK, width // BLOCK
    img = np.zeros((height, width, 3), np.uint8)
    ramp = np.linspace(0, 30, width, dtype=np.float32)[None, :]
    for b in range(rows * cols):
        r, c = divmod(b, cols)
        value = 210 if (index >> b) & 1 else 30
        block = value + ramp[:, c * BLOCK : (c + 1) * BLOCK] - 15
        img[r * BLOCK : (r + 1) * BLOCK, c * BLOCK : (c + 1) * BLOCK] = block[..., None].clip(0, 255)
    return img


def read_index(rgb: np.ndarray) -> int:
    """Inverse of ``frame_image`` on a decoded (lossy) frame, ``H x W x 3``."""
    rgb = np.asarray(rgb)
    height, width = rgb.shape[:2]
    rows, cols = height // BLOCK, width // BLOCK
    index = 0
    for b in range(rows * cols):
        r, c = divmod(b, cols)
        block = rgb[r * BLOCK + 4 : (r + 1) * BLOCK - 4, c * BLOCK + 4 : (c + 1) * BLOCK - 4]
        if block.mean() > 120:
            index |= 1 << b
    return index


def write_video(
    path: str,
    num_frames: int = 40,
    fps: int = 30,
    width: int = 64,
    height: int = 48,
    codec: str = "h264",
    gop: int = 8,
    fmt: Optional[str] = None,
    pts_ms: Optional[Sequence[int]] = None,
    faststart: bool = False,
) -> str:
    """Write a video whose frame ``i`` shows ``i``; ``pts_ms`` gives variable-rate timestamps in ms.

    ``faststart`` puts the mp4 index before the media data, so a truncated copy still opens.
    """
    options = {"movflags": "faststart"} if faststart else {}
    container = av.open(path, "w", format=fmt, options=options)
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.gop_size = gop
    if codec == "h264":
        stream.options = {"crf": "12", "preset": "veryfast"}  # with B-frames: decode order != pts order
    if pts_ms is not None:
        stream.codec_context.time_base = Fraction(1, 1000)
    for i in range(num_frames):
        frame = av.VideoFrame.from_ndarray(frame_image(i, height, width), format="rgb24")
        if pts_ms is not None:
            frame.pts, frame.time_base = int(pts_ms[i]), Fraction(1, 1000)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def clip_indices(clip: torch.Tensor) -> List[int]:
    """Frame indices shown by a ``T x H x W x 3`` uint8 clip."""
    return [read_index(f.numpy()) for f in clip]


def expected_window(num_video_frames: int, fps: float, num_frames: int, rate: int, clip: int, clips: int,
                    target: float = 30.0, ppf: float = 512, use_offset: bool = False) -> List[int]:
    """Source frame indices of a test clip per DATA_SAMPLING.md, for streams with evenly spaced pts.

    Written out independently of slowfast.datasets.sampling for frame ``i`` at pts
    ``i * ppf`` (``ppf`` = the stream's duration / frame count).
    """
    window = max(1.0, math.ceil(rate * (num_frames - 1) / target * fps))
    delta = max(num_video_frames - window, 0)
    if use_offset:
        start = math.floor(delta / 2) if clips == 1 else clip * math.floor(delta / (clips - 1))
    else:
        start = delta * clip / clips
    start_pts, end_pts = int(start * ppf), int((start + window - 1) * ppf)
    kept = [i for i in range(num_video_frames) if start_pts <= i * ppf <= end_pts]
    after = [i for i in range(num_video_frames) if i * ppf > end_pts]
    kept += after[:1]
    span = max(1.0, rate * num_frames / target * fps)
    local = torch.linspace(0.0, span - 1, num_frames).clamp(0, len(kept) - 1).long().tolist()
    return [kept[i] for i in local]


def pts_per_frame(path: str) -> float:
    with av.open(path) as container:
        stream = container.streams.video[0]
        return stream.duration / stream.frames


def write_csv(path: str, rows: Sequence[Sequence[object]], sep: str = " ") -> str:
    with open(path, "w") as f:
        for row in rows:
            f.write(sep.join(str(x) for x in row) + "\n")
    return path
