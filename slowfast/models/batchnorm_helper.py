"""Normalization layers selected by BN.NORM_TYPE.

Every builder in this package takes a `norm_module` callable with the signature
`norm_module(num_features=..., eps=..., momentum=...)`; `get_norm(cfg)` returns the one the
config asks for.
"""

import logging
from functools import partial
from typing import Callable, Dict, Optional

import torch
import torch.distributed as dist
import torch.nn as nn
from fvcore.common.config import CfgNode

from slowfast.config.validation import procs_per_node

logger = logging.getLogger(__name__)

NormModule = Callable[..., nn.Module]


class SubBatchNorm3d(nn.Module):
    """BatchNorm whose training statistics are computed over 1/num_splits of the batch each.

    Used by multigrid training, where a larger batch of smaller clips should see the BN
    statistics of the base batch size. Clip i of the batch belongs to split i % num_splits.
    In eval mode the aggregated statistics in `bn` are used; call `aggregate_stats()` before
    evaluating. The state_dict layout is PySlowFast's: one affine `weight`/`bias` pair at this
    level, non-affine `bn` (num_features) and `split_bn` (num_features * num_splits) inside.
    """

    def __init__(self, num_splits: int, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True):
        super().__init__()
        if num_splits < 1:
            raise ValueError(f"BN.NUM_SPLITS must be >= 1, got {num_splits}.")
        self.num_splits = num_splits
        self.num_features = num_features
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        self.bn = nn.BatchNorm3d(num_features, eps=eps, momentum=momentum, affine=False)
        self.split_bn = nn.BatchNorm3d(num_features * num_splits, eps=eps, momentum=momentum, affine=False)

    @torch.no_grad()
    def aggregate_stats(self) -> None:
        """Fold the per-split running statistics into `bn` (mean of means; variance of the mixture)."""
        if not self.split_bn.track_running_stats:
            return
        means = self.split_bn.running_mean.view(self.num_splits, -1)
        variances = self.split_bn.running_var.view(self.num_splits, -1)
        mean = means.mean(0)
        self.bn.running_mean.copy_(mean)
        self.bn.running_var.copy_(variances.mean(0) + ((means - mean) ** 2).mean(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            n, c = x.shape[:2]
            if n % self.num_splits != 0:
                raise ValueError(
                    f"sub_batchnorm needs a per-process batch divisible by BN.NUM_SPLITS={self.num_splits}, got {n}."
                )
            x = self.split_bn(x.reshape(n // self.num_splits, c * self.num_splits, *x.shape[2:]))
            x = x.reshape(n, c, *x.shape[2:])
        else:
            x = self.bn(x)
        if self.affine:
            shape = (-1,) + (1,) * (x.dim() - 2)
            x = x * self.weight.view(shape) + self.bias.view(shape)
        return x


def sync_group_size(cfg: CfgNode, world_size: int) -> int:
    """Processes that one SyncBatchNorm layer syncs over, as PySlowFast/PyTorchVideo define it.

    BN.GLOBAL_SYNC: every process of the job. Otherwise groups of BN.NUM_SYNC_DEVICES
    consecutive devices of one machine (1: no sync at all; 0 or less: the whole machine),
    which must divide the processes per machine.
    """
    if cfg.BN.GLOBAL_SYNC:
        return world_size
    local = min(procs_per_node(cfg), world_size)
    size = cfg.BN.NUM_SYNC_DEVICES if cfg.BN.NUM_SYNC_DEVICES > 0 else local
    if local % size != 0:
        raise ValueError(
            f"BN.NUM_SYNC_DEVICES ({cfg.BN.NUM_SYNC_DEVICES}) must divide the processes per machine ({local})."
        )
    return size


def _sync_process_group(cfg: CfgNode, size: int) -> Optional["dist.ProcessGroup"]:
    """The process group of ``size`` consecutive ranks holding this one (None: all of them)."""
    if not (dist.is_available() and dist.is_initialized()) or size >= dist.get_world_size():
        return None
    group, _ = dist.new_subgroups(group_size=size)
    return group


def get_norm(cfg: CfgNode) -> NormModule:
    """The normalization layer factory for BN.NORM_TYPE.

    - "batchnorm": nn.BatchNorm3d.
    - "sub_batchnorm": SubBatchNorm3d with BN.NUM_SPLITS splits.
    - "sync_batchnorm": nn.SyncBatchNorm over groups of BN.NUM_SYNC_DEVICES local devices, or
      over all processes with BN.GLOBAL_SYNC (``sync_group_size``); a group of one device is plain
      BatchNorm3d. SyncBatchNorm needs GPUs: with NUM_GPUS 0 plain BatchNorm3d is used and a
      warning is logged (same state_dict keys).
    """
    norm_type = cfg.BN.NORM_TYPE
    if norm_type not in _NORM_FACTORIES:
        raise NotImplementedError(f"BN.NORM_TYPE '{norm_type}' is not supported; choose one of {NORM_TYPES}.")
    return _NORM_FACTORIES[norm_type](cfg)


def _sync_batchnorm(cfg: CfgNode) -> NormModule:
    if cfg.NUM_GPUS == 0:
        logger.warning("BN.NORM_TYPE sync_batchnorm needs GPUs; NUM_GPUS is 0, so plain BatchNorm3d is used.")
        return nn.BatchNorm3d
    world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    size = sync_group_size(cfg, world)
    if size == 1:
        return nn.BatchNorm3d
    return partial(nn.SyncBatchNorm, process_group=_sync_process_group(cfg, size))


_NORM_FACTORIES: Dict[str, Callable[[CfgNode], NormModule]] = {
    "batchnorm": lambda cfg: nn.BatchNorm3d,
    "sub_batchnorm": lambda cfg: partial(SubBatchNorm3d, cfg.BN.NUM_SPLITS),
    "sync_batchnorm": _sync_batchnorm,
}
# The allowed values of BN.NORM_TYPE.
NORM_TYPES = tuple(_NORM_FACTORIES)


def is_norm_module(module: nn.Module) -> bool:
    """True for the batch-norm layers whose parameters get BN.WEIGHT_DECAY (PySlowFast's rule).

    PySlowFast tests for `_NormBase` only, so the affine pair of its SubBatchNorm3d gets the
    ordinary weight decay; here it counts as BN too.
    """
    return isinstance(module, (nn.modules.batchnorm._NormBase, SubBatchNorm3d))

