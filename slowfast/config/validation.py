"""Consistency checks and derived values of a merged config."""

import os
from typing import List

from fvcore.common.config import CfgNode

from slowfast.config.archs import SUPPORTED_ARCHS as _ARCHS
from slowfast.config.archs import pathway_arch_lists
from slowfast.config.loading import ConfigError, key_origin
from slowfast.evaluation.ava_metric import PROTOCOLS as _AVA_EVAL_PROTOCOLS



def procs_per_node(cfg: CfgNode) -> int:
    """Processes on each machine: one per GPU, or NUM_CPU_PROCESSES (at least one) on the CPU."""
    return cfg.NUM_GPUS if cfg.NUM_GPUS > 0 else max(1, cfg.NUM_CPU_PROCESSES)


def world_size_of(cfg: CfgNode) -> int:
    """Number of processes the job runs: processes per node x shards."""
    return procs_per_node(cfg) * cfg.NUM_SHARDS


def dist_backend_of(cfg: CfgNode) -> str:
    """The torch.distributed backend: DIST_BACKEND ("nccl" when empty) on GPUs, always "gloo" on the CPU."""
    if cfg.NUM_GPUS > 0:
        return cfg.DIST_BACKEND or "nccl"
    return "gloo"


def _check(cond: bool, problems: List[str], message: str) -> None:
    if not cond:
        problems.append(message)


def _check_task(cfg: CfgNode, problems: List[str]) -> None:
    task = cfg.get("TASK", "")
    _check(
        task != "ssl",
        problems,
        "TASK 'ssl' (self-supervised contrastive pre-training) is not supported; leave TASK empty.",
    )
    if task in ("classification", "detection"):
        _check(
            cfg.DETECTION.ENABLE == (task == "detection"),
            problems,
            f"TASK '{task}' does not match DETECTION.ENABLE {cfg.DETECTION.ENABLE}.",
        )


def assert_and_infer_cfg(cfg: CfgNode) -> CfgNode:
    """Check that the values of `cfg` fit together and fill in the derived ones.

    All problems are collected and raised together as one ConfigError, so a user
    fixes a config in one pass.
    """
    # The modules that implement each choice say which values exist (imported here: they need torch).
    from slowfast.checkpoint.api import CHECKPOINT_TYPES
    from slowfast.models.batchnorm_helper import NORM_TYPES as _NORMS
    from slowfast.solver.losses import LOSS_FUNCS as _LOSSES
    from slowfast.solver.lr_policy import LR_POLICIES as _LR_POLICIES

    problems: List[str] = []
    _check(cfg.NUM_GPUS >= 0, problems, f"NUM_GPUS must be >= 0 (0 = CPU), got {cfg.NUM_GPUS}.")
    _check(cfg.NUM_SHARDS >= 1, problems, f"NUM_SHARDS must be >= 1, got {cfg.NUM_SHARDS}.")
    _check(
        0 <= cfg.SHARD_ID < max(cfg.NUM_SHARDS, 1),
        problems,
        f"SHARD_ID must be in [0, NUM_SHARDS={cfg.NUM_SHARDS}), got {cfg.SHARD_ID}.",
    )
    world = world_size_of(cfg)
    for split in ("TRAIN", "TEST"):
        bs = cfg[split].BATCH_SIZE
        _check(bs > 0, problems, f"{split}.BATCH_SIZE must be positive, got {bs}.")
        _check(
            bs % world == 0,
            problems,
            f"{split}.BATCH_SIZE ({bs}) is the total over all {world} processes and must be divisible "
            f"by it (NUM_GPUS or NUM_CPU_PROCESSES x NUM_SHARDS).",
        )
    _check(cfg.MODEL.ARCH in _ARCHS, problems, f"MODEL.ARCH must be one of {_ARCHS}, got '{cfg.MODEL.ARCH}'.")
    _check(
        cfg.SOLVER.LR_POLICY in _LR_POLICIES,
        problems,
        f"SOLVER.LR_POLICY must be one of {_LR_POLICIES}, got '{cfg.SOLVER.LR_POLICY}'.",
    )
    _check(
        cfg.MODEL.LOSS_FUNC in _LOSSES,
        problems,
        f"MODEL.LOSS_FUNC must be one of {_LOSSES}, got '{cfg.MODEL.LOSS_FUNC}'.",
    )
    _check(cfg.BN.NORM_TYPE in _NORMS, problems, f"BN.NORM_TYPE must be one of {_NORMS}, got '{cfg.BN.NORM_TYPE}'.")
    _check(
        cfg.TRAIN.CHECKPOINT_TYPE in CHECKPOINT_TYPES,
        problems,
        f"TRAIN.CHECKPOINT_TYPE must be one of {CHECKPOINT_TYPES}, got '{cfg.TRAIN.CHECKPOINT_TYPE}'.",
    )
    for key in ("CHECKPOINT_PERIOD_ITERS", "CHECKPOINT_KEEP"):
        _check(cfg.TRAIN[key] >= 0, problems, f"TRAIN.{key} must be >= 0 (0: off), got {cfg.TRAIN[key]}.")
    _check(
        cfg.TEST.CHECKPOINT_TYPE in CHECKPOINT_TYPES,
        problems,
        f"TEST.CHECKPOINT_TYPE must be one of {CHECKPOINT_TYPES}, got '{cfg.TEST.CHECKPOINT_TYPE}'.",
    )
    _check(
        cfg.TEST.NUM_SPATIAL_CROPS in (1, 3),
        problems,
        f"TEST.NUM_SPATIAL_CROPS must be 1 or 3, got {cfg.TEST.NUM_SPATIAL_CROPS}.",
    )
    _check(
        cfg.DATA.ENSEMBLE_METHOD in ("sum", "max"),
        problems,
        f"DATA.ENSEMBLE_METHOD must be 'sum' or 'max', got '{cfg.DATA.ENSEMBLE_METHOD}'.",
    )
    _check(cfg.TEST.NUM_ENSEMBLE_VIEWS >= 1, problems, "TEST.NUM_ENSEMBLE_VIEWS must be >= 1.")
    if cfg.TEST.NUM_SPATIAL_CROPS == 1 and len(cfg.DATA.TRAIN_JITTER_SCALES) == 2:
        _check(
            cfg.DATA.TRAIN_JITTER_SCALES[0] >= cfg.DATA.TEST_CROP_SIZE,
            problems,
            f"With TEST.NUM_SPATIAL_CROPS 1 test frames are scaled to DATA.TRAIN_JITTER_SCALES[0] "
            f"({cfg.DATA.TRAIN_JITTER_SCALES[0]}) before the centre DATA.TEST_CROP_SIZE "
            f"({cfg.DATA.TEST_CROP_SIZE}) crop: it must not be smaller.",
        )
    _check(
        cfg.TRAIN.MIXED_PRECISION_DTYPE in ("float16", "bfloat16"),
        problems,
        f"TRAIN.MIXED_PRECISION_DTYPE must be 'float16' or 'bfloat16', got '{cfg.TRAIN.MIXED_PRECISION_DTYPE}'.",
    )
    _check(
        cfg.RESNET.DEPTH in (18, 34, 50, 101, 152),
        problems,
        f"RESNET.DEPTH must be one of 18, 34, 50, 101, 152, got {cfg.RESNET.DEPTH}.",
    )
    _check(
        len(cfg.DATA.MEAN) == len(cfg.DATA.STD) == 3,
        problems,
        "DATA.MEAN and DATA.STD must each hold 3 values (R, G, B).",
    )
    _check(
        len(cfg.DATA.TRAIN_JITTER_SCALES) == 2 and cfg.DATA.TRAIN_JITTER_SCALES[0] <= cfg.DATA.TRAIN_JITTER_SCALES[1],
        problems,
        f"DATA.TRAIN_JITTER_SCALES must be [min, max] with min <= max, got {cfg.DATA.TRAIN_JITTER_SCALES}.",
    )
    if cfg.MODEL.ARCH in pathway_arch_lists(cfg)[1]:
        _check(cfg.SLOWFAST.ALPHA >= 1, problems, "SLOWFAST.ALPHA must be >= 1.")
        _check(
            cfg.DATA.NUM_FRAMES % cfg.SLOWFAST.ALPHA == 0,
            problems,
            f"DATA.NUM_FRAMES ({cfg.DATA.NUM_FRAMES}) must be divisible by SLOWFAST.ALPHA ({cfg.SLOWFAST.ALPHA}).",
        )
    _check(
        cfg.SOLVER.OPTIMIZING_METHOD in ("sgd", "adamw"),
        problems,
        f"SOLVER.OPTIMIZING_METHOD must be 'sgd' or 'adamw', got '{cfg.SOLVER.OPTIMIZING_METHOD}'.",
    )
    _check(
        cfg.AVA.EVAL_PROTOCOL in _AVA_EVAL_PROTOCOLS,
        problems,
        f"AVA.EVAL_PROTOCOL must be one of {_AVA_EVAL_PROTOCOLS}, got '{cfg.AVA.EVAL_PROTOCOL}'.",
    )
    _check_task(cfg, problems)
    problems += _recipe_and_unsupported_problems(cfg)
    if not problems:
        # The datasets' own checks assume the generic ones above hold.
        from slowfast.datasets.build import dataset_cfg_problems

        problems += dataset_cfg_problems(cfg)
    if problems:
        raise ConfigError("Invalid config:\n  - " + "\n  - ".join(problems))

    cfg.DIST_BACKEND = dist_backend_of(cfg)
    if cfg.SOLVER.BASE_LR_SCALE_NUM_SHARDS:
        cfg.SOLVER.BASE_LR *= cfg.NUM_SHARDS
        cfg.SOLVER.WARMUP_START_LR *= cfg.NUM_SHARDS
        cfg.SOLVER.COSINE_END_LR *= cfg.NUM_SHARDS
        # Scaled once: a config written back to a checkpoint and re-validated is not scaled again.
        cfg.SOLVER.BASE_LR_SCALE_NUM_SHARDS = False
    cfg.OUTPUT_DIR = os.path.expanduser(cfg.OUTPUT_DIR)
    return cfg


def _recipe_and_unsupported_problems(cfg: CfgNode) -> List[str]:
    """Bad recipe values, and keys of the unsupported table set away from their defaults."""
    from slowfast.config.defaults import get_cfg
    from slowfast.config.recipe_checks import check_recipes
    from slowfast.config.unsupported import refused_keys

    defaults = get_cfg()

    def origin(key: str) -> str:
        return key_origin(cfg, key)

    return check_recipes(cfg, defaults, origin) + refused_keys(cfg, defaults, origin)
