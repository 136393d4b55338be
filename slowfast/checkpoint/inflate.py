"""2D -> 3D weight inflation (I3D-style) and the adjustments of an image checkpoint loaded into a video model."""

import math
from collections import OrderedDict
from typing import List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from slowfast.utils.logging import get_logger

logger = get_logger(__name__)


def inflate_conv_weight(weight_2d: torch.Tensor, shape_3d: Sequence[int]) -> Optional[torch.Tensor]:
    """Inflate a (O, I, H, W) kernel to `shape_3d` = (O, I, T, H, W): repeat T times over time, divide by T.

    A clip of T identical frames then gives the 3D kernel the 2D kernel's response. Returns None
    when the shapes do not correspond.
    """
    if weight_2d.ndim != 4 or len(shape_3d) != 5:
        return None
    out_c, in_c, t, h, w = shape_3d
    if tuple(weight_2d.shape) != (out_c, in_c, h, w) or t < 1:
        return None
    return weight_2d.unsqueeze(2).repeat(1, 1, t, 1, 1) / t


def _squeezed(shape: Sequence[int]) -> Tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


def fit_to_shape(
    value: torch.Tensor, shape: Sequence[int], *, inflate: bool = True
) -> Tuple[Optional[torch.Tensor], str]:
    """``value`` made to fit a model entry of ``shape`` where that is exact, and how.

    The same shape is kept (""); a shape that differs only by size-1 dimensions is reshaped
    ("reshaped"); with ``inflate``, a 2D kernel of a 3D one is inflated ("inflated").
    Returns ``(None, "")`` when it does not fit.
    """
    shape = tuple(shape)
    if tuple(value.shape) == shape:
        return value, ""
    if value.ndim != len(shape) and value.numel() == math.prod(shape) and _squeezed(value.shape) == _squeezed(shape):
        return value.reshape(shape), "reshaped"
    if inflate:
        inflated = inflate_conv_weight(value, shape)
        if inflated is not None:
            return inflated, "inflated"
    return None, ""


def inflate_weight(
    state_dict_2d: Mapping[str, torch.Tensor], state_dict_3d: Mapping[str, torch.Tensor]
) -> "OrderedDict[str, torch.Tensor]":
    """Inflate every 2D kernel of `state_dict_2d` that has a 3D counterpart in `state_dict_3d`.

    Entries are fitted by ``fit_to_shape`` (the rule checkpoint loading uses): equal shapes are
    copied, size-1 differences reshaped, 2D kernels inflated; entries that fit no way, or that
    the 3D model lacks, are left out (and logged).
    """
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for key, value in state_dict_2d.items():
        target = state_dict_3d.get(key)
        if target is None:
            logger.info("Inflation: %s is not in the 3D model; left out.", key)
            continue
        fitted, how = fit_to_shape(value, tuple(target.shape))
        if fitted is None:
            logger.info("Inflation: %s %s does not fit %s; left out.", key, tuple(value.shape), tuple(target.shape))
            continue
        if how:
            logger.info("%s %s: %s -> %s", how.capitalize(), key, tuple(value.shape), tuple(target.shape))
        out[key] = fitted.clone()
    return out


def _interpolate_rows(table: torch.Tensor, length: int) -> torch.Tensor:
    """Linearly resample a (L, D) relative-position table to (length, D)."""
    resized = F.interpolate(table.t().unsqueeze(0).float(), size=length, mode="linear", align_corners=False)
    return resized[0].t().to(table.dtype)


def adapt_image_checkpoint(
    checkpoint_sd: Mapping[str, torch.Tensor], model_sd: Mapping[str, torch.Tensor]
) -> Tuple["OrderedDict[str, torch.Tensor]", List[str]]:
    """Adjust an image (backbone) checkpoint to a video model, as PySlowFast's CHECKPOINT_IN_INIT does.

    - `pos_embed` with a class token is split into `pos_embed_class` and `pos_embed_xy` when the model has those;
    - relative-position tables (`rel_pos` in the key) of another length are resampled linearly.
    2D kernels are inflated by the matching step (inflation is on for image initialisation).
    Returns the adjusted state dict and one note per change.
    """
    out = OrderedDict(checkpoint_sd)
    notes: List[str] = []
    pos = out.get("pos_embed")
    if pos is not None and "pos_embed_xy" in model_sd and "pos_embed_class" in model_sd:
        if pos.ndim == 3 and pos.shape[1] == model_sd["pos_embed_xy"].shape[1] + 1:
            out.pop("pos_embed")
            out["pos_embed_class"] = pos[:, :1]
            out["pos_embed_xy"] = pos[:, 1:]
            notes.append(f"pos_embed {tuple(pos.shape)} split into pos_embed_class and pos_embed_xy")
    for key, value in list(out.items()):
        target = model_sd.get(key)
        if "rel_pos" in key and target is not None and value.ndim == 2 and target.ndim == 2:
            if value.shape[1] == target.shape[1] and value.shape[0] != target.shape[0]:
                out[key] = _interpolate_rows(value, target.shape[0])
                notes.append(f"{key}: resampled {tuple(value.shape)} -> {tuple(target.shape)}")
    return out, notes
