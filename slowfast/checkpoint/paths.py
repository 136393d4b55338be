"""Where checkpoints live: OUTPUT_DIR/checkpoints/checkpoint_epoch_00010.pyth, and which one is newest.

`path_to_job` is a job's OUTPUT_DIR throughout, as in PySlowFast. A checkpoint named for epoch N
holds the state after N complete epochs (its "epoch" entry is N - 1, the 0-based index of the last
one). A mid-epoch checkpoint, checkpoint_epoch_0000N_iter_000123.pyth, holds the state after N
complete epochs and 123 iterations of the next.
"""

import os
import re
from typing import List, Optional, Tuple

from fvcore.common.config import CfgNode

from slowfast.checkpoint.io import is_complete_pyth
from slowfast.utils import distributed as du
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

_NAME = re.compile(r"^(?:(?P<task>.+)_)?checkpoint_epoch_(?P<epoch>\d+)(?:_iter_(?P<iter>\d+))?\.pyth$")


def get_checkpoint_dir(path_to_job: str) -> str:
    """The checkpoint folder of a job: `path_to_job`/checkpoints."""
    return os.path.join(path_to_job, "checkpoints")


def make_checkpoint_dir(path_to_job: str) -> str:
    """Create the checkpoint folder (main process only) and return it."""
    directory = get_checkpoint_dir(path_to_job)
    if du.is_master_proc():
        os.makedirs(directory, exist_ok=True)
    return directory


def get_path_to_checkpoint(path_to_job: str, epoch: int, task: str = "", iteration: Optional[int] = None) -> str:
    """Path of the checkpoint after `epoch` complete epochs (and `iteration` iterations of the next)."""
    name = f"checkpoint_epoch_{epoch:05d}"
    if iteration is not None:
        name += f"_iter_{iteration:06d}"
    if task:
        name = f"{task}_{name}"
    return os.path.join(get_checkpoint_dir(path_to_job), name + ".pyth")


def list_checkpoints(path_to_job: str, task: str = "") -> List[Tuple[int, int, str]]:
    """(complete epochs, iterations into the next, path) of every checkpoint file, oldest first."""
    directory = get_checkpoint_dir(path_to_job)
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        m = _NAME.match(name)
        if m is None or (m["task"] or "") != task:
            continue
        found.append((int(m["epoch"]), int(m["iter"] or 0), os.path.join(directory, name)))
    return sorted(found)


def get_last_checkpoint(path_to_job: str, task: str = "") -> Optional[str]:
    """The newest complete checkpoint of the job, or None; incomplete newer files are skipped with a warning."""
    for _, _, path in reversed(list_checkpoints(path_to_job, task)):
        if is_complete_pyth(path):
            return path
        logger.warning("Skipping incomplete or corrupt checkpoint %s; trying the one before.", path)
    return None


def has_checkpoint(path_to_job: str, task: str = "") -> bool:
    """True when the job's checkpoint folder holds a complete checkpoint."""
    return get_last_checkpoint(path_to_job, task) is not None


def is_checkpoint_epoch(cfg: CfgNode, cur_epoch: int, multigrid_schedule: Optional[List] = None) -> bool:
    """Whether to save after 0-based epoch `cur_epoch`: every TRAIN.CHECKPOINT_PERIOD epochs and after the last.

    With a multigrid long-cycle schedule ([..., end_epoch] per shape), checkpoints are spread over
    each cycle MULTIGRID.EVAL_FREQ times, ending on the cycle's last epoch, as in PySlowFast.
    """
    if cur_epoch + 1 == cfg.SOLVER.MAX_EPOCH:
        return True
    if multigrid_schedule is not None:
        prev_epoch = 0
        for stage in multigrid_schedule:
            if cur_epoch < stage[-1]:
                period = max((stage[-1] - prev_epoch) // cfg.MULTIGRID.EVAL_FREQ + 1, 1)
                return (stage[-1] - 1 - cur_epoch) % period == 0
            prev_epoch = stage[-1]
    period = cfg.TRAIN.CHECKPOINT_PERIOD
    return period > 0 and (cur_epoch + 1) % period == 0
