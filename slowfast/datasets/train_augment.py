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
   (DATA.RANDOM_FLIP). The short-side path computes steps 2-3 on the crop only
   (``short_side_jitter_crop``), with the values of the whole-frame order;
4. with AUG.ENABLE and AUG.RE_PROB > 0: random erasing (AUG.RE_MODE,
   AUG.RE_COUNT); with AUG.RE_SPLIT the first copy is left unerased.

Validation and val clips get steps 2 and 3 with short-side jitter only.
"""

import math
import random
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


def random_resized_crop(
    frames: torch.Tensor,
    size: int,
    scale: Sequence[float],
    ratio: Sequence[float],
    motion_shift: bool = False,
    rng: Optional[random.Random] = None,
) -> torch.Tensor:
    """Random-resized crop of a ``C x T x H x W`` clip to ``size x size`` (bilinear).

    With ``motion_shift`` the first and the last frame get their own boxes and
    the frames in between a box interpolated linearly (truncated to pixels).
    """
    c, t, height, width = frames.shape
    y, x, h, w = random_resized_crop_box(height, width, scale, ratio, rng)
    if not motion_shift:
        return transform.resize(frames[:, :, y : y + h, x : x + w], size, size)[0]
    y2, x2, h2, w2 = random_resized_crop_box(height, width, scale, ratio, rng)
    steps = [torch.linspace(a, b, steps=t).tolist() for a, b in ((y, y2), (x, x2), (h, h2), (w, w2))]
    out = torch.empty((c, t, size, size), dtype=frames.dtype)
    for i in range(t):
        yi, xi, hi, wi = (int(s[i]) for s in steps)
        out[:, i : i + 1] = transform.resize(frames[:, i : i + 1, yi : yi + hi, xi : xi + wi], size, size)[0]
    return out


# Source pixels (x channels) that short_side_jitter_crop resamples at once.
_CHUNK_ELEMENTS = 1 << 18


def short_side_jitter_crop(
    frames: torch.Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    min_scale: int,
    max_scale: int,
    crop_size: int,
    random_flip: bool,
    inverse_uniform_sampling: bool = False,
    rng: Optional[random.Random] = None,
) -> torch.Tensor:
    """``transform.spatial_sampling(normalize_to_cthw(frames, mean, std), -1, ...)`` of uint8
    ``T x H x W x C`` frames, computed on the crop only.

    The same draws in the same order (short side, crop corner, flip) and the same
    values: the crop's outputs are resampled from the normalised source window they
    read (``transform.linear_taps`` / ``resample_bilinear``), so neither the whole
    frames are normalised nor the whole scaled frames computed.
    """
    rng = rng or random
    height, width = frames.shape[1:3]
    new_h, new_w = transform.scaled_size(height, width, transform.jitter_size(min_scale, max_scale,
                                                                              inverse_uniform_sampling, rng))
    y, x = transform.random_crop_offsets(new_h, new_w, crop_size, rng)
    flip = random_flip and rng.random() < 0.5  # transform.horizontal_flip(0.5, ...)'s draw
    if (new_h, new_w) == (height, width):
        clip = normalize_to_cthw(frames[:, y : y + crop_size, x : x + crop_size], mean, std)
        return clip.flip(-1) if flip else clip
    rows = transform.linear_taps(height, new_h, y, crop_size)
    cols = transform.linear_taps(width, new_w, x, crop_size)
    if flip:
        cols = cols.flipped()
    top, left = int(rows.lo.min()), int(cols.lo.min())
    bottom, right = int(rows.hi.max()) + 1, int(cols.hi.max()) + 1
    rows, cols = rows.shifted(top), cols.shifted(left)
    window = frames[:, top:bottom, left:right].transpose(1, 2)  # W x H planes: resample_bilinear gathers rows
    out = torch.empty((frames.shape[3], frames.shape[0], crop_size, crop_size), dtype=torch.float32)
    # A few frames at a time, so that the intermediate planes stay in the CPU cache (3x faster than all at once).
    step = max(1, _CHUNK_ELEMENTS // window[0].numel())
    for t in range(0, frames.shape[0], step):
        planes = normalize_to_cthw(window[t : t + step], mean, std)
        transform.resample_bilinear(planes, rows, cols, transposed=True, out=out[:, t : t + step])
    return out


def color_jitter(frames: torch.Tensor, strength: float, rng: Optional[random.Random] = None) -> torch.Tensor:
    """Brightness, contrast and saturation jitter of uint8 ``T x H x W x C`` frames, one draw per clip."""
    rng = rng or random
    low = max(0.0, 1.0 - strength)
    ops = [rand_augment.brightness, rand_augment.contrast, rand_augment.color]
    rng.shuffle(ops)
    x = frames.permute(0, 3, 1, 2).float()
    for op in ops:
        x = op(x, rng.uniform(low, 1.0 + strength)).round().clamp(0.0, 255.0)
    return x.to(torch.uint8).permute(0, 2, 3, 1).contiguous()


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
        """
        crop_size = self.crop_size if shape is None else shape.crop_size
        jitter_scales = self.jitter_scales if shape is None else (shape.min_scale, shape.max_scale)
        if self.rand_augment is not None:
            frames = self.rand_augment(frames, rng)
        elif self.color_jitter > 0:
            frames = color_jitter(frames, self.color_jitter, rng)
        if self.rrc is None:
            clip = short_side_jitter_crop(frames, self.mean, self.std, jitter_scales[0], jitter_scales[1],
                                          crop_size, random_flip, self.inverse_uniform, rng)
        else:
            clip = normalize_to_cthw(frames, self.mean, self.std)
            clip = random_resized_crop(clip, crop_size, *self.rrc, motion_shift=self.motion_shift, rng=rng)
            if random_flip:
                clip, _ = transform.horizontal_flip(0.5, clip, rng=rng)
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
