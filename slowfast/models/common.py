"""Small layers shared by the model families (ResNet, X3D, MViT)."""

import torch
import torch.nn as nn


def drop_path(x: torch.Tensor, drop_prob: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero whole samples of a residual branch with probability `drop_prob`.

    The kept samples are scaled by 1 / (1 - drop_prob) so the expectation is unchanged; outside
    training, or with `drop_prob` 0, `x` is returned as it is.
    """
    if drop_prob == 0.0 or not training:
        return x
    keep = 1.0 - drop_prob
    mask_shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    mask = x.new_empty(mask_shape).bernoulli_(keep)
    return x * mask / keep


class DropPath(nn.Module):
    """Module form of `drop_path` (MODEL.DROPCONNECT_RATE for X3D, MVIT.DROPPATH_RATE for MViT)."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f"drop path probability must be in [0, 1), got {drop_prob}")
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"
