"""Loss functions selected by MODEL.LOSS_FUNC."""

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F


class SoftTargetCrossEntropy(nn.Module):
    """Cross-entropy against a target distribution (mixup, label smoothing); hard class labels count as one-hot."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if y.dim() == 1:
            y = F.one_hot(y.long(), x.shape[-1]).to(x.dtype)
        loss = torch.sum(-y * F.log_softmax(x, dim=-1), dim=-1)
        if self.reduction == "mean":
            return loss.mean()
        if self.reduction == "none":
            return loss
        raise NotImplementedError(f"Unsupported reduction '{self.reduction}'.")


_LOSSES = {
    "cross_entropy": nn.CrossEntropyLoss,
    "bce": nn.BCELoss,
    "bce_logit": nn.BCEWithLogitsLoss,
    "soft_cross_entropy": SoftTargetCrossEntropy,
}
# The allowed values of MODEL.LOSS_FUNC.
LOSS_FUNCS = tuple(_LOSSES)


def get_loss_func(loss_name: str) -> Callable[..., nn.Module]:
    """The loss class of MODEL.LOSS_FUNC; call it with `reduction=` to build the loss."""
    if loss_name not in _LOSSES:
        raise NotImplementedError(f"Unknown MODEL.LOSS_FUNC '{loss_name}'; choose one of {sorted(_LOSSES)}.")
    return _LOSSES[loss_name]
