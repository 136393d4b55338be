"""Putting a built model and its batches on this process's device: memory format, DDP, torch.compile.

``slowfast.models.build_model`` only builds; the engine (and anything that runs a model
the way the engine does) calls ``prepare_model`` next, as detectron2 separates
``build_model`` from ``create_ddp_model``.
"""

from typing import Any, Dict, List, Optional, Tuple

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


def _to(x: Any, device: torch.device, channels_last: bool) -> Any:
    if isinstance(x, torch.Tensor):
        x = x.to(device, non_blocking=True)
        if channels_last and x.ndim == 5:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        return x
    if isinstance(x, (list, tuple)):
        return type(x)(_to(v, device, channels_last) for v in x)
    if isinstance(x, dict):
        return {k: _to(v, device, channels_last) for k, v in x.items()}
    return x


def batch_to_device(cfg: CfgNode, inputs: List[torch.Tensor], labels: torch.Tensor, meta: Dict) -> Tuple:
    """Move a batch to this process's device (channels_last_3d inputs when MODEL.CHANNELS_LAST)."""
    device = model_device(cfg)
    inputs = _to(inputs, device, cfg.MODEL.CHANNELS_LAST)
    labels = _to(labels, device, False)
    meta = _to(meta, device, False) if isinstance(meta, dict) else meta
    return inputs, labels, meta
