"""Spatial transforms, normalisation and pathway packing on hand-made tensors."""

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from slowfast.config import get_cfg
from slowfast.datasets import transform
from slowfast.datasets.utils import normalize_to_cthw, pack_pathway_output, pack_pathways, tensor_normalize


def coords(c: int, t: int, h: int, w: int) -> torch.Tensor:
    """A clip whose pixel value encodes its position: 1000 * y + x."""
    y = torch.arange(h).view(h, 1) * 1000
    x = torch.arange(w).view(1, w)
    return (y + x).float().expand(c, t, h, w).clone()


def test_short_side_scale_matches_interpolate_and_skips_when_equal():
    clip = torch.rand(3, 5, 48, 64)
    out, _ = transform.short_side_scale(clip, 40)
    ref = F.interpolate(clip, size=(40, 53), mode="bilinear", align_corners=False)
    assert out.shape == (3, 5, 40, 53) and torch.equal(out, ref)
    same, _ = transform.short_side_scale(clip, 48)
    assert same is clip
    views = torch.rand(2, 3, 4, 64, 48)  # V x C x T x H x W, portrait
    out, _ = transform.short_side_scale(views, 40)
    assert out.shape == (2, 3, 4, 53, 40)
    assert torch.equal(out[1], F.interpolate(views[1], size=(53, 40), mode="bilinear", align_corners=False))


def test_uniform_crop_positions_landscape_and_portrait():
    clip = coords(1, 2, 10, 16)
    for idx, x0 in [(0, 0), (1, 3), (2, 6)]:
        out, _ = transform.uniform_crop(clip, 10, idx)
        assert out.shape == (1, 2, 10, 10) and out[0, 0, 0, 0].item() == x0
    clip = coords(1, 2, 16, 10)
    for idx, y0 in [(0, 0), (1, 3), (2, 6)]:
        out, _ = transform.uniform_crop(clip, 10, idx)
        assert out[0, 0, 0, 0].item() == 1000 * y0


def test_random_crop_covers_every_offset():
    clip = coords(1, 1, 6, 8)
    rng = random.Random(0)
    seen = set()
    for _ in range(300):
        out, _ = transform.random_crop(clip, 4, rng=rng)
        v = int(out[0, 0, 0, 0].item())
        seen.add((v // 1000, v % 1000))
    assert seen == {(y, x) for y in range(3) for x in range(5)}


def test_flip_mirrors_frames_and_boxes():
    clip = coords(1, 1, 4, 10)
    boxes = np.array([[1.0, 0.0, 3.0, 2.0]])
    out, flipped = transform.horizontal_flip(1.0, clip, boxes)
    assert out[0, 0, 0].tolist() == list(range(9, -1, -1))
    assert flipped.tolist() == [[6.0, 0.0, 8.0, 2.0]]
    same, kept = transform.horizontal_flip(0.0, clip, boxes)
    assert same is clip and kept is boxes
    rng = random.Random(1)
    flips = sum(transform.horizontal_flip(0.5, clip, rng=rng)[0][0, 0, 0, 0].item() == 9 for _ in range(400))
    assert 150 < flips < 250


def test_boxes_follow_scale_and_crop():
    clip = torch.zeros(3, 2, 100, 200)
    boxes = torch.tensor([[20.0, 10.0, 60.0, 50.0]])
    out, b = transform.short_side_scale(clip, 50, boxes)
    assert out.shape[-2:] == (50, 100)
    assert b.tolist() == [[10.0, 5.0, 30.0, 25.0]]
    out, b2 = transform.uniform_crop(out, 50, 2, b)
    assert b2.tolist() == [[-40.0, 5.0, -20.0, 25.0]]
    assert transform.clip_boxes_to_image(b2, 50, 50).tolist() == [[0.0, 5.0, 0.0, 25.0]]
    assert boxes.tolist() == [[20.0, 10.0, 60.0, 50.0]]  # inputs untouched


def test_scale_jitter_range():
    clip = torch.zeros(1, 1, 30, 40)
    rng = random.Random(0)
    sizes = {transform.random_short_side_scale_jitter(clip, 20, 24, rng=rng)[0].shape[-2] for _ in range(100)}
    assert sizes == {20, 21, 22, 23, 24}
    sizes = [transform.random_short_side_scale_jitter(clip, 20, 40, inverse_uniform_sampling=True, rng=rng)[0]
             .shape[-2] for _ in range(200)]
    assert min(sizes) >= 20 and max(sizes) <= 40 and np.median(sizes) < 30


def test_spatial_sampling_shapes():
    clip = torch.rand(3, 4, 48, 64)
    out, _ = transform.spatial_sampling(clip, -1, 48, 56, 40, rng=random.Random(0))
    assert out.shape == (3, 4, 40, 40)
    out, _ = transform.spatial_sampling(clip, 1, 40, 40, 40)
    assert out.shape == (3, 4, 40, 40)
    with pytest.raises(ValueError):
        transform.spatial_sampling(clip, 1, 40, 48, 40)


def test_tensor_normalize():
    frames = torch.tensor([[[[0, 255, 51]]]], dtype=torch.uint8)
    out = tensor_normalize(frames, [0.5, 0.5, 0.2], [0.5, 0.25, 0.1])
    assert out.dtype == torch.float32
    assert torch.allclose(out.flatten(), torch.tensor([-1.0, 2.0, 0.0]), atol=1e-6)
    ref = (frames.float() / 255.0 - torch.tensor([0.5, 0.5, 0.2])) / torch.tensor([0.5, 0.25, 0.1])
    assert torch.equal(out, ref)


def test_normalize_to_cthw_equals_tensor_normalize():
    frames = torch.randint(0, 256, (5, 48, 64, 3), dtype=torch.uint8)
    mean, std = [0.45, 0.4, 0.35], [0.225, 0.2, 0.25]
    fast = normalize_to_cthw(frames, mean, std)
    ref = tensor_normalize(frames, mean, std).permute(3, 0, 1, 2)
    assert fast.is_contiguous() and torch.equal(fast, ref)
    # The reference resizes the permuted (non-contiguous) tensor: same result.
    size = (40, 53)
    assert torch.equal(F.interpolate(fast, size=size, mode="bilinear", align_corners=False),
                       F.interpolate(ref, size=size, mode="bilinear", align_corners=False))


def test_pack_pathways():
    clip = torch.arange(32).float().view(1, 32, 1, 1).expand(3, 32, 2, 2)
    slow, fast = pack_pathways(clip, "slowfast", 4)
    assert fast is clip
    assert slow[0, :, 0, 0].tolist() == [0, 4, 8, 13, 17, 22, 26, 31]
    views = clip.unsqueeze(0).expand(6, 3, 32, 2, 2)
    slow, fast = pack_pathways(views, "slowfast", 4)
    assert slow.shape == (6, 3, 8, 2, 2) and slow[5, 2, :, 1, 1].tolist() == [0, 4, 8, 13, 17, 22, 26, 31]
    for arch in ["c2d", "i3d", "slow", "c2d_nopool", "i3d_nopool", "x3d"]:
        (only,) = pack_pathways(clip, arch, 4)
        assert only is clip
    with pytest.raises(NotImplementedError):
        pack_pathways(clip, "unknown", 4)
    cfg = get_cfg()
    cfg.MODEL.ARCH, cfg.SLOWFAST.ALPHA = "slowfast", 8
    cfg.DATA.REVERSE_INPUT_CHANNEL = True
    rgb = torch.stack([torch.full((16, 2, 2), float(c)) for c in range(3)])
    slow, fast = pack_pathway_output(cfg, rgb)
    assert fast[:, 0, 0, 0].tolist() == [2.0, 1.0, 0.0] and slow.shape == (3, 2, 2, 2)


# Where torch.addcmul and ATen's generic CPU bilinear kernel both use fused multiply-adds, resample_bilinear
# is bit-exact; elsewhere, and against the vectorised kernel that F.interpolate picks for outputs with
# height + width <= 128, it may differ by a few float32 ulps (values here are within [-5, 5]).
EXACT_RESAMPLING = torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")


def assert_resampled_equal(got: torch.Tensor, want: torch.Tensor, resized_hw) -> None:
    assert got.shape == want.shape
    if EXACT_RESAMPLING and sum(resized_hw) > 128:
        assert torch.equal(got, want)
    else:
        assert (got - want).abs().max() <= 1e-5


@pytest.mark.parametrize("in_size,out_size", [(256, 288), (256, 320), (340, 383), (48, 40), (7, 7), (5, 9)])
def test_linear_taps_are_interpolates_weights(in_size, out_size):
    # A one-hot row per source index: the kernel's output at j is the weight it gives that source.
    eye = torch.eye(in_size).view(1, in_size, 1, in_size)
    weights = F.interpolate(eye, size=(1, out_size), mode="bilinear", align_corners=False)[0, :, 0, :]
    taps = transform.linear_taps(in_size, out_size)
    built = torch.zeros(in_size, out_size)
    j = torch.arange(out_size)
    built[taps.lo, j] += taps.w_lo
    built[taps.hi, j] += taps.w_hi
    assert torch.allclose(built, weights, atol=1e-6, rtol=0)
    assert (taps.hi - taps.lo).le(1).all() and taps.lo.ge(0).all() and taps.hi.lt(in_size).all()


@pytest.mark.parametrize("out_hw,y,x,size", [((288, 382), 30, 80, 224), ((40, 53), 0, 13, 40), ((61, 47), 5, 0, 33),
                                             ((90, 68), 40, 20, 48)])
def test_resample_at_crop_taps_equals_resize_then_crop(out_hw, y, x, size):
    torch.manual_seed(0)
    src = {(288, 382): (256, 340), (40, 53): (48, 64), (61, 47): (52, 40), (90, 68): (96, 72)}[out_hw]
    clip = torch.randn(3, 6, *src)
    want = transform.resize(clip, *out_hw)[0][..., y : y + size, x : x + size]
    rows = transform.linear_taps(src[0], out_hw[0], y, size)
    cols = transform.linear_taps(src[1], out_hw[1], x, size)
    assert_resampled_equal(transform.resample_bilinear(clip, rows, cols), want, out_hw)
    # Transposed planes and flipped column taps: the mirrored crop.
    flipped = transform.resample_bilinear(clip.transpose(-1, -2).contiguous(), rows, cols.flipped(), transposed=True)
    assert_resampled_equal(flipped, want.flip(-1), out_hw)
    # Taps shifted onto the source window they read give the same outputs.
    top, left = int(rows.lo.min()), int(cols.lo.min())
    window = clip[..., top : int(rows.hi.max()) + 1, left : int(cols.hi.max()) + 1]
    out = torch.empty_like(want)
    transform.resample_bilinear(window, rows.shifted(top), cols.shifted(left), out=out)
    assert_resampled_equal(out, want, out_hw)
