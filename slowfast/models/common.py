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


def round_width(width: float, multiplier: float, *, min_width: int = 1, divisor: int = 1) -> int:
    """`width * multiplier` rounded to the nearest multiple of `divisor` (at least `min_width`).

    Rounding never loses more than 10%: if it would, one more `divisor` is added. A multiplier
    of 0 leaves `width` as it is (PySlowFast's convention for "no expansion").
    """
    if not multiplier:
        return int(width)
    width *= multiplier
    min_width = min_width or divisor
    width_out = max(min_width, int(width + divisor / 2) // divisor * divisor)
    if width_out < 0.9 * width:
        width_out += divisor
    return int(width_out)


class SqueezeExcitation(nn.Module):
    """x * sigmoid(fc2(relu(fc1(global average of x)))), with 1x1x1 convs as the fcs.

    The squeeze width is `dim_in * ratio`, rounded to a multiple of 8 (at least 8).
    """

    def __init__(self, *, dim_in: int, ratio: float):
        super().__init__()
        dim_fc = round_width(dim_in, ratio, min_width=8, divisor=8)
        self.avg_pool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc1 = nn.Conv3d(dim_in, dim_fc, 1, bias=True)
        self.fc1_act = nn.ReLU()
        self.fc2 = nn.Conv3d(dim_fc, dim_in, 1, bias=True)
        self.fc2_sig = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.fc2_sig(self.fc2(self.fc1_act(self.fc1(self.avg_pool(x)))))
        return x * scale
