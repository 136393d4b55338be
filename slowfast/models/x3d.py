"""X3D networks (XS, S, M, L, ...) with PySlowFast's module names and computation.

Feichtenhofer, "X3D: Expanding Architectures for Efficient Video Recognition",
https://arxiv.org/abs/2004.04730.

A tiny base network (stem width X3D.DIM_C1; res2-res5 with 1, 2, 5, 3 blocks of channel width
doubling from res2) is expanded in width (X3D.WIDTH_FACTOR), depth (X3D.DEPTH_FACTOR) and
bottleneck width (X3D.BOTTLENECK_FACTOR); frames and crop come from DATA. Blocks are X3D
transforms (channelwise Tx3x3 conv, squeeze-excitation every other block, Swish) with
stochastic depth (MODEL.DROPCONNECT_RATE) growing with the stage.
"""

import math
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from slowfast.models import head_helper, resnet_helper, stem_helper
from slowfast.models.batchnorm_helper import get_norm
from slowfast.models.build import MODEL_REGISTRY
from slowfast.models.common import round_width
from slowfast.models.video_model_builder import init_weights

# Blocks and spatial stride of res2..res5 in the base network, before the depth expansion.
_BASE_BLOCKS = (1, 2, 5, 3)
_STAGE_STRIDE = 2
# Temporal kernel of the stem and of every block.
_STEM_TEMPORAL_KERNEL = 5
_BLOCK_TEMPORAL_KERNEL = 3

# RESNET.* keys the X3D layout does not read: refused when changed from their defaults.
_UNUSED_RESNET_KEYS = ("DEPTH", "WIDTH_PER_GROUP", "NUM_BLOCK_TEMP_KERNEL", "SPATIAL_STRIDES")


def _stage_widths(dim_c1: int, scale_res2: bool) -> List[int]:
    """Base channel widths of res2..res5: res2 is DIM_C1 (or twice it), each later stage twice the last."""
    widths = [round_width(dim_c1, 2.0, divisor=8) if scale_res2 else dim_c1]
    for _ in range(3):
        widths.append(round_width(widths[-1], 2.0, divisor=8))
    return widths


def _check_cfg(cfg: CfgNode) -> None:
    from slowfast.config import get_cfg

    x3d = cfg.X3D
    for key in ("WIDTH_FACTOR", "DEPTH_FACTOR", "BOTTLENECK_FACTOR"):
        if not float(x3d[key]) > 0.0:
            raise ValueError(f"X3D.{key} must be positive, got {x3d[key]}.")
    for key in ("DIM_C1", "DIM_C5"):
        if int(x3d[key]) < 1:
            raise ValueError(f"X3D.{key} must be a positive channel count, got {x3d[key]}.")
    if cfg.DETECTION.ENABLE:
        raise ValueError("DETECTION.ENABLE: X3D has no detection head; use MODEL.MODEL_NAME ResNet or SlowFast.")
    if cfg.MODEL.ACT_CHECKPOINT:
        raise ValueError("MODEL.ACT_CHECKPOINT is implemented for MViT only; set it to False for X3D.")
    if cfg.MODEL.ARCH != "x3d":
        raise ValueError(f"MODEL.MODEL_NAME X3D needs MODEL.ARCH x3d, got '{cfg.MODEL.ARCH}'.")
    if len(cfg.DATA.INPUT_CHANNEL_NUM) != 1:
        raise ValueError(f"DATA.INPUT_CHANNEL_NUM: X3D has one pathway, got {cfg.DATA.INPUT_CHANNEL_NUM}.")
    defaults = get_cfg().RESNET
    for key in _UNUSED_RESNET_KEYS:
        if cfg.RESNET[key] != defaults[key]:
            raise ValueError(
                f"RESNET.{key} is {cfg.RESNET[key]}, but X3D does not read it (its stages come from "
                f"X3D.WIDTH_FACTOR / DEPTH_FACTOR / BOTTLENECK_FACTOR); leave it at {defaults[key]}."
            )


@MODEL_REGISTRY.register()
class X3D(nn.Module):
    """Single-pathway X3D: X3DStem s1, stages s2-s5 of ResBlocks, X3DHead.

    forward(x) takes [x] (or x) with x of shape [N, C, T, H, W] and returns [N, classes]
    (probabilities averaged over locations in eval mode, logits in training).
    """

    num_pathways = 1

    def __init__(self, cfg: CfgNode):
        super().__init__()
        _check_cfg(cfg)
        self.enable_detection = False
        x3d = cfg.X3D
        w_mul, d_mul = float(x3d.WIDTH_FACTOR), float(x3d.DEPTH_FACTOR)
        norm_module = get_norm(cfg)
        eps, bn_mmt = float(cfg.BN.EPSILON), float(cfg.BN.MOMENTUM)

        dim_stem = round_width(x3d.DIM_C1, w_mul)
        self.s1 = stem_helper.VideoModelStem(
            dim_in=list(cfg.DATA.INPUT_CHANNEL_NUM),
            dim_out=[dim_stem],
            kernel=[[_STEM_TEMPORAL_KERNEL, 3, 3]],
            stride=[[1, 2, 2]],
            padding=[[_STEM_TEMPORAL_KERNEL // 2, 1, 1]],
            inplace_relu=cfg.RESNET.INPLACE_RELU,
            eps=eps,
            bn_mmt=bn_mmt,
            norm_module=norm_module,
            stem_func=stem_helper.X3DStem,
        )

        dim_in = dim_stem
        num_stages = len(_BASE_BLOCKS)
        for k, (blocks, width) in enumerate(zip(_BASE_BLOCKS, _stage_widths(x3d.DIM_C1, x3d.SCALE_RES2))):
            dim_out = round_width(width, w_mul)
            dim_inner = int(float(x3d.BOTTLENECK_FACTOR) * dim_out)
            if dim_inner < 1:
                raise ValueError(
                    f"X3D.BOTTLENECK_FACTOR {x3d.BOTTLENECK_FACTOR} with X3D.WIDTH_FACTOR {w_mul} leaves "
                    f"res{k + 2} with {dim_inner} inner channels; raise X3D.BOTTLENECK_FACTOR."
                )
            num_groups = dim_inner if x3d.CHANNELWISE_3x3x3 else cfg.RESNET.NUM_GROUPS
            if dim_inner % num_groups != 0:
                raise ValueError(
                    f"RESNET.NUM_GROUPS {num_groups} does not divide res{k + 2}'s {dim_inner} inner channels "
                    "(X3D.CHANNELWISE_3x3x3 False); choose a divisor or set X3D.CHANNELWISE_3x3x3 True."
                )
            num_blocks = int(math.ceil(d_mul * blocks))
            stage = resnet_helper.ResStage(
                dim_in=[dim_in],
                dim_out=[dim_out],
                dim_inner=[dim_inner],
                temp_kernel_sizes=[[_BLOCK_TEMPORAL_KERNEL]],
                stride=[_STAGE_STRIDE],
                num_blocks=[num_blocks],
                num_groups=[num_groups],
                num_block_temp_kernel=[num_blocks],
                nonlocal_inds=cfg.NONLOCAL.LOCATION[k],
                nonlocal_group=cfg.NONLOCAL.GROUP[k],
                nonlocal_pool=cfg.NONLOCAL.POOL[k],
                dilation=cfg.RESNET.SPATIAL_DILATIONS[k],
                instantiation=cfg.NONLOCAL.INSTANTIATION,
                trans_func_name=cfg.RESNET.TRANS_FUNC,
                stride_1x1=cfg.RESNET.STRIDE_1X1,
                inplace_relu=cfg.RESNET.INPLACE_RELU,
                eps=eps,
                bn_mmt=bn_mmt,
                norm_module=norm_module,
                # Deeper stages drop more: rate * (stage index + 2) / (number of stages + 1).
                drop_connect_rate=float(cfg.MODEL.DROPCONNECT_RATE) * (k + 2) / (num_stages + 1),
            )
            self.add_module(f"s{k + 2}", stage)
            dim_in = dim_out

        spatial = int(math.ceil(cfg.DATA.TRAIN_CROP_SIZE / 32.0))
        self.head = head_helper.X3DHead(
            dim_in=dim_out,
            dim_inner=dim_inner,
            dim_out=x3d.DIM_C5,
            num_classes=cfg.MODEL.NUM_CLASSES,
            pool_size=None if cfg.MULTIGRID.SHORT_CYCLE else [cfg.DATA.NUM_FRAMES, spatial, spatial],
            dropout_rate=cfg.MODEL.DROPOUT_RATE,
            act_func=cfg.MODEL.HEAD_ACT,
            inplace_relu=cfg.RESNET.INPLACE_RELU,
            eps=eps,
            bn_mmt=bn_mmt,
            norm_module=norm_module,
            bn_lin5_on=x3d.BN_LIN5,
        )
        init_weights(
            self,
            cfg.MODEL.FC_INIT_STD,
            cfg.RESNET.ZERO_INIT_FINAL_BN,
            getattr(cfg.RESNET, "ZERO_INIT_FINAL_CONV", False),
        )

    def forward_features(self, x: Union[torch.Tensor, Sequence[torch.Tensor]]) -> List[torch.Tensor]:
        """The res5 features, as a one-pathway list."""
        x = [x] if isinstance(x, torch.Tensor) else list(x)
        for name in ("s1", "s2", "s3", "s4", "s5"):
            x = getattr(self, name)(x)
        return x

    def forward(self, x: Union[torch.Tensor, Sequence[torch.Tensor]], bboxes: Optional[torch.Tensor] = None) -> torch.Tensor:
        if bboxes is not None:
            raise ValueError("X3D is a clip classifier and takes no boxes (DETECTION.ENABLE is not supported).")
        return self.head(self.forward_features(x))
