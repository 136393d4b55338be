"""The float, whole-frame RandAugment ops that slowfast.datasets.rand_augment computed before it
worked on 8-bit frames and on the crop window only: the reference its fast ops are checked against.
The pieces it did not change (luma, blend, the smoothing kernel, the equalisation rule) are imported.

Ops take ``T x C x H x W`` float frames holding 8-bit values; ``apply_op`` rounds
and clamps after each op, as RandAugment did.
"""

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from slowfast.datasets.rand_augment import _blend, _equalize_tables, _gray, _smooth_blend

FILL = 128.0

def auto_contrast(x: torch.Tensor) -> torch.Tensor:
    """Stretch each channel of each frame to the full 0..255 range (flat channels unchanged)."""
    lo = x.amin(dim=(-2, -1), keepdim=True)
    hi = x.amax(dim=(-2, -1), keepdim=True)
    flat = hi <= lo
    scale = 255.0 / torch.where(flat, torch.ones_like(hi), hi - lo)
    out = ((x - lo) * scale).floor()
    return torch.where(flat, x, out)


def equalize(x: torch.Tensor) -> torch.Tensor:
    """Histogram equalisation of each channel of each frame, with PIL's lookup-table rule."""
    t, c, h, w = x.shape
    planes = x.reshape(t * c, h * w).long().clamp(0, 255)
    offsets = torch.arange(t * c).unsqueeze(1) * 256
    hist = torch.bincount((planes + offsets).flatten(), minlength=t * c * 256).reshape(t * c, 256)
    return _equalize_tables(hist).long().gather(1, planes).reshape(t, c, h, w).to(x.dtype)


def invert(x: torch.Tensor) -> torch.Tensor:
    return 255.0 - x


def posterize(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Keep the ``bits`` most significant bits of each value."""
    if bits >= 8:
        return x
    mask = (0xFF << (8 - bits)) & 0xFF
    return torch.bitwise_and(x.to(torch.uint8), mask).to(x.dtype)


def solarize(x: torch.Tensor, threshold: float) -> torch.Tensor:
    """Invert the values at or above ``threshold``."""
    return torch.where(x >= threshold, 255.0 - x, x)


def solarize_add(x: torch.Tensor, add: float, threshold: float = 128.0) -> torch.Tensor:
    """Add ``add`` (saturating at 255) to the values below ``threshold``."""
    return torch.where(x < threshold, (x + add).clamp(max=255.0), x)


def color(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Saturation: 0 = grey, 1 = unchanged."""
    return _blend(_gray(x).expand_as(x), x, factor)


def contrast(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Blend each frame with its mean grey level: 0 = flat grey, 1 = unchanged."""
    mean = (_gray(x).mean(dim=(-3, -2, -1), keepdim=True) + 0.5).floor()
    return _blend(mean.expand_as(x), x, factor)


def brightness(x: torch.Tensor, factor: float) -> torch.Tensor:
    return x * factor


def sharpness(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Blend with a 3x3 smoothed copy (centre weight 5, border pixels kept): 0 = smooth, 1 = unchanged."""
    return _smooth_blend(x, factor)


def affine(x: torch.Tensor, matrix: Sequence[float], interpolation: str,
           fill: Sequence[float] = (FILL,) * 3) -> torch.Tensor:
    """PIL-style inverse affine map: output point (u, v) samples the input at (a u + b v + c, d u + e v + f).

    Coordinates are continuous (pixel centres at i + 0.5); points outside the
    frame take the per-channel ``fill`` value (grey FILL by default).
    """
    t, c, h, w = x.shape
    a, b, cc, d, e, f = matrix
    v, u = torch.meshgrid(torch.arange(h, dtype=x.dtype) + 0.5, torch.arange(w, dtype=x.dtype) + 0.5, indexing="ij")
    u_in = a * u + b * v + cc
    v_in = d * u + e * v + f
    grid = torch.stack((2.0 * u_in / w - 1.0, 2.0 * v_in / h - 1.0), dim=-1).expand(t, h, w, 2)
    fill_t = torch.as_tensor(fill, dtype=x.dtype).view(1, c, 1, 1)
    out = F.grid_sample(x - fill_t, grid, mode=interpolation, padding_mode="zeros", align_corners=False)
    return out + fill_t


def rotate(x: torch.Tensor, degrees: float, interpolation: str, fill: Sequence[float] = (FILL,) * 3) -> torch.Tensor:
    """Rotate counter-clockwise by ``degrees`` about the frame centre."""
    h, w = x.shape[-2:]
    cx, cy = w / 2.0, h / 2.0
    angle = -math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    matrix = (cos, sin, cx - cos * cx - sin * cy, -sin, cos, cy + sin * cx - cos * cy)
    return affine(x, matrix, interpolation, fill)


def shear_x(x: torch.Tensor, factor: float, interpolation: str, fill: Sequence[float] = (FILL,) * 3) -> torch.Tensor:
    return affine(x, (1.0, factor, 0.0, 0.0, 1.0, 0.0), interpolation, fill)


def shear_y(x: torch.Tensor, factor: float, interpolation: str, fill: Sequence[float] = (FILL,) * 3) -> torch.Tensor:
    return affine(x, (1.0, 0.0, 0.0, factor, 1.0, 0.0), interpolation, fill)


def translate_x_rel(x: torch.Tensor, pct: float, interpolation: str, fill: Sequence[float] = (FILL,) * 3) -> torch.Tensor:
    return affine(x, (1.0, 0.0, pct * x.shape[-1], 0.0, 1.0, 0.0), interpolation, fill)


def translate_y_rel(x: torch.Tensor, pct: float, interpolation: str, fill: Sequence[float] = (FILL,) * 3) -> torch.Tensor:
    return affine(x, (1.0, 0.0, 0.0, 0.0, 1.0, pct * x.shape[-2]), interpolation, fill)


REFERENCE_OPS = {
    "auto_contrast": auto_contrast, "equalize": equalize, "invert": invert, "rotate": rotate,
    "posterize": posterize, "solarize": solarize, "solarize_add": solarize_add, "color": color,
    "contrast": contrast, "brightness": brightness, "sharpness": sharpness, "shear_x": shear_x,
    "shear_y": shear_y, "translate_x_rel": translate_x_rel, "translate_y_rel": translate_y_rel,
}


def apply_op(function: str, x: torch.Tensor, args: Sequence, interpolation: str = "", fill=(FILL,) * 3) -> torch.Tensor:
    """One op by its function name (``rand_augment._OPS``' first column), rounded to 8 bits."""
    kwargs = {"interpolation": interpolation, "fill": fill} if interpolation else {}
    return REFERENCE_OPS[function](x, *args, **kwargs).round().clamp(0.0, 255.0)


def rand_augment(frames: torch.Tensor, augment, rng) -> torch.Tensor:
    """The former ``RandAugment.__call__`` of ``augment`` (a slowfast RandAugment): whole float frames, drawing
    each op's gate and then its arguments as it goes."""
    names = [rng.choice(augment.policy.transforms) for _ in range(augment.policy.num_layers)]
    x = frames.permute(0, 3, 1, 2).float()
    for name in names:
        if rng.random() > 0.5:
            continue
        op = augment.draw_op(name, rng)
        x = apply_op(op.function, x, op.args, op.interpolation, augment.fill)
    return x.to(torch.uint8).permute(0, 2, 3, 1).contiguous()
