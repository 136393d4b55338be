"""Training-clip augmentations: random-resized crops, random erasing, RandAugment, repeated augmentation."""

import math
import random

import pytest
import torch

from slowfast.config import get_cfg
from slowfast.datasets.rand_augment import RandAugment, parse_policy
from slowfast.datasets.random_erasing import RandomErasing
from slowfast.datasets.train_augment import (ClipAugmenter, boxes_window, random_resized_crop_box,
                                             random_resized_crop_boxes, repeated_aug_collate)


def test_rrc_box_scale_and_aspect_follow_their_ranges_over_many_draws():
    rng = random.Random(0)
    boxes = [random_resized_crop_box(200, 300, (0.25, 0.5), (0.75, 4 / 3), rng) for _ in range(4000)]
    areas = [h * w / 60000 for _, _, h, w in boxes]
    log_aspects = [math.log(w / h) for _, _, h, w in boxes]
    assert all(0 <= y <= 200 - h and 0 <= x <= 300 - w for y, x, h, w in boxes)
    assert 0.24 < min(areas) and max(areas) < 0.51
    assert sum(areas) / len(areas) == pytest.approx(0.375, abs=0.01)  # uniform area
    assert sum(log_aspects) / len(log_aspects) == pytest.approx(0.0, abs=0.02)  # log-uniform about 1
    assert min(log_aspects) > math.log(0.74) and max(log_aspects) < math.log(1.35)


def test_rrc_falls_back_to_the_centred_crop_with_clamped_aspect():
    # A 10 x 100 frame never fits an aspect ratio in [1, 2] at this scale: centred 10 x 20 crop.
    assert random_resized_crop_box(10, 100, (0.9, 1.0), (1.0, 2.0), random.Random(0)) == (0, 40, 10, 20)


def test_rrc_with_motion_shift_moves_the_box_linearly_from_the_first_to_the_last_frame():
    still = random_resized_crop_boxes(40, 40, 6, (0.1, 0.3), (0.75, 1.33), rng=random.Random(1))
    moving = random_resized_crop_boxes(40, 40, 6, (0.1, 0.3), (0.75, 1.33), motion_shift=True, rng=random.Random(1))
    assert len(still) == 1 and len(moving) == 6 and moving[0] == still[0] and moving[-1] != moving[0]
    for i, box in enumerate(moving):
        for k in range(4):
            exact = moving[0][k] + (moving[-1][k] - moving[0][k]) * i / 5
            assert int(exact) - 1 <= box[k] <= exact + 1e-9
    assert boxes_window(moving) == (min(b[0] for b in moving), min(b[1] for b in moving),
                                    max(b[0] + b[2] for b in moving), max(b[1] + b[3] for b in moving))


@pytest.mark.parametrize("count", [1, 3])
def test_erasing_boxes_lie_inside_the_frame_with_the_right_count(count):
    rng = random.Random(2)
    erase = RandomErasing(1.0, max_count=count)
    for _ in range(200):
        boxes = erase.boxes(32, 48, rng)
        assert 1 <= len(boxes) <= count
        for top, left, h, w in boxes:
            assert 0 <= top and top + h <= 32 and 0 <= left and left + w <= 48 and h > 0 and w > 0
            assert h * w <= 32 * 48 / 3 / len(boxes) * 1.2


def test_erasing_is_the_same_box_on_every_frame_and_const_mode_writes_zeros():
    clip = torch.ones(3, 4, 16, 16)
    RandomErasing(1.0, mode="const")(clip, random.Random(0))
    erased = clip == 0
    assert erased.any() and (erased == erased[:1, :1]).all()


def test_erasing_prob_zero_never_erases():
    assert all(not RandomErasing(0.0).boxes(16, 16, random.Random(i)) for i in range(50))


def test_rand_augment_applies_the_same_op_to_every_frame():
    frame = torch.randint(0, 256, (1, 24, 24, 3), dtype=torch.uint8)
    frames = frame.expand(5, 24, 24, 3).contiguous()
    aug = RandAugment(parse_policy("rand-m7-n4-mstd0.5-inc1"), "bilinear")
    changed = 0
    for seed in range(10):
        out = aug(frames, random.Random(seed))
        assert out.dtype == torch.uint8 and out.shape == frames.shape
        assert (out == out[:1]).all()
        changed += not torch.equal(out, frames)
    assert changed >= 5


def test_policy_string_is_parsed_like_pyslowfast():
    p = parse_policy("rand-m7-n4-mstd0.5-inc1")
    assert (p.magnitude, p.num_layers, p.magnitude_std, p.increasing) == (7.0, 4, 0.5, True)
    assert parse_policy("rand-m9-mstd0.5").num_layers == 2


@pytest.mark.parametrize("bad", ["augmix-m5", "rand-m11", "rand-x3", "rand-n0", "rand-m7-m8", "rand-inc2"])
def test_malformed_policy_names_key_value_and_form(bad):
    with pytest.raises(ValueError, match=r"AUG\.AA_TYPE .*accepted form: rand\[-m"):
        parse_policy(bad)


def test_repeated_augmentation_gives_n_different_clips_of_one_decode_and_collates_to_b_times_n():
    cfg = get_cfg()
    cfg.AUG.NUM_SAMPLE = 3
    cfg.DATA.TRAIN_JITTER_SCALES = [32, 40]
    cfg.DATA.TRAIN_CROP_SIZE = 24
    frames = torch.randint(0, 256, (4, 36, 48, 3), dtype=torch.uint8)
    clips = ClipAugmenter(cfg, "train")(frames, random_flip=True, rng=random.Random(0))
    assert len(clips) == 3 and all(c.shape == (3, 4, 24, 24) for c in clips)
    assert not torch.equal(clips[0], clips[1])
    assert ClipAugmenter(cfg, "val").num_samples == 1
    item = ([torch.stack(clips)], torch.tensor([5, 5, 5]), 7, {"skipped": 0})
    inputs, labels, index, meta = repeated_aug_collate([item, item])
    assert inputs[0].shape == (6, 3, 4, 24, 24) and labels.tolist() == [5] * 6 and index.tolist() == [7] * 6
    assert meta["skipped"].tolist() == [0, 0]


def test_repeated_augmentation_collates_multi_label_rows():
    rows = torch.tensor([[1.0, 0.0, 1.0]]).expand(2, 3)
    item = ([torch.zeros(2, 3, 1, 4, 4)], rows, 0, {"skipped": 0})
    _, labels, _, _ = repeated_aug_collate([item, item])
    assert labels.shape == (4, 3) and torch.equal(labels[3], rows[0])


# Scaled frames with height + width > 128, where F.interpolate runs the kernel that resample_bilinear mirrors.
@pytest.mark.parametrize("hw,scales,inverse", [((72, 96), (72, 90), False), ((96, 72), (72, 90), True),
                                               ((72, 96), (72, 72), False), ((48, 200), (52, 70), False)])
def test_jitter_crop_on_its_window_equals_normalise_then_spatial_sampling(hw, scales, inverse):
    from slowfast.datasets import transform
    from slowfast.datasets.train_augment import draw_jitter_crop, jitter_crop
    from slowfast.datasets.utils import normalize_to_cthw

    def short_side_jitter_crop(frames, mean, std, min_scale, max_scale, size, flip, inverse, rng):
        crop = draw_jitter_crop(frames.shape[1], frames.shape[2], min_scale, max_scale, size, flip, inverse, rng)
        return jitter_crop(crop.window.of(frames), crop, mean, std)

    frames = torch.randint(0, 256, (5, *hw, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    mean, std = [0.45, 0.4, 0.5], [0.225, 0.25, 0.2]
    exact = torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")  # see test_transforms
    for seed in range(12):
        rng_fast, rng_plain = random.Random(seed), random.Random(seed)
        got = short_side_jitter_crop(frames, mean, std, *scales, 48, True, inverse, rng_fast)
        want, _ = transform.spatial_sampling(normalize_to_cthw(frames, mean, std), -1, *scales, 48, True, inverse,
                                             rng=rng_plain)
        assert got.shape == want.shape == (3, 5, 48, 48) and got.is_contiguous()
        assert torch.equal(got, want) if exact else (got - want).abs().max() <= 1e-5
        assert rng_fast.random() == rng_plain.random()  # the same draws were consumed
    without_flip = short_side_jitter_crop(frames, mean, std, *scales, 48, False, inverse, random.Random(3))
    want, _ = transform.spatial_sampling(normalize_to_cthw(frames, mean, std), -1, *scales, 48, False, inverse,
                                         rng=random.Random(3))
    assert torch.equal(without_flip, want) if exact else (without_flip - want).abs().max() <= 1e-5
