"""C2D, I3D, Slow and SlowFast networks with PySlowFast's module names and computation.

Feichtenhofer et al., "SlowFast Networks for Video Recognition", https://arxiv.org/abs/1812.03982;
Wang et al., "Non-local Neural Networks", https://arxiv.org/abs/1711.07971.

Both classes build the same backbone (stem s1, stages s2-s5, head) from the config; SlowFast
adds the time-strided fast-to-slow fusion after s1-s4 (`s{k}_fuse`). Parameter names and shapes
equal those of released PySlowFast checkpoints.
"""

from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from slowfast.models import head_helper, resnet_helper, stem_helper
from slowfast.models.batchnorm_helper import NormModule, SubBatchNorm3d, get_norm
from slowfast.models.build import MODEL_REGISTRY
from slowfast.models.common import Conv3d

# Blocks per stage (res2..res5) for each RESNET.DEPTH.
_MODEL_STAGE_DEPTH: Dict[int, Tuple[int, int, int, int]] = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}

# Temporal kernel sizes for conv1 and res2..res5, per pathway. A stage's list is cycled over its
# first RESNET.NUM_BLOCK_TEMP_KERNEL blocks (e.g. I3D res3 [3, 1]: 3, 1, 3, 1).
_TEMPORAL_KERNEL_BASIS: Dict[str, List[List[List[int]]]] = {
    "2d": [[[1]], [[1]], [[1]], [[1]], [[1]]],
    "c2d": [[[1]], [[1]], [[1]], [[1]], [[1]]],
    "c2d_nopool": [[[1]], [[1]], [[1]], [[1]], [[1]]],
    "i3d": [[[5]], [[3]], [[3, 1]], [[3, 1]], [[1, 3]]],
    "i3d_nopool": [[[5]], [[3]], [[3, 1]], [[3, 1]], [[1, 3]]],
    "slow": [[[1]], [[1]], [[1]], [[3]], [[3]]],
    "slowfast": [[[1], [5]], [[1], [3]], [[1], [3]], [[3], [3]], [[3], [3]]],
}

# Max-pool kernel (= stride) after res2, per pathway: C2D and I3D halve time there.
_POOL1: Dict[str, List[List[int]]] = {
    "2d": [[1, 1, 1]],
    "c2d": [[2, 1, 1]],
    "c2d_nopool": [[1, 1, 1]],
    "i3d": [[2, 1, 1]],
    "i3d_nopool": [[1, 1, 1]],
    "slow": [[1, 1, 1]],
    "slowfast": [[1, 1, 1], [1, 1, 1]],
}

# Spatial stride of the stem (conv1 stride 2, pool stride 2) and res3-res5 with default strides.
_SPATIAL_REDUCTION = 32

Pathways = Union[torch.Tensor, Sequence[torch.Tensor]]


class FuseFastToSlow(nn.Module):
    """Lateral connection: a time-strided conv (kernel [k, 1, 1], stride [alpha, 1, 1]) + BN + ReLU
    maps the Fast features to the Slow frame rate; they are concatenated to the Slow channels."""

    def __init__(
        self,
        *,
        dim_in: int,
        fusion_conv_channel_ratio: int,
        fusion_kernel: int,
        alpha: int,
        eps: float = 1e-5,
        bn_mmt: float = 0.1,
        inplace_relu: bool = True,
        norm_module: NormModule = nn.BatchNorm3d,
    ):
        super().__init__()
        dim_out = dim_in * fusion_conv_channel_ratio
        self.conv_f2s = Conv3d(
            dim_in,
            dim_out,
            kernel_size=[fusion_kernel, 1, 1],
            stride=[alpha, 1, 1],
            padding=[fusion_kernel // 2, 0, 0],
            bias=False,
        )
        self.bn = norm_module(num_features=dim_out, eps=eps, momentum=bn_mmt)
        self.relu = nn.ReLU(inplace_relu)

    def forward(self, x: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        x_s, x_f = x
        fuse = self.relu(self.bn(self.conv_f2s(x_f)))
        if fuse.shape[2:] != x_s.shape[2:]:
            raise ValueError(
                f"Fast-to-slow fusion gives {tuple(fuse.shape[2:])} but the Slow pathway is {tuple(x_s.shape[2:])}: "
                "the Fast pathway must have SLOWFAST.ALPHA times the Slow pathway's frames."
            )
        return [torch.cat([x_s, fuse], 1), x_f]


def init_weights(
    model: nn.Module, fc_init_std: float = 0.01, zero_init_final_bn: bool = True, zero_init_final_conv: bool = False
) -> None:
    """PySlowFast's initialisation: MSRA (fan_out) convs, unit BN (zero for the last BN of each
    residual branch and non-local block with `zero_init_final_bn`), N(0, fc_init_std) linears."""
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            if zero_init_final_conv and getattr(m, "final_conv", False):
                nn.init.zeros_(m.weight)
            else:
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.modules.batchnorm._BatchNorm, SubBatchNorm3d)):
            weight, bias = getattr(m, "weight", None), getattr(m, "bias", None)
            if weight is not None:
                nn.init.constant_(weight, 0.0 if zero_init_final_bn and getattr(m, "transform_final_bn", False) else 1.0)
            if bias is not None:
                nn.init.zeros_(bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=fc_init_std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _per_stage(values: Sequence, stage: int, key: str) -> Sequence:
    if len(values) != 4:
        raise ValueError(f"{key} needs one entry per stage res2..res5 (4), got {len(values)}: {values}.")
    return values[stage]


class _VideoResNet(nn.Module):
    """Backbone + head shared by ResNet (one pathway) and SlowFast (two pathways)."""

    num_pathways: int = 1
    # Skip the temporal max pool after res2 whatever MODEL.ARCH says (ResNet_nopool).
    no_pool1: bool = False

    def __init__(self, cfg: CfgNode):
        super().__init__()
        self.enable_detection = cfg.DETECTION.ENABLE
        self._construct_network(cfg)
        init_weights(
            self,
            cfg.MODEL.FC_INIT_STD,
            cfg.RESNET.ZERO_INIT_FINAL_BN,
            getattr(cfg.RESNET, "ZERO_INIT_FINAL_CONV", False),
        )

    def _construct_network(self, cfg: CfgNode) -> None:
        arch = cfg.MODEL.ARCH
        if cfg.MODEL.DROPCONNECT_RATE != 0.0:
            raise ValueError(
                f"MODEL.DROPCONNECT_RATE {cfg.MODEL.DROPCONNECT_RATE} is only used by X3D; the ResNet/SlowFast models "
                "have no stochastic depth (PySlowFast ignores the key for them): set it to 0.0."
            )
        if cfg.MODEL.ACT_CHECKPOINT:
            raise ValueError("MODEL.ACT_CHECKPOINT is implemented for MViT only; set it to False for ResNet/SlowFast.")
        if arch not in _POOL1:
            raise ValueError(f"MODEL.ARCH '{arch}' is not a ResNet architecture; choose one of {sorted(_POOL1)}.")
        pool1 = [[1, 1, 1]] * len(_POOL1[arch]) if self.no_pool1 else _POOL1[arch]
        if len(pool1) != self.num_pathways:
            expected = "SlowFast" if len(pool1) == 2 else "ResNet"
            raise ValueError(
                f"MODEL.ARCH '{arch}' has {len(pool1)} pathway(s) but MODEL.MODEL_NAME '{type(self).__name__}' "
                f"builds {self.num_pathways}; use MODEL.MODEL_NAME {expected}."
            )
        if cfg.RESNET.DEPTH not in _MODEL_STAGE_DEPTH:
            raise ValueError(f"RESNET.DEPTH {cfg.RESNET.DEPTH} is not supported; choose one of {sorted(_MODEL_STAGE_DEPTH)}.")
        depths = _MODEL_STAGE_DEPTH[cfg.RESNET.DEPTH]
        temp_kernel = _TEMPORAL_KERNEL_BASIS[arch]
        norm_module = get_norm(cfg)
        eps, bn_mmt = float(cfg.BN.EPSILON), float(cfg.BN.MOMENTUM)
        n = self.num_pathways
        slowfast = n == 2

        width = cfg.RESNET.WIDTH_PER_GROUP
        num_groups = cfg.RESNET.NUM_GROUPS
        dim_inner = num_groups * width
        beta_inv = cfg.SLOWFAST.BETA_INV
        divisors = [1, beta_inv][:n]

        def dims(c: int) -> List[int]:
            return [c // d for d in divisors]

        def fusion(c: int) -> nn.Module:
            return FuseFastToSlow(
                dim_in=c // beta_inv,
                fusion_conv_channel_ratio=cfg.SLOWFAST.FUSION_CONV_CHANNEL_RATIO,
                fusion_kernel=cfg.SLOWFAST.FUSION_KERNEL_SZ,
                alpha=cfg.SLOWFAST.ALPHA,
                eps=eps,
                bn_mmt=bn_mmt,
                norm_module=norm_module,
            )

        input_channels = list(cfg.DATA.INPUT_CHANNEL_NUM)[:n]
        if len(input_channels) != n:
            raise ValueError(f"DATA.INPUT_CHANNEL_NUM needs {n} entries for MODEL.ARCH '{arch}', got {cfg.DATA.INPUT_CHANNEL_NUM}.")
        self.s1 = stem_helper.VideoModelStem(
            dim_in=input_channels,
            dim_out=dims(width),
            kernel=[temp_kernel[0][p] + [7, 7] for p in range(n)],
            stride=[[1, 2, 2]] * n,
            padding=[[temp_kernel[0][p][0] // 2, 3, 3] for p in range(n)],
            inplace_relu=cfg.RESNET.INPLACE_RELU,
            eps=eps,
            bn_mmt=bn_mmt,
            norm_module=norm_module,
        )
        if slowfast:
            self.s1_fuse = fusion(width)

        stage_in = width
        for k in range(4):
            stage_out = width * 4 * 2**k
            dim_in = dims(stage_in)
            if slowfast:
                # The Slow pathway also receives the fused Fast features.
                dim_in[0] += (stage_in // beta_inv) * cfg.SLOWFAST.FUSION_CONV_CHANNEL_RATIO
            stage = resnet_helper.ResStage(
                dim_in=dim_in,
                dim_out=dims(stage_out),
                dim_inner=dims(dim_inner * 2**k),
                temp_kernel_sizes=temp_kernel[k + 1],
                stride=_per_stage(cfg.RESNET.SPATIAL_STRIDES, k, "RESNET.SPATIAL_STRIDES"),
                num_blocks=[depths[k]] * n,
                num_groups=[num_groups] * n,
                num_block_temp_kernel=_per_stage(cfg.RESNET.NUM_BLOCK_TEMP_KERNEL, k, "RESNET.NUM_BLOCK_TEMP_KERNEL"),
                nonlocal_inds=_per_stage(cfg.NONLOCAL.LOCATION, k, "NONLOCAL.LOCATION"),
                nonlocal_group=_per_stage(cfg.NONLOCAL.GROUP, k, "NONLOCAL.GROUP"),
                nonlocal_pool=_per_stage(cfg.NONLOCAL.POOL, k, "NONLOCAL.POOL"),
                dilation=_per_stage(cfg.RESNET.SPATIAL_DILATIONS, k, "RESNET.SPATIAL_DILATIONS"),
                instantiation=cfg.NONLOCAL.INSTANTIATION,
                trans_func_name=cfg.RESNET.TRANS_FUNC,
                stride_1x1=cfg.RESNET.STRIDE_1X1,
                inplace_relu=cfg.RESNET.INPLACE_RELU,
                eps=eps,
                bn_mmt=bn_mmt,
                norm_module=norm_module,
            )
            self.add_module(f"s{k + 2}", stage)
            if slowfast and k < 3:
                self.add_module(f"s{k + 2}_fuse", fusion(stage_out))
            if k == 0:
                for p in range(n):
                    # A 1x1x1 max pool returns its input: skip the pass over the res2 features.
                    pool = nn.Identity() if pool1[p] == [1, 1, 1] else nn.MaxPool3d(pool1[p], stride=pool1[p])
                    self.add_module(f"pathway{p}_pool", pool)
            stage_in = stage_out

        # Frames per pathway at the head (the Slow pathway of SlowFast runs at 1/ALPHA).
        frames = [cfg.DATA.NUM_FRAMES // cfg.SLOWFAST.ALPHA, cfg.DATA.NUM_FRAMES] if slowfast else [cfg.DATA.NUM_FRAMES]
        head_dims = dims(width * 32)
        if self.enable_detection:
            self.head = head_helper.ResNetRoIHead(
                dim_in=head_dims,
                num_classes=cfg.MODEL.NUM_CLASSES,
                pool_size=[[frames[p] // pool1[p][0], 1, 1] for p in range(n)],
                resolution=[[cfg.DETECTION.ROI_XFORM_RESOLUTION] * 2] * n,
                scale_factor=[cfg.DETECTION.SPATIAL_SCALE_FACTOR] * n,
                dropout_rate=cfg.MODEL.DROPOUT_RATE,
                act_func=cfg.MODEL.HEAD_ACT,
                aligned=cfg.DETECTION.ALIGNED,
                detach_final_fc=cfg.MODEL.DETACH_FINAL_FC,
            )
        else:
            crop = cfg.DATA.TRAIN_CROP_SIZE // _SPATIAL_REDUCTION
            pool_size = [
                None
                if cfg.MULTIGRID.SHORT_CYCLE
                else [frames[p] // pool1[p][0], crop // pool1[p][1], crop // pool1[p][2]]
                for p in range(n)
            ]
            self.head = head_helper.ResNetBasicHead(
                dim_in=head_dims,
                num_classes=cfg.MODEL.NUM_CLASSES,
                pool_size=pool_size,
                dropout_rate=cfg.MODEL.DROPOUT_RATE,
                act_func=cfg.MODEL.HEAD_ACT,
                detach_final_fc=cfg.MODEL.DETACH_FINAL_FC,
            )

    def forward_features(self, x: Pathways) -> List[torch.Tensor]:
        """The res5 features of every pathway; an image batch [N, C, H, W] is taken as one-frame clips."""
        x = [x] if isinstance(x, torch.Tensor) else list(x)
        x = [p.unsqueeze(2) if p.dim() == 4 else p for p in x]
        x = self.s1(x)
        if self.num_pathways == 2:
            x = self.s1_fuse(x)
        x = self.s2(x)
        if self.num_pathways == 2:
            x = self.s2_fuse(x)
        x = [getattr(self, f"pathway{p}_pool")(x[p]) for p in range(self.num_pathways)]
        x = self.s3(x)
        if self.num_pathways == 2:
            x = self.s3_fuse(x)
        x = self.s4(x)
        if self.num_pathways == 2:
            x = self.s4_fuse(x)
        return self.s5(x)

    def forward_head(self, x: Sequence[torch.Tensor], bboxes: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Clip logits ([N, classes]; probabilities averaged over locations in eval mode), or per-box scores."""
        if self.enable_detection:
            if bboxes is None:
                raise ValueError("A detection model (DETECTION.ENABLE) needs the boxes: model(inputs, bboxes).")
            return self.head(x, bboxes)
        return self.head(x)

    def forward(self, x: Pathways, bboxes: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Args:
            x: one [N, C, T, H, W] tensor per pathway (Slow first), or a tensor for one pathway; [N, C, H, W]
                images (the imagenet dataset's batches) count as T = 1.
            bboxes: for detection, [K, 5] boxes (batch index, x1, y1, x2, y2) in input pixels.
        """
        return self.forward_head(self.forward_features(x), bboxes)


@MODEL_REGISTRY.register()
class ResNet(_VideoResNet):
    """Single-pathway 3D ResNet: C2D, I3D, Slow (and their *_nopool variants), by MODEL.ARCH."""

    num_pathways = 1


@MODEL_REGISTRY.register()
class ResNet_nopool(_VideoResNet):  # noqa: N801  (the registered name is the class name)
    """MODEL.ARCH's single-pathway ResNet without the temporal pool after res2 (`ResNet_nopool`).

    The released C2D_NOPOOL_8x8_R50 (Caffe2) names this model: C2D whose res3-res5 keep all
    frames. Same parameters as MODEL.ARCH's ResNet; the head pools over all DATA.NUM_FRAMES.
    """

    num_pathways = 1
    no_pool1 = True


@MODEL_REGISTRY.register()
class SlowFast(_VideoResNet):
    """Two-pathway SlowFast network (MODEL.ARCH slowfast)."""

    num_pathways = 2
