"""A small synthetic motion dataset in Kinetics format, and the dataset that creates it on first use.

Each video shows textured shapes drifting over a textured background. All
shapes of a video move the same way, and the class is that direction of motion
(class ``c`` of ``K`` moves at angle ``360 * c / K`` degrees: right, up, left,
down for K = 4). Shapes, textures, sizes, speeds and start positions are drawn
from the same distributions for every class, and the motion wraps around the
frame edges, so every frame taken alone has the same distribution whatever the
class: only a model that relates frames over time can beat chance.
"""

import json
import logging
import math
import os
import random
from dataclasses import asdict, dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import av
import cv2
import numpy as np
import torch
from fvcore.common.config import CfgNode

from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.generated import atomic_write, ensure_generated, is_generated
from slowfast.datasets.kinetics import Kinetics
from slowfast.datasets.short_cycle import CropShape

logger = logging.getLogger(__name__)

MARKER = "synthetic.json"
SPLITS = ("train", "val", "test")
_DIRECTION_NAMES = {0: "right", 90: "up", 180: "left", 270: "down"}


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate; the defaults train a small SlowFast on two CPU cores in minutes."""

    num_classes: int = 4
    num_train: int = 96
    num_val: int = 32
    num_test: int = 32
    height: int = 112
    width: int = 112
    num_frames: int = 48
    fps: int = 24
    seed: int = 0

    def validate(self) -> None:
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")
        if min(self.num_train, self.num_val, self.num_test) < 1:
            raise ValueError("every split needs at least one video")
        if self.height % 2 or self.width % 2 or min(self.height, self.width) < 32:
            raise ValueError(f"height and width must be even and >= 32 (h264 4:2:0), got {self.height}x{self.width}")
        if self.num_frames < 2 or self.fps < 1:
            raise ValueError("num_frames must be >= 2 and fps >= 1")

    def count(self, split: str) -> int:
        return {"train": self.num_train, "val": self.num_val, "test": self.num_test}[split]


def spec_from_cfg(cfg: CfgNode) -> SyntheticSpec:
    """The SYNTHETIC.* section of the config as a SyntheticSpec."""
    s = cfg.SYNTHETIC
    return SyntheticSpec(
        num_classes=s.NUM_CLASSES,
        num_train=s.NUM_TRAIN,
        num_val=s.NUM_VAL,
        num_test=s.NUM_TEST,
        height=s.HEIGHT,
        width=s.WIDTH,
        num_frames=s.NUM_FRAMES,
        fps=s.FPS,
        seed=s.SEED,
    )


def class_names(num_classes: int) -> List[str]:
    """Human-readable direction of each class."""
    names = []
    for c in range(num_classes):
        degrees = 360.0 * c / num_classes
        names.append(_DIRECTION_NAMES.get(int(degrees), f"{degrees:g}deg") if degrees.is_integer() else f"{degrees:g}deg")
    return names


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random two-colour stripe or checker pattern with noise, ``H x W x 3`` uint8."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    c1, c2 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    period = rng.uniform(5, 12)
    if rng.random() < 0.5:
        angle = rng.uniform(0, math.pi)
        phase = (xx * math.cos(angle) + yy * math.sin(angle)) / period
        pattern = (np.floor(phase) % 2).astype(np.float32)
    else:
        pattern = ((np.floor(xx / period) + np.floor(yy / period)) % 2).astype(np.float32)
    img = c1[None, None, :] * pattern[..., None] + c2[None, None, :] * (1 - pattern[..., None])
    img += rng.normal(0, 4, img.shape)
    return img.clip(0, 255).astype(np.uint8)


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth coloured blotches plus fine grain."""
    coarse = rng.integers(40, 216, (rng.integers(3, 7), rng.integers(3, 7), 3)).astype(np.float32)
    img = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0, 4, img.shape)
    return img.clip(0, 255).astype(np.uint8)


def _mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """Boolean ``size x size`` mask of a random shape: disk, square, triangle or ring."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2.0
    r = np.hypot(yy - c, xx - c)
    kind = rng.integers(0, 4)
    if kind == 0:
        return r <= size / 2.0
    if kind == 1:
        return np.ones((size, size), bool)
    if kind == 2:
        return (yy >= 0) & (np.abs(xx - c) <= yy / 2.0 + 0.5)
    return (r <= size / 2.0) & (r >= size / 4.0)


def render_video(spec: SyntheticSpec, label: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Yield the ``H x W x 3`` uint8 frames of one video of class ``label``."""
    h, w = spec.height, spec.width
    side = min(h, w)
    background = _background(rng, h, w)
    angle = 2 * math.pi * label / spec.num_classes
    direction = np.array([-math.sin(angle), math.cos(angle)])  # (dy, dx); image y grows downwards
    shapes = []
    for _ in range(int(rng.integers(2, 5))):
        size = int(rng.uniform(0.25, 0.45) * side)
        speed = rng.uniform(0.5, 1.0) * side / spec.fps  # pixels per frame
        start = rng.uniform(0, 1, 2) * np.array([h, w])
        shapes.append((_mask(rng, size), _texture(rng, size, size), start, direction * speed))
    for t in range(spec.num_frames):
        frame = background.copy()
        for mask, tex, start, velocity in shapes:
            y, x = np.rint(start + velocity * t).astype(int)
            rows = (y + np.arange(mask.shape[0])) % h
            cols = (x + np.arange(mask.shape[1])) % w
            region = frame[np.ix_(rows, cols)]
            frame[np.ix_(rows, cols)] = np.where(mask[..., None], tex, region)
        yield frame


def write_mp4(path: str, frames: Iterator[np.ndarray], spec: SyntheticSpec) -> None:
    """Encode frames as h264 (yuv420p, one keyframe per second) in an mp4 file."""
    container = av.open(path, "w", format="mp4")
    try:
        stream = container.add_stream("h264", rate=spec.fps)
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
        stream.codec_context.gop_size = spec.fps
        # Same bytes for the same seed: one thread, and neither macroblock-tree rate control nor
        # adaptive B-frame or scene-cut decisions; with any of them on, a few percent of the files
        # differed between runs of the same process (measured with PyAV 18, x264 core 165).
        stream.codec_context.thread_count = 1
        stream.options = {"preset": "veryfast", "crf": "18", "x264-params": "mbtree=0:b-adapt=0:scenecut=0"}
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    finally:
        container.close()


def _video_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, SPLITS.index(split), index])


def _write_splits(spec: SyntheticSpec, work_dir: str, final_dir: str) -> Dict[str, List[Tuple[str, int]]]:
    """Write every video under ``work_dir/videos``; csv rows name them under ``final_dir``."""
    rows: Dict[str, List[Tuple[str, int]]] = {}
    for split in SPLITS:
        os.makedirs(os.path.join(work_dir, "videos", split), exist_ok=True)
        rows[split] = []
        for i in range(spec.count(split)):
            label = i % spec.num_classes
            name = os.path.join("videos", split, f"{split}_{i:05d}.mp4")
            write_mp4(os.path.join(work_dir, name), render_video(spec, label, _video_rng(spec.seed, split, i)), spec)
            rows[split].append((os.path.join(final_dir, name), label))
    return rows


def is_complete(out_dir: str, spec: SyntheticSpec) -> bool:
    """True when ``out_dir`` holds a finished dataset generated with ``spec``."""
    return is_generated(out_dir, MARKER, asdict(spec))


def _generate(spec: SyntheticSpec, work: str, out_dir: str) -> None:
    rows = _write_splits(spec, work, out_dir)
    for split, split_rows in rows.items():
        atomic_write(os.path.join(work, f"{split}.csv"), "".join(f"{p} {y}\n" for p, y in split_rows))
    atomic_write(os.path.join(work, "classes.json"), json.dumps(class_names(spec.num_classes)) + "\n")


def ensure_synthetic_dataset(out_dir: str, spec: Optional[SyntheticSpec] = None, force: bool = False) -> str:
    """Create the dataset in ``out_dir`` unless it is already there; returns the absolute folder.

    Safe to call from several processes at once (``generated.ensure_generated``:
    a file lock, the marker written last). A folder that already holds a csv
    list but no marker is left alone (an error), so a real dataset is never
    overwritten.
    """
    spec = spec or SyntheticSpec()
    spec.validate()
    out_dir = os.path.abspath(os.path.expanduser(out_dir))
    wrote = ensure_generated(
        out_dir,
        marker=MARKER,
        spec=asdict(spec),
        entries=["videos", *(f"{s}.csv" for s in SPLITS), "classes.json"],
        generate=lambda work, final: _generate(spec, work, final),
        holds_data=lambda root: any(os.path.exists(os.path.join(root, f"{s}.csv")) for s in SPLITS),
        refusal=f"holds dataset lists but no {MARKER}: not a synthetic dataset, refusing to overwrite it",
        force=force,
    )
    if wrote:
        logger.info("Wrote the synthetic dataset (%s) to %s", spec, out_dir)
    return out_dir


def mirrored_class(label: int, num_classes: int) -> Optional[int]:
    """The class of the left-right mirrored motion (angle ``180 - a``), or None when it is not a class."""
    if num_classes % 2:
        return None  # 180 - 360 c / K is never a multiple of 360 / K
    return (num_classes // 2 - label) % num_classes


def synthetic_data_dir(cfg: CfgNode) -> str:
    """DATA.PATH_TO_DATA_DIR when set, else OUTPUT_DIR/synthetic_data."""
    return cfg.DATA.PATH_TO_DATA_DIR or os.path.join(cfg.OUTPUT_DIR, "synthetic_data")


@DATASET_REGISTRY.register()
class Synthetic(Kinetics):
    """The synthetic motion dataset (SYNTHETIC.*), created on first use, read as a Kinetics dataset.

    A horizontal flip (DATA.RANDOM_FLIP) mirrors the motion, so the label of a
    flipped clip becomes the mirrored direction (right <-> left); with a number
    of classes that has no mirror for every class, clips are not flipped.
    """

    def __init__(self, cfg: CfgNode, mode: str, num_retries: Optional[int] = None) -> None:
        spec = spec_from_cfg(cfg)
        self._root = ensure_synthetic_dataset(synthetic_data_dir(cfg), spec)
        super().__init__(cfg, mode, num_retries)
        mirror = [mirrored_class(c, spec.num_classes) for c in range(spec.num_classes)]
        self._mirror: Optional[List[int]] = None if None in mirror else mirror
        if cfg.DATA.RANDOM_FLIP and self._mirror is None and mode == "train":
            logger.warning("SYNTHETIC.NUM_CLASSES=%d has no mirrored class for every direction: no flipping",
                           spec.num_classes)

    def data_dir(self) -> str:
        return self._root

    def load_train_item(self, index: int, shape: Optional[CropShape] = None) -> Tuple[torch.Tensor, int, int]:
        clip, decoded = self.load_train_clip(index, random_flip=False, shape=shape)
        label = self._labels[index]
        if not (self.cfg.DATA.RANDOM_FLIP and self._mirror is not None):
            return clip, label, decoded
        if clip.dim() == 4:
            if random.random() < 0.5:
                clip, label = clip.flip(-1), self._mirror[label]
            return clip, label, decoded
        # Repeated augmentation (N x C x T x H x W): each copy is flipped, and relabelled, on its own.
        labels = []
        for i in range(clip.shape[0]):
            flip = random.random() < 0.5
            if flip:
                clip[i] = clip[i].flip(-1)
            labels.append(self._mirror[label] if flip else label)
        return clip, labels, decoded
