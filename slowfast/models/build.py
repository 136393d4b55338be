"""The model registry and `build_model(cfg)`."""

import logging

import torch.nn as nn
from fvcore.common.config import CfgNode
from fvcore.common.registry import Registry

logger = logging.getLogger(__name__)

MODEL_REGISTRY = Registry("MODEL")
MODEL_REGISTRY.__doc__ = """
Registry of video models, selected by MODEL.MODEL_NAME.

A registered class is called with the config, `cls(cfg)`, and returns an nn.Module whose
forward takes the list of pathway tensors (and the boxes, for detection).
"""


def build_model(cfg: CfgNode) -> nn.Module:
    """Build MODEL.MODEL_NAME from `cfg`, on the CPU and unwrapped.

    Placement, channels_last, DistributedDataParallel and torch.compile are the engine's job:
    `slowfast.engine.placement.prepare_model(cfg, model)`.
    """
    name = cfg.MODEL.MODEL_NAME
    if name not in MODEL_REGISTRY:
        known = sorted(k for k, _ in MODEL_REGISTRY)
        raise KeyError(f"MODEL.MODEL_NAME '{name}' is not a registered model; choose one of {known}.")
    return MODEL_REGISTRY.get(name)(cfg)
