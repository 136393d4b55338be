"""RandAugment for video clips on tensors (no PIL, no torchvision).

A policy string such as ``rand-m7-n4-mstd0.5-inc1`` (AUG.AA_TYPE) picks ``n``
operations per clip, uniformly with replacement; each runs with probability 0.5
at magnitude ``m`` (out of 10), jittered by a normal of std ``mstd`` and clipped
to [0, 10]; ``inc1`` selects the variants whose strength grows with the
magnitude. Every random choice (which op, whether it runs, its magnitude and
sign, the interpolation) is made once per clip, so all frames of a clip get the
same transformation, as in PySlowFast. Ops act on 8-bit pixel values with the
level mappings of timm's RandAugment (used by PySlowFast); images are rounded
to 8 bits after every op, like PIL images.

Frames are uint8 ``T x H x W x C`` (the decoder's layout) in and out.
"""

import math
import random
import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

MAX_LEVEL = 10.0
FILL = 128.0
INTERPOLATIONS = ("bilinear", "bicubic", "nearest", "random")
AA_TYPE_FORM = "rand[-m<int 0..10>][-n<int >= 1>][-mstd<float >= 0>][-inc<0|1>], e.g. rand-m7-n4-mstd0.5-inc1"

# Luma weights of PIL's RGB -> L conversion.
_LUMA = (0.299, 0.587, 0.114)


def _gray(x: torch.Tensor) -> torch.Tensor:
    """``T x 1 x H x W`` 8-bit luma of ``T x 3 x H x W`` frames."""
    return (x[:, 0:1] * _LUMA[0] + x[:, 1:2] * _LUMA[1] + x[:, 2:3] * _LUMA[2]).round()


def _blend(degenerate: torch.Tensor, x: torch.Tensor, factor: float) -> torch.Tensor:
    return degenerate + factor * (x - degenerate)


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
    # The count of the last non-empty bin is left out of the step, as in PIL.
    last = 255 - torch.argmax((hist.flip(1) > 0).int(), dim=1)
    last_count = hist.gather(1, last.unsqueeze(1)).squeeze(1)
    step = (hist.sum(1) - last_count) // 255
    cum = torch.cumsum(hist, 1) - hist
    safe = step.clamp(min=1).unsqueeze(1)
    lut = ((cum + safe // 2) // safe).clamp(max=255)
    identity = torch.arange(256).expand(t * c, 256)
    lut = torch.where((step > 0).unsqueeze(1), lut, identity)
    return lut.gather(1, planes).reshape(t, c, h, w).to(x.dtype)


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
    t, c, h, w = x.shape
    if h < 3 or w < 3:
        return x
    kernel = torch.ones(3, 3, dtype=x.dtype)
    kernel[1, 1] = 5.0
    kernel = (kernel / 13.0).expand(c, 1, 3, 3)
    smooth = x.clone()
    smooth[..., 1:-1, 1:-1] = F.conv2d(x, kernel, groups=c).round()
    return _blend(smooth, x, factor)


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


def _signed(value: float, rng: random.Random) -> float:
    return -value if rng.random() > 0.5 else value


# name -> (op, level -> op arguments (may draw a sign), geometric op taking an interpolation)
_Level = Callable[[float, random.Random], Tuple[float, ...]]
_OPS: Dict[str, Tuple[Callable[..., torch.Tensor], Optional[_Level], bool]] = {
    "AutoContrast": (auto_contrast, None, False),
    "Equalize": (equalize, None, False),
    "Invert": (invert, None, False),
    "Rotate": (rotate, lambda m, r: (_signed(m / MAX_LEVEL * 30.0, r),), True),
    "Posterize": (posterize, lambda m, r: (int(m / MAX_LEVEL * 4),), False),
    "PosterizeIncreasing": (posterize, lambda m, r: (4 - int(m / MAX_LEVEL * 4),), False),
    "Solarize": (solarize, lambda m, r: (int(m / MAX_LEVEL * 256),), False),
    "SolarizeIncreasing": (solarize, lambda m, r: (256 - int(m / MAX_LEVEL * 256),), False),
    "SolarizeAdd": (solarize_add, lambda m, r: (int(m / MAX_LEVEL * 110),), False),
    "Color": (color, lambda m, r: (m / MAX_LEVEL * 1.8 + 0.1,), False),
    "ColorIncreasing": (color, lambda m, r: (1.0 + _signed(m / MAX_LEVEL * 0.9, r),), False),
    "Contrast": (contrast, lambda m, r: (m / MAX_LEVEL * 1.8 + 0.1,), False),
    "ContrastIncreasing": (contrast, lambda m, r: (1.0 + _signed(m / MAX_LEVEL * 0.9, r),), False),
    "Brightness": (brightness, lambda m, r: (m / MAX_LEVEL * 1.8 + 0.1,), False),
    "BrightnessIncreasing": (brightness, lambda m, r: (1.0 + _signed(m / MAX_LEVEL * 0.9, r),), False),
    "Sharpness": (sharpness, lambda m, r: (m / MAX_LEVEL * 1.8 + 0.1,), False),
    "SharpnessIncreasing": (sharpness, lambda m, r: (1.0 + _signed(m / MAX_LEVEL * 0.9, r),), False),
    "ShearX": (shear_x, lambda m, r: (_signed(m / MAX_LEVEL * 0.3, r),), True),
    "ShearY": (shear_y, lambda m, r: (_signed(m / MAX_LEVEL * 0.3, r),), True),
    "TranslateXRel": (translate_x_rel, lambda m, r: (_signed(m / MAX_LEVEL * 0.45, r),), True),
    "TranslateYRel": (translate_y_rel, lambda m, r: (_signed(m / MAX_LEVEL * 0.45, r),), True),
}

_COMMON = ["AutoContrast", "Equalize", "Invert", "Rotate"]
_GEOMETRIC = ["ShearX", "ShearY", "TranslateXRel", "TranslateYRel"]
RAND_TRANSFORMS = _COMMON + ["Posterize", "Solarize", "SolarizeAdd", "Color", "Contrast", "Brightness",
                             "Sharpness"] + _GEOMETRIC
RAND_INCREASING_TRANSFORMS = _COMMON + ["PosterizeIncreasing", "SolarizeIncreasing", "SolarizeAdd",
                                        "ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing",
                                        "SharpnessIncreasing"] + _GEOMETRIC


@dataclass(frozen=True)
class RandAugmentPolicy:
    """The parsed AUG.AA_TYPE string."""

    magnitude: float = MAX_LEVEL
    num_layers: int = 2
    magnitude_std: float = 0.0
    increasing: bool = False

    @property
    def transforms(self) -> List[str]:
        return RAND_INCREASING_TRANSFORMS if self.increasing else RAND_TRANSFORMS


def parse_policy(text: str, key: str = "AUG.AA_TYPE") -> RandAugmentPolicy:
    """Parse ``rand-m9-n2-mstd0.5-inc1``; raise ValueError naming ``key``, the value and the accepted form."""

    def bad(why: str) -> ValueError:
        return ValueError(f"{key} {text!r} is malformed ({why}); accepted form: {AA_TYPE_FORM}.")

    if not isinstance(text, str):
        raise bad("not a string")
    parts = text.split("-")
    if parts[0] != "rand":
        raise bad("only RandAugment policies, starting with 'rand', are supported")
    values: Dict[str, str] = {}
    for part in parts[1:]:
        match = re.fullmatch(r"(mstd|inc|m|n)(\d+(?:\.\d*)?)", part)
        if match is None:
            raise bad(f"unknown section {part!r}")
        name, value = match.groups()
        if name in values:
            raise bad(f"section {name!r} given twice")
        values[name] = value
    try:
        magnitude = float(int(values["m"])) if "m" in values else MAX_LEVEL
        num_layers = int(values.get("n", "2"))
        mstd = float(values.get("mstd", "0"))
        inc = int(values.get("inc", "0"))
    except ValueError:
        raise bad("m, n and inc take integers") from None
    if not 0 <= magnitude <= MAX_LEVEL:
        raise bad(f"magnitude {magnitude:g} is outside 0..10")
    if num_layers < 1:
        raise bad("n must be >= 1")
    if inc not in (0, 1):
        raise bad("inc must be 0 or 1")
    return RandAugmentPolicy(magnitude, num_layers, mstd, bool(inc))


class RandAugment:
    """Apply a RandAugment policy to a clip, the same way on every frame."""

    def __init__(self, policy: RandAugmentPolicy, interpolation: str = "bicubic",
                 fill: Sequence[float] = (FILL,) * 3) -> None:
        """``fill``: per-channel 8-bit value of the pixels the geometric ops bring in (timm's ``img_mean``;
        grey 128 for the video datasets, the dataset mean for ImageNet, as in PySlowFast)."""
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"AUG.INTERPOLATION must be one of {INTERPOLATIONS}, got {interpolation!r}")
        self.policy = policy
        self.interpolation = interpolation
        self.fill = tuple(float(v) for v in fill)

    def _magnitude(self, rng: random.Random) -> float:
        m = self.policy.magnitude
        if self.policy.magnitude_std > 0:
            m = rng.gauss(m, self.policy.magnitude_std)
        return min(MAX_LEVEL, max(0.0, m))

    def apply_op(self, name: str, x: torch.Tensor, rng: random.Random) -> torch.Tensor:
        """One op on ``T x C x H x W`` float frames in 0..255, always applied (no 0.5 gate)."""
        op, level, geometric = _OPS[name]
        args = level(self._magnitude(rng), rng) if level is not None else ()
        kwargs = {}
        if geometric:
            interp = self.interpolation
            if interp == "random":
                interp = rng.choice(("bilinear", "bicubic"))
            kwargs["interpolation"] = interp
            kwargs["fill"] = self.fill
        return op(x, *args, **kwargs).round().clamp(0.0, 255.0)

    def __call__(self, frames: torch.Tensor, rng: Optional[random.Random] = None) -> torch.Tensor:
        """Augment uint8 ``T x H x W x C`` frames; returns uint8 frames of the same shape."""
        rng = rng or random
        names = [rng.choice(self.policy.transforms) for _ in range(self.policy.num_layers)]
        x = frames.permute(0, 3, 1, 2).float()
        for name in names:
            if rng.random() > 0.5:
                continue
            x = self.apply_op(name, x, rng)
        return x.to(torch.uint8).permute(0, 2, 3, 1).contiguous()
