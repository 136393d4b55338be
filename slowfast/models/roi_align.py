"""RoIAlign written with plain PyTorch ops, with torchvision's kernel used when it works.

The operator follows the usual definition (Mask R-CNN RoIAlign as implemented
by ``torchvision.ops.roi_align`` and detectron2's ``ROIAlign``):

* each roi ``(batch_index, x1, y1, x2, y2)`` is multiplied by ``spatial_scale``;
  with ``aligned=True`` half a pixel is subtracted from every coordinate so that
  pixel centres sit at integer positions, with ``aligned=False`` the roi's width
  and height are clamped to at least 1;
* the roi is divided into ``oh x ow`` bins of size ``roi_size / output_size``;
* every bin is sampled on a regular ``gy x gx`` grid at ``start + (i + 0.5) * bin / g``;
  ``gy = gx = sampling_ratio`` when it is positive, otherwise ``gy = ceil(roi_h / oh)``
  and ``gx = ceil(roi_w / ow)`` for each roi separately (a grid of zero points gives 0);
* each sample is a bilinear interpolation of the feature map with the reference
  kernel's boundary rules: a point with ``y < -1``, ``y > H``, ``x < -1`` or
  ``x > W`` (or a NaN coordinate) contributes 0; a coordinate ``<= 0`` is moved
  to 0; a coordinate at or past the last pixel uses the last pixel's value;
* the bin's value is the average of its samples (sum / ``max(gy * gx, 1)``).

How the PyTorch path works
--------------------------
Bilinear sampling on a box grid is separable: a sample's row indices and row
weights depend only on (roi, output row, sample row), its column indices and
weights only on (roi, output column, sample column). Both axes are computed as
small tensors of "taps" (position, weight): two per sample (low and high
neighbour), with the samples padded to the largest grid over the rois
(``Gy``, ``Gx``) and weight 0 for padded samples and for samples outside the
map. The average over each roi's own sample count is folded into the weights.
When the taps of every bin fit in fewer consecutive positions than there are
taps (typically so with adaptive sampling, whose samples are at most one
pixel apart), taps on the same position are added up first, so a bin needs
``(Gy + 1) * (Gx + 1)`` or fewer products instead of ``4 * Gy * Gx``.
Broadcasting the two axes gives, for every output bin, a "bag" of
(flat position in ``N*H*W``, weight) pairs, and a single
``torch.nn.functional.embedding_bag(mode="sum", per_sample_weights=...)`` over
the feature map laid out as ``[N*H*W, C]`` does the gather and the weighted sum
for every bin and channel at once (a fused gather + reduce that never
materialises a ``[bins, samples, C]`` tensor). There is no Python loop over
rois, bins or samples; two small host syncs read the largest grid and window
sizes (and validate the batch indices). The gradient with respect to ``input``
comes from autograd through ``embedding_bag``; rois are detached, as in
torchvision, and get no gradient.

Dtypes: float64 inputs are computed in float64, float32 in float32. float16 and
bfloat16 inputs are computed in float32 (coordinates, weights and the
feature-map copy) and the result is cast back to the input dtype, so they can
differ from torchvision's half kernel (which computes in half) by half-precision
rounding. Memory: the bags hold at most ``K * oh * ow * 4 * Gy * Gx`` (index,
weight) entries, with no channel factor; besides the output there is one
channels-last copy of the feature map (none if ``input`` is already
channels-last float32/float64) and one copy of the output from the
``[K, oh, ow, C]`` layout to a contiguous ``[K, C, oh, ow]``.
"""

import logging
import math
from typing import Callable, Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

logger = logging.getLogger(__name__)

__all__ = ["roi_align", "ROIAlign", "torchvision_roi_align_available"]

_BACKENDS = ("auto", "torch", "torchvision")

# torchvision lookup state: None = not tried yet, False = unavailable, else the function.
_tv_roi_align: Optional[object] = None
# (device type, dtype) pairs on which torchvision's kernel raised in "auto" mode.
_tv_failed: Dict[Tuple[str, torch.dtype], bool] = {}


def _get_torchvision_roi_align() -> Optional[Callable]:
    """torchvision.ops.roi_align if torchvision imports and its compiled op is registered, else None.

    Tried once per process and never raised. torchvision not installed is the normal case
    (debug message); installed but unusable (say, built for another torch) means falling back to
    the PyTorch implementation, which is logged once at WARNING level.
    """
    global _tv_roi_align
    if _tv_roi_align is None:
        try:
            import torchvision.ops

            # The compiled kernel must be registered, otherwise torchvision itself
            # falls back to Python code or fails at call time.
            torch.ops.torchvision.roi_align  # noqa: B018
            _tv_roi_align = torchvision.ops.roi_align
        except (ImportError, RuntimeError, OSError, AttributeError) as err:
            not_installed = isinstance(err, ModuleNotFoundError) and err.name == "torchvision"
            logger.log(logging.DEBUG if not_installed else logging.WARNING,
                       "torchvision roi_align unavailable (%s: %s); using the PyTorch implementation",
                       type(err).__name__, err)
            _tv_roi_align = False
    return _tv_roi_align or None


def torchvision_roi_align_available() -> bool:
    """True if torchvision's compiled roi_align kernel can be used in this process."""
    return _get_torchvision_roi_align() is not None


def _pair(output_size: Union[int, Tuple[int, int]]) -> Tuple[int, int]:
    if isinstance(output_size, bool):
        raise TypeError(f"output_size must be an int or a pair of ints, got {output_size!r}")
    if isinstance(output_size, int):
        size = (output_size, output_size)
    else:
        try:
            size = tuple(output_size)
        except TypeError:
            raise TypeError(f"output_size must be an int or a pair of ints, got {output_size!r}") from None
        if len(size) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) for s in size):
            raise TypeError(f"output_size must be an int or a pair of ints, got {output_size!r}")
    if size[0] <= 0 or size[1] <= 0:
        raise ValueError(f"output_size must be positive, got {output_size!r}")
    return size  # type: ignore[return-value]


def _check_args(input: Tensor, rois: Tensor, spatial_scale: float, sampling_ratio: int, backend: str) -> None:
    if not isinstance(input, Tensor) or input.dim() != 4:
        raise ValueError(f"input must be a Tensor[N, C, H, W], got shape "
                         f"{tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__}")
    if not input.is_floating_point():
        raise TypeError(f"input must be a floating point tensor, got {input.dtype}")
    if not isinstance(rois, Tensor) or rois.dim() != 2 or rois.shape[1] != 5:
        raise ValueError("rois must be a Tensor[K, 5] of (batch_index, x1, y1, x2, y2), got "
                         f"{tuple(rois.shape) if isinstance(rois, Tensor) else type(rois).__name__}")
    if not rois.is_floating_point():
        raise TypeError(f"rois must be a floating point tensor, got {rois.dtype}")
    if rois.device != input.device:
        raise ValueError(f"rois ({rois.device}) and input ({input.device}) must be on the same device")
    if isinstance(spatial_scale, bool) or not isinstance(spatial_scale, (int, float)) \
            or not math.isfinite(spatial_scale) or spatial_scale <= 0:
        raise ValueError(f"spatial_scale must be a positive finite number, got {spatial_scale!r}")
    if isinstance(sampling_ratio, bool) or not isinstance(sampling_ratio, int):
        raise TypeError(f"sampling_ratio must be an int (<= 0 for adaptive), got {sampling_ratio!r}")
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}")
    if rois.shape[0] > 0 and (input.shape[2] == 0 or input.shape[3] == 0):
        raise ValueError(f"input has an empty spatial size {tuple(input.shape[2:])}")


def _axis_sampling(start: Tensor, bin_size: Tensor, grid: Tensor, n_out: int, n_grid: int,
                   size: int) -> Tuple[Tensor, Tensor, Tensor]:
    """Bilinear taps along one axis.

    start, bin_size: [K] (compute dtype); grid: [K] long, the roi's number of
    samples per bin on this axis; n_out: output bins on this axis; n_grid: the
    padded sample count (max of grid); size: the feature map's extent.
    Returns index [K, n_out, n_grid, 2] (long; low, high), weight of the same
    shape (0 for padded samples and for samples outside [-1, size]) and the
    mask [K, n_out, n_grid] of samples that contribute.
    """
    dtype = start.dtype
    k = start.shape[0]
    out_pos = torch.arange(n_out, device=start.device, dtype=dtype).view(1, n_out, 1)
    sub_pos = (torch.arange(n_grid, device=start.device, dtype=dtype) + 0.5).view(1, 1, n_grid)
    start = start.view(k, 1, 1)
    bin_size = bin_size.view(k, 1, 1)
    grid_f = grid.clamp(min=1).to(dtype).view(k, 1, 1)
    # Same association order as the reference kernel: (start + p * bin) + ((i + .5) * bin) / g.
    coord = (start + out_pos * bin_size) + (sub_pos * bin_size) / grid_f  # [K, n_out, n_grid]

    in_grid = torch.arange(n_grid, device=start.device).view(1, 1, n_grid) < grid.view(k, 1, 1)
    # Written as "in range" so that NaN coordinates count as outside.
    inside = (coord >= -1.0) & (coord <= size) & in_grid
    zero = torch.zeros((), dtype=dtype, device=start.device)
    c = torch.where(inside, coord, zero).clamp(min=0.0)  # now in [0, size]
    low = torch.floor(c)
    at_end = low >= size - 1
    last = torch.full((), size - 1, dtype=dtype, device=start.device)
    low = torch.where(at_end, last, low)
    high = torch.where(at_end, last, low + 1.0)
    frac_high = torch.where(at_end, zero, c - low)
    frac_low = 1.0 - frac_high
    index = torch.stack((low, high), dim=-1).to(torch.long)
    weight = torch.stack((frac_low, frac_high), dim=-1) * inside.unsqueeze(-1).to(dtype)
    return index, weight, inside


def _window_span(index: Tensor, inside: Tensor, size: int) -> Tuple[Tensor, Tensor]:
    """First tap position [K, P] of each bin's contributing samples, and the number of
    consecutive positions [K, P] from there that hold all of them (1 if none contributes)."""
    first = torch.where(inside, index[..., 0], size).amin(dim=2)
    last = torch.where(inside, index[..., 1], -1).amax(dim=2)
    span = (last - first + 1).clamp(min=1)
    return first.clamp(max=size - 1), span


def _merge_taps(index: Tensor, weight: Tensor, first: Tensor, length: int, size: int) -> Tuple[Tensor, Tensor]:
    """Sum the [K, P, G, 2] taps of each bin into a window of `length` consecutive positions
    starting at `first` ([K, P]); returns index and weight [K, P, length]."""
    k, p, g, _ = index.shape
    pos = (index - first.view(k, p, 1, 1)).clamp(0, length - 1).reshape(k, p, 2 * g)
    merged = weight.new_zeros(k, p, length).scatter_add_(2, pos, weight.reshape(k, p, 2 * g))
    window = (first.unsqueeze(-1) + torch.arange(length, device=first.device)).clamp(max=size - 1)
    return window, merged


def _roi_align_torch(input: Tensor, rois: Tensor, output_size: Tuple[int, int], spatial_scale: float,
                     sampling_ratio: int, aligned: bool) -> Tensor:
    n, c, h, w = input.shape
    oh, ow = output_size
    k = rois.shape[0]
    device = input.device
    cdt = torch.float64 if input.dtype == torch.float64 else torch.float32

    rois = rois.detach().to(cdt)
    batch_f = rois[:, 0]
    scale = torch.tensor(spatial_scale, dtype=cdt, device=device)
    offset = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (rois[:, 1:] * scale - offset).unbind(dim=1)
    roi_w = x2 - x1
    roi_h = y2 - y1
    if not aligned:
        # Malformed rois become at least 1x1.
        roi_w = roi_w.clamp(min=1.0)
        roi_h = roi_h.clamp(min=1.0)
    bin_h = roi_h / oh
    bin_w = roi_w / ow

    if sampling_ratio > 0:
        grid_h = torch.full((k,), sampling_ratio, dtype=torch.long, device=device)
        grid_w = grid_h
    else:
        # ceil(roi / out) samples per bin for each roi; a grid of <= 0 points (negative
        # aligned rois) or a non-finite one (NaN/inf rois) samples nothing.
        # (Clamped below 2**30 only so that the integer conversion is defined.)
        grid_h = torch.where(torch.isfinite(bin_h), torch.ceil(bin_h), 0.0).clamp(0, 2**30).to(torch.long)
        grid_w = torch.where(torch.isfinite(bin_w), torch.ceil(bin_w), 0.0).clamp(0, 2**30).to(torch.long)

    # Host sync 1: validation and the padded grid sizes.
    bad_batch = (batch_f != torch.trunc(batch_f)) | (batch_f < 0) | (batch_f >= n)
    if k > 0:
        stats = torch.stack((bad_batch.sum(), grid_h.max(), grid_w.max())).tolist()
    else:
        stats = [0, 1, 1]
    n_bad, max_gh, max_gw = stats
    if n_bad:
        bad = batch_f[bad_batch][:5].tolist()
        raise ValueError(f"rois[:, 0] must hold whole-number batch indices in [0, {n}); "
                         f"{n_bad} roi(s) do not, e.g. {bad}")
    max_gh = max(int(max_gh), 1)
    max_gw = max(int(max_gw), 1)

    y_idx, y_wt, y_in = _axis_sampling(y1, bin_h, grid_h, oh, max_gh, h)  # [K, oh, Gy, 2]
    x_idx, x_wt, x_in = _axis_sampling(x1, bin_w, grid_w, ow, max_gw, w)  # [K, ow, Gx, 2]
    # The average over each roi's own sample count, folded into the row weights.
    count = (grid_h * grid_w).clamp(min=1).to(cdt)
    y_wt = y_wt / count.view(k, 1, 1, 1)

    # Neighbouring samples of a bin share pixels (with adaptive sampling they are at most
    # one pixel apart): when fewer consecutive positions than 2 * samples hold all taps of
    # every bin, add up the weights per position first; the bags get smaller. (Host sync 2.)
    y_first, y_span = _window_span(y_idx, y_in, h)
    x_first, x_span = _window_span(x_idx, x_in, w)
    len_y, len_x = (torch.stack((y_span.max(), x_span.max())).tolist() if k > 0 else (1, 1))
    if len_y < 2 * max_gh:
        y_idx, y_wt = _merge_taps(y_idx, y_wt, y_first, len_y, h)
    else:
        y_idx, y_wt = y_idx.flatten(2), y_wt.flatten(2)
    if len_x < 2 * max_gw:
        x_idx, x_wt = _merge_taps(x_idx, x_wt, x_first, len_x, w)
    else:
        x_idx, x_wt = x_idx.flatten(2), x_wt.flatten(2)
    ty, tx = y_idx.shape[2], x_idx.shape[2]

    # Bags [K, oh, ow, Ty, Tx] -> [K*oh*ow, Ty*Tx] of (flat position in [N*H*W], weight).
    base = (batch_f.to(torch.long) * (h * w)).view(k, 1, 1, 1, 1)
    rows = (y_idx * w).view(k, oh, 1, ty, 1)
    cols = x_idx.view(k, 1, ow, 1, tx)
    index = (base + rows + cols).reshape(k * oh * ow, ty * tx)
    weight = (y_wt.view(k, oh, 1, ty, 1) * x_wt.view(k, 1, ow, 1, tx)).reshape(k * oh * ow, ty * tx)
    if n * h * w < 2**31:
        index = index.to(torch.int32)

    table = input.to(cdt).permute(0, 2, 3, 1).reshape(n * h * w, c)
    out = F.embedding_bag(index, table, mode="sum", per_sample_weights=weight)  # [K*oh*ow, C]
    return out.view(k, oh, ow, c).permute(0, 3, 1, 2).contiguous().to(input.dtype)


def roi_align(input: Tensor, rois: Tensor, output_size: Union[int, Tuple[int, int]],
              spatial_scale: float = 1.0, sampling_ratio: int = -1, aligned: bool = False,
              backend: str = "auto") -> Tensor:
    """RoIAlign of `rois` on `input`; same definition and defaults as torchvision.ops.roi_align.

    Args:
        input: feature maps, Tensor[N, C, H, W], floating point.
        rois: Tensor[K, 5] of (batch_index, x1, y1, x2, y2) in input-image coordinates;
            batch indices must be whole numbers in [0, N). Detached: rois get no gradient.
        output_size: int or (oh, ow).
        spatial_scale: factor from roi coordinates to feature-map coordinates (e.g. 1/16).
        sampling_ratio: sample points per bin along each axis; <= 0 for adaptive
            (ceil(roi_h / oh) x ceil(roi_w / ow), per roi).
        aligned: subtract half a pixel from the scaled rois (the correct alignment);
            False reproduces the legacy behaviour.
        backend: "auto" (torchvision's kernel if it imports and runs for this device and
            dtype, else the PyTorch implementation), "torch" or "torchvision" (error if
            torchvision's kernel is unavailable).

    Returns:
        Tensor[K, C, oh, ow] with the dtype of `input` (empty when K == 0).
    """
    oh, ow = _pair(output_size)
    _check_args(input, rois, spatial_scale, sampling_ratio, backend)
    aligned = bool(aligned)
    if backend == "torch":
        return _roi_align_torch(input, rois, (oh, ow), spatial_scale, sampling_ratio, aligned)

    tv = _get_torchvision_roi_align()
    if tv is None:
        if backend == "torchvision":
            raise RuntimeError("roi_align backend='torchvision' was requested but torchvision's roi_align "
                               "kernel is not available (torchvision does not import or has no compiled ops)")
        return _roi_align_torch(input, rois, (oh, ow), spatial_scale, sampling_ratio, aligned)

    key = (input.device.type, input.dtype)
    if backend == "auto" and key in _tv_failed:
        return _roi_align_torch(input, rois, (oh, ow), spatial_scale, sampling_ratio, aligned)
    if rois.shape[0] > 0:
        # torchvision trusts the batch indices; check them here as the PyTorch path does.
        batch_f = rois[:, 0].detach()
        bad = (batch_f != torch.trunc(batch_f)) | (batch_f < 0) | (batch_f >= input.shape[0])
        if bool(bad.any()):
            raise ValueError(f"rois[:, 0] must hold whole-number batch indices in [0, {input.shape[0]})")
    tv_rois = rois.detach().to(input.dtype).contiguous()
    try:
        return tv(input, tv_rois, (oh, ow), spatial_scale=float(spatial_scale), sampling_ratio=sampling_ratio,
                  aligned=aligned)
    except torch.cuda.OutOfMemoryError:
        raise
    except (RuntimeError, NotImplementedError) as err:
        if backend == "torchvision":
            raise
        _tv_failed[key] = True
        logger.warning("torchvision roi_align failed on %s/%s (%s); using the PyTorch implementation from now on",
                       key[0], key[1], err)
        return _roi_align_torch(input, rois, (oh, ow), spatial_scale, sampling_ratio, aligned)


class ROIAlign(nn.Module):
    """Module form of :func:`roi_align` (detectron2-style constructor; aligned=True by default)."""

    def __init__(self, output_size: Union[int, Tuple[int, int]], spatial_scale: float, sampling_ratio: int,
                 aligned: bool = True, backend: str = "auto") -> None:
        super().__init__()
        if backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}")
        self.output_size = _pair(output_size)
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.aligned = bool(aligned)
        self.backend = backend

    def forward(self, input: Tensor, rois: Tensor) -> Tensor:
        return roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned,
                         backend=self.backend)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}, backend={self.backend!r}")
