"""Inference-only BatchNorm folding: each eval-mode BN that directly follows a conv goes into the conv.

In eval mode BN is the affine map y = (x - mean) / sqrt(var + eps) * gamma + beta, so
bn(conv(x)) equals a conv with weight w * s and bias beta + (b - mean) * s, s = gamma / sqrt(var + eps).
Folding removes one pass over every activation; the outputs match the unfolded model to float
rounding (about 1e-6 relative), not bit for bit. The folded BNs become nn.Identity, so the folded
model has other parameter names: fold after loading a checkpoint, and do not save it as one.
Used by the tester when TEST.FOLD_BN is True (and by `tools/benchmark.py model`'s fold variants).
"""

from typing import Dict, Tuple, Type

import torch
import torch.nn as nn

from slowfast.models.nonlocal_helper import Nonlocal
from slowfast.models.resnet_helper import BasicTransform, BottleneckTransform, ResBlock
from slowfast.models.stem_helper import ResNetBasicStem
from slowfast.models.video_model_builder import FuseFastToSlow
from slowfast.utils.modules import unwrap_model

# (conv, BN) attribute pairs whose forward is bn(conv(x)), per block class.
_PAIRS: Dict[Type[nn.Module], Tuple[Tuple[str, str], ...]] = {
    BottleneckTransform: (("a", "a_bn"), ("b", "b_bn"), ("c", "c_bn")),
    BasicTransform: (("a", "a_bn"), ("b", "b_bn")),
    ResBlock: (("branch1", "branch1_bn"),),
    ResNetBasicStem: (("conv", "bn"),),
    FuseFastToSlow: (("conv_f2s", "bn"),),
    Nonlocal: (("conv_out", "bn"),),
}


@torch.no_grad()
def fold_conv_bn(conv: nn.Conv3d, bn: nn.BatchNorm3d) -> None:
    """Fold `bn`'s running statistics and affine parameters into `conv` (in place, with a bias)."""
    scale = bn.running_var.add(bn.eps).rsqrt()
    if bn.affine:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if bn.affine:
        shift = shift + bn.bias
    if conv.bias is not None:
        shift = shift + conv.bias * scale
    conv.weight.mul_(scale.reshape(-1, *([1] * (conv.weight.dim() - 1))).to(conv.weight.dtype))
    if conv.bias is None:
        conv.bias = nn.Parameter(shift.to(conv.weight.dtype))
    else:
        conv.bias.copy_(shift)


def fold_batchnorm(model: nn.Module) -> int:
    """Fold every plain nn.BatchNorm3d that follows a conv in `model`'s blocks; returns how many.

    The model must be in eval mode (BN in training mode normalises with batch statistics, which
    no conv can hold). Other norms (sub-batch, sync BN) and BNs without running statistics stay.
    """
    model = unwrap_model(model)
    if any(m.training for m in model.modules()):
        raise RuntimeError("fold_batchnorm needs a model in eval mode (call model.eval() first).")
    folded = 0
    for module in list(model.modules()):
        for conv_name, bn_name in _PAIRS.get(type(module), ()):
            conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
            if not isinstance(conv, nn.Conv3d) or type(bn) is not nn.BatchNorm3d or bn.running_var is None:
                continue
            fold_conv_bn(conv, bn)
            identity = nn.Identity()
            identity.training = False
            setattr(module, bn_name, identity)
            folded += 1
    return folded
