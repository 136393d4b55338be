"""Model helpers used by the solver and the engine."""

from typing import Any, Dict, List

import torch.nn as nn
from fvcore.common.config import CfgNode

from slowfast.models.batchnorm_helper import is_norm_module
from slowfast.utils.modules import unwrap_model


def get_param_groups(model: nn.Module, cfg: CfgNode) -> List[Dict[str, Any]]:
    """Optimizer param groups with PySlowFast's weight-decay rules.

    - BN parameters (every BatchNorm/SyncBatchNorm, and the affine pair of SubBatchNorm3d) get
      BN.WEIGHT_DECAY, whatever SOLVER.ZERO_WD_1D_PARAM says (PySlowFast tests BN first).
    - Names listed by `model.no_weight_decay()` (when the model defines it) get no decay.
    - With SOLVER.ZERO_WD_1D_PARAM, every other 1-D parameter and every bias gets no decay.
    - The rest get SOLVER.WEIGHT_DECAY.
    Frozen parameters (requires_grad False) are left out; empty groups are dropped. Works on a
    DistributedDataParallel- or torch.compile-wrapped model too.

    With SOLVER.LAYER_DECAY < 1 the groups are those of `layer_decay_param_groups` instead.

    Returns:
        a list of {"params": [...], "weight_decay": float} dicts, ready for torch.optim.
    """
    if cfg.SOLVER.LAYER_DECAY < 1.0:
        return layer_decay_param_groups(model, cfg)
    inner = unwrap_model(model)
    skip = set(inner.no_weight_decay()) if callable(getattr(inner, "no_weight_decay", None)) else set()
    bn, decay, no_decay = [], [], []
    seen = set()
    for module_name, module in inner.named_modules():
        is_bn = is_norm_module(module)
        for param_name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            name = f"{module_name}.{param_name}".strip(".")
            if is_bn:
                bn.append(param)
            elif any(k in name for k in skip):
                no_decay.append(param)
            elif cfg.SOLVER.ZERO_WD_1D_PARAM and (param.ndim == 1 or name.endswith(".bias")):
                no_decay.append(param)
            else:
                decay.append(param)
    groups = [
        {"params": bn, "weight_decay": cfg.BN.WEIGHT_DECAY},
        {"params": decay, "weight_decay": cfg.SOLVER.WEIGHT_DECAY},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


def layer_id_of(name: str, num_layers: int) -> int:
    """PySlowFast's layer of a transformer parameter: 0 for the embeddings and tokens, ``i + 1`` for
    ``blocks.i.*``, ``num_layers`` for everything else (the head and final norm)."""
    if name in ("cls_token", "mask_token") or name.startswith(("pos_embed", "patch_embed")):
        return 0
    if name.startswith("blocks."):
        return int(name.split(".")[1]) + 1
    return num_layers


def layer_decay_param_groups(model: nn.Module, cfg: CfgNode) -> List[Dict[str, Any]]:
    """Layer-wise LR decay groups (SOLVER.LAYER_DECAY < 1, the MViT recipes), as in PySlowFast.

    A parameter of layer ``i`` (``layer_id_of`` with MVIT.DEPTH + 1 layers) gets the LR scale
    ``LAYER_DECAY ** (MVIT.DEPTH + 1 - i)`` in its group's ``layer_decay`` (``set_lr`` applies it).
    Names returned by `model.no_weight_decay()` (exact names, as in PySlowFast's layer-decay path)
    and, with SOLVER.ZERO_WD_1D_PARAM, 1-D parameters and biases get no weight decay. Models with
    BatchNorm are refused, like PySlowFast.
    """
    inner = unwrap_model(model)
    if any(is_norm_module(m) for m in inner.modules()):
        raise ValueError(
            f"SOLVER.LAYER_DECAY {cfg.SOLVER.LAYER_DECAY} does not support models with BatchNorm layers "
            "(set SOLVER.LAYER_DECAY 1.0)."
        )
    num_layers = cfg.MVIT.DEPTH + 1
    skip = set(inner.no_weight_decay()) if callable(getattr(inner, "no_weight_decay", None)) else set()
    groups: Dict[str, Dict[str, Any]] = {}
    for name, param in inner.named_parameters():
        if not param.requires_grad:
            continue
        layer = layer_id_of(name, num_layers)
        zero = name in skip or (cfg.SOLVER.ZERO_WD_1D_PARAM and (param.ndim == 1 or name.endswith(".bias")))
        key = f"layer_{layer}_{'zero' if zero else 'non_bn'}"
        if key not in groups:
            groups[key] = {
                "params": [],
                "weight_decay": 0.0 if zero else cfg.SOLVER.WEIGHT_DECAY,
                "layer_decay": cfg.SOLVER.LAYER_DECAY ** (num_layers - layer),
            }
        groups[key]["params"].append(param)
    return list(groups.values())
