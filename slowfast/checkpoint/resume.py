"""What the train and test loops call: resume or initialise for training, pick the weights for testing."""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from slowfast.checkpoint.api import restore_checkpoint
from slowfast.checkpoint.io import CorruptCheckpointError, is_complete_pyth
from slowfast.checkpoint.paths import get_checkpoint_dir, get_last_checkpoint, list_checkpoints
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)


@dataclass
class TrainStart:
    """Where training starts: epoch `start_epoch` (0-based), after `start_iter` of its iterations.

    `extra` is what the checkpoint's writer stored with it (e.g. RNG states); `path` the file
    loaded (None: from scratch); `resumed` is True for an automatic resume from OUTPUT_DIR.
    """

    start_epoch: int = 0
    start_iter: int = 0
    path: Optional[str] = None
    resumed: bool = False
    extra: Dict[str, Any] = field(default_factory=dict)


def _task(cfg: CfgNode) -> str:
    return str(getattr(cfg, "TASK", "") or "")


def _auto_resume(cfg: CfgNode, model: nn.Module, optimizer, scaler) -> Optional[TrainStart]:
    candidates = list(reversed(list_checkpoints(cfg.OUTPUT_DIR, _task(cfg))))
    problems: List[str] = []
    for _, _, path in candidates:
        if not is_complete_pyth(path):
            logger.warning("AUTO_RESUME: skipping incomplete checkpoint %s; trying the one before.", path)
            problems.append(f"{path}: incomplete")
            continue
        try:
            result = restore_checkpoint(
                path,
                model,
                optimizer,
                scaler=scaler,
                clear_name_pattern=cfg.TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN,
                allow_unsafe=cfg.TRAIN.CHECKPOINT_ALLOW_UNSAFE,
                strict=True,
            )
        except CorruptCheckpointError as e:
            logger.warning("AUTO_RESUME: skipping unreadable checkpoint %s (%s); trying the one before.", path, e)
            problems.append(str(e))
            continue
        start = TrainStart(result.epoch + 1, result.iteration, path, True, result.extra)
        logger.info(
            "Resumed from %s: training continues at epoch %d, iteration %d.",
            path,
            start.start_epoch + 1,
            start.start_iter,
        )
        return start
    if candidates:
        raise CorruptCheckpointError(
            f"TRAIN.AUTO_RESUME: none of the {len(candidates)} checkpoints in {get_checkpoint_dir(cfg.OUTPUT_DIR)} "
            f"can be read ({'; '.join(problems[:3])}). Move them away to start afresh, or set TRAIN.AUTO_RESUME False."
        )
    return None


def load_train_state(
    cfg: CfgNode,
    model: nn.Module,
    optimizer: Optional[torch.optim.Optimizer],
    scaler: Optional[torch.amp.GradScaler] = None,
) -> TrainStart:
    """Resume from the newest readable checkpoint in OUTPUT_DIR (TRAIN.AUTO_RESUME), else initialise
    from TRAIN.CHECKPOINT_FILE_PATH with its options, else start from scratch.

    A resume restores model, optimizer and scaler exactly (a checkpoint that does not fit the model
    is an error). Initialisation from a file restores the optimizer and epoch only without
    TRAIN.CHECKPOINT_EPOCH_RESET and when every model entry was loaded.
    """
    if cfg.TRAIN.AUTO_RESUME:
        start = _auto_resume(cfg, model, optimizer, scaler)
        if start is not None:
            return start
    path = cfg.TRAIN.CHECKPOINT_FILE_PATH
    if not path:
        logger.info("No checkpoint to resume or initialise from: training from scratch.")
        return TrainStart()
    result = restore_checkpoint(
        path,
        model,
        optimizer,
        scaler=scaler,
        checkpoint_type=cfg.TRAIN.CHECKPOINT_TYPE,
        inflate=cfg.TRAIN.CHECKPOINT_INFLATE,
        epoch_reset=cfg.TRAIN.CHECKPOINT_EPOCH_RESET,
        clear_name_pattern=cfg.TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN,
        image_init=cfg.TRAIN.CHECKPOINT_IN_INIT,
        allow_unsafe=cfg.TRAIN.CHECKPOINT_ALLOW_UNSAFE,
    )
    return TrainStart(result.epoch + 1, result.iteration, path, False, result.extra)


def load_train_checkpoint(
    cfg: CfgNode,
    model: nn.Module,
    optimizer: Optional[torch.optim.Optimizer],
    scaler: Optional[torch.amp.GradScaler] = None,
) -> int:
    """`load_train_state(...).start_epoch`: the 0-based epoch training starts at."""
    return load_train_state(cfg, model, optimizer, scaler).start_epoch


def load_test_checkpoint(cfg: CfgNode, model: nn.Module) -> Optional[str]:
    """Load the weights to test: TEST.CHECKPOINT_FILE_PATH, else the newest checkpoint in OUTPUT_DIR,
    else TRAIN.CHECKPOINT_FILE_PATH; every model entry must be loaded. Returns the path, or None
    (with a warning) when there is nothing to load and the model stays randomly initialised.
    """
    allow_unsafe = cfg.TRAIN.CHECKPOINT_ALLOW_UNSAFE
    if cfg.TEST.CHECKPOINT_FILE_PATH:
        path, checkpoint_type = cfg.TEST.CHECKPOINT_FILE_PATH, cfg.TEST.CHECKPOINT_TYPE
    else:
        path, checkpoint_type = get_last_checkpoint(cfg.OUTPUT_DIR, _task(cfg)), "pytorch"
        if path is None and cfg.TRAIN.CHECKPOINT_FILE_PATH:
            path, checkpoint_type = cfg.TRAIN.CHECKPOINT_FILE_PATH, cfg.TRAIN.CHECKPOINT_TYPE
    if not path:
        logger.warning(
            "No checkpoint to test: TEST.CHECKPOINT_FILE_PATH and TRAIN.CHECKPOINT_FILE_PATH are empty and %s "
            "holds none. Testing a randomly initialised model (only useful for debugging).",
            get_checkpoint_dir(cfg.OUTPUT_DIR),
        )
        return None
    restore_checkpoint(path, model, checkpoint_type=checkpoint_type, allow_unsafe=allow_unsafe, strict=True)
    logger.info("Testing with weights from %s", path)
    return path
