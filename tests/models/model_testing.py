"""Helpers of the model tests (configs, tiny models, inputs); imported by the test modules."""

from pathlib import Path
from typing import Iterable, List, Optional

import torch
from fvcore.common.config import CfgNode

from slowfast.config import get_cfg, merge_from_file, merge_from_list

REPO = Path(__file__).resolve().parents[2]
LAYOUTS = REPO / "tests" / "data" / "checkpoint_layouts"

ARCHS = ["2d", "c2d", "i3d", "slow", "slowfast", "c2d_nopool", "i3d_nopool"]


def load_cfg(path: Optional[str] = None, opts: Iterable[str] = ()) -> CfgNode:
    """A config from configs/<path> (or the defaults) with `opts` overrides, on the CPU."""
    cfg = get_cfg()
    if path is not None:
        merge_from_file(cfg, str(REPO / "configs" / path))
    merge_from_list(cfg, ["NUM_GPUS", "0"] + list(opts))
    return cfg


def tiny_opts(arch: str, detection: bool = False, frames: int = 8, crop: int = 32) -> List[str]:
    """Overrides for a small model of `arch`: R50 layout, 8 channels per group, few frames."""
    slowfast = arch == "slowfast"
    per = (lambda v: [v, v]) if slowfast else (lambda v: [v])
    opts = [
        "MODEL.ARCH", arch,
        "MODEL.MODEL_NAME", "SlowFast" if slowfast else "ResNet",
        "MODEL.NUM_CLASSES", "5",
        "RESNET.WIDTH_PER_GROUP", "8",
        "RESNET.DEPTH", "50",
        "DATA.NUM_FRAMES", str(frames),
        "DATA.TRAIN_CROP_SIZE", str(crop),
        "DATA.TEST_CROP_SIZE", str(crop),
        "DATA.INPUT_CHANNEL_NUM", str(per(3)),
        "RESNET.NUM_BLOCK_TEMP_KERNEL", str([per(3), per(4), per(6), per(3)]),
        "RESNET.SPATIAL_STRIDES", str([per(1), per(2), per(2), per(1 if detection else 2)]),
        "RESNET.SPATIAL_DILATIONS", str([per(1), per(1), per(1), per(2 if detection else 1)]),
        "NONLOCAL.LOCATION", str([per([]), per([]), per([]), per([])]),
        "NONLOCAL.GROUP", str([per(1)] * 4),
        "SLOWFAST.ALPHA", "4",
        "SLOWFAST.BETA_INV", "4",
    ]  # fmt: skip
    if detection:
        opts += ["DETECTION.ENABLE", "True", "MODEL.HEAD_ACT", "sigmoid"]
    return opts


def pathways(cfg, batch: int = 2, crop: Optional[int] = None, frames: Optional[int] = None) -> List[torch.Tensor]:
    """Random pathway inputs for `cfg` (Slow pathway = every ALPHA-th frame for SlowFast)."""
    crop = cfg.DATA.TRAIN_CROP_SIZE if crop is None else crop
    frames = cfg.DATA.NUM_FRAMES if frames is None else frames
    clip = torch.randn(batch, 3, frames, crop, crop)
    if cfg.MODEL.ARCH == "slowfast":
        return [clip[:, :, :: cfg.SLOWFAST.ALPHA], clip]
    return [clip]


def boxes_for(batch: int, crop: int, per_clip: int = 2) -> torch.Tensor:
    """`per_clip` boxes in each clip of the batch, [K, 5] in input pixels."""
    rows = []
    for b in range(batch):
        for j in range(per_clip):
            x1, y1 = 2.0 + 4 * j, 3.0 + 2 * j
            rows.append([float(b), x1, y1, x1 + crop / 2, y1 + crop / 3])
    return torch.tensor(rows)


def tiny_mvit_opts(frames: int = 4, crop: int = 32, version: int = 2) -> List[str]:
    """Overrides for a 3-block MViT (v2: rel-pos, residual pooling; v1: separable abs pos).

    Block 1 pools the query 2x in space and doubles channels (16 -> 32) and heads (1 -> 2).
    """
    opts = [
        "MODEL.ARCH", "mvit",
        "MODEL.MODEL_NAME", "MViT",
        "MODEL.NUM_CLASSES", "5",
        "DATA.NUM_FRAMES", str(frames),
        "DATA.TRAIN_CROP_SIZE", str(crop),
        "DATA.TEST_CROP_SIZE", str(crop),
        "DATA.INPUT_CHANNEL_NUM", "[3]",
        "MVIT.PATCH_PADDING", "[1, 3, 3]",
        "MVIT.EMBED_DIM", "16",
        "MVIT.DEPTH", "3",
        "MVIT.DIM_MUL", "[[1, 2.0]]",
        "MVIT.HEAD_MUL", "[[1, 2.0]]",
        "MVIT.POOL_KVQ_KERNEL", "[3, 3, 3]",
        "MVIT.POOL_KV_STRIDE_ADAPTIVE", "[1, 4, 4]",
        "MVIT.DROPPATH_RATE", "0.1",
    ]  # fmt: skip
    if version == 2:
        opts += [
            "MVIT.POOL_Q_STRIDE", "[[0, 1, 1, 1], [1, 1, 2, 2], [2, 1, 1, 1]]",
            "MVIT.USE_ABS_POS", "False",
            "MVIT.REL_POS_SPATIAL", "True",
            "MVIT.REL_POS_TEMPORAL", "True",
            "MVIT.RESIDUAL_POOLING", "True",
            "MVIT.DIM_MUL_IN_ATT", "True",
        ]  # fmt: skip
    else:
        opts += ["MVIT.POOL_Q_STRIDE", "[[1, 1, 2, 2]]", "MVIT.SEP_POS_EMBED", "True"]
    return opts
