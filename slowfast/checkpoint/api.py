"""save_checkpoint and load_checkpoint: the two calls everything else is built on."""

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from slowfast.checkpoint.caffe2 import caffe2_to_state_dict, load_caffe2_blobs
from slowfast.checkpoint.inflate import adapt_image_checkpoint
from slowfast.checkpoint.io import CheckpointMismatchError, atomic_save, check_plain
from slowfast.checkpoint.paths import get_path_to_checkpoint
from slowfast.checkpoint.pytorch_format import read_pytorch_checkpoint
from slowfast.checkpoint.pytorchvideo import pytorchvideo_to_state_dict
from slowfast.checkpoint.state import (
    LoadReport,
    apply_state_dict,
    check_match,
    clear_name_patterns,
    match_state_dict,
    model_state_for_saving,
    unwrap_model,
)
from slowfast.utils import distributed as du
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

CHECKPOINT_TYPES = ("pytorch", "caffe2", "pytorchvideo")


def save_checkpoint(
    path_to_job: str,
    model: nn.Module,
    optimizer: Optional[torch.optim.Optimizer],
    epoch: int,
    cfg: Union[CfgNode, str, None],
    scaler: Optional[torch.amp.GradScaler] = None,
    *,
    iteration: Optional[int] = None,
    extra: Optional[Mapping[str, Any]] = None,
) -> Optional[str]:
    """Write a checkpoint atomically under `path_to_job`/checkpoints; only the main process writes.

    Args:
        path_to_job: the job's OUTPUT_DIR.
        model: the model, wrapped (DDP, torch.compile) or not; its state is stored without the wrapper prefix.
        optimizer: its state is stored as "optimizer_state" (None: not stored).
        epoch: 0-based index of the epoch just finished (PySlowFast's convention: the file is named epoch + 1);
            with `iteration`, the 0-based index of the epoch in progress.
        cfg: the config, stored as YAML text.
        scaler: the AMP grad scaler, stored as "scaler_state".
        iteration: for a mid-epoch checkpoint, the number of iterations of epoch `epoch` already done.
        extra: more state (tensors and plain Python types only), e.g. RNG states from `gather_rng_states()`.
    Returns:
        The path written, or None on the other processes.
    """
    if not du.is_master_proc():
        return None
    checkpoint: Dict[str, Any] = {
        "epoch": int(epoch) if iteration is None else int(epoch) - 1,
        "model_state": model_state_for_saving(model),
    }
    if optimizer is not None:
        checkpoint["optimizer_state"] = optimizer.state_dict()
    if cfg is not None:
        checkpoint["cfg"] = cfg.dump() if isinstance(cfg, CfgNode) else str(cfg)
    if scaler is not None:
        checkpoint["scaler_state"] = scaler.state_dict()
    if iteration is not None:
        checkpoint["iteration"] = int(iteration)
    if extra:
        checkpoint["extra"] = dict(extra)
    check_plain(checkpoint)
    task = getattr(cfg, "TASK", "") if isinstance(cfg, CfgNode) else ""
    path = get_path_to_checkpoint(path_to_job, int(epoch) + 1 if iteration is None else int(epoch), task, iteration)
    atomic_save(checkpoint, path)
    logger.info("Saved checkpoint %s", path)
    return path


@dataclass
class LoadResult:
    """What `restore_checkpoint` loaded.

    `epoch` is the stored 0-based index of the last complete epoch, -1 when the file has none
    (Caffe2, bare weights), when the epoch was reset, or when 2D weights were inflated; training
    resumes at epoch + 1 and, for a mid-epoch checkpoint, after `iteration` iterations of it.
    """

    path: str
    epoch: int
    iteration: int
    report: LoadReport
    extra: Dict[str, Any] = field(default_factory=dict)
    optimizer_loaded: bool = False
    scaler_loaded: bool = False
    cfg_yaml: Optional[str] = None


def _read_state(path: str, checkpoint_type: str, allow_unsafe: bool):
    if checkpoint_type == "caffe2":
        state, source_names, ignored = caffe2_to_state_dict(load_caffe2_blobs(path, allow_unsafe=allow_unsafe))
        return {}, state, source_names, ignored
    if checkpoint_type == "pytorch":
        checkpoint = read_pytorch_checkpoint(path, allow_unsafe=allow_unsafe)
        return checkpoint, checkpoint["model_state"], {}, []
    if checkpoint_type == "pytorchvideo":
        # A hub state dict or a PTV-wrapper checkpoint: only the weights are taken (the epoch and
        # optimizer of another codebase's model do not apply to ours).
        checkpoint = read_pytorch_checkpoint(path, allow_unsafe=allow_unsafe)
        state, source_names = pytorchvideo_to_state_dict(checkpoint["model_state"], source=path)
        return {}, state, source_names, []
    raise ValueError(f"Unknown checkpoint type {checkpoint_type!r}; expected one of {CHECKPOINT_TYPES}.")


def _load_optimizer(
    path: str, checkpoint: Dict[str, Any], optimizer: torch.optim.Optimizer, report: LoadReport
) -> bool:
    if "optimizer_state" not in checkpoint:
        logger.warning("Checkpoint %s has no optimizer state; the optimizer starts afresh.", path)
        return False
    if not report.is_complete or report.adapted:
        logger.warning("Optimizer state of %s not loaded: the model weights were only partly loaded.", path)
        return False
    try:
        optimizer.load_state_dict(checkpoint["optimizer_state"])
    except (ValueError, KeyError, RuntimeError, TypeError) as e:
        raise CheckpointMismatchError(
            f"The optimizer state in {path} does not fit this optimizer ({e}); was the optimizer or its "
            "parameter groups changed since the checkpoint was written?"
        ) from e
    return True


def _load_scaler(path: str, checkpoint: Dict[str, Any], scaler: torch.amp.GradScaler) -> bool:
    state = checkpoint.get("scaler_state")
    if not state:
        if scaler.is_enabled():
            logger.warning("Checkpoint %s has no grad-scaler state; the scaler starts afresh.", path)
        return False
    scaler.load_state_dict(state)
    return True


def restore_checkpoint(
    path_to_checkpoint: str,
    model: nn.Module,
    optimizer: Optional[torch.optim.Optimizer] = None,
    *,
    scaler: Optional[torch.amp.GradScaler] = None,
    checkpoint_type: str = "pytorch",
    inflate: bool = False,
    epoch_reset: bool = False,
    clear_name_pattern: Sequence[str] = (),
    image_init: bool = False,
    allow_unsafe: bool = False,
    strict: bool = False,
    min_match_fraction: float = 0.2,
) -> LoadResult:
    """Load a checkpoint into `model` (and optimizer, scaler) and return everything learnt on the way.

    Args:
        path_to_checkpoint: a `.pyth` file (checkpoint_type "pytorch"), a Caffe2 `.pkl` ("caffe2"), or a
            PyTorchVideo state dict or PTV-wrapper checkpoint ("pytorchvideo", weights only).
        model: the model, wrapped (DDP) or not.
        optimizer: restored from "optimizer_state" when given, unless `epoch_reset`, weights were
            inflated, or the model was only partly loaded (fine-tuning starts a fresh optimizer).
        scaler: the AMP grad scaler, restored from "scaler_state" under the same conditions.
        checkpoint_type: one of CHECKPOINT_TYPES.
        inflate: inflate 2D kernels of the checkpoint into the model's 3D kernels.
        epoch_reset: ignore the stored epoch (fine-tuning starts at epoch 0).
        clear_name_pattern: substrings removed (first occurrence) from checkpoint keys.
        image_init: load an image backbone into a video model (PySlowFast's CHECKPOINT_IN_INIT):
            inflation on, pos_embed split, relative-position tables resampled.
        allow_unsafe: allow full unpickling (trusted files only).
        strict: raise unless every model entry is loaded.
        min_match_fraction: raise when fewer entries than this fraction (of the model's or of the
            checkpoint's, whichever is larger) match by name and shape: another architecture.
    Raises:
        CheckpointNotFoundError, CorruptCheckpointError, UnsafeCheckpointError, CheckpointMismatchError.
    """
    logger.info("Loading %s checkpoint %s", checkpoint_type, path_to_checkpoint)
    checkpoint, state, source_names, ignored = _read_state(path_to_checkpoint, checkpoint_type, allow_unsafe)
    state = clear_name_patterns(state, clear_name_pattern)
    model_sd = unwrap_model(model).state_dict()
    notes = []
    if image_init:
        state, notes = adapt_image_checkpoint(state, model_sd)
    to_load, report = match_state_dict(
        state,
        model_sd,
        source=path_to_checkpoint,
        inflate=inflate or image_init,
        source_names=source_names,
        ignored=ignored,
    )
    report.adapted = notes + report.adapted
    check_match(report, strict=strict, min_match_fraction=min_match_fraction)
    report.log()
    apply_state_dict(model, to_load)

    inflated = bool(report.inflated)
    fresh_start = epoch_reset or inflated or image_init
    stored_epoch = checkpoint.get("epoch")
    result = LoadResult(
        path=path_to_checkpoint,
        epoch=-1 if fresh_start or stored_epoch is None else int(stored_epoch),
        iteration=0 if fresh_start else int(checkpoint.get("iteration", 0)),
        report=report,
        extra=dict(checkpoint.get("extra", {})) if not fresh_start else {},
        cfg_yaml=checkpoint.get("cfg") if isinstance(checkpoint.get("cfg"), str) else None,
    )
    if fresh_start and (optimizer is not None or stored_epoch is not None):
        reason = "epoch reset" if epoch_reset else "2D weights inflated" if inflated else "image initialisation"
        logger.info("%s: training starts at epoch 1 with a fresh optimizer (%s).", path_to_checkpoint, reason)
    if optimizer is not None and not fresh_start:
        result.optimizer_loaded = _load_optimizer(path_to_checkpoint, checkpoint, optimizer, report)
    if scaler is not None and not fresh_start and report.is_complete:
        result.scaler_loaded = _load_scaler(path_to_checkpoint, checkpoint, scaler)
    return result


def load_checkpoint(
    path_to_checkpoint: str,
    model: nn.Module,
    optimizer: Optional[torch.optim.Optimizer] = None,
    *,
    scaler: Optional[torch.amp.GradScaler] = None,
    checkpoint_type: str = "pytorch",
    inflate: bool = False,
    epoch_reset: bool = False,
    clear_name_pattern: Sequence[str] = (),
    image_init: bool = False,
    allow_unsafe: bool = False,
    strict: bool = False,
    min_match_fraction: float = 0.2,
) -> int:
    """Load a checkpoint (see `restore_checkpoint` for the arguments) and return its stored epoch.

    The epoch is 0-based (the last complete one), or -1 when the checkpoint has none or it was
    reset; training continues at the returned epoch + 1.
    """
    return restore_checkpoint(
        path_to_checkpoint,
        model,
        optimizer,
        scaler=scaler,
        checkpoint_type=checkpoint_type,
        inflate=inflate,
        epoch_reset=epoch_reset,
        clear_name_pattern=clear_name_pattern,
        image_init=image_init,
        allow_unsafe=allow_unsafe,
        strict=strict,
        min_match_fraction=min_match_fraction,
    ).epoch
