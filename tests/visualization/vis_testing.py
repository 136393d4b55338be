"""Helpers of the visualisation tests: a real H.264 clip with non-square pixels, configs, decoding."""

from fractions import Fraction
from pathlib import Path
from typing import List, Sequence, Tuple

import av
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
SLOWFAST_CFG = REPO / "configs" / "Synthetic" / "SLOWFAST_R18_CPU.yaml"
AVA_CFG = REPO / "configs" / "Synthetic" / "AVA_SLOWFAST_R18_CPU.yaml"

SAR = Fraction(64, 51)


def moving_square_frame(i: int, height: int, width: int, side: int = 40) -> np.ndarray:
    """A mid-grey frame with a soft gradient and a white square moving left to right."""
    img = np.full((height, width, 3), 90, np.uint8)
    img[..., 1] = np.linspace(60, 120, width, dtype=np.uint8)[None, :]
    x = (i * 3) % (width - side)
    y = height // 2 - side // 2
    img[y : y + side, x : x + side] = 235
    return img


def write_sar_clip(path: str, num_frames: int = 280, width: int = 340, height: int = 256,
                   sar: Fraction = SAR, fps: int = 30) -> str:
    """An H.264 mp4 of ``num_frames`` coded ``width x height`` frames whose stream says ``sar``."""
    container = av.open(path, "w")
    stream = container.add_stream("h264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.sample_aspect_ratio = sar
    stream.options = {"crf": "18", "preset": "veryfast"}
    for i in range(num_frames):
        frame = av.VideoFrame.from_ndarray(moving_square_frame(i, height, width), format="rgb24")
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def decode_all(path: str) -> Tuple[List[np.ndarray], float]:
    """Every frame (RGB) of a video and its display aspect ratio (width x SAR / height)."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        sar = stream.codec_context.sample_aspect_ratio or Fraction(1, 1)
        aspect = float(stream.codec_context.width * Fraction(sar) / stream.codec_context.height)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return frames, aspect


def demo_cfg(cfg_file: Path, opts: Sequence[str]):
    from slowfast.utils.parser import load_config, parse_args

    return load_config(parse_args(["--cfg", str(cfg_file), *map(str, opts)]), str(cfg_file))


def save_random_checkpoint(cfg, out_dir: str) -> str:
    """A checkpoint of a freshly initialised model of ``cfg`` (as a trained one would be saved)."""
    import slowfast.checkpoint as cu
    from slowfast.models import build_model

    torch.manual_seed(0)
    model = build_model(cfg)
    return cu.save_checkpoint(out_dir, model, None, 0, cfg)
