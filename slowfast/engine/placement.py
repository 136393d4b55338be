"""Putting a built model to work in this process: device, memory format, DDP and torch.compile.

``slowfast.models.build_model`` only builds; the engine (and anything that runs a model
the way the engine does) calls ``prepare_model`` next, as detectron2 separates
``build_model`` from ``create_ddp_model``.
"""

from typing import Optional

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from slowfast.utils import distributed as du


def check_devices(cfg: CfgNode) -> None:
    """Raise when NUM_GPUS asks for CUDA that this machine does not have, or for more GPUs than it shows."""
    if cfg.NUM_GPUS <= 0:
        return
    if not torch.cuda.is_available():
        raise RuntimeError(
            f"NUM_GPUS is {cfg.NUM_GPUS} but CUDA is not available on this machine; "
            "set NUM_GPUS 0 to run on the CPU."
        )
    if cfg.NUM_GPUS > torch.cuda.device_count():
        raise RuntimeError(
            f"NUM_GPUS is {cfg.NUM_GPUS} but only {torch.cuda.device_count()} GPUs are visible on this machine."
        )


def model_device(cfg: CfgNode, gpu_id: Optional[int] = None) -> torch.device:
    """The CPU when NUM_GPUS is 0, else ``cuda:gpu_id`` (default: the current CUDA device)."""
    if cfg.NUM_GPUS > 0:
        return torch.device("cuda", torch.cuda.current_device() if gpu_id is None else gpu_id)
    return torch.device("cpu")


def prepare_model(cfg: CfgNode, model: nn.Module, gpu_id: Optional[int] = None) -> nn.Module:
    """Place ``model`` for this process and wrap it as the job needs.

    Moves it to ``model_device(cfg, gpu_id)``; MODEL.CHANNELS_LAST converts it to the
    channels_last_3d memory format. When the job has more than one process it is wrapped in
    DistributedDataParallel (device_ids only on GPU, find_unused_parameters False);
    MODEL.COMPILE then applies torch.compile. Returns the model, possibly wrapped
    (``slowfast.utils.modules.unwrap_model`` reaches the inner one).
    """
    check_devices(cfg)
    device = model_device(cfg, gpu_id)
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
