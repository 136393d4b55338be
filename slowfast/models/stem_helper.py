"""The stems of the video models (ResNet conv1 + pool1, X3D conv1), one per pathway."""

from typing import Callable, List, Sequence

import torch
import torch.nn as nn

from slowfast.models.batchnorm_helper import NormModule
from slowfast.models.common import Conv3d


class ResNetBasicStem(nn.Module):
    """Conv (no bias), BN, ReLU, then a 1x3x3 max pool with spatial stride 2."""

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        kernel: Sequence[int],
        stride: Sequence[int],
        padding: Sequence[int],
        inplace_relu: bool = True,
        eps: float = 1e-5,
        bn_mmt: float = 0.1,
        norm_module: NormModule = nn.BatchNorm3d,
    ):
        super().__init__()
        self.conv = Conv3d(dim_in, dim_out, list(kernel), stride=list(stride), padding=list(padding), bias=False)
        self.bn = norm_module(num_features=dim_out, eps=eps, momentum=bn_mmt)
        self.relu = nn.ReLU(inplace_relu)
        self.pool_layer = nn.MaxPool3d(kernel_size=[1, 3, 3], stride=[1, 2, 2], padding=[0, 1, 1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn(self.conv(x)))
        if x.device.type == "cpu" and not (torch.is_grad_enabled() and x.requires_grad):
            # PyTorch's CPU max pool is ~10x faster on channels_last_3d tensors than on NCDHW ones,
            # so without autograd the pool runs there (max is exact: the result is the same).
            fmt = torch.channels_last_3d if x.is_contiguous(memory_format=torch.channels_last_3d) else torch.contiguous_format
            return self.pool_layer(x.contiguous(memory_format=torch.channels_last_3d)).contiguous(memory_format=fmt)
        return self.pool_layer(x)


class X3DStem(nn.Module):
    """X3D's conv1: a 1xkxk spatial conv, then a channelwise kx1x1 temporal conv, BN, ReLU; no pool.

    `kernel`, `stride` and `padding` are [T, H, W]; the spatial parts go to the first conv and
    the temporal parts to the second.
    """

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        kernel: Sequence[int],
        stride: Sequence[int],
        padding: Sequence[int],
        inplace_relu: bool = True,
        eps: float = 1e-5,
        bn_mmt: float = 0.1,
        norm_module: NormModule = nn.BatchNorm3d,
    ):
        super().__init__()
        self.conv_xy = nn.Conv3d(
            dim_in,
            dim_out,
            kernel_size=[1, kernel[1], kernel[2]],
            stride=[1, stride[1], stride[2]],
            padding=[0, padding[1], padding[2]],
            bias=False,
        )
        self.conv = nn.Conv3d(
            dim_out,
            dim_out,
            kernel_size=[kernel[0], 1, 1],
            stride=[stride[0], 1, 1],
            padding=[padding[0], 0, 0],
            groups=dim_out,
            bias=False,
        )
        self.bn = norm_module(num_features=dim_out, eps=eps, momentum=bn_mmt)
        self.relu = nn.ReLU(inplace_relu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(self.conv_xy(x))))


class VideoModelStem(nn.Module):
    """One stem (`stem_func`, default ResNetBasicStem) per pathway, registered as `pathway{i}_stem`.

    All per-pathway arguments are sequences with one entry per pathway.
    """

    def __init__(
        self,
        *,
        dim_in: Sequence[int],
        dim_out: Sequence[int],
        kernel: Sequence[Sequence[int]],
        stride: Sequence[Sequence[int]],
        padding: Sequence[Sequence[int]],
        inplace_relu: bool = True,
        eps: float = 1e-5,
        bn_mmt: float = 0.1,
        norm_module: NormModule = nn.BatchNorm3d,
        stem_func: Callable[..., nn.Module] = ResNetBasicStem,
    ):
        super().__init__()
        if len({len(dim_in), len(dim_out), len(kernel), len(stride), len(padding)}) != 1:
            raise ValueError("VideoModelStem: every per-pathway argument needs one entry per pathway.")
        self.num_pathways = len(dim_in)
        for p in range(self.num_pathways):
            stem = stem_func(
                dim_in=dim_in[p],
                dim_out=dim_out[p],
                kernel=kernel[p],
                stride=stride[p],
                padding=padding[p],
                inplace_relu=inplace_relu,
                eps=eps,
                bn_mmt=bn_mmt,
                norm_module=norm_module,
            )
            self.add_module(f"pathway{p}_stem", stem)

    def forward(self, x: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        if len(x) != self.num_pathways:
            raise ValueError(f"Expected {self.num_pathways} pathway tensors, got {len(x)}.")
        return [getattr(self, f"pathway{p}_stem")(x[p]) for p in range(self.num_pathways)]


class PatchEmbed(nn.Module):
    """Conv patch embedding of transformers: (B, C, [T,] H, W) -> tokens (B, [T*]H*W, dim_out).

    `forward` also returns the conv output's shape, from which the token grid is read.
    """

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        kernel: Sequence[int],
        stride: Sequence[int],
        padding: Sequence[int],
        conv_2d: bool = False,
    ):
        super().__init__()
        conv = nn.Conv2d if conv_2d else nn.Conv3d
        self.proj = conv(dim_in, dim_out, kernel_size=kernel, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> "tuple[torch.Tensor, torch.Size]":
        x = self.proj(x)
        return x.flatten(2).transpose(1, 2), x.shape
