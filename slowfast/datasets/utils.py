"""Helpers shared by the datasets: normalisation, pathway packing, retrying a failing item."""

import logging
import random
from typing import Callable, List, Optional, Sequence, Tuple, TypeVar, Union

import torch
from fvcore.common.config import CfgNode

from slowfast.config.archs import MULTI_PATHWAY_ARCH, SINGLE_PATHWAY_ARCH, pathway_arch_lists
from slowfast.datasets.sampling import slow_pathway_indices

logger = logging.getLogger(__name__)


T = TypeVar("T")


def tensor_normalize(
    tensor: torch.Tensor, mean: Union[Sequence[float], torch.Tensor], std: Union[Sequence[float], torch.Tensor]
) -> torch.Tensor:
    """``(x - mean) / std`` over the last (channel) dimension; uint8 input is first divided by 255."""
    if tensor.dtype == torch.uint8:
        tensor = tensor.float()
        tensor = tensor / 255.0
    if not isinstance(mean, torch.Tensor):
        mean = torch.tensor(mean)
    if not isinstance(std, torch.Tensor):
        std = torch.tensor(std)
    tensor = tensor - mean
    tensor = tensor / std
    return tensor


def normalize_to_cthw(
    frames: torch.Tensor, mean: Union[Sequence[float], torch.Tensor], std: Union[Sequence[float], torch.Tensor]
) -> torch.Tensor:
    """``tensor_normalize`` of uint8 ``T x H x W x C`` frames, returned as a contiguous ``C x T x H x W`` tensor.

    Same values bit for bit (the same elementwise float32 operations), about
    twice as fast: the operations run in place and broadcast over the outer axis.
    """
    out = torch.empty((frames.shape[-1],) + tuple(frames.shape[:-1]), dtype=torch.float32)
    out.copy_(frames.permute(3, 0, 1, 2))
    if frames.dtype == torch.uint8:
        out.div_(255.0)
    shape = (-1,) + (1,) * (out.dim() - 1)
    out.sub_(torch.as_tensor(mean, dtype=torch.float32).view(shape))
    out.div_(torch.as_tensor(std, dtype=torch.float32).view(shape))
    return out


def pack_pathways(frames: torch.Tensor, arch: str, alpha: int, single_archs: Sequence[str] = SINGLE_PATHWAY_ARCH,
                  multi_archs: Sequence[str] = MULTI_PATHWAY_ARCH) -> List[torch.Tensor]:
    """The list of pathway inputs for ``arch`` from a clip whose time axis is dim -3.

    Works on ``C x T x H x W`` clips and on ``V x C x T x H x W`` stacks of views.
    The Slow pathway keeps ``T // alpha`` frames of the Fast one, chosen by index.
    """
    if arch in single_archs:
        return [frames]
    if arch in multi_archs:
        index = slow_pathway_indices(frames.shape[-3], alpha).to(frames.device)
        slow = torch.index_select(frames, frames.dim() - 3, index)
        return [slow, frames]
    raise NotImplementedError(f"Model arch {arch} is neither single- nor multi-pathway")


def pack_pathway_output(cfg: CfgNode, frames: torch.Tensor) -> List[torch.Tensor]:
    """Pathway inputs for ``cfg.MODEL.ARCH`` (``[clip]`` or ``[slow, fast]``), PySlowFast's entry point.

    Honours ``DATA.REVERSE_INPUT_CHANNEL`` (RGB -> BGR on the channel axis, dim -4).
    """
    if cfg.DATA.get("REVERSE_INPUT_CHANNEL", False):
        frames = frames.flip(frames.dim() - 4)
    single, multi = pathway_arch_lists(cfg)
    return pack_pathways(frames, cfg.MODEL.ARCH, cfg.SLOWFAST.ALPHA, single, multi)


def retry_with_other_items(
    load: Callable[[int], T],
    index: int,
    num_items: int,
    num_retries: int,
    describe: Callable[[int], str] = str,
    rng: Optional[random.Random] = None,
    errors: Tuple[type, ...] = (Exception,),
) -> Tuple[T, int, int]:
    """Call ``load(index)``; on failure log a warning and try another random item.

    Makes at most ``num_retries + 1`` attempts. Returns ``(result, used_index,
    failures)`` so the caller can report how many items were skipped; raises
    RuntimeError naming every failed item when all attempts fail.
    """
    rng = rng or random
    failed: List[str] = []
    current = index
    for attempt in range(num_retries + 1):
        try:
            return load(current), current, len(failed)
        except errors as exc:
            failed.append(f"{describe(current)}: {exc}")
            logger.warning(
                "Skipping %s (attempt %d of %d): %s", describe(current), attempt + 1, num_retries + 1, exc
            )
            if num_items > 1:
                current = rng.randrange(num_items - 1)
                if current >= index:
                    current += 1
    raise RuntimeError(
        f"Failed to load an item after {num_retries + 1} attempts (item {index} and random replacements):\n  "
        + "\n  ".join(failed)
    )
