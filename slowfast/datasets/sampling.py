"""Temporal and spatial sampling rules: which source frames and which pixels form a clip.

The arithmetic below reproduces PySlowFast's test-time sampling bit for bit,
including its floating-point evaluation order (``docs/DATA_SAMPLING.md``):
``tau * (T - 1) / target * fps`` and ``tau * (T - 1) * fps / target`` round to
different integers for common settings (SlowFast 8x8 at 30 fps gives 63, not 62),
so the expressions must not be "simplified".
"""

import math
import random
from typing import Optional, Sequence, Tuple

import torch


def clip_window_length(num_frames: int, sampling_rate: int, fps: float, target_fps: float) -> float:
    """Length ``L`` in source frames of the window decoded for one clip.

    ``max(1, ceil(tau * (T - 1) / target * fps))``; a float, as in the reference.
    """
    return max(1.0, float(math.ceil(sampling_rate * (num_frames - 1) / target_fps * fps)))


def clip_span(num_frames: int, sampling_rate: int, fps: float, target_fps: float) -> float:
    """Span ``S`` in decoded frames over which the ``T`` clip frames are spread (no ceil, ``T`` not ``T - 1``)."""
    return max(1.0, sampling_rate * num_frames / target_fps * fps)


def window_start(
    video_frames: float,
    window_length: float,
    clip_idx: int,
    num_clips: int,
    rng: Optional[random.Random] = None,
    *,
    use_offset: bool = False,
) -> float:
    """First source frame (a float) of the window of clip ``clip_idx`` out of ``num_clips``.

    ``clip_idx == -1`` draws the start uniformly in ``[0, delta]`` (training);
    otherwise the windows start at ``delta * k / K`` (so a single clip starts at
    0), where ``delta = max(N - L, 0)``. With ``use_offset``
    (DATA.USE_OFFSET_SAMPLING) they start at ``k * floor(delta / (K - 1))``, first
    at 0 and last at the end, and a single clip at ``floor(delta / 2)``.
    """
    delta = max(video_frames - window_length, 0)
    if clip_idx == -1:
        return (rng or random).uniform(0, delta)
    if not 0 <= clip_idx < num_clips:
        raise ValueError(f"clip_idx must be -1 or in [0, {num_clips}), got {clip_idx}")
    if use_offset:
        if num_clips == 1:
            return math.floor(delta / 2)
        return clip_idx * math.floor(delta / (num_clips - 1))
    return delta * clip_idx / num_clips


def view_short_side(num_spatial_crops: int, test_crop_size: int, train_jitter_scales: Sequence[int]) -> int:
    """Short side that test clips are scaled to before their crops are cut.

    ``TEST_CROP_SIZE`` with several spatial crops; ``TRAIN_JITTER_SCALES[0]``
    with one (the centre ``TEST_CROP_SIZE`` crop of a larger frame), as the
    MViT and X3D configs are evaluated.
    """
    if num_spatial_crops > 1:
        return int(test_crop_size)
    return int(train_jitter_scales[0])


def window_to_pts(start: float, window_length: float, duration: float, video_frames: int) -> Tuple[int, int]:
    """Convert a window in source frames to the ``[start_pts, end_pts]`` range in stream time-base units.

    Both ends are truncated, as in the reference (``ppf = duration / frames``).
    """
    pts_per_frame = duration / video_frames
    end = start + window_length - 1
    return int(start * pts_per_frame), int(end * pts_per_frame)


def clip_frame_indices(num_decoded: int, span: float, num_frames: int) -> torch.Tensor:
    """Indices into the ``num_decoded`` frames of a window that form the ``num_frames``-frame clip.

    ``linspace(0, S - 1, T)`` in float32, clamped to ``[0, n - 1]``, then truncated.
    """
    if num_decoded < 1:
        raise ValueError("a clip needs at least one decoded frame")
    index = torch.linspace(0.0, span - 1, num_frames, dtype=torch.float32)
    return torch.clamp(index, 0, num_decoded - 1).long()


def slow_pathway_indices(num_frames: int, alpha: int) -> torch.Tensor:
    """Fast-pathway frame indices that form the Slow pathway: ``linspace(0, T - 1, T // alpha)``."""
    return torch.linspace(0, num_frames - 1, num_frames // alpha).long()


def uniform_crop_offsets(height: int, width: int, size: int, spatial_idx: int) -> Tuple[int, int]:
    """Top-left ``(y, x)`` of test crop ``spatial_idx`` (0, 1, 2) of a ``height`` x ``width`` image.

    Crop 1 is centred (offsets rounded up); crops 0 and 2 sit at the start and the
    end of the long side (top/bottom for portrait frames, left/right otherwise).
    """
    if spatial_idx not in (0, 1, 2):
        raise ValueError(f"spatial_idx must be 0, 1 or 2, got {spatial_idx}")
    if height < size or width < size:
        raise ValueError(f"cannot crop {size}x{size} from a {height}x{width} image")
    y_offset = int(math.ceil((height - size) / 2))
    x_offset = int(math.ceil((width - size) / 2))
    if height > width:
        if spatial_idx == 0:
            y_offset = 0
        elif spatial_idx == 2:
            y_offset = height - size
    else:
        if spatial_idx == 0:
            x_offset = 0
        elif spatial_idx == 2:
            x_offset = width - size
    return y_offset, x_offset


def short_side_size(height: int, width: int, size: int) -> Tuple[int, int]:
    """Output ``(height, width)`` when the short side is scaled to ``size`` (long side floored)."""
    if width < height:
        return int(math.floor((float(height) / width) * size)), size
    return size, int(math.floor((float(width) / height) * size))
