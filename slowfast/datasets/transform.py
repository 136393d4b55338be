"""Spatial transforms on video tensors: scale, crop, flip.

Every function takes frames shaped ``[..., H, W]`` (typically ``C x T x H x W``;
any leading dimensions are processed at once) and an optional ``boxes`` array
(``N x 4``, ``x1, y1, x2, y2`` in pixels, numpy or torch) that is carried
through the same geometric change, and returns ``(frames, boxes)``; ``boxes``
stays ``None`` when none were given. Random choices use ``rng`` (a
``random.Random``) or the process-wide ``random`` module, which the DataLoader
seeds differently in each worker.
"""

import random
from typing import Any, NamedTuple, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from slowfast.datasets.sampling import short_side_size, uniform_crop_offsets

Boxes = Any  # numpy.ndarray or torch.Tensor of shape N x 4, or None


def _copy(boxes: Boxes) -> Boxes:
    return boxes.clone() if isinstance(boxes, torch.Tensor) else np.array(boxes, copy=True)


def resize(frames: torch.Tensor, height: int, width: int, boxes: Boxes = None) -> Tuple[torch.Tensor, Boxes]:
    """Bilinear resize (``align_corners=False``) of every ``H x W`` plane to ``height x width``.

    A ``C x T x H x W`` clip goes to ``F.interpolate`` as it is, like in the
    reference. PyTorch's CPU kernel can round the last bit differently for
    different channel counts (dim 1), so other shapes keep the time axis as dim 1
    and fold the dimensions before it into the batch; callers that must match
    the reference bit for bit resize one ``C x T x H x W`` clip at a time.
    """
    in_h, in_w = frames.shape[-2:]
    if (in_h, in_w) == (height, width):
        return frames, boxes
    lead = frames.shape[:-2]
    if frames.dim() == 4:
        planes = frames
    elif frames.dim() > 4:
        planes = frames.reshape(-1, frames.shape[-3], in_h, in_w)
    else:
        planes = frames.reshape(1, -1, in_h, in_w)
    out = F.interpolate(planes, size=(height, width), mode="bilinear", align_corners=False)
    out = out.reshape(*lead, height, width)
    if boxes is not None:
        boxes = _copy(boxes)
        boxes[:, [0, 2]] = boxes[:, [0, 2]] * (float(width) / in_w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]] * (float(height) / in_h)
    return out, boxes


class LinearTaps(NamedTuple):
    """Where the outputs of a bilinear resize along one axis read their input: ``lo * w_lo + hi * w_hi``.

    ``lo`` and ``hi`` are int64 source indices, ``w_lo`` and ``w_hi`` float32 weights, one per output.
    """

    lo: torch.Tensor
    hi: torch.Tensor
    w_lo: torch.Tensor
    w_hi: torch.Tensor

    def shifted(self, offset: int) -> "LinearTaps":
        """The same taps on an input whose index 0 is this input's index ``offset``."""
        return LinearTaps(self.lo - offset, self.hi - offset, self.w_lo, self.w_hi)

    def flipped(self) -> "LinearTaps":
        """The taps of the outputs in reverse order (a horizontal flip after the resize)."""
        return LinearTaps(*(t.flip(0) for t in self))


def linear_taps(in_size: int, out_size: int, start: int = 0, count: Optional[int] = None) -> LinearTaps:
    """Taps of outputs ``start .. start + count - 1`` of a bilinear resize (``align_corners=False``) of
    ``in_size`` inputs to ``out_size`` outputs.

    The indices and weights are those of PyTorch's CPU kernel behind
    ``F.interpolate``: scale ``in_size / out_size`` in float32, source coordinate
    ``scale * (i + 0.5) - 0.5`` rounded once (a fused multiply-add) and clamped
    at 0, ``w_hi`` its fractional part, ``w_lo = 1 - w_hi``; an axis whose size
    does not change is copied (``w_lo = 1``, ``w_hi = 0``).
    """
    count = out_size - start if count is None else count
    index = np.arange(start, start + count, dtype=np.int64)
    if in_size == out_size:
        lo = hi = index
        w_hi = np.zeros(count, np.float32)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
        centre = index.astype(np.float32) + np.float32(0.5)
        # The float64 product of two float32 values is exact, so one rounding to float32 is the fma's.
        src = (np.float64(scale) * centre.astype(np.float64) - 0.5).astype(np.float32)
        src = np.maximum(src, np.float32(0.0))
        lo = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
        w_hi = np.clip(src - lo.astype(np.float32), np.float32(0.0), np.float32(1.0))
        hi = lo + (lo < in_size - 1)
    w_lo = np.float32(1.0) - w_hi
    return LinearTaps(*(torch.from_numpy(np.ascontiguousarray(a)) for a in (lo, hi, w_lo, w_hi)))


def resample_bilinear(
    frames: torch.Tensor,
    rows: LinearTaps,
    cols: LinearTaps,
    transposed: bool = False,
    out: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Bilinear resampling of the float planes of ``frames`` at the given taps: ``[..., len(rows), len(cols)]``.

    The planes are ``[..., H, W]``, or ``[..., W, H]`` with ``transposed`` (the
    cheaper input: both passes then gather whole rows). Evaluates
    ``(x[lo, lo] * wc_lo + x[lo, hi] * wc_hi) * wr_lo + (...) * wr_hi`` in the
    order and with the fused multiply-adds of PyTorch's CPU bilinear kernel (the
    one ``F.interpolate`` runs on a ``C x T x H x W`` clip), so that with the taps
    of ``linear_taps`` the outputs are that kernel's, bit for bit where
    ``torch.addcmul`` and the kernel both fuse (x86 CPUs with AVX2 or AVX-512),
    and within a few float32 ulps elsewhere. Only the requested outputs are
    computed: a crop of a resized frame costs what the crop costs. With ``out``
    (a tensor or view of the output's shape) the result is written there.
    """
    planes = frames if transposed else frames.transpose(-1, -2)
    # Along the width, for every source row: t = x[..., lo] * w_lo + (x[..., hi] * w_hi).
    t = planes.index_select(-2, cols.hi).mul_(cols.w_hi.unsqueeze(-1))
    t.addcmul_(planes.index_select(-2, cols.lo), cols.w_lo.unsqueeze(-1))
    t = t.transpose(-1, -2).contiguous()
    # Along the height: out = t[lo] * w_lo + (t[hi] * w_hi).
    if out is None:
        out = t.index_select(-2, rows.hi).mul_(rows.w_hi.unsqueeze(-1))
    else:
        torch.mul(t.index_select(-2, rows.hi), rows.w_hi.unsqueeze(-1), out=out)
    return out.addcmul_(t.index_select(-2, rows.lo), rows.w_lo.unsqueeze(-1))


class Window(NamedTuple):
    """Rows ``top .. bottom - 1`` and columns ``left .. right - 1`` of a frame."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def empty(self) -> bool:
        return self.bottom <= self.top or self.right <= self.left

    def clipped(self, height: int, width: int) -> "Window":
        """The part inside a ``height x width`` frame (of size 0 at its edge when there is none)."""
        top, left = min(max(0, self.top), height), min(max(0, self.left), width)
        return Window(top, left, max(top, min(height, self.bottom)), max(left, min(width, self.right)))

    def grown(self, pixels: int, height: int, width: int) -> "Window":
        """``pixels`` more on every side, inside the ``height x width`` frame."""
        return Window(self.top - pixels, self.left - pixels, self.bottom + pixels, self.right + pixels).clipped(
            height, width)

    def of(self, frames: torch.Tensor) -> torch.Tensor:
        """This window of ``T x H x W x C`` frames (a view)."""
        return frames[:, self.top : self.bottom, self.left : self.right]


def whole_window(height: int, width: int) -> Window:
    """The whole of a ``height x width`` frame."""
    return Window(0, 0, height, width)


def short_side_scale(frames: torch.Tensor, size: int, boxes: Boxes = None) -> Tuple[torch.Tensor, Boxes]:
    """Scale so that the short side equals ``size``; the long side becomes ``floor(long * size / short)``.

    Frames whose short side already equals ``size`` are returned unchanged.
    """
    height, width = frames.shape[-2:]
    new_h, new_w = scaled_size(height, width, size)
    if (new_h, new_w) == (height, width):
        return frames, boxes
    return resize(frames, new_h, new_w, boxes)


def random_short_side_scale_jitter(
    frames: torch.Tensor,
    min_size: int,
    max_size: int,
    boxes: Boxes = None,
    inverse_uniform_sampling: bool = False,
    rng: Optional[random.Random] = None,
) -> Tuple[torch.Tensor, Boxes]:
    """Scale the short side to ``round(uniform(min_size, max_size))``.

    With ``inverse_uniform_sampling`` the size is drawn uniformly in ``1 / size``
    instead, which favours small scales.
    """
    size = jitter_size(min_size, max_size, inverse_uniform_sampling, rng)
    return short_side_scale(frames, size, boxes)


def jitter_size(min_size: int, max_size: int, inverse_uniform_sampling: bool = False,
                rng: Optional[random.Random] = None) -> int:
    """The short side drawn by ``random_short_side_scale_jitter``."""
    rng = rng or random
    if inverse_uniform_sampling:
        return int(round(1.0 / rng.uniform(1.0 / max_size, 1.0 / min_size)))
    return int(round(rng.uniform(min_size, max_size)))


def scaled_size(height: int, width: int, size: int) -> Tuple[int, int]:
    """``(height, width)`` after ``short_side_scale(frames, size)``."""
    if (width <= height and width == size) or (height <= width and height == size):
        return height, width
    return short_side_size(height, width, size)


def crop(frames: torch.Tensor, y: int, x: int, size: int, boxes: Boxes = None) -> Tuple[torch.Tensor, Boxes]:
    """Cut the ``size x size`` window whose top-left corner is ``(y, x)``."""
    out = frames[..., y : y + size, x : x + size]
    if boxes is not None:
        boxes = _copy(boxes)
        boxes[:, [0, 2]] = boxes[:, [0, 2]] - x
        boxes[:, [1, 3]] = boxes[:, [1, 3]] - y
    return out, boxes


def uniform_crop(
    frames: torch.Tensor, size: int, spatial_idx: int, boxes: Boxes = None
) -> Tuple[torch.Tensor, Boxes]:
    """Deterministic test crop: 0 = left/top, 1 = centre, 2 = right/bottom (along the long side)."""
    height, width = frames.shape[-2:]
    y, x = uniform_crop_offsets(height, width, size, spatial_idx)
    return crop(frames, y, x, size, boxes)


def random_crop(
    frames: torch.Tensor, size: int, boxes: Boxes = None, rng: Optional[random.Random] = None
) -> Tuple[torch.Tensor, Boxes]:
    """Crop ``size x size`` at an offset drawn uniformly over every valid position."""
    y, x = random_crop_offsets(frames.shape[-2], frames.shape[-1], size, rng)
    return crop(frames, y, x, size, boxes)


def random_crop_offsets(height: int, width: int, size: int, rng: Optional[random.Random] = None) -> Tuple[int, int]:
    """The ``(y, x)`` corner drawn by ``random_crop``: uniform over every valid position."""
    rng = rng or random
    if height < size or width < size:
        raise ValueError(f"cannot crop {size}x{size} from a {height}x{width} image")
    return rng.randint(0, height - size), rng.randint(0, width - size)


def horizontal_flip(
    prob: float, frames: torch.Tensor, boxes: Boxes = None, rng: Optional[random.Random] = None
) -> Tuple[torch.Tensor, Boxes]:
    """Mirror left-right with probability ``prob``; box x coordinates become ``W - x - 1``."""
    rng = rng or random
    if rng.random() >= prob:
        return frames, boxes
    width = frames.shape[-1]
    frames = frames.flip(-1)
    if boxes is not None:
        flipped = _copy(boxes)
        flipped[:, [0, 2]] = width - boxes[:, [2, 0]] - 1
        boxes = flipped
    return frames, boxes


def clip_boxes_to_image(boxes: Boxes, height: int, width: int) -> Boxes:
    """Clamp box coordinates into the image (``[0, W - 1]`` and ``[0, H - 1]``)."""
    boxes = _copy(boxes)
    if isinstance(boxes, torch.Tensor):
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clamp(0.0, width - 1.0)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clamp(0.0, height - 1.0)
    else:
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0.0, width - 1.0)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0.0, height - 1.0)
    return boxes


def spatial_sampling(
    frames: torch.Tensor,
    spatial_idx: int = -1,
    min_scale: int = 256,
    max_scale: int = 320,
    crop_size: int = 224,
    random_horizontal_flip: bool = True,
    inverse_uniform_sampling: bool = False,
    boxes: Boxes = None,
    rng: Optional[random.Random] = None,
) -> Tuple[torch.Tensor, Boxes]:
    """Training (``spatial_idx == -1``) or test-crop spatial sampling of a clip.

    Training: random short-side jitter in ``[min_scale, max_scale]``, random
    ``crop_size`` crop, then a horizontal flip with probability 0.5 when
    ``random_horizontal_flip``. Test: scale the short side to ``min_scale``
    (which must equal ``max_scale``) and take crop ``spatial_idx``.
    """
    if spatial_idx == -1:
        frames, boxes = random_short_side_scale_jitter(
            frames, min_scale, max_scale, boxes, inverse_uniform_sampling=inverse_uniform_sampling, rng=rng
        )
        frames, boxes = random_crop(frames, crop_size, boxes, rng=rng)
        if random_horizontal_flip:
            frames, boxes = horizontal_flip(0.5, frames, boxes, rng=rng)
        return frames, boxes
    if min_scale != max_scale:
        raise ValueError(f"test-time scaling needs min_scale == max_scale, got {min_scale} and {max_scale}")
    frames, boxes = short_side_scale(frames, min_scale, boxes)
    return uniform_crop(frames, crop_size, spatial_idx, boxes)
