"""Model statistics: parameter count, FLOPs and activations (fvcore) of one clip."""

import logging
from typing import Dict, List, Tuple, Union

import psutil
import torch
import torch.nn as nn
from fvcore.common.config import CfgNode
from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis

from slowfast.config.archs import pathway_arch_lists
from slowfast.datasets.utils import pack_pathways
from slowfast.models.batchnorm_helper import is_norm_module
from slowfast.utils.modules import unwrap_model

logger = logging.getLogger(__name__)


def params_count(model: nn.Module, ignore_bn: bool = False) -> int:
    """Number of parameters (shared ones once); without BN parameters when `ignore_bn`."""
    model = unwrap_model(model)
    if not ignore_bn:
        return sum(p.numel() for p in model.parameters())
    seen, count = set(), 0
    for module in model.modules():
        if is_norm_module(module):
            continue
        for p in module.parameters(recurse=False):
            if id(p) not in seen:
                seen.add(id(p))
                count += p.numel()
    return count


def pathway_input(cfg: CfgNode, num_frames: int, crop_size: int, device: Union[str, torch.device] = "cpu") -> List[torch.Tensor]:
    """One random clip [1, C, T, crop, crop] as the model's pathway list.

    For SlowFast the Slow pathway takes NUM_FRAMES / ALPHA frames evenly spaced over the clip
    (the same frames the data loader picks).
    """
    frames = torch.rand(1, cfg.DATA.INPUT_CHANNEL_NUM[0], num_frames, crop_size, crop_size, device=device)
    return pack_pathways(frames, cfg.MODEL.ARCH, cfg.SLOWFAST.ALPHA, *pathway_arch_lists(cfg))


def model_analysis_input(cfg: CfgNode, use_train_input: bool = True, device: Union[str, torch.device] = "cpu") -> Tuple:
    """The inputs of one clip for fvcore: (pathways,) or, for detection, (pathways, one full-frame box)."""
    crop = cfg.DATA.TRAIN_CROP_SIZE if use_train_input else cfg.DATA.TEST_CROP_SIZE
    inputs = pathway_input(cfg, cfg.DATA.NUM_FRAMES, crop, device)
    if cfg.DETECTION.ENABLE:
        box = torch.tensor([[0.0, 0.0, 0.0, crop - 1.0, crop - 1.0]], device=device)
        return (inputs, box)
    return (inputs,)


def get_model_stats(model: nn.Module, cfg: CfgNode, mode: str, use_train_input: bool = True) -> float:
    """GFLOPs (mode "flop") or mega-activations (mode "activation") of one clip, counted by fvcore.

    fvcore counts one multiply-add as one flop and skips ops it has no rule for (pooling,
    softmax, ReLU). The model is analysed in eval mode, like PySlowFast, and left in its mode.
    """
    if mode not in ("flop", "activation"):
        raise ValueError(f"mode must be 'flop' or 'activation', got '{mode}'.")
    model = unwrap_model(model)
    device = next(model.parameters()).device
    inputs = model_analysis_input(cfg, use_train_input, device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            analysis_cls = FlopCountAnalysis if mode == "flop" else ActivationCountAnalysis
            analysis = analysis_cls(model, inputs).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            count = analysis.total()
    finally:
        model.train(was_training)
    return count / (1e9 if mode == "flop" else 1e6)


def _memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1024**2
    return psutil.Process().memory_info().rss / 1024**2


def log_model_info(model: nn.Module, cfg: CfgNode, use_train_input: bool = True) -> Dict[str, float]:
    """Log the parameter count, FLOPs and activations of one clip of `cfg`'s input (and memory).

    `use_train_input` picks TRAIN_CROP_SIZE, else TEST_CROP_SIZE. The model structure is
    logged at DEBUG level. Returns the numbers logged.
    """
    model = unwrap_model(model)
    device = next(model.parameters()).device
    logger.debug("Model:\n%s", model)
    stats = {
        "params": float(params_count(model)),
        "gflops": get_model_stats(model, cfg, "flop", use_train_input),
        "mactivations": get_model_stats(model, cfg, "activation", use_train_input),
        "mem_mb": _memory_mb(device),
    }
    which = "train" if use_train_input else "test"
    logger.info("Params: %s", f"{int(stats['params']):,}")
    logger.info("Mem: %s MB (%s)", f"{stats['mem_mb']:,.0f}", "peak CUDA allocated" if device.type == "cuda" else "process RSS")
    logger.info("Flops: %s G (one %s clip)", f"{stats['gflops']:,.2f}", which)
    logger.info("Activations: %s M (one %s clip)", f"{stats['mactivations']:,.2f}", which)
    return stats
