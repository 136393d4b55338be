"""Sampling arithmetic against the figures of docs/DATA_SAMPLING.md."""

import random

import pytest
import torch

from slowfast.datasets import sampling


def test_window_length_keeps_reference_float_order():
    # tau * (T - 1) / target * fps is 62.00000000000001 for SlowFast 8x8 at 30 fps: the ceil gives 63.
    assert sampling.clip_window_length(32, 2, 30.0, 30) == 63.0
    assert sampling.clip_window_length(8, 8, 30.0, 30) == 56.0
    assert sampling.clip_window_length(32, 2, 28.0, 30) == 58.0
    assert sampling.clip_window_length(1, 1, 30.0, 30) == 1.0


def test_span_has_no_ceil():
    assert sampling.clip_span(32, 2, 28.0, 30) == pytest.approx(2 * 32 / 30 * 28)
    assert sampling.clip_span(8, 8, 15.0, 30) == 32.0


def test_window_starts():
    assert sampling.window_start(100, 60, 0, 10) == 0
    assert sampling.window_start(100, 60, 3, 10) == pytest.approx(12.0)
    assert sampling.window_start(100, 60, 9, 10) == pytest.approx(36.0)  # the last window stops short of the end
    assert sampling.window_start(100, 60, 0, 1) == 0  # one clip starts at 0 without offset sampling
    assert sampling.window_start(30, 60, 2, 3) == 0  # video shorter than the window
    rng = random.Random(0)
    draws = [sampling.window_start(100, 60, -1, 1, rng) for _ in range(200)]
    assert 0 <= min(draws) and max(draws) <= 40 and max(draws) - min(draws) > 30
    with pytest.raises(ValueError):
        sampling.window_start(100, 60, 10, 10)


def test_offset_sampling_reaches_both_ends():
    # DATA.USE_OFFSET_SAMPLING: start = k * floor(delta / (K - 1)); delta = 100 - 60 = 40.
    starts = [sampling.window_start(100, 60, k, 3, use_offset=True) for k in range(3)]
    assert starts == [0, 20, 40]
    assert [sampling.window_start(101, 60, k, 3, use_offset=True) for k in range(3)] == [0, 20, 40]  # floor(41/2)
    assert [sampling.window_start(100, 63, k, 5, use_offset=True) for k in range(5)] == [0, 9, 18, 27, 36]
    assert sampling.window_start(100, 60.0, 9, 10, use_offset=True) == 36  # 9 * floor(40 / 9)
    assert sampling.window_start(30, 60, 2, 3, use_offset=True) == 0  # video shorter than the window


def test_offset_sampling_centres_a_single_clip():
    assert sampling.window_start(100, 60, 0, 1, use_offset=True) == 20
    assert sampling.window_start(101, 60, 0, 1, use_offset=True) == 20  # floor(41 / 2)
    assert sampling.window_start(100.0, 62.5, 0, 1, use_offset=True) == 18  # floor(37.5 / 2)


def test_offset_sampling_leaves_random_starts_alone():
    a = [sampling.window_start(100, 60, -1, 1, random.Random(3), use_offset=True) for _ in range(3)]
    b = [sampling.window_start(100, 60, -1, 1, random.Random(3)) for _ in range(3)]
    assert a == b


def test_view_short_side():
    # Three crops: scale to the crop size; one crop: to TRAIN_JITTER_SCALES[0], then the centre crop.
    assert sampling.view_short_side(3, 224, [256, 320]) == 224
    assert sampling.view_short_side(1, 224, [256, 320]) == 256
    assert sampling.view_short_side(1, 312, [356, 446]) == 356  # X3D-M


def test_window_to_pts_truncates():
    assert sampling.window_to_pts(2.5, 4, 1000, 100) == (25, 55)
    assert sampling.window_to_pts(1 / 3, 2, 3001, 100) == (10, 40)


def test_clip_frame_indices_examples():
    # Slow 8x8 on a 30 fps video: 0, 9, ..., 54, then the clamped 56 (57 frames decoded).
    span = sampling.clip_span(8, 8, 30.0, 30)
    assert sampling.clip_frame_indices(57, span, 8).tolist() == [0, 9, 18, 27, 36, 45, 54, 56]
    idx = sampling.clip_frame_indices(59, sampling.clip_span(32, 2, 28.0, 30), 32).tolist()
    assert idx[:4] == [0, 1, 3, 5] and idx[-3:] == [54, 56, 58]
    assert sampling.clip_frame_indices(1, 10.0, 4).tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError):
        sampling.clip_frame_indices(0, 10.0, 4)


def test_slow_pathway_indices():
    # linspace(0, 31, 8) = 0, 4.43, 8.86, ... truncated by .long() (DATA_SAMPLING.md lists rounded values).
    assert sampling.slow_pathway_indices(32, 4).tolist() == [0, 4, 8, 13, 17, 22, 26, 31]
    assert sampling.slow_pathway_indices(8, 8).tolist() == [0]


@pytest.mark.parametrize(
    "height,width,idx,expected",
    [
        (224, 297, 0, (0, 0)),
        (224, 297, 1, (0, 37)),  # ceil(73 / 2)
        (224, 297, 2, (0, 73)),
        (297, 224, 0, (0, 0)),
        (297, 224, 1, (37, 0)),
        (297, 224, 2, (73, 0)),
        (224, 224, 2, (0, 0)),
        (230, 230, 2, (3, 6)),  # square frames move along x
    ],
)
def test_uniform_crop_offsets(height, width, idx, expected):
    assert sampling.uniform_crop_offsets(height, width, 224, idx) == expected


def test_short_side_size():
    assert sampling.short_side_size(256, 340, 224) == (224, 297)
    assert sampling.short_side_size(340, 256, 224) == (297, 224)
    assert sampling.short_side_size(48, 64, 40) == (40, 53)


def test_linspace_is_float32():
    # The reference's linspace runs in float32 whatever the default dtype.
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert sampling.clip_frame_indices(1000, 64.0, 8).tolist() == [0, 9, 18, 27, 36, 45, 54, 63]
    finally:
        torch.set_default_dtype(old)
