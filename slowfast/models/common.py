"""Small layers shared by the model families (ResNet, X3D, MViT)."""

from typing import Optional

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


def _onednn_applies(conv: nn.Conv3d, x: torch.Tensor) -> bool:
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and conv.weight.dtype == torch.float32
        and conv.padding_mode == "zeros"
        and not isinstance(conv.padding, str)
        and not x.is_mkldnn
        and torch.backends.mkldnn.is_available()
        and torch.backends.mkldnn.enabled
        and not torch.is_autocast_enabled("cpu")
        and not torch.compiler.is_compiling()
        and not torch.jit.is_tracing()
    )


class Conv3d(nn.Conv3d):
    """nn.Conv3d whose float32 CPU forward always runs on oneDNN (the same weights and state_dict).

    PyTorch sends a CPU convolution whose kernel is 1 in both spatial dimensions (the 1x1x1 and
    temporal Tx1x1 convs of the video ResNets) to its unblocked im2col-and-GEMM kernel when it has
    one thread and the batch is small; oneDNN is 1.3x faster on SlowFast 8x8 R50 there (and is
    what PyTorch picks with more threads). The result equals F.conv3d to float rounding (about 1e-6
    relative), not bit for bit. The backward is PyTorch's convolution_backward either way.
    Autocast, torch.compile and jit tracing (fvcore FLOP counts) and non-CPU tensors take nn.Conv3d's path.
    """

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
        if _onednn_applies(self, input):
            return torch.mkldnn_convolution(input, weight, bias, self.padding, self.stride, self.dilation, self.groups)
        return super()._conv_forward(input, weight, bias)
