"""RandAugment on 8-bit frames: every op against the float whole-frame reference it replaced, the window
computation against the whole frames, the per-channel fill, and a few ops against PIL."""

import random

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from slowfast.config import get_cfg
from slowfast.datasets.rand_augment import FILL, DrawnOp, RandAugment, apply_ops, parse_policy
from slowfast.datasets.train_augment import ClipAugmenter, draw_jitter_crop, jitter_crop, random_resized_crop_boxes
from slowfast.datasets.transform import Window, horizontal_flip, resize
from slowfast.datasets.utils import normalize_to_cthw

import rand_augment_reference as reference

GEOMETRIC = {"rotate": (-23.0, 9.0), "shear_x": (0.21, -0.3), "shear_y": (-0.17, 0.3),
             "translate_x_rel": (0.45, -0.2), "translate_y_rel": (-0.45, 0.31)}
OTHERS = {"auto_contrast": [()], "equalize": [()], "invert": [()], "posterize": [(1,), (4,), (8,)],
          "solarize": [(0,), (100,), (256,)], "solarize_add": [(0,), (77,)], "color": [(0.1,), (1.9,)],
          "contrast": [(0.1,), (1.6,)], "brightness": [(0.1,), (1.9,)], "sharpness": [(0.1,), (1.9,)]}


def _frames(t=3, h=21, w=29, seed=0) -> torch.Tensor:
    return torch.randint(0, 256, (t, h, w, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _low_contrast_frames() -> torch.Tensor:
    """Values in 60..139: auto-contrast and equalise have something to stretch."""
    return (_frames() // 4 + 60).to(torch.uint8)


def _all_ops():
    for function, values in GEOMETRIC.items():
        for value in values:
            for interp in ("bilinear", "bicubic", "nearest"):
                yield DrawnOp(function, (value,), interp)
    for function, arg_sets in OTHERS.items():
        for args in arg_sets:
            yield DrawnOp(function, args)


def _reference(frames: torch.Tensor, ops, fill=(FILL,) * 3) -> torch.Tensor:
    x = frames.permute(0, 3, 1, 2).float()
    for op in ops:
        x = reference.apply_op(op.function, x, op.args, op.interpolation, fill)
    return x.to(torch.uint8).permute(0, 2, 3, 1)


@pytest.mark.parametrize("op", list(_all_ops()), ids=lambda op: f"{op.function}{op.args}{op.interpolation}")
def test_each_op_on_whole_frames_equals_the_float_reference(op):
    for frames in (_frames(), _low_contrast_frames()):
        fill = (FILL,) * 3 if op.interpolation != "nearest" else (10.0, 200.0, 77.0)
        assert torch.equal(apply_ops(frames, [op], fill=fill), _reference(frames, [op], fill))


def _random_ops(rng: random.Random, count: int):
    ops = list(_all_ops())
    return [rng.choice(ops) for _ in range(count)]


def _random_window(rng: random.Random, h: int, w: int) -> Window:
    top, left = rng.randint(0, h - 1), rng.randint(0, w - 1)
    return Window(top, left, rng.randint(top + 1, h), rng.randint(left + 1, w))


def test_ops_on_a_window_equal_the_whole_frames_cropped():
    rng = random.Random(0)
    frames = _frames(t=2, h=40, w=52, seed=3)
    for _ in range(300):
        ops = _random_ops(rng, rng.randint(1, 4))
        window = _random_window(rng, 40, 52)
        got = apply_ops(frames, ops, window)
        assert torch.equal(got, window.of(apply_ops(frames, ops)))


def test_windows_at_the_borders_and_windows_whose_source_leaves_the_frame():
    frames = _frames(t=2, h=30, w=40, seed=4)
    shift_out = DrawnOp("translate_x_rel", (0.45,), "bicubic")  # the right 45% of the output is fill only
    sharpen = DrawnOp("sharpness", (1.9,))
    stretch = DrawnOp("auto_contrast")
    cases = [
        ([shift_out], Window(0, 30, 30, 40)),  # the source of these columns lies outside the frame
        ([sharpen, shift_out, sharpen], Window(0, 25, 30, 40)),
        ([shift_out, stretch], Window(5, 30, 9, 40)),  # statistics of whole frames after a geometric op
        ([sharpen], Window(0, 0, 1, 40)),  # the frame's border row keeps its pixels
        ([sharpen], Window(29, 39, 30, 40)),
        ([DrawnOp("rotate", (30.0,), "bilinear"), sharpen, DrawnOp("equalize")], Window(10, 10, 12, 12)),
    ]
    for ops, window in cases:
        got = apply_ops(frames, ops, window)
        assert torch.equal(got, window.of(_reference(frames, ops)))
    assert (apply_ops(frames, [shift_out], Window(0, 30, 30, 40)) == 128).all()


def test_drawing_consumes_the_random_numbers_of_the_former_loop_and_gives_its_clip():
    frames = _frames(t=2, h=24, w=32, seed=5)
    for interp in ("bicubic", "random"):
        aug = RandAugment(parse_policy("rand-m9-n4-mstd0.5-inc1"), interp)
        for seed in range(40):
            rng_new, rng_old = random.Random(seed), random.Random(seed)
            got = aug(frames, rng_new)
            assert torch.equal(got, reference.rand_augment(frames, aug, rng_old))
            assert rng_new.random() == rng_old.random()


def _former_clip(augmenter: ClipAugmenter, frames: torch.Tensor, rng: random.Random) -> torch.Tensor:
    """ClipAugmenter.one before the window computation: RandAugment on whole frames, then the crop (the
    random-resized crop as it was: normalise the frames, crop, F.interpolate, flip)."""
    frames = reference.rand_augment(frames, augmenter.rand_augment, rng)
    if augmenter.rrc is None:
        crop = draw_jitter_crop(*frames.shape[1:3], *augmenter.jitter_scales, augmenter.crop_size, True,
                                augmenter.inverse_uniform, rng)
        return jitter_crop(crop.window.of(frames), crop, augmenter.mean, augmenter.std)
    clip = normalize_to_cthw(frames, augmenter.mean, augmenter.std)
    num_frames, height, width = clip.shape[1:]
    boxes = random_resized_crop_boxes(height, width, num_frames, *augmenter.rrc, augmenter.motion_shift, rng)
    size = augmenter.crop_size
    if len(boxes) == 1:
        y, x, h, w = boxes[0]
        clip = resize(clip[:, :, y : y + h, x : x + w], size, size)[0]
    else:
        clip = torch.cat([resize(clip[:, i : i + 1, y : y + h, x : x + w], size, size)[0]
                          for i, (y, x, h, w) in enumerate(boxes)], dim=1)
    return horizontal_flip(0.5, clip, rng=rng)[0]


@pytest.mark.parametrize("recipe", ["jitter", "rrc", "rrc_motion_shift"])
def test_train_clips_computed_on_the_crop_window_equal_the_whole_frame_order(recipe):
    cfg = get_cfg()
    cfg.AUG.ENABLE = True
    cfg.AUG.AA_TYPE = "rand-m9-n4-mstd0.5-inc1"
    # Crops with height + width > 128, where F.interpolate runs the kernel that jitter_crop mirrors (test_transforms).
    cfg.DATA.TRAIN_JITTER_SCALES = [80, 100]
    cfg.DATA.TRAIN_CROP_SIZE = 72
    if recipe != "jitter":
        cfg.DATA.TRAIN_JITTER_SCALES_RELATIVE = [0.08, 1.0]
        cfg.DATA.TRAIN_JITTER_ASPECT_RELATIVE = [0.75, 1.3333]
        cfg.DATA.TRAIN_JITTER_MOTION_SHIFT = recipe == "rrc_motion_shift"
    augmenter = ClipAugmenter(cfg, "train")
    frames = _frames(t=4, h=80, w=108, seed=6)
    exact = torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")
    for seed in range(30):
        rng_new, rng_old = random.Random(seed), random.Random(seed)
        got = augmenter.one(frames, True, erase=False, rng=rng_new)
        want = _former_clip(augmenter, frames, rng_old)
        assert got.shape == want.shape == (3, 4, 72, 72)
        assert torch.equal(got, want) if exact or recipe == "jitter" else (got - want).abs().max() <= 1e-5
        assert rng_new.random() == rng_old.random()


def test_translation_fills_the_uncovered_columns_with_the_per_channel_fill():
    x = torch.arange(48, dtype=torch.uint8).view(1, 3, 4, 4).permute(0, 2, 3, 1).contiguous()
    out = apply_ops(x, [DrawnOp("translate_x_rel", (0.5,), "bilinear")], fill=(10.0, 20.0, 30.0))
    assert torch.equal(out[:, :, :2], x[:, :, 2:])  # input column u + 2 lands on column u
    for c, value in enumerate((10, 20, 30)):
        assert (out[0, :, 2:, c] == value).all()
    assert (apply_ops(x, [DrawnOp("translate_x_rel", (0.5,), "bilinear")])[:, :, 2:] == FILL).all()


def test_rand_augment_passes_its_fill_to_the_geometric_ops():
    frames = torch.full((1, 8, 8, 3), 200, dtype=torch.uint8)
    aug = RandAugment(parse_policy("rand-m10-n1"), "bilinear", fill=(124, 116, 104))
    out = aug.apply(frames, [aug.draw_op("TranslateXRel", random.Random(0))])
    # Magnitude 10: a shift of 0.45 * 8 = 3.6 pixels; the far columns are pure fill.
    edge = out[0, :, 0] if out[0, 0, -1, 0] == 200 else out[0, :, -1]
    assert edge[0].tolist() == [124, 116, 104]


@pytest.mark.parametrize("op,pil", [
    (DrawnOp("equalize"), ImageOps.equalize),
    (DrawnOp("auto_contrast"), ImageOps.autocontrast),
    (DrawnOp("invert"), ImageOps.invert),
    (DrawnOp("posterize", (3,)), lambda im: ImageOps.posterize(im, 3)),
    (DrawnOp("solarize", (100,)), lambda im: ImageOps.solarize(im, 100)),
], ids=lambda v: v.function if isinstance(v, DrawnOp) else "")
def test_value_ops_equal_pil(op, pil):
    frames = _low_contrast_frames()
    got = apply_ops(frames, [op])
    for t in range(frames.shape[0]):
        want = np.asarray(pil(Image.fromarray(frames[t].numpy())))
        assert np.array_equal(got[t].numpy(), want)



def test_nearest_interpolation_means_bilinear_as_pyslowfast_maps_it():
    frames = _frames(t=1, h=24, w=32, seed=7)
    nearest = RandAugment(parse_policy("rand-m9-n1"), "nearest")
    bilinear = RandAugment(parse_policy("rand-m9-n1"), "bilinear")
    assert nearest.interpolation == "bilinear"
    for seed in range(20):
        assert torch.equal(nearest(frames, random.Random(seed)), bilinear(frames, random.Random(seed)))
