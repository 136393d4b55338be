"""Heads of the video models: ResNet clip and per-box (AVA) classification, the X3D head."""

from typing import Callable, List, Optional, Sequence

import torch
import torch.nn as nn


def _activation(act_func: str, dim: int) -> Optional[nn.Module]:
    if act_func == "softmax":
        return nn.Softmax(dim=dim)
    if act_func == "sigmoid":
        return nn.Sigmoid()
    if act_func == "none":
        return None
    raise NotImplementedError(f"MODEL.HEAD_ACT '{act_func}' is not supported; choose softmax, sigmoid or none.")


def _scores_of_locations(x: torch.Tensor, act: Optional[nn.Module], training: bool) -> torch.Tensor:
    """[N, T, H, W, classes] logits -> [N, classes]: activated and averaged over locations in eval,
    the raw logits of the single (1x1x1) location in training."""
    if not training:
        if act is not None:
            x = act(x)
        x = x.mean([1, 2, 3])
    elif x.shape[1:4] != (1, 1, 1):
        raise ValueError(
            f"In training mode the pooled feature map must be 1x1x1, got {tuple(x.shape[1:4])}: the input "
            "clip is larger than DATA.NUM_FRAMES x DATA.TRAIN_CROP_SIZE^2 the head was built for."
        )
    return x.reshape(x.shape[0], -1)


class ResNetBasicHead(nn.Module):
    """Per-pathway average pool, concatenation, dropout and a linear projection.

    The pool has a fixed kernel (`pool_size[p]`, the training clip's final feature size) and
    stride 1, and the projection runs on channels-last features, so on a larger test input the
    head is fully convolutional: in eval mode the logits of every pooled location go through
    the activation and are then averaged over T, H and W. In training mode the pooled map must be
    1x1x1 and the raw logits are returned (the loss applies its own softmax/sigmoid).
    A `None` pool size means global adaptive average pooling (multigrid short cycles).
    """

    def __init__(
        self,
        *,
        dim_in: Sequence[int],
        num_classes: int,
        pool_size: Sequence[Optional[Sequence[int]]],
        dropout_rate: float = 0.0,
        act_func: str = "softmax",
        detach_final_fc: bool = False,
    ):
        super().__init__()
        if len(pool_size) != len(dim_in):
            raise ValueError("ResNetBasicHead: pool_size and dim_in need one entry per pathway.")
        self.num_pathways = len(pool_size)
        self.detach_final_fc = detach_final_fc
        for p, size in enumerate(pool_size):
            pool = nn.AdaptiveAvgPool3d((1, 1, 1)) if size is None else nn.AvgPool3d(list(size), stride=1)
            self.add_module(f"pathway{p}_avgpool", pool)
        if dropout_rate > 0.0:
            self.dropout = nn.Dropout(dropout_rate)
        self.projection = nn.Linear(sum(dim_in), num_classes, bias=True)
        self.act = _activation(act_func, dim=4)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(inputs) != self.num_pathways:
            raise ValueError(f"Expected {self.num_pathways} pathway tensors, got {len(inputs)}.")
        pooled = [getattr(self, f"pathway{p}_avgpool")(inputs[p]) for p in range(self.num_pathways)]
        x = torch.cat(pooled, 1) if len(pooled) > 1 else pooled[0]
        # (N, C, T, H, W) -> (N, T, H, W, C).
        x = x.permute(0, 2, 3, 4, 1)
        if hasattr(self, "dropout"):
            x = self.dropout(x)
        if self.detach_final_fc:
            x = x.detach()
        return _scores_of_locations(self.projection(x), self.act, self.training)


class X3DHead(nn.Module):
    """X3D's head: conv_5 (1x1x1) + BN + ReLU, average pool, lin_5 (1x1x1) [+ BN] + ReLU, dropout,
    projection.

    The pool comes between conv_5 and lin_5, as in PySlowFast: `pool_size` (the training clip's
    final [T, H, W], stride 1) or, for None, a global average. As in ResNetBasicHead the
    projection runs channels-last; in eval mode the activated scores are averaged over the
    pooled locations, in training the raw logits of the 1x1x1 map are returned.
    """

    def __init__(
        self,
        *,
        dim_in: int,
        dim_inner: int,
        dim_out: int,
        num_classes: int,
        pool_size: Optional[Sequence[int]],
        dropout_rate: float = 0.0,
        act_func: str = "softmax",
        inplace_relu: bool = True,
        eps: float = 1e-5,
        bn_mmt: float = 0.1,
        norm_module: Callable[..., nn.Module] = nn.BatchNorm3d,
        bn_lin5_on: bool = False,
    ):
        super().__init__()
        self.conv_5 = nn.Conv3d(dim_in, dim_inner, kernel_size=1, bias=False)
        self.conv_5_bn = norm_module(num_features=dim_inner, eps=eps, momentum=bn_mmt)
        self.conv_5_relu = nn.ReLU(inplace_relu)
        self.avg_pool = nn.AdaptiveAvgPool3d((1, 1, 1)) if pool_size is None else nn.AvgPool3d(list(pool_size), stride=1)
        self.lin_5 = nn.Conv3d(dim_inner, dim_out, kernel_size=1, bias=False)
        if bn_lin5_on:
            self.lin_5_bn = norm_module(num_features=dim_out, eps=eps, momentum=bn_mmt)
        self.lin_5_relu = nn.ReLU(inplace_relu)
        if dropout_rate > 0.0:
            self.dropout = nn.Dropout(dropout_rate)
        self.projection = nn.Linear(dim_out, num_classes, bias=True)
        self.act = _activation(act_func, dim=4)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(inputs) != 1:
            raise ValueError(f"X3DHead takes one pathway, got {len(inputs)}.")
        x = self.avg_pool(self.conv_5_relu(self.conv_5_bn(self.conv_5(inputs[0]))))
        x = self.lin_5(x)
        if hasattr(self, "lin_5_bn"):
            x = self.lin_5_bn(x)
        x = self.lin_5_relu(x)
        # (N, C, T, H, W) -> (N, T, H, W, C).
        x = x.permute(0, 2, 3, 4, 1)
        if hasattr(self, "dropout"):
            x = self.dropout(x)
        return _scores_of_locations(self.projection(x), self.act, self.training)


class ResNetRoIHead(nn.Module):
    """Per-box classification for detection (AVA).

    For each pathway: average over time (AvgPool3d [T, 1, 1]), RoIAlign of every box on the
    resulting 2D map at 1/scale_factor of the input resolution, max pool over the RoI
    resolution. The pathway features are concatenated, dropped out, projected and passed
    through the activation; like PySlowFast the activation is applied in training too, as the
    AVA loss (MODEL.LOSS_FUNC bce) expects probabilities.

    forward(inputs, bboxes): bboxes is [K, 5] = (batch index, x1, y1, x2, y2) in input pixels;
    the output is [K, num_classes].
    """

    def __init__(
        self,
        *,
        dim_in: Sequence[int],
        num_classes: int,
        pool_size: Sequence[Sequence[int]],
        resolution: Sequence[Sequence[int]],
        scale_factor: Sequence[float],
        dropout_rate: float = 0.0,
        act_func: str = "softmax",
        aligned: bool = True,
        detach_final_fc: bool = False,
    ):
        super().__init__()
        from slowfast.models.roi_align import ROIAlign

        if len({len(pool_size), len(dim_in), len(resolution), len(scale_factor)}) != 1:
            raise ValueError("ResNetRoIHead: every per-pathway argument needs one entry per pathway.")
        self.num_pathways = len(pool_size)
        self.detach_final_fc = detach_final_fc
        for p in range(self.num_pathways):
            self.add_module(f"s{p}_tpool", nn.AvgPool3d([pool_size[p][0], 1, 1], stride=1))
            roi = ROIAlign(tuple(resolution[p]), 1.0 / scale_factor[p], 0, aligned)
            self.add_module(f"s{p}_roi", roi)
            self.add_module(f"s{p}_spool", nn.MaxPool2d(list(resolution[p]), stride=1))
        if dropout_rate > 0.0:
            self.dropout = nn.Dropout(dropout_rate)
        self.projection = nn.Linear(sum(dim_in), num_classes, bias=True)
        self.act = _activation(act_func, dim=1)

    def forward(self, inputs: Sequence[torch.Tensor], bboxes: torch.Tensor) -> torch.Tensor:
        if len(inputs) != self.num_pathways:
            raise ValueError(f"Expected {self.num_pathways} pathway tensors, got {len(inputs)}.")
        pooled: List[torch.Tensor] = []
        for p in range(self.num_pathways):
            x = getattr(self, f"s{p}_tpool")(inputs[p])
            if x.shape[2] != 1:
                raise ValueError(
                    f"Pathway {p} has {inputs[p].shape[2]} frames at the head; the detection head was built for "
                    f"{inputs[p].shape[2] - x.shape[2] + 1} (DATA.NUM_FRAMES)."
                )
            x = getattr(self, f"s{p}_roi")(x.squeeze(2), bboxes)
            pooled.append(getattr(self, f"s{p}_spool")(x))
        x = torch.cat(pooled, 1) if len(pooled) > 1 else pooled[0]
        if hasattr(self, "dropout"):
            x = self.dropout(x)
        x = x.reshape(x.shape[0], -1)
        if self.detach_final_fc:
            x = x.detach()
        x = self.projection(x)
        if self.act is not None:
            x = self.act(x)
        return x


class TransformerBasicHead(nn.Module):
    """Dropout and a linear projection of a pooled token (MViT); the activation in eval only."""

    def __init__(
        self,
        *,
        dim_in: int,
        num_classes: int,
        dropout_rate: float = 0.0,
        act_func: str = "softmax",
        detach_final_fc: bool = False,
    ):
        super().__init__()
        if dropout_rate > 0.0:
            self.dropout = nn.Dropout(dropout_rate)
        self.projection = nn.Linear(dim_in, num_classes, bias=True)
        self.detach_final_fc = detach_final_fc
        self.act = _activation(act_func, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "dropout"):
            x = self.dropout(x)
        if self.detach_final_fc:
            x = x.detach()
        x = self.projection(x)
        if not self.training and self.act is not None:
            x = self.act(x)
        return x.reshape(x.shape[0], -1)
