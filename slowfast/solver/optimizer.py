"""Optimizer construction with weight-decay exclusions."""

from typing import Dict, List

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def get_param_groups(model: nn.Module, cfg: CfgNode) -> List[Dict]:
    """Split trainable parameters into weight-decay groups.

    Norm-layer parameters get BN.WEIGHT_DECAY; with SOLVER.ZERO_WD_1D_PARAM every
    1-D parameter (biases, norm weights) gets no decay; the rest get SOLVER.WEIGHT_DECAY.
    """
    bn, zero, other = [], [], []
    seen = set()
    for module in model.modules():
        is_norm = isinstance(module, _NORM_TYPES)
        for param in module.parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            if is_norm:
                (zero if cfg.SOLVER.ZERO_WD_1D_PARAM else bn).append(param)
            elif cfg.SOLVER.ZERO_WD_1D_PARAM and param.ndim <= 1:
                zero.append(param)
            else:
                other.append(param)
    trainable = sum(1 for p in model.parameters() if p.requires_grad)
    if trainable != len(bn) + len(zero) + len(other):
        raise RuntimeError(
            f"Parameter grouping lost parameters: {trainable} trainable vs {len(bn) + len(zero) + len(other)} grouped."
        )
    groups = [
        {"params": other, "weight_decay": cfg.SOLVER.WEIGHT_DECAY},
        {"params": bn, "weight_decay": cfg.BN.WEIGHT_DECAY},
        {"params": zero, "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


def construct_optimizer(model: nn.Module, cfg: CfgNode) -> torch.optim.Optimizer:
    """SGD or AdamW over the weight-decay groups of `model` (SOLVER.OPTIMIZING_METHOD)."""
    groups = get_param_groups(model, cfg)
    method = cfg.SOLVER.OPTIMIZING_METHOD
    fused = {"foreach": True} if next(model.parameters()).is_cuda else {}
    if method == "sgd":
        return torch.optim.SGD(
            groups,
            lr=cfg.SOLVER.BASE_LR,
            momentum=cfg.SOLVER.MOMENTUM,
            weight_decay=cfg.SOLVER.WEIGHT_DECAY,
            dampening=cfg.SOLVER.DAMPENING,
            nesterov=cfg.SOLVER.NESTEROV,
            **fused,
        )
    if method == "adamw":
        return torch.optim.AdamW(
            groups,
            lr=cfg.SOLVER.BASE_LR,
            betas=tuple(cfg.SOLVER.BETAS),
            eps=1e-08,
            weight_decay=cfg.SOLVER.WEIGHT_DECAY,
            **fused,
        )
    raise NotImplementedError(f"Unknown SOLVER.OPTIMIZING_METHOD '{method}'; choose 'sgd' or 'adamw'.")


def get_epoch_lr(cur_epoch: float, cfg: CfgNode) -> float:
    from slowfast.solver.lr_policy import get_lr_at_epoch

    return get_lr_at_epoch(cfg, cur_epoch)


def set_lr(optimizer: torch.optim.Optimizer, new_lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = new_lr
