"""The model registry and `build_model(cfg)`."""

import logging
from typing import Optional

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode
from fvcore.common.registry import Registry

from slowfast.utils import distributed as du

logger = logging.getLogger(__name__)

MODEL_REGISTRY = Registry("MODEL")
MODEL_REGISTRY.__doc__ = """
Registry of video models, selected by MODEL.MODEL_NAME.

A registered class is called with the config, `cls(cfg)`, and returns an nn.Module whose
forward takes the list of pathway tensors (and the boxes, for detection).
"""


def build_model(cfg: CfgNode, gpu_id: Optional[int] = None) -> nn.Module:
    """Build MODEL.MODEL_NAME from `cfg` and place it for this process.

    The model goes to the CPU when NUM_GPUS is 0, else to `cuda:gpu_id` (default: the current
    CUDA device). MODEL.CHANNELS_LAST converts it to the channels_last_3d memory format. When the
    job has more than one process it is wrapped in DistributedDataParallel (device_ids only on
    GPU, find_unused_parameters False); MODEL.COMPILE then applies torch.compile.

    Args:
        cfg: the full config.
        gpu_id: CUDA device index to use instead of the current device.
    Returns:
        the model, possibly wrapped (use `.module` to reach it under DDP).
    """
    if cfg.NUM_GPUS > 0:
        if not torch.cuda.is_available():
            raise RuntimeError(f"NUM_GPUS is {cfg.NUM_GPUS} but CUDA is not available; use NUM_GPUS 0 for the CPU.")
        if cfg.NUM_GPUS > torch.cuda.device_count():
            raise RuntimeError(f"NUM_GPUS is {cfg.NUM_GPUS} but only {torch.cuda.device_count()} GPUs are visible.")
    name = cfg.MODEL.MODEL_NAME
    if name not in MODEL_REGISTRY:
        known = sorted(k for k, _ in MODEL_REGISTRY)
        raise KeyError(f"MODEL.MODEL_NAME '{name}' is not a registered model; choose one of {known}.")
    model = MODEL_REGISTRY.get(name)(cfg)

    if cfg.NUM_GPUS > 0:
        device = torch.device("cuda", torch.cuda.current_device() if gpu_id is None else gpu_id)
    else:
        device = torch.device("cpu")
    model = model.to(device)
    if cfg.MODEL.CHANNELS_LAST:
        model = model.to(memory_format=torch.channels_last_3d)
    if du.get_world_size() > 1:
        on_gpu = device.type == "cuda"
        model = nn.parallel.DistributedDataParallel(
            model,
            device_ids=[device] if on_gpu else None,
            output_device=device if on_gpu else None,
            find_unused_parameters=False,
        )
    if cfg.MODEL.COMPILE:
        model = torch.compile(model)
    return model
