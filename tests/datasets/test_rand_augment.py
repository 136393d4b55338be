"""RandAugment's geometric ops bring in the per-channel fill value (grey by default, the dataset mean for ImageNet)."""

import random

import torch

from slowfast.datasets.rand_augment import FILL, RandAugment, parse_policy, translate_x_rel


def test_translation_fills_the_uncovered_columns_with_the_per_channel_fill():
    x = torch.arange(48, dtype=torch.float32).view(1, 3, 4, 4)
    out = translate_x_rel(x, 0.5, "bilinear", fill=(10.0, 20.0, 30.0))  # input column u + 2 lands on column u
    torch.testing.assert_close(out[..., :2], x[..., 2:])
    for c, value in enumerate((10.0, 20.0, 30.0)):
        assert (out[0, c, :, 2:] == value).all()
    assert (translate_x_rel(x, 0.5, "bilinear")[..., 2:] == FILL).all()


def test_rand_augment_passes_its_fill_to_the_geometric_ops():
    frames = torch.full((1, 8, 8, 3), 200, dtype=torch.uint8)
    aug = RandAugment(parse_policy("rand-m10-n1"), "bilinear", fill=(124, 116, 104))
    out = aug.apply_op("TranslateXRel", frames.permute(0, 3, 1, 2).float(), random.Random(0))
    # Magnitude 10: a shift of 0.45 * 8 = 3.6 pixels; the far columns are pure fill.
    edge = out[0, :, :, 0] if out[0, 0, 0, -1] == 200 else out[0, :, :, -1]
    assert edge[:, 0].tolist() == [124.0, 116.0, 104.0]
