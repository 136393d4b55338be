"""Learning-rate schedules, evaluated per iteration at a fractional epoch."""

import math

from fvcore.common.config import CfgNode


def get_lr_at_epoch(cfg: CfgNode, cur_epoch: float) -> float:
    """Learning rate at `cur_epoch` (fractional: epoch + iteration / iterations per epoch).

    A linear warmup from SOLVER.WARMUP_START_LR to the policy's value at WARMUP_EPOCHS
    replaces the policy during the first WARMUP_EPOCHS epochs.
    """
    lr = get_lr_func(cfg.SOLVER.LR_POLICY)(cfg, cur_epoch)
    warmup = cfg.SOLVER.WARMUP_EPOCHS
    if cur_epoch < warmup:
        lr_end = get_lr_func(cfg.SOLVER.LR_POLICY)(cfg, warmup)
        alpha = (lr_end - cfg.SOLVER.WARMUP_START_LR) / warmup
        lr = cur_epoch * alpha + cfg.SOLVER.WARMUP_START_LR
    return lr


def lr_func_cosine(cfg: CfgNode, cur_epoch: float) -> float:
    """Half-period cosine from BASE_LR to COSINE_END_LR over MAX_EPOCH (after the warmup if COSINE_AFTER_WARMUP)."""
    offset = cfg.SOLVER.WARMUP_EPOCHS if cfg.SOLVER.COSINE_AFTER_WARMUP else 0.0
    span = cfg.SOLVER.MAX_EPOCH - offset
    if span <= 0:
        raise ValueError(
            f"SOLVER.MAX_EPOCH ({cfg.SOLVER.MAX_EPOCH}) must exceed SOLVER.WARMUP_EPOCHS ({offset}) "
            "with SOLVER.COSINE_AFTER_WARMUP."
        )
    end = cfg.SOLVER.COSINE_END_LR
    return end + (cfg.SOLVER.BASE_LR - end) * (math.cos(math.pi * (cur_epoch - offset) / span) + 1.0) * 0.5


def lr_func_steps_with_relative_lrs(cfg: CfgNode, cur_epoch: float) -> float:
    """BASE_LR times SOLVER.LRS[i] for the step i that `cur_epoch` falls in."""
    return cfg.SOLVER.LRS[get_step_index(cfg, cur_epoch)] * cfg.SOLVER.BASE_LR


def lr_func_constant(cfg: CfgNode, cur_epoch: float) -> float:
    return cfg.SOLVER.BASE_LR


def get_step_index(cfg: CfgNode, cur_epoch: float) -> int:
    """Index of the step that `cur_epoch` falls in; SOLVER.STEPS lists the epochs where steps start."""
    steps = list(cfg.SOLVER.STEPS) + [cfg.SOLVER.MAX_EPOCH]
    for ind, step in enumerate(steps):
        if cur_epoch < step:
            break
    return ind - 1


_POLICIES = {
    "cosine": lr_func_cosine,
    "steps_with_relative_lrs": lr_func_steps_with_relative_lrs,
    "constant": lr_func_constant,
}
# The allowed values of SOLVER.LR_POLICY.
LR_POLICIES = tuple(_POLICIES)


def get_lr_func(lr_policy: str):
    if lr_policy not in _POLICIES:
        raise NotImplementedError(f"Unknown SOLVER.LR_POLICY '{lr_policy}'; choose one of {sorted(_POLICIES)}.")
    return _POLICIES[lr_policy]
