"""Optimizer construction with weight-decay exclusions."""

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from slowfast.models.utils import get_param_groups


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
    """Set every group's LR to ``new_lr`` times its ``layer_decay`` scale (1 without SOLVER.LAYER_DECAY)."""
    for group in optimizer.param_groups:
        group["lr"] = new_lr * group.get("layer_decay", 1.0)
