"""Helpers on nn.Module objects shared by the models, checkpoints and the engine."""

import torch.nn as nn


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside a wrapper: DistributedDataParallel/DataParallel (a sole child `.module`) or
    torch.compile (`._orig_mod`)."""
    while True:
        children = model._modules
        if len(children) == 1 and isinstance(children.get("module"), nn.Module):
            model = children["module"]
        elif isinstance(children.get("_orig_mod"), nn.Module):
            model = children["_orig_mod"]
        else:
            return model
