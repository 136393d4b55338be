"""Residual blocks and stages of 3D ResNets, for one or several pathways."""

from typing import Callable, Dict, List, Sequence

import torch
import torch.nn as nn

from slowfast.models.batchnorm_helper import NormModule
from slowfast.models.common import Conv3d, SqueezeExcitation, drop_path
from slowfast.models.nonlocal_helper import Nonlocal


class BasicTransform(nn.Module):
    """Tx3x3 conv, BN, ReLU, 1x3x3 conv, BN (the ResNet-18/34 block).

    `dim_inner`, `num_groups`, `stride_1x1` and `block_idx` are accepted for a common signature and unused.
    """

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        temp_kernel_size: int,
        stride: int,
        dim_inner: int = 0,
        num_groups: int = 1,
        stride_1x1: bool = False,
        inplace_relu: bool = True,
        eps: float = 1e-5,
        bn_mmt: float = 0.1,
        dilation: int = 1,
        norm_module: NormModule = nn.BatchNorm3d,
        block_idx: int = 0,
    ):
        super().__init__()
        self.a = Conv3d(
            dim_in,
            dim_out,
            kernel_size=[temp_kernel_size, 3, 3],
            stride=[1, stride, stride],
            padding=[temp_kernel_size // 2, 1, 1],
            bias=False,
        )
        self.a_bn = norm_module(num_features=dim_out, eps=eps, momentum=bn_mmt)
        self.a_relu = nn.ReLU(inplace=inplace_relu)
        self.b = Conv3d(
            dim_out,
            dim_out,
            kernel_size=[1, 3, 3],
            stride=[1, 1, 1],
            padding=[0, dilation, dilation],
            dilation=[1, dilation, dilation],
            bias=False,
        )
        self.b.final_conv = True
        self.b_bn = norm_module(num_features=dim_out, eps=eps, momentum=bn_mmt)
        self.b_bn.transform_final_bn = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.a_relu(self.a_bn(self.a(x)))
        return self.b_bn(self.b(x))


class BottleneckTransform(nn.Module):
    """Tx1x1 conv, BN, ReLU, 1x3x3 (grouped, dilated) conv, BN, ReLU, 1x1x1 conv, BN.

    The spatial stride sits on the 3x3 conv, or on the first 1x1 conv with `stride_1x1`.
    `block_idx` is accepted for a common signature and unused.
    """

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        temp_kernel_size: int,
        stride: int,
        dim_inner: int,
        num_groups: int = 1,
        stride_1x1: bool = False,
        inplace_relu: bool = True,
        eps: float = 1e-5,
        bn_mmt: float = 0.1,
        dilation: int = 1,
        norm_module: NormModule = nn.BatchNorm3d,
        block_idx: int = 0,
    ):
        super().__init__()
        str1x1, str3x3 = (stride, 1) if stride_1x1 else (1, stride)
        self.a = Conv3d(
            dim_in,
            dim_inner,
            kernel_size=[temp_kernel_size, 1, 1],
            stride=[1, str1x1, str1x1],
            padding=[temp_kernel_size // 2, 0, 0],
            bias=False,
        )
        self.a_bn = norm_module(num_features=dim_inner, eps=eps, momentum=bn_mmt)
        self.a_relu = nn.ReLU(inplace=inplace_relu)
        self.b = Conv3d(
            dim_inner,
            dim_inner,
            kernel_size=[1, 3, 3],
            stride=[1, str3x3, str3x3],
            padding=[0, dilation, dilation],
            groups=num_groups,
            dilation=[1, dilation, dilation],
            bias=False,
        )
        self.b_bn = norm_module(num_features=dim_inner, eps=eps, momentum=bn_mmt)
        self.b_relu = nn.ReLU(inplace=inplace_relu)
        self.c = Conv3d(dim_inner, dim_out, kernel_size=[1, 1, 1], bias=False)
        self.c.final_conv = True
        self.c_bn = norm_module(num_features=dim_out, eps=eps, momentum=bn_mmt)
        self.c_bn.transform_final_bn = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.a_relu(self.a_bn(self.a(x)))
        x = self.b_relu(self.b_bn(self.b(x)))
        return self.c_bn(self.c(x))


class X3DTransform(nn.Module):
    """1x1x1 conv, BN, ReLU, Tx3x3 (channelwise by default) conv, BN, [SE], Swish, 1x1x1 conv, BN.

    The X3D block. Squeeze-excitation sits on the Tx3x3 output, before the Swish, in every other
    block of a stage (block_idx 0, 2, 4, ...); `se_ratio` 0 turns it off.
    """

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        temp_kernel_size: int,
        stride: int,
        dim_inner: int,
        num_groups: int = 1,
        stride_1x1: bool = False,
        inplace_relu: bool = True,
        eps: float = 1e-5,
        bn_mmt: float = 0.1,
        dilation: int = 1,
        norm_module: NormModule = nn.BatchNorm3d,
        block_idx: int = 0,
        se_ratio: float = 0.0625,
        swish_inner: bool = True,
    ):
        super().__init__()
        str1x1, str3x3 = (stride, 1) if stride_1x1 else (1, stride)
        self.a = nn.Conv3d(dim_in, dim_inner, kernel_size=[1, 1, 1], stride=[1, str1x1, str1x1], bias=False)
        self.a_bn = norm_module(num_features=dim_inner, eps=eps, momentum=bn_mmt)
        self.a_relu = nn.ReLU(inplace=inplace_relu)
        self.b = nn.Conv3d(
            dim_inner,
            dim_inner,
            kernel_size=[temp_kernel_size, 3, 3],
            stride=[1, str3x3, str3x3],
            padding=[temp_kernel_size // 2, dilation, dilation],
            groups=num_groups,
            dilation=[1, dilation, dilation],
            bias=False,
        )
        self.b_bn = norm_module(num_features=dim_inner, eps=eps, momentum=bn_mmt)
        if se_ratio > 0.0 and block_idx % 2 == 0:
            self.se = SqueezeExcitation(dim_in=dim_inner, ratio=se_ratio)
        self.b_relu = nn.SiLU() if swish_inner else nn.ReLU(inplace=inplace_relu)
        self.c = nn.Conv3d(dim_inner, dim_out, kernel_size=[1, 1, 1], bias=False)
        self.c.final_conv = True
        self.c_bn = norm_module(num_features=dim_out, eps=eps, momentum=bn_mmt)
        self.c_bn.transform_final_bn = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.a_relu(self.a_bn(self.a(x)))
        x = self.b_bn(self.b(x))
        if hasattr(self, "se"):
            x = self.se(x)
        x = self.b_relu(x)
        return self.c_bn(self.c(x))


_TRANS_FUNCS: Dict[str, Callable[..., nn.Module]] = {
    "bottleneck_transform": BottleneckTransform,
    "basic_transform": BasicTransform,
    "x3d_transform": X3DTransform,
}


def get_trans_func(name: str) -> Callable[..., nn.Module]:
    """The residual transform class for RESNET.TRANS_FUNC."""
    if name not in _TRANS_FUNCS:
        raise NotImplementedError(f"RESNET.TRANS_FUNC '{name}' is not supported; choose one of {sorted(_TRANS_FUNCS)}.")
    return _TRANS_FUNCS[name]


class ResBlock(nn.Module):
    """relu(shortcut(x) + branch2(x)); the shortcut is a strided 1x1x1 conv + BN when shapes change.

    In training, `drop_connect_rate` > 0 drops branch2 of whole samples (stochastic depth).
    """

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        temp_kernel_size: int,
        stride: int,
        trans_func: Callable[..., nn.Module],
        dim_inner: int,
        num_groups: int = 1,
        stride_1x1: bool = False,
        inplace_relu: bool = True,
        eps: float = 1e-5,
        bn_mmt: float = 0.1,
        dilation: int = 1,
        norm_module: NormModule = nn.BatchNorm3d,
        block_idx: int = 0,
        drop_connect_rate: float = 0.0,
    ):
        super().__init__()
        self.drop_connect_rate = drop_connect_rate
        if dim_in != dim_out or stride != 1:
            self.branch1 = Conv3d(dim_in, dim_out, kernel_size=1, stride=[1, stride, stride], bias=False)
            self.branch1_bn = norm_module(num_features=dim_out, eps=eps, momentum=bn_mmt)
        self.branch2 = trans_func(
            dim_in=dim_in,
            dim_out=dim_out,
            temp_kernel_size=temp_kernel_size,
            stride=stride,
            dim_inner=dim_inner,
            num_groups=num_groups,
            stride_1x1=stride_1x1,
            inplace_relu=inplace_relu,
            eps=eps,
            bn_mmt=bn_mmt,
            dilation=dilation,
            norm_module=norm_module,
            block_idx=block_idx,
        )
        self.relu = nn.ReLU(inplace_relu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = drop_path(self.branch2(x), self.drop_connect_rate, self.training)
        shortcut = self.branch1_bn(self.branch1(x)) if hasattr(self, "branch1") else x
        return self.relu(shortcut + branch)


def stage_temporal_kernels(basis: Sequence[int], num_blocks: int, num_block_temp_kernel: int) -> List[int]:
    """Temporal kernel of each block: `basis` repeated over the first `num_block_temp_kernel` blocks, then 1.

    E.g. basis [3, 1] over 6 blocks with 4 temporal blocks gives [3, 1, 3, 1, 1, 1]. A count above
    `num_blocks` means every block (so a smaller RESNET.DEPTH works with the default table).
    """
    n = min(num_block_temp_kernel, num_blocks)
    return (list(basis) * num_blocks)[:n] + [1] * (num_blocks - n)


class ResStage(nn.Module):
    """One stage (res2..res5) of a p-pathway 3D ResNet, with optional non-local blocks.

    Every argument except the scalars holds one entry per pathway. Blocks are registered as
    `pathway{p}_res{i}` and a non-local block after block i (i in `nonlocal_inds[p]`) as
    `pathway{p}_nonlocal{i}`. `nonlocal_group[p] > 1` splits time into that many groups that
    attend separately (folded into the batch dimension).
    """

    def __init__(
        self,
        *,
        dim_in: Sequence[int],
        dim_out: Sequence[int],
        dim_inner: Sequence[int],
        temp_kernel_sizes: Sequence[Sequence[int]],
        stride: Sequence[int],
        num_blocks: Sequence[int],
        num_groups: Sequence[int],
        num_block_temp_kernel: Sequence[int],
        nonlocal_inds: Sequence[Sequence[int]],
        nonlocal_group: Sequence[int],
        nonlocal_pool: Sequence[Sequence[int]],
        dilation: Sequence[int],
        instantiation: str = "softmax",
        trans_func_name: str = "bottleneck_transform",
        stride_1x1: bool = False,
        inplace_relu: bool = True,
        eps: float = 1e-5,
        bn_mmt: float = 0.1,
        norm_module: NormModule = nn.BatchNorm3d,
        drop_connect_rate: float = 0.0,
    ):
        super().__init__()
        per_pathway = [
            dim_in, dim_out, dim_inner, temp_kernel_sizes, stride, num_blocks, num_groups,
            num_block_temp_kernel, nonlocal_inds, nonlocal_group, dilation,
        ]  # fmt: skip
        if len({len(a) for a in per_pathway}) != 1:
            raise ValueError(
                "ResStage: every per-pathway argument needs one entry per pathway; check the per-pathway "
                "config lists (RESNET.NUM_BLOCK_TEMP_KERNEL, SPATIAL_STRIDES, SPATIAL_DILATIONS, NONLOCAL.*)."
            )
        self.num_pathways = len(num_blocks)
        self.num_blocks = list(num_blocks)
        self.nonlocal_group = list(nonlocal_group)
        trans_func = get_trans_func(trans_func_name)
        self.temp_kernel_sizes = [
            stage_temporal_kernels(temp_kernel_sizes[p], num_blocks[p], num_block_temp_kernel[p])
            for p in range(self.num_pathways)
        ]
        for p in range(self.num_pathways):
            for i in range(num_blocks[p]):
                block = ResBlock(
                    dim_in=dim_in[p] if i == 0 else dim_out[p],
                    dim_out=dim_out[p],
                    temp_kernel_size=self.temp_kernel_sizes[p][i],
                    stride=stride[p] if i == 0 else 1,
                    trans_func=trans_func,
                    dim_inner=dim_inner[p],
                    num_groups=num_groups[p],
                    stride_1x1=stride_1x1,
                    inplace_relu=inplace_relu,
                    eps=eps,
                    bn_mmt=bn_mmt,
                    dilation=dilation[p],
                    norm_module=norm_module,
                    block_idx=i,
                    drop_connect_rate=drop_connect_rate,
                )
                self.add_module(f"pathway{p}_res{i}", block)
                if i in nonlocal_inds[p]:
                    nln = Nonlocal(
                        dim=dim_out[p],
                        dim_inner=dim_out[p] // 2,
                        pool_size=nonlocal_pool[p],
                        instantiation=instantiation,
                        norm_eps=eps,
                        norm_momentum=bn_mmt,
                        norm_module=norm_module,
                    )
                    self.add_module(f"pathway{p}_nonlocal{i}", nln)

    def _nonlocal(self, nln: nn.Module, x: torch.Tensor, groups: int) -> torch.Tensor:
        if groups == 1:
            return nln(x)
        n, c, t, h, w = x.shape
        if t % groups != 0:
            raise ValueError(f"NONLOCAL.GROUP {groups} must divide the temporal size {t}.")
        # Fold the time groups into the batch: (N, C, G*T', H, W) -> (N*G, C, T', H, W).
        folded = x.reshape(n, c, groups, t // groups, h, w).transpose(1, 2).reshape(n * groups, c, t // groups, h, w)
        out = nln(folded)
        return out.reshape(n, groups, c, t // groups, h, w).transpose(1, 2).reshape(n, c, t, h, w)

    def forward(self, inputs: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        outputs = []
        for p in range(self.num_pathways):
            x = inputs[p]
            for i in range(self.num_blocks[p]):
                x = getattr(self, f"pathway{p}_res{i}")(x)
                nln = getattr(self, f"pathway{p}_nonlocal{i}", None)
                if nln is not None:
                    x = self._nonlocal(nln, x, self.nonlocal_group[p])
            outputs.append(x)
        return outputs
