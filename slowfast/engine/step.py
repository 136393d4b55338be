"""Running the model on one batch the way every loop does: the forward dispatch and autocast."""

import contextlib
from typing import Dict, List

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode


def forward(cfg: CfgNode, model: nn.Module, inputs: List[torch.Tensor], meta: Dict) -> torch.Tensor:
    """Run the model on one batch: with the batch's boxes for detection models."""
    if cfg.DETECTION.ENABLE:
        return model(inputs, meta["boxes"])
    return model(inputs)


def autocast_context(cfg: CfgNode):
    """Autocast for TRAIN.MIXED_PRECISION (bf16 or fp16) on the job's device, else a null context."""
    if not cfg.TRAIN.MIXED_PRECISION:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if cfg.TRAIN.MIXED_PRECISION_DTYPE == "bfloat16" else torch.float16
    return torch.autocast(device_type="cuda" if cfg.NUM_GPUS > 0 else "cpu", dtype=dtype)
