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

    Returns:
        a list of {"params": [...], "weight_decay": float} dicts, ready for torch.optim.
    """
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
