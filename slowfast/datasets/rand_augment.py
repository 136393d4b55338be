"""RandAugment for video clips on 8-bit tensors (no PIL, no torchvision).

A policy string such as ``rand-m7-n4-mstd0.5-inc1`` (AUG.AA_TYPE) picks ``n``
operations per clip, uniformly with replacement; each runs with probability 0.5
at magnitude ``m`` (out of 10), jittered by a normal of std ``mstd`` and clipped
to [0, 10]; ``inc1`` selects the variants whose strength grows with the
magnitude. Every random choice (which op, whether it runs, its magnitude and
sign, the interpolation) is made once per clip (``RandAugment.draw``), so all
frames of a clip get the same transformation, as in PySlowFast. Ops act on
8-bit pixel values with the level mappings of timm's RandAugment (used by
PySlowFast); images are rounded to 8 bits after every op, like PIL images.

Frames are uint8 ``T x H x W x C`` (the decoder's layout) in and out, and stay
8-bit between ops: the ops that send every value of a plane through one table
(invert, posterize, solarize, brightness, auto-contrast, equalise, contrast)
are table lookups, the others run in float32 a few frames at a time.

The train crops read a window of the augmented frames only, so ``apply_ops``
takes the window and computes each op on just the part of its output that the
window depends on: a geometric op reads the bounding box of the window's
preimage, sharpness one pixel around it, and auto-contrast, equalise and
contrast take their statistics from the whole frame. The values are those of
the whole-frame computation cropped to the window, bit for bit.
"""

import math
import random
import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from slowfast.datasets.transform import Window, whole_window

MAX_LEVEL = 10.0
FILL = 128.0
INTERPOLATIONS = ("bilinear", "bicubic", "nearest", "random")
AA_TYPE_FORM = "rand[-m<int 0..10>][-n<int >= 1>][-mstd<float >= 0>][-inc<0|1>], e.g. rand-m7-n4-mstd0.5-inc1"

# Luma weights of PIL's RGB -> L conversion.
_LUMA = (0.299, 0.587, 0.114)

# Float elements per chunk of the float ops: a few frames, so that the intermediates stay in the CPU cache.
_CHUNK_ELEMENTS = 1 << 18

# Source pixels a geometric op's sampling reaches beyond its sample point (bicubic: 2, with one to spare).
_SAMPLING_MARGIN = 3


def _frames_per_chunk(elements_per_frame: int) -> int:
    return max(1, _CHUNK_ELEMENTS // max(1, elements_per_frame))


# ---------------------------------------------------------------------------------------------------------------
# Value tables: what an op does to the 8-bit values of one plane. ``v`` holds 0..255 as float32; the tables are
# rounded and clamped to 8 bits like the op's output.


def _gray(x: torch.Tensor) -> torch.Tensor:
    """``T x 1 x H x W`` 8-bit luma of ``T x 3 x H x W`` float frames."""
    return (x[:, 0:1] * _LUMA[0] + x[:, 1:2] * _LUMA[1] + x[:, 2:3] * _LUMA[2]).round()


def _blend(degenerate: torch.Tensor, x: torch.Tensor, factor: float) -> torch.Tensor:
    return degenerate + factor * (x - degenerate)


def _values() -> torch.Tensor:
    return torch.arange(256, dtype=torch.float32)


def _to_8bit(x: torch.Tensor) -> torch.Tensor:
    return x.round().clamp(0.0, 255.0)


def _invert_table() -> torch.Tensor:
    return 255.0 - _values()


def _posterize_table(bits: int) -> torch.Tensor:
    """Keep the ``bits`` most significant bits of each value."""
    v = _values()
    if bits >= 8:
        return v
    return torch.bitwise_and(v.to(torch.uint8), (0xFF << (8 - bits)) & 0xFF).float()


def _solarize_table(threshold: float) -> torch.Tensor:
    """Invert the values at or above ``threshold``."""
    v = _values()
    return torch.where(v >= threshold, 255.0 - v, v)


def _solarize_add_table(add: float, threshold: float = 128.0) -> torch.Tensor:
    """Add ``add`` (saturating at 255) to the values below ``threshold``."""
    v = _values()
    return torch.where(v < threshold, (v + add).clamp(max=255.0), v)


def _brightness_table(factor: float) -> torch.Tensor:
    return _values() * factor


def _lookup(x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Every value of uint8 ``x`` through one 256-entry table."""
    lut = _to_8bit(table).to(torch.uint8).numpy()
    return torch.from_numpy(np.take(lut, x.numpy()))


def _lookup_planes(x: torch.Tensor, tables: torch.Tensor) -> torch.Tensor:
    """uint8 ``T x H x W x C`` frames, each plane through its own table of ``tables`` (``T x C x 256``)."""
    luts = _to_8bit(tables).to(torch.uint8).numpy()
    src = x.numpy()
    out = np.empty(src.shape, dtype=np.uint8)
    for t in range(src.shape[0]):
        for c in range(src.shape[3]):
            np.take(luts[t, c], src[t, :, :, c], out=out[t, :, :, c])
    return torch.from_numpy(out)


# ---------------------------------------------------------------------------------------------------------------
# Ops that take statistics of whole frames: ``frames`` holds whole frames, ``window`` the part to return.


def _auto_contrast(frames: torch.Tensor, window: Window) -> torch.Tensor:
    """Stretch each channel of each frame to the full 0..255 range (flat channels unchanged)."""
    lo = frames.amin(dim=(1, 2)).float().unsqueeze(-1)  # T x C x 1
    hi = frames.amax(dim=(1, 2)).float().unsqueeze(-1)
    flat = hi <= lo
    scale = 255.0 / torch.where(flat, torch.ones_like(hi), hi - lo)
    v = _values()
    tables = torch.where(flat, v, ((v - lo) * scale).floor())
    return _lookup_planes(window.of(frames), tables)


def _equalize_tables(hist: torch.Tensor) -> torch.Tensor:
    """PIL's equalisation tables (float, ``N x 256``) of ``N`` histograms (``N x 256``)."""
    # The count of the last non-empty bin is left out of the step, as in PIL.
    last = 255 - torch.argmax((hist.flip(1) > 0).int(), dim=1)
    last_count = hist.gather(1, last.unsqueeze(1)).squeeze(1)
    step = (hist.sum(1) - last_count) // 255
    cum = torch.cumsum(hist, 1) - hist
    safe = step.clamp(min=1).unsqueeze(1)
    lut = ((cum + safe // 2) // safe).clamp(max=255)
    identity = torch.arange(256).expand(hist.shape[0], 256)
    return torch.where((step > 0).unsqueeze(1), lut, identity).float()


def _equalize(frames: torch.Tensor, window: Window) -> torch.Tensor:
    """Histogram equalisation of each channel of each frame, with PIL's lookup-table rule."""
    t, _, _, c = frames.shape
    planes = frames.permute(0, 3, 1, 2)
    hist = torch.stack([torch.bincount(planes[i, k].flatten(), minlength=256) for i in range(t) for k in range(c)])
    tables = _equalize_tables(hist).reshape(t, c, 256)
    return _lookup_planes(window.of(frames), tables)


def _contrast(frames: torch.Tensor, window: Window, factor: float) -> torch.Tensor:
    """Blend each frame with its mean grey level: 0 = flat grey, 1 = unchanged."""
    t, h, w, c = frames.shape
    step = _frames_per_chunk(h * w * c)
    means = torch.cat([
        _gray(frames[i : i + step].permute(0, 3, 1, 2).float()).mean(dim=(-3, -2, -1))
        for i in range(0, t, step)
    ])
    means = (means + 0.5).floor().view(t, 1, 1)
    tables = _blend(means, _values(), factor).expand(t, c, 256)
    return _lookup_planes(window.of(frames), tables)


# ---------------------------------------------------------------------------------------------------------------
# Ops computed in float32: ``fn`` maps ``T' x C x H x W`` chunks of the input to chunks of the output.


def _in_float(x: torch.Tensor, out_hw: Tuple[int, int], fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    t, h, w, c = x.shape
    out = torch.empty((t,) + tuple(out_hw) + (c,), dtype=torch.uint8)
    step = _frames_per_chunk(h * w * c)
    for i in range(0, t, step):
        chunk = x[i : i + step].permute(0, 3, 1, 2).float()
        out[i : i + step] = _to_8bit(fn(chunk)).permute(0, 2, 3, 1)
    return out


def _color(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Saturation: 0 = grey, 1 = unchanged."""
    return _in_float(x, x.shape[1:3], lambda c: _blend(_gray(c).expand_as(c), c, factor))


def _smooth_blend(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Blend ``T x C x H x W`` frames with a 3x3 smoothed copy (centre weight 5, border pixels kept)."""
    c, h, w = x.shape[1:]
    if h < 3 or w < 3:
        return x
    kernel = torch.ones(3, 3, dtype=x.dtype)
    kernel[1, 1] = 5.0
    kernel = (kernel / 13.0).expand(c, 1, 3, 3)
    smooth = x.clone()
    smooth[..., 1:-1, 1:-1] = F.conv2d(x, kernel, groups=c).round()
    return _blend(smooth, x, factor)


def _sharpness(x: torch.Tensor, source: Window, window: Window, factor: float) -> torch.Tensor:
    """Sharpness of the frames' ``window``; ``x`` holds ``source``: the window with one more pixel on each
    side that is not on the frame's border, whose pixels are kept as they are."""
    rows = slice(window.top - source.top, window.bottom - source.top)
    cols = slice(window.left - source.left, window.right - source.left)
    return _in_float(x, (window.bottom - window.top, window.right - window.left),
                     lambda chunk: _smooth_blend(chunk, factor)[..., rows, cols])


Matrix = Tuple[float, float, float, float, float, float]


def _affine(x: torch.Tensor, source: Window, window: Window, matrix: Matrix, interpolation: str,
            fill: Sequence[float], height: int, width: int) -> torch.Tensor:
    """PIL-style inverse affine map of ``height x width`` frames, computed on ``window``: output point (u, v)
    samples the input at (a u + b v + c, d u + e v + f), in frame coordinates with pixel centres at i + 0.5.

    ``x`` holds the input's ``source`` window, which covers every input pixel those samples read; points
    outside the frame take the per-channel ``fill``. The samples are taken from frame-sized planes holding
    the source window, so that each output pixel is computed exactly as on whole frames.
    """
    out_h, out_w = window.bottom - window.top, window.right - window.left
    frames, channels = x.shape[0], x.shape[3]
    fill_t = torch.as_tensor(fill, dtype=torch.float32).view(1, channels, 1, 1)
    out = torch.empty((frames, out_h, out_w, channels), dtype=torch.uint8)
    if source.empty:
        out[:] = _to_8bit(fill_t.view(channels)).to(torch.uint8)
        return out
    a, b, cc, d, e, f = matrix
    v, u = torch.meshgrid(torch.arange(window.top, window.bottom, dtype=torch.float32) + 0.5,
                          torch.arange(window.left, window.right, dtype=torch.float32) + 0.5, indexing="ij")
    u_in = a * u + b * v + cc
    v_in = d * u + e * v + f
    grid = torch.stack((2.0 * u_in / width - 1.0, 2.0 * v_in / height - 1.0), dim=-1).unsqueeze(0)
    step = _frames_per_chunk(channels * height * width)
    # The planes hold input - fill: zero is the fill that the sampling pads the frame with. Outside the source
    # window they are never read (its margin holds every tap); zeros keep them finite.
    planes = torch.zeros((min(step, frames), channels, height, width), dtype=torch.float32)
    for i in range(0, frames, step):
        chunk = x[i : i + step].permute(0, 3, 1, 2)
        k = chunk.shape[0]
        planes[:k, :, source.top : source.bottom, source.left : source.right].copy_(chunk).sub_(fill_t)
        moved = F.grid_sample(planes[:k], grid.expand(k, out_h, out_w, 2), mode=interpolation,
                              padding_mode="zeros", align_corners=False)
        out[i : i + k] = moved.add_(fill_t).round_().clamp_(0.0, 255.0).permute(0, 2, 3, 1)
    return out


def _rotate_matrix(degrees: float, height: int, width: int) -> Matrix:
    """Counter-clockwise by ``degrees`` about the frame centre."""
    cx, cy = width / 2.0, height / 2.0
    angle = -math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    return (cos, sin, cx - cos * cx - sin * cy, -sin, cos, cy + sin * cx - cos * cy)


_MATRICES: Dict[str, Callable[[float, int, int], Matrix]] = {
    "rotate": _rotate_matrix,
    "shear_x": lambda k, h, w: (1.0, k, 0.0, 0.0, 1.0, 0.0),
    "shear_y": lambda k, h, w: (1.0, 0.0, 0.0, k, 1.0, 0.0),
    "translate_x_rel": lambda pct, h, w: (1.0, 0.0, pct * w, 0.0, 1.0, 0.0),
    "translate_y_rel": lambda pct, h, w: (1.0, 0.0, 0.0, 0.0, 1.0, pct * h),
}

_TABLES: Dict[str, Callable[..., torch.Tensor]] = {
    "invert": _invert_table,
    "posterize": _posterize_table,
    "solarize": _solarize_table,
    "solarize_add": _solarize_add_table,
    "brightness": _brightness_table,
}

_STATISTICS: Dict[str, Callable[..., torch.Tensor]] = {
    "auto_contrast": _auto_contrast,
    "equalize": _equalize,
    "contrast": _contrast,
}


def _preimage(window: Window, matrix: Matrix, height: int, width: int) -> Window:
    """The input pixels that an affine op's samples for ``window`` read."""
    if window.empty:
        return window
    a, b, c, d, e, f = matrix
    corners = [(u, v) for u in (window.left + 0.5, window.right - 0.5) for v in (window.top + 0.5, window.bottom - 0.5)]
    xs = [a * u + b * v + c - 0.5 for u, v in corners]  # pixel indices
    ys = [d * u + e * v + f - 0.5 for u, v in corners]
    return Window(math.floor(min(ys)), math.floor(min(xs)), math.floor(max(ys)) + 1,
                  math.floor(max(xs)) + 1).grown(_SAMPLING_MARGIN, height, width)


@dataclass(frozen=True)
class DrawnOp:
    """One op of a clip's draw: its function (``_OPS``' first column), arguments and interpolation."""

    function: str
    args: Tuple[float, ...] = ()
    interpolation: str = ""


def _source_of(op: DrawnOp, window: Window, height: int, width: int) -> Window:
    """The part of its input that ``op`` reads to compute its output on ``window``."""
    if op.function in _STATISTICS:
        return whole_window(height, width)
    if op.function == "sharpness":
        return window.grown(1, height, width)
    if op.function in _MATRICES:
        return _preimage(window, _MATRICES[op.function](op.args[0], height, width), height, width)
    return window


def _run(op: DrawnOp, x: torch.Tensor, source: Window, window: Window, height: int, width: int,
         fill: Sequence[float]) -> torch.Tensor:
    if op.function in _TABLES:
        return _lookup(x, _TABLES[op.function](*op.args))
    if op.function in _STATISTICS:
        return _STATISTICS[op.function](x, window, *op.args)
    if op.function == "color":
        return _color(x, *op.args)
    if op.function == "sharpness":
        return _sharpness(x, source, window, *op.args)
    matrix = _MATRICES[op.function](op.args[0], height, width)
    return _affine(x, source, window, matrix, op.interpolation, fill, height, width)


def apply_ops(frames: torch.Tensor, ops: Sequence[DrawnOp], window: Optional[Window] = None,
              fill: Sequence[float] = (FILL,) * 3) -> torch.Tensor:
    """``ops`` in turn on uint8 ``T x H x W x C`` frames; returns ``window`` (default: the whole frames) of the
    result, computing each op only where the window depends on it. ``frames`` is not modified (with no op, the
    window is a view of it)."""
    height, width = frames.shape[1:3]
    window = whole_window(height, width) if window is None else window.clipped(height, width)
    # Backwards: the window of each op's output that the final window needs.
    windows = [window]
    for op in reversed(ops):
        windows.append(_source_of(op, windows[-1], height, width))
    windows.reverse()
    x = windows[0].of(frames)
    for op, source, target in zip(ops, windows[:-1], windows[1:]):
        x = _run(op, x, source, target, height, width, fill)
    return x


def _signed(value: float, rng: random.Random) -> float:
    return -value if rng.random() > 0.5 else value


# name -> (function, level -> op arguments (may draw a sign)); geometric ops also draw their interpolation.
_Level = Callable[[float, random.Random], Tuple[float, ...]]
_OPS: Dict[str, Tuple[str, Optional[_Level]]] = {
    "AutoContrast": ("auto_contrast", None),
    "Equalize": ("equalize", None),
    "Invert": ("invert", None),
    "Rotate": ("rotate", lambda m, r: (_signed(m / MAX_LEVEL * 30.0, r),)),
    "Posterize": ("posterize", lambda m, r: (int(m / MAX_LEVEL * 4),)),
    "PosterizeIncreasing": ("posterize", lambda m, r: (4 - int(m / MAX_LEVEL * 4),)),
    "Solarize": ("solarize", lambda m, r: (int(m / MAX_LEVEL * 256),)),
    "SolarizeIncreasing": ("solarize", lambda m, r: (256 - int(m / MAX_LEVEL * 256),)),
    "SolarizeAdd": ("solarize_add", lambda m, r: (int(m / MAX_LEVEL * 110),)),
    "Color": ("color", lambda m, r: (m / MAX_LEVEL * 1.8 + 0.1,)),
    "ColorIncreasing": ("color", lambda m, r: (1.0 + _signed(m / MAX_LEVEL * 0.9, r),)),
    "Contrast": ("contrast", lambda m, r: (m / MAX_LEVEL * 1.8 + 0.1,)),
    "ContrastIncreasing": ("contrast", lambda m, r: (1.0 + _signed(m / MAX_LEVEL * 0.9, r),)),
    "Brightness": ("brightness", lambda m, r: (m / MAX_LEVEL * 1.8 + 0.1,)),
    "BrightnessIncreasing": ("brightness", lambda m, r: (1.0 + _signed(m / MAX_LEVEL * 0.9, r),)),
    "Sharpness": ("sharpness", lambda m, r: (m / MAX_LEVEL * 1.8 + 0.1,)),
    "SharpnessIncreasing": ("sharpness", lambda m, r: (1.0 + _signed(m / MAX_LEVEL * 0.9, r),)),
    "ShearX": ("shear_x", lambda m, r: (_signed(m / MAX_LEVEL * 0.3, r),)),
    "ShearY": ("shear_y", lambda m, r: (_signed(m / MAX_LEVEL * 0.3, r),)),
    "TranslateXRel": ("translate_x_rel", lambda m, r: (_signed(m / MAX_LEVEL * 0.45, r),)),
    "TranslateYRel": ("translate_y_rel", lambda m, r: (_signed(m / MAX_LEVEL * 0.45, r),)),
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
        """``interpolation``: AUG.INTERPOLATION for the geometric ops; "nearest" means bilinear, as
        PySlowFast's PIL mapping has it (bicubic, else bilinear), and "random" draws bilinear or bicubic
        per clip. ``fill``: per-channel 8-bit value of the pixels the geometric ops bring in (timm's
        ``img_mean``; grey 128 for the video datasets, the dataset mean for ImageNet, as in PySlowFast)."""
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"AUG.INTERPOLATION must be one of {INTERPOLATIONS}, got {interpolation!r}")
        self.policy = policy
        self.interpolation = "bilinear" if interpolation == "nearest" else interpolation
        self.fill = tuple(float(v) for v in fill)

    def _magnitude(self, rng: random.Random) -> float:
        m = self.policy.magnitude
        if self.policy.magnitude_std > 0:
            m = rng.gauss(m, self.policy.magnitude_std)
        return min(MAX_LEVEL, max(0.0, m))

    def draw_op(self, name: str, rng: random.Random) -> DrawnOp:
        """The arguments of op ``name`` (a policy name, e.g. ``TranslateXRel``) at this policy's magnitude."""
        function, level = _OPS[name]
        args = level(self._magnitude(rng), rng) if level is not None else ()
        interp = ""
        if function in _MATRICES:
            interp = self.interpolation
            if interp == "random":
                interp = rng.choice(("bilinear", "bicubic"))
        return DrawnOp(function, args, interp)

    def draw(self, rng: Optional[random.Random] = None) -> List[DrawnOp]:
        """One clip's ops: ``num_layers`` picks, each kept with probability 0.5."""
        rng = rng or random
        names = [rng.choice(self.policy.transforms) for _ in range(self.policy.num_layers)]
        return [self.draw_op(name, rng) for name in names if rng.random() <= 0.5]

    def apply(self, frames: torch.Tensor, ops: Sequence[DrawnOp], window: Optional[Window] = None) -> torch.Tensor:
        """``apply_ops`` with this policy's fill."""
        return apply_ops(frames, ops, window, self.fill)

    def __call__(self, frames: torch.Tensor, rng: Optional[random.Random] = None) -> torch.Tensor:
        """Augment uint8 ``T x H x W x C`` frames; returns uint8 frames of the same shape."""
        return self.apply(frames, self.draw(rng)).contiguous()
