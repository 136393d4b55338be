"""The training-clip recipe of the video datasets: what happens between decoding and the model.

For each of AUG.NUM_SAMPLE copies of one decoded clip (repeated augmentation:
one decode, several independently augmented clips), in PySlowFast's order:

1. with AUG.ENABLE: RandAugment (AUG.AA_TYPE, AUG.INTERPOLATION) on the 8-bit
   frames, or, when AA_TYPE is empty, colour jitter of strength AUG.COLOR_JITTER
   (brightness, contrast and saturation factors in [1 - s, 1 + s], random order;
   timm applies colour jitter only without an auto-augment policy);
2. normalisation (DATA.MEAN, DATA.STD);
3. spatial sampling: a random-resized crop when DATA.TRAIN_JITTER_SCALES_RELATIVE
   and TRAIN_JITTER_ASPECT_RELATIVE are set (two boxes interpolated over time
   with DATA.TRAIN_JITTER_MOTION_SHIFT), else short-side jitter in
   DATA.TRAIN_JITTER_SCALES and a random crop; then a horizontal flip
   (DATA.RANDOM_FLIP);
4. with AUG.ENABLE and AUG.RE_PROB > 0: random erasing (AUG.RE_MODE,
   AUG.RE_COUNT); with AUG.RE_SPLIT the first copy is left unerased.

Validation and val clips get steps 2 and 3 with short-side jitter only.

Every draw of a clip is made first, in that order; then steps 1-3 are computed
on the source window that the crop reads only (RandAugment's ops on the parts of
their frames that the window depends on, the normalisation and resampling on the
crop's taps), with the values of the whole-frame order, bit for bit.
"""

import math
import random
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import torch
from fvcore.common.config import CfgNode
from torch.utils.data._utils.collate import default_collate

from slowfast.datasets import rand_augment, transform
from slowfast.datasets.random_erasing import RandomErasing
from slowfast.datasets.short_cycle import CropShape
from slowfast.datasets.utils import normalize_to_cthw


def random_resized_crop_box(
    height: int,
    width: int,
    scale: Sequence[float],
    ratio: Sequence[float],
    rng: Optional[random.Random] = None,
    attempts: int = 10,
) -> Tuple[int, int, int, int]:
    """``(top, left, h, w)`` of an Inception-style crop.

    The area is ``uniform(*scale)`` of the frame's and the aspect ratio ``w / h``
    log-uniform in ``ratio``; after ``attempts`` draws that do not fit, the
    largest centred crop whose aspect ratio is clamped into ``ratio``.
    """
    rng = rng or random
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(attempts):
        target = rng.uniform(*scale) * area
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return rng.randint(0, height - h), rng.randint(0, width - w), h, w
    return centred_crop_box(height, width, ratio)


def centred_crop_box(height: int, width: int, ratio: Sequence[float]) -> Tuple[int, int, int, int]:
    """``(y, x, h, w)`` of the largest centred crop whose aspect ratio (w / h) is clamped into ``ratio``:
    the fallback of the random-resized crops when no draw fits."""
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


def random_resized_crop_boxes(
    height: int,
    width: int,
    num_frames: int,
    scale: Sequence[float],
    ratio: Sequence[float],
    motion_shift: bool = False,
    rng: Optional[random.Random] = None,
) -> List[Tuple[int, int, int, int]]:
    """The ``(y, x, h, w)`` boxes of a clip's random-resized crop: one for the clip, or with ``motion_shift`` one
    per frame, interpolated linearly (truncated to pixels) between a box of the first and one of the last
    frame (``random_resized_crop_box`` each)."""
    first = random_resized_crop_box(height, width, scale, ratio, rng)
    if not motion_shift:
        return [first]
    last = random_resized_crop_box(height, width, scale, ratio, rng)
    steps = [torch.linspace(a, b, steps=num_frames).tolist() for a, b in zip(first, last)]
    return [tuple(int(s[i]) for s in steps) for i in range(num_frames)]


def boxes_window(boxes: Sequence[Tuple[int, int, int, int]]) -> transform.Window:
    """The smallest window holding every ``(y, x, h, w)`` box."""
    return transform.Window(min(b[0] for b in boxes), min(b[1] for b in boxes),
                            max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes))


def resized_crops(frames: torch.Tensor, boxes: Sequence[Tuple[int, int, int, int]], size: int,
                  origin: Tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Crop the ``(y, x, h, w)`` box (one for the clip, or one per frame) of a ``C x T x H x W`` clip and resize
    it to ``size x size`` (``transform.resize``); ``origin`` is the frame position of the clip's pixel (0, 0)."""
    oy, ox = origin
    if len(boxes) == 1:
        y, x, h, w = boxes[0]
        return transform.resize(frames[:, :, y - oy : y - oy + h, x - ox : x - ox + w], size, size)[0]
    out = torch.empty((frames.shape[0], frames.shape[1], size, size), dtype=frames.dtype)
    for i, (y, x, h, w) in enumerate(boxes):
        out[:, i : i + 1] = transform.resize(frames[:, i : i + 1, y - oy : y - oy + h, x - ox : x - ox + w],
                                             size, size)[0]
    return out


# Source pixels (x channels) that jitter_crop resamples at once.
_CHUNK_ELEMENTS = 1 << 18


@dataclass(frozen=True)
class JitterCrop:
    """The draws of one short-side-jitter crop and the source window it reads.

    ``rows``/``cols`` are the bilinear taps of the crop's outputs in the window
    (None when the drawn short side is the frame's own: a plain crop).
    """

    window: transform.Window
    rows: Optional[transform.LinearTaps]
    cols: Optional[transform.LinearTaps]
    flip: bool


def draw_jitter_crop(
    height: int,
    width: int,
    min_scale: int,
    max_scale: int,
    crop_size: int,
    random_flip: bool,
    inverse_uniform_sampling: bool = False,
    rng: Optional[random.Random] = None,
) -> JitterCrop:
    """The draws of ``transform.spatial_sampling``'s train path (short side, crop corner, flip, in its order)
    for ``height x width`` frames."""
    rng = rng or random
    new_h, new_w = transform.scaled_size(height, width, transform.jitter_size(min_scale, max_scale,
                                                                              inverse_uniform_sampling, rng))
    y, x = transform.random_crop_offsets(new_h, new_w, crop_size, rng)
    flip = random_flip and rng.random() < 0.5  # transform.horizontal_flip(0.5, ...)'s draw
    if (new_h, new_w) == (height, width):
        return JitterCrop(transform.Window(y, x, y + crop_size, x + crop_size), None, None, flip)
    rows = transform.linear_taps(height, new_h, y, crop_size)
    cols = transform.linear_taps(width, new_w, x, crop_size)
    if flip:
        cols = cols.flipped()
    top, left = int(rows.lo.min()), int(cols.lo.min())
    window = transform.Window(top, left, int(rows.hi.max()) + 1, int(cols.hi.max()) + 1)
    return JitterCrop(window, rows.shifted(top), cols.shifted(left), flip)


def jitter_crop(window: torch.Tensor, crop: JitterCrop, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """The normalised ``C x T x S x S`` crop of ``crop`` from uint8 ``T x h x w x C`` frames holding its window:
    ``transform.spatial_sampling(normalize_to_cthw(frames, mean, std), -1, ...)`` with the same draws.

    The same values, computed on the crop only: its outputs are resampled from the
    normalised window they read (``transform.linear_taps`` / ``resample_bilinear``),
    so neither the whole frames are normalised nor the whole scaled frames computed.
    """
    if crop.rows is None:
        clip = normalize_to_cthw(window, mean, std)
        return clip.flip(-1) if crop.flip else clip
    size = len(crop.rows.lo)
    planes_wh = window.transpose(1, 2)  # W x H planes: resample_bilinear gathers rows
    out = torch.empty((window.shape[3], window.shape[0], size, size), dtype=torch.float32)
    # A few frames at a time, so that the intermediate planes stay in the CPU cache (3x faster than all at once).
    step = max(1, _CHUNK_ELEMENTS // max(1, planes_wh[0].numel()))
    for t in range(0, window.shape[0], step):
        planes = normalize_to_cthw(planes_wh[t : t + step], mean, std)
        transform.resample_bilinear(planes, crop.rows, crop.cols, transposed=True, out=out[:, t : t + step])
    return out


def color_jitter(frames: torch.Tensor, strength: float, rng: Optional[random.Random] = None) -> torch.Tensor:
    """Brightness, contrast and saturation jitter of uint8 ``T x H x W x C`` frames, one draw per clip."""
    rng = rng or random
    low = max(0.0, 1.0 - strength)
    functions = ["brightness", "contrast", "color"]
    rng.shuffle(functions)
    ops = [rand_augment.DrawnOp(name, (rng.uniform(low, 1.0 + strength),)) for name in functions]
    return rand_augment.apply_ops(frames, ops).contiguous()


class ClipAugmenter:
    """Turns one decoded clip (uint8 ``T x H x W x C``) into its list of augmented ``C x T x H x W`` clips."""

    def __init__(self, cfg: CfgNode, mode: str) -> None:
        data, aug = cfg.DATA, cfg.AUG
        train = mode == "train"
        self.mean, self.std = data.MEAN, data.STD
        self.jitter_scales = tuple(data.TRAIN_JITTER_SCALES)
        self.crop_size = data.TRAIN_CROP_SIZE
        self.inverse_uniform = data.INV_UNIFORM_SAMPLE
        self.num_samples = aug.NUM_SAMPLE if train else 1
        use_rrc = train and bool(data.TRAIN_JITTER_SCALES_RELATIVE)
        self.rrc = (tuple(data.TRAIN_JITTER_SCALES_RELATIVE), tuple(data.TRAIN_JITTER_ASPECT_RELATIVE)) if use_rrc else None
        self.motion_shift = bool(data.TRAIN_JITTER_MOTION_SHIFT) if use_rrc else False
        self.rand_augment = None
        self.color_jitter = 0.0
        self.erasing = None
        self.erase_first = True
        if train and aug.ENABLE:
            if aug.AA_TYPE:
                self.rand_augment = rand_augment.RandAugment(rand_augment.parse_policy(aug.AA_TYPE), aug.INTERPOLATION)
            elif aug.COLOR_JITTER:
                self.color_jitter = float(aug.COLOR_JITTER)
            if aug.RE_PROB > 0:
                self.erasing = RandomErasing(aug.RE_PROB, mode=aug.RE_MODE, max_count=aug.RE_COUNT)
                self.erase_first = not aug.RE_SPLIT

    def one(self, frames: torch.Tensor, random_flip: bool, erase: bool, rng: Optional[random.Random] = None,
            shape: Optional[CropShape] = None) -> torch.Tensor:
        """One augmented ``C x T x H x W`` clip of uint8 ``T x H x W x C`` frames.

        ``shape`` (multigrid) replaces DATA.TRAIN_CROP_SIZE and the short-side jitter range.
        Every draw is made first, in PySlowFast's order; RandAugment then computes
        only the window of the frames that the crop reads.
        """
        rng = rng or random
        crop_size = self.crop_size if shape is None else shape.crop_size
        jitter_scales = self.jitter_scales if shape is None else (shape.min_scale, shape.max_scale)
        ops = self.rand_augment.draw(rng) if self.rand_augment is not None else None
        if ops is None and self.color_jitter > 0:
            frames = color_jitter(frames, self.color_jitter, rng)
        num_frames, height, width = frames.shape[:3]
        if self.rrc is None:
            crop = draw_jitter_crop(height, width, jitter_scales[0], jitter_scales[1], crop_size, random_flip,
                                    self.inverse_uniform, rng)
            window = crop.window
        else:
            boxes = random_resized_crop_boxes(height, width, num_frames, *self.rrc, self.motion_shift, rng)
            window = boxes_window(boxes)
            flip = random_flip and rng.random() < 0.5  # transform.horizontal_flip(0.5, ...)'s draw
        frames = self.rand_augment.apply(frames, ops, window) if ops is not None else window.of(frames)
        if self.rrc is None:
            clip = jitter_crop(frames, crop, self.mean, self.std)
        else:
            clip = resized_crops(normalize_to_cthw(frames, self.mean, self.std), boxes, crop_size,
                                 origin=(window.top, window.left))
            if flip:
                clip = clip.flip(-1)
        if erase and self.erasing is not None:
            clip = self.erasing(clip, rng)
        return clip

    def __call__(self, frames: torch.Tensor, random_flip: bool, rng: Optional[random.Random] = None,
                 shape: Optional[CropShape] = None) -> List[torch.Tensor]:
        return [
            self.one(frames, random_flip, erase=(i > 0 or self.erase_first), rng=rng, shape=shape)
            for i in range(self.num_samples)
        ]


def repeated_labels(label: Any, num_samples: int) -> torch.Tensor:
    """The labels of an item holding ``num_samples`` augmented copies, one per copy (for
    ``repeated_aug_collate``): a list already holds one per copy (Synthetic relabels flipped
    copies); any other label (a class index or a multi-hot row) is repeated."""
    if isinstance(label, list):
        return torch.as_tensor(label)
    label = torch.as_tensor(label)
    return label.expand(num_samples, *label.shape).clone()


def repeated_aug_collate(batch):
    """Collate items that each hold N clips (``N x C x T x H x W`` pathways, N labels or ``N x K``
    multi-label rows) into B*N clips.

    Labels and indices are repeated per clip; per-video meta (skipped, decoded
    frames) keeps one entry per video.
    """
    inputs, labels, index, meta = default_collate(batch)
    inputs = [x.flatten(0, 1) for x in inputs]
    n = labels.shape[1]
    return inputs, labels.flatten(0, 1), index.repeat_interleave(n), meta
