"""Tests for slowfast.models.roi_align against a slow loop-by-loop reference."""

import logging
import math

import pytest
import torch

from slowfast.models.roi_align import ROIAlign, roi_align, torchvision_roi_align_available

HAS_TV = torchvision_roi_align_available()


# --------------------------------------------------------------------------------------
# Reference: plain Python loops over rois, bins and samples, bilinear rule written out.
# Coordinates are Python floats (double); values are channel vectors of `input`, so the
# result is differentiable with respect to `input` by autograd.
# --------------------------------------------------------------------------------------
def _bilinear_ref(feat, y, x):
    channels, height, width = feat.shape
    if not (-1.0 <= y <= height and -1.0 <= x <= width):
        return feat.new_zeros(channels)
    if y <= 0:
        y = 0.0
    if x <= 0:
        x = 0.0
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_low = y_high = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_low = x_high = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    return (hy * hx * feat[:, y_low, x_low] + hy * lx * feat[:, y_low, x_high]
            + ly * hx * feat[:, y_high, x_low] + ly * lx * feat[:, y_high, x_high])


def roi_align_ref(input, rois, output_size, spatial_scale, sampling_ratio, aligned):
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    channels = input.shape[1]
    outs = []
    for b, x1, y1, x2, y2 in rois.tolist():
        feat = input[int(b)]
        offset = 0.5 if aligned else 0.0
        start_x, start_y = x1 * spatial_scale - offset, y1 * spatial_scale - offset
        end_x, end_y = x2 * spatial_scale - offset, y2 * spatial_scale - offset
        roi_w, roi_h = end_x - start_x, end_y - start_y
        if not aligned:
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        bin_h, bin_w = roi_h / oh, roi_w / ow
        grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / oh)
        grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / ow)
        count = max(grid_h * grid_w, 1)
        rows = []
        for ph in range(oh):
            row = []
            for pw in range(ow):
                acc = feat.new_zeros(channels)
                for iy in range(grid_h):
                    y = start_y + ph * bin_h + (iy + 0.5) * bin_h / grid_h
                    for ix in range(grid_w):
                        x = start_x + pw * bin_w + (ix + 0.5) * bin_w / grid_w
                        acc = acc + _bilinear_ref(feat, y, x)
                row.append(acc / count)
            rows.append(torch.stack(row, dim=-1))
        outs.append(torch.stack(rows, dim=-2))
    if not outs:
        return input.new_zeros(0, channels, oh, ow)
    return torch.stack(outs)


# --------------------------------------------------------------------------------------
# Box generators
# --------------------------------------------------------------------------------------
def random_rois(gen, k, n_images, height, width, spatial_scale, max_size=1.0, dtype=torch.float64):
    """Boxes in image coordinates: many inside, some partly/fully outside, some tiny or inverted."""
    img_h, img_w = height / spatial_scale, width / spatial_scale
    cx = torch.rand(k, generator=gen, dtype=dtype) * img_w * 1.4 - 0.2 * img_w
    cy = torch.rand(k, generator=gen, dtype=dtype) * img_h * 1.4 - 0.2 * img_h
    bw = torch.rand(k, generator=gen, dtype=dtype) ** 2 * img_w * max_size
    bh = torch.rand(k, generator=gen, dtype=dtype) ** 2 * img_h * max_size
    batch = torch.randint(0, n_images, (k,), generator=gen).to(dtype)
    rois = torch.stack([batch, cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], dim=1)
    # A few inverted boxes (x2 < x1, y2 < y1).
    flip = torch.rand(k, generator=gen) < 0.05
    rois[flip] = rois[flip][:, [0, 3, 4, 1, 2]]
    return rois


def special_rois(n_images, height, width, spatial_scale):
    """Hand-picked boxes: whole image, border boxes, tiny, zero-size, outside, huge."""
    s = 1.0 / spatial_scale
    img_h, img_w = height * s, width * s
    last = n_images - 1
    boxes = [
        [0, 0, 0, img_w, img_h],  # whole image
        [last, 0, 0, img_w, img_h],
        [0, img_w - 1.5 * s, img_h - 2 * s, img_w, img_h],  # bottom-right border
        [last, 0, 0, 1.5 * s, 2 * s],  # top-left border
        [0, -3 * s, -2 * s, 2 * s, 3 * s],  # partly outside (top-left)
        [last, img_w - 2 * s, img_h - 2 * s, img_w + 3 * s, img_h + 4 * s],  # partly outside
        [0, -10 * s, -10 * s, img_w + 10 * s, img_h + 10 * s],  # much larger than the image
        [0, img_w + 3 * s, 0, img_w + 9 * s, img_h],  # fully outside (right)
        [last, 0, -9 * s, img_w, -2.5 * s],  # fully outside (above)
        [0, 1.3 * s, 1.7 * s, 1.35 * s, 1.72 * s],  # tiny (< 1 feature pixel)
        [last, 2.0 * s, 2.0 * s, 2.0 * s, 2.0 * s],  # zero size
        [0, 3.2 * s, 1.0 * s, 2.1 * s, 0.4 * s],  # inverted
        [last, 0.5 * s, 0.5 * s, img_w - 0.5 * s, 1.5 * s],  # thin horizontal strip
        [0, img_w - 1 * s, 0, img_w - 0.25 * s, img_h],  # thin vertical strip at the border
    ]
    return torch.tensor(boxes, dtype=torch.float64)


def _features(gen, n, c, h, w, dtype=torch.float64):
    return torch.randn(n, c, h, w, generator=gen, dtype=dtype)


# --------------------------------------------------------------------------------------
# Forward against the reference (float64, tight tolerance)
# --------------------------------------------------------------------------------------
CONFIGS = [
    # (n, c, h, w, output_size, spatial_scale)
    (2, 3, 9, 11, (3, 4), 1.0),
    (3, 2, 12, 10, 5, 0.25),
    (1, 2, 1, 6, (2, 3), 0.5),  # single-row feature map
]


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("sampling_ratio", [0, 1, 2, -1])
@pytest.mark.parametrize("config", CONFIGS, ids=["scale1", "scale0.25", "h1"])
def test_matches_reference_float64(config, sampling_ratio, aligned):
    n, c, h, w, output_size, scale = config
    gen = torch.Generator().manual_seed(hash((sampling_ratio, aligned, h)) % 2**31)
    x = _features(gen, n, c, h, w)
    rois = torch.cat([special_rois(n, h, w, scale), random_rois(gen, 16, n, h, w, scale)])
    out = roi_align(x, rois, output_size, scale, sampling_ratio, aligned, backend="torch")
    ref = roi_align_ref(x, rois, output_size, scale, sampling_ratio, aligned)
    assert out.shape == ref.shape and out.dtype == torch.float64
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)


def test_exact_boundary_rules():
    """Samples exactly at y=-1, x=W, just past H, on the last pixel: the kernel's rules."""
    h, w = 4, 5
    x = torch.arange(h * w, dtype=torch.float64).view(1, 1, h, w) + 1.0
    # aligned=False, sampling_ratio=1, output 1x1: one sample at the roi centre; a 1x1 roi.
    def sample(y, xx):
        rois = torch.tensor([[0, xx - 0.5, y - 0.5, xx + 0.5, y + 0.5]], dtype=torch.float64)
        return roi_align(x, rois, 1, 1.0, 1, False, backend="torch").item()

    v = x[0, 0]
    assert sample(-1.0, 1.5) == pytest.approx(0.5 * (v[0, 1] + v[0, 2]).item())  # y=-1 counts, clamps to 0
    assert sample(-1.0 - 1e-9, 1.5) == 0.0  # just above -1: outside
    assert sample(float(h), 2.0) == pytest.approx(v[h - 1, 2].item())  # y=H counts, last row
    assert sample(h + 1e-9, 2.0) == 0.0  # just past H: outside
    assert sample(2.0, float(w)) == pytest.approx(v[2, w - 1].item())  # x=W counts, last column
    assert sample(2.0, w + 1e-9) == 0.0
    assert sample(h - 0.5, w - 0.25) == pytest.approx(v[h - 1, w - 1].item())  # past the last pixel centre
    inner = 0.75 * 0.5 * (v[1, 2] + v[1, 3]) + 0.25 * 0.5 * (v[2, 2] + v[2, 3])
    assert sample(1.25, 2.5) == pytest.approx(inner.item())


def test_adaptive_grid_is_per_roi():
    """A box's output must not depend on the other boxes (padding to the largest grid is masked)."""
    gen = torch.Generator().manual_seed(3)
    x = _features(gen, 2, 3, 14, 14)
    small = torch.tensor([[0, 2.3, 3.1, 5.2, 6.9], [1, 0.1, 0.2, 3.3, 1.9]], dtype=torch.float64)
    big = torch.tensor([[1, -5.0, -4.0, 40.0, 35.0]], dtype=torch.float64)
    alone = roi_align(x, small, 2, 1.0, 0, True, backend="torch")
    together = roi_align(x, torch.cat([small, big]), 2, 1.0, 0, True, backend="torch")[:2]
    torch.testing.assert_close(together, alone, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(alone, roi_align_ref(x, small, 2, 1.0, 0, True), rtol=1e-10, atol=1e-10)


def test_aligned_inverted_boxes_adaptive_give_zero():
    gen = torch.Generator().manual_seed(4)
    x = _features(gen, 1, 2, 6, 6)
    rois = torch.tensor([[0, 4.0, 4.0, 1.0, 1.0], [0, 2.0, 2.0, 2.0, 2.0]], dtype=torch.float64)
    out = roi_align(x, rois, 2, 1.0, 0, True, backend="torch")
    assert torch.equal(out, torch.zeros_like(out))


@pytest.mark.parametrize("sampling_ratio", [0, 2])
def test_non_finite_coordinates_contribute_zero(sampling_ratio):
    """NaN/inf box coordinates give zeros (the kernel treats NaN samples as outside), never a crash."""
    gen = torch.Generator().manual_seed(15)
    x = _features(gen, 2, 2, 6, 7)
    good = torch.tensor([[1, 1.0, 1.5, 4.0, 5.0]], dtype=torch.float64)
    bad = torch.tensor([[0, float("nan"), 1.0, 3.0, 3.0], [1, 0.0, 0.0, float("inf"), 3.0],
                        [0, float("-inf"), float("-inf"), float("inf"), float("inf")]], dtype=torch.float64)
    out = roi_align(x, torch.cat([good, bad]), 3, 1.0, sampling_ratio, True, backend="torch")
    assert torch.equal(out[1:], torch.zeros_like(out[1:]))
    torch.testing.assert_close(out[:1], roi_align_ref(x, good, 3, 1.0, sampling_ratio, True), rtol=1e-10, atol=1e-10)


def test_many_boxes_vectorised():
    """2000 boxes in one call (no per-box loop would make this slow); check a subset against the reference."""
    gen = torch.Generator().manual_seed(5)
    n, c, h, w, scale = 3, 4, 16, 20, 0.5
    x = _features(gen, n, c, h, w)
    rois = random_rois(gen, 2000, n, h, w, scale, max_size=0.6)
    for sampling_ratio in (0, 2):
        out = roi_align(x, rois, 7, scale, sampling_ratio, True, backend="torch")
        assert out.shape == (2000, c, 7, 7)
        subset = torch.arange(0, 2000, 97)
        ref = roi_align_ref(x, rois[subset], 7, scale, sampling_ratio, True)
        torch.testing.assert_close(out[subset], ref, rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("sampling_ratio", [0, 2])
def test_gradcheck(sampling_ratio, aligned):
    gen = torch.Generator().manual_seed(6)
    x = _features(gen, 2, 2, 5, 6).requires_grad_(True)
    rois = torch.tensor([[0, 0.3, 0.6, 4.1, 3.7], [1, -1.2, 2.5, 3.0, 7.0], [1, 4.5, 0.2, 6.5, 1.1],
                         [0, 2.0, 2.0, 2.4, 2.2]], dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda inp: roi_align(inp, rois, (2, 3), 1.0, sampling_ratio, aligned, backend="torch"), (x,))


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("sampling_ratio", [0, 1, 2])
def test_gradient_matches_reference(sampling_ratio, aligned):
    gen = torch.Generator().manual_seed(7)
    n, c, h, w, scale = 2, 3, 8, 9, 0.5
    x = _features(gen, n, c, h, w)
    rois = torch.cat([special_rois(n, h, w, scale), random_rois(gen, 6, n, h, w, scale)])
    weight = torch.randn(rois.shape[0], c, 3, 3, generator=gen, dtype=torch.float64)
    x1 = x.clone().requires_grad_(True)
    (roi_align(x1, rois, 3, scale, sampling_ratio, aligned, backend="torch") * weight).sum().backward()
    x2 = x.clone().requires_grad_(True)
    (roi_align_ref(x2, rois, 3, scale, sampling_ratio, aligned) * weight).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-10, atol=1e-10)


def test_rois_get_no_gradient():
    gen = torch.Generator().manual_seed(8)
    x = _features(gen, 1, 2, 6, 6, dtype=torch.float32).requires_grad_(True)
    rois = torch.tensor([[0, 1.0, 1.0, 4.0, 5.0]], requires_grad=True)
    out = roi_align(x, rois, 2, 1.0, 2, True, backend="torch")
    out.sum().backward()
    assert rois.grad is None
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_empty_rois():
    x = torch.randn(2, 3, 5, 5, requires_grad=True)
    out = roi_align(x, torch.zeros(0, 5), (2, 4), 1.0, 0, True, backend="torch")
    assert out.shape == (0, 3, 2, 4) and out.dtype == torch.float32
    out.sum().backward()  # stays connected to the graph
    assert torch.equal(x.grad, torch.zeros_like(x))
    assert ROIAlign(3, 0.5, 2)(x, torch.zeros(0, 5)).shape == (0, 3, 3, 3)


# --------------------------------------------------------------------------------------
# Dtypes and layouts
# --------------------------------------------------------------------------------------
def test_float32_matches_reference():
    gen = torch.Generator().manual_seed(9)
    n, c, h, w, scale = 2, 4, 10, 12, 1.0 / 16
    x = _features(gen, n, c, h, w, dtype=torch.float32)
    rois = torch.cat([special_rois(n, h, w, scale), random_rois(gen, 20, n, h, w, scale)]).float()
    for sampling_ratio, aligned in [(0, True), (2, False)]:
        out = roi_align(x, rois, 4, scale, sampling_ratio, aligned, backend="torch")
        assert out.dtype == torch.float32
        ref = roi_align_ref(x.double(), rois.double(), 4, scale, sampling_ratio, aligned)
        torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs(dtype):
    gen = torch.Generator().manual_seed(10)
    n, c, h, w, scale = 2, 3, 8, 8, 0.5
    x = _features(gen, n, c, h, w, dtype=torch.float32).to(dtype).requires_grad_(True)
    rois = random_rois(gen, 12, n, h, w, scale, dtype=torch.float32)
    out = roi_align(x, rois.to(dtype), 3, scale, 0, True, backend="torch")
    assert out.dtype == dtype and out.shape == (12, c, 3, 3)
    # Computed in float32 internally: equal to the float32 result on the same (rounded) values.
    expect = roi_align(x.detach().float(), rois.to(dtype).float(), 3, scale, 0, True, backend="torch")
    torch.testing.assert_close(out.float(), expect.to(dtype).float(), rtol=0, atol=0)
    out.float().sum().backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad.float()).all()


def test_rois_dtype_and_layout_independent():
    gen = torch.Generator().manual_seed(11)
    n, c, h, w = 2, 5, 7, 9
    x = _features(gen, n, c, h, w, dtype=torch.float32)
    rois = random_rois(gen, 10, n, h, w, 1.0, dtype=torch.float32)
    base = roi_align(x, rois, 3, 1.0, 2, True, backend="torch")
    assert base.is_contiguous()
    # float64 rois with float32 input, channels-last and non-contiguous inputs.
    torch.testing.assert_close(roi_align(x, rois.double(), 3, 1.0, 2, True, backend="torch"), base)
    torch.testing.assert_close(
        roi_align(x.contiguous(memory_format=torch.channels_last), rois, 3, 1.0, 2, True, backend="torch"), base)
    x_nc = x.transpose(2, 3).contiguous().transpose(2, 3)
    assert not x_nc.is_contiguous()
    torch.testing.assert_close(roi_align(x_nc, rois, 3, 1.0, 2, True, backend="torch"), base)
    torch.testing.assert_close(roi_align(x, rois.t().contiguous().t(), 3, 1.0, 2, True, backend="torch"), base)


# --------------------------------------------------------------------------------------
# Module, backends, argument checks
# --------------------------------------------------------------------------------------
def test_module_forward_and_repr():
    gen = torch.Generator().manual_seed(12)
    x = _features(gen, 2, 3, 8, 8)
    rois = random_rois(gen, 5, 2, 8, 8, 0.5)
    m = ROIAlign((2, 3), spatial_scale=0.5, sampling_ratio=0, backend="torch")
    assert m.aligned is True
    torch.testing.assert_close(m(x, rois), roi_align_ref(x, rois, (2, 3), 0.5, 0, True), rtol=1e-10, atol=1e-10)
    text = repr(m)
    assert text.startswith("ROIAlign(") and "output_size=(2, 3)" in text and "spatial_scale=0.5" in text
    assert "sampling_ratio=0" in text and "aligned=True" in text and "backend='torch'" in text
    assert list(m.parameters()) == []


def test_auto_backend_runs():
    gen = torch.Generator().manual_seed(13)
    x = _features(gen, 1, 2, 6, 6)
    rois = random_rois(gen, 4, 1, 6, 6, 1.0)
    out = ROIAlign(2, 1.0, 2)(x, rois)  # backend="auto"
    torch.testing.assert_close(out, roi_align_ref(x, rois, 2, 1.0, 2, True), rtol=1e-7, atol=1e-7)


@pytest.mark.skipif(HAS_TV, reason="torchvision's roi_align is available here")
def test_torchvision_backend_unavailable_raises():
    x = torch.randn(1, 2, 4, 4)
    with pytest.raises(RuntimeError, match="torchvision"):
        roi_align(x, torch.tensor([[0, 0.0, 0.0, 2.0, 2.0]]), 2, 1.0, 0, True, backend="torchvision")


@pytest.mark.skipif(not HAS_TV, reason="torchvision with its compiled roi_align op does not import in this "
                                       "environment; comparison with its kernel skipped")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("sampling_ratio", [0, 2])
def test_matches_torchvision(dtype, aligned, sampling_ratio):
    gen = torch.Generator().manual_seed(14)
    n, c, h, w, scale = 2, 4, 12, 15, 0.25
    x = _features(gen, n, c, h, w, dtype=dtype)
    rois = torch.cat([special_rois(n, h, w, scale), random_rois(gen, 60, n, h, w, scale)]).to(dtype)
    weight = torch.randn(rois.shape[0], c, 5, 4, generator=gen, dtype=dtype)
    grads, outs = [], []
    for backend in ("torch", "torchvision"):
        xi = x.clone().requires_grad_(True)
        out = roi_align(xi, rois, (5, 4), scale, sampling_ratio, aligned, backend=backend)
        (out * weight).sum().backward()
        outs.append(out.detach())
        grads.append(xi.grad)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(outs[0], outs[1], **tol)
    torch.testing.assert_close(grads[0], grads[1], **tol)


@pytest.mark.parametrize("rois, match", [
    (torch.zeros(3, 4), r"rois must be a Tensor\[K, 5\]"),
    (torch.zeros(5), r"rois must be a Tensor\[K, 5\]"),
    (torch.tensor([[2.0, 0, 0, 1, 1]]), r"batch indices in \[0, 2\)"),
    (torch.tensor([[-1.0, 0, 0, 1, 1]]), r"batch indices in \[0, 2\)"),
    (torch.tensor([[0.5, 0, 0, 1, 1]]), r"whole-number batch indices"),
    (torch.tensor([[float("nan"), 0, 0, 1, 1]]), r"batch indices"),
])
@pytest.mark.parametrize("backend", ["torch", "auto"])
def test_bad_rois_raise(rois, match, backend):
    x = torch.randn(2, 3, 4, 4)
    with pytest.raises(ValueError, match=match):
        roi_align(x, rois, 2, 1.0, 0, True, backend=backend)


def test_bad_arguments_raise():
    x = torch.randn(2, 3, 4, 4)
    rois = torch.tensor([[0.0, 0, 0, 1, 1]])
    with pytest.raises(ValueError, match="input must be a Tensor"):
        roi_align(x[0], rois, 2, 1.0, 0, True)
    with pytest.raises(TypeError, match="floating point"):
        roi_align(x.long(), rois, 2, 1.0, 0, True)
    with pytest.raises(TypeError, match="rois must be a floating point"):
        roi_align(x, rois.long(), 2, 1.0, 0, True)
    with pytest.raises(ValueError, match="output_size must be positive"):
        roi_align(x, rois, (0, 2), 1.0, 0, True)
    with pytest.raises(TypeError, match="output_size"):
        roi_align(x, rois, (2, 2, 2), 1.0, 0, True)
    with pytest.raises(ValueError, match="spatial_scale"):
        roi_align(x, rois, 2, 0.0, 0, True)
    with pytest.raises(TypeError, match="sampling_ratio"):
        roi_align(x, rois, 2, 1.0, 1.5, True)
    with pytest.raises(ValueError, match="backend"):
        roi_align(x, rois, 2, 1.0, 0, True, backend="cuda")
    with pytest.raises(ValueError, match="backend"):
        ROIAlign(2, 1.0, 0, backend="nope")


def test_fallback_from_a_failing_torchvision_kernel_warns_once(monkeypatch, caplog):
    from slowfast.models import roi_align as mod

    calls = []

    def broken_kernel(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("no kernel for this device")

    monkeypatch.setattr(mod, "_tv_roi_align", broken_kernel)
    monkeypatch.setattr(mod, "_tv_failed", {})
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64)
    rois = torch.tensor([[0, 0.0, 0.0, 2.0, 2.0]], dtype=torch.float64)
    with caplog.at_level(logging.DEBUG, logger=mod.__name__):
        first = roi_align(x, rois, 2, 1.0, 0, True)
        second = roi_align(x, rois, 2, 1.0, 0, True)
    torch.testing.assert_close(first, roi_align(x, rois, 2, 1.0, 0, True, backend="torch"))
    torch.testing.assert_close(second, first)
    assert len(calls) == 1  # not retried after the first failure
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "using the PyTorch implementation" in warnings[0].getMessage()


def test_unusable_torchvision_install_warns_but_a_missing_one_does_not(monkeypatch, caplog):
    import sys
    import types

    from slowfast.models import roi_align as mod

    class NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "torchvision":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    for name in ("torchvision", "torchvision.ops"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(sys, "meta_path", [NotInstalled(), *sys.meta_path])
    monkeypatch.setattr(mod, "_tv_roi_align", None)
    with caplog.at_level(logging.DEBUG, logger=mod.__name__):
        assert not mod.torchvision_roi_align_available()
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    caplog.clear()
    monkeypatch.setattr(sys, "meta_path", sys.meta_path[1:])
    # installed, but its compiled ops are not registered (a torchvision built for another torch)
    fake = types.ModuleType("torchvision")
    fake.__path__ = []
    fake_ops = types.ModuleType("torchvision.ops")
    fake.ops = fake_ops
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    monkeypatch.setitem(sys.modules, "torchvision.ops", fake_ops)
    monkeypatch.setattr(mod, "_tv_roi_align", None)
    with caplog.at_level(logging.DEBUG, logger=mod.__name__):
        assert not mod.torchvision_roi_align_available()
        assert not mod.torchvision_roi_align_available()
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
