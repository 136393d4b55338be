"""The stem (conv1 + pool1) of 3D ResNets, one per pathway."""

from typing import List, Sequence

import torch
import torch.nn as nn

from slowfast.models.batchnorm_helper import NormModule


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
        self.conv = nn.Conv3d(dim_in, dim_out, list(kernel), stride=list(stride), padding=list(padding), bias=False)
        self.bn = norm_module(num_features=dim_out, eps=eps, momentum=bn_mmt)
        self.relu = nn.ReLU(inplace_relu)
        self.pool_layer = nn.MaxPool3d(kernel_size=[1, 3, 3], stride=[1, 2, 2], padding=[0, 1, 1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool_layer(self.relu(self.bn(self.conv(x))))


class VideoModelStem(nn.Module):
    """One ResNetBasicStem per pathway, registered as `pathway{i}_stem`.

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
    ):
        super().__init__()
        if len({len(dim_in), len(dim_out), len(kernel), len(stride), len(padding)}) != 1:
            raise ValueError("VideoModelStem: every per-pathway argument needs one entry per pathway.")
        self.num_pathways = len(dim_in)
        for p in range(self.num_pathways):
            stem = ResNetBasicStem(
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
