"""Pieces shared by the train and test loops: job set-up, device transfer, forward, autocast."""

import contextlib
import os
import random
from typing import Any, Dict, List, Tuple

import numpy as np
import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from slowfast.utils import distributed as du
from slowfast.utils.logging import get_logger, setup_logging

logger = get_logger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch RNGs."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def setup_job(cfg: CfgNode, job: str) -> None:
    """Seed this rank (RNG_SEED + rank), set up logging and log the config."""
    seed_everything(cfg.RNG_SEED + du.get_rank())
    setup_logging(cfg.OUTPUT_DIR)
    if cfg.NUM_GPUS > 0:
        torch.backends.cudnn.benchmark = True
    else:
        set_cpu_threads(cfg)
    if cfg.DESCRIPTION:
        logger.info("Description: %s", cfg.DESCRIPTION)
    logger.info("%s with config:\n%s", job.capitalize(), cfg.dump())
    logger.info("World size %d, rank %d, device %s", du.get_world_size(), du.get_rank(), device_of(cfg))


def set_cpu_threads(cfg: CfgNode) -> None:
    """Share the cores between this machine's processes and their data-loading workers.

    Without this every process runs as many compute threads as there are cores, next to
    its decoding workers: on a small machine the oversubscription made training several
    times slower. OMP_NUM_THREADS, when set, wins.
    """
    if "OMP_NUM_THREADS" in os.environ:
        return
    procs = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    cores = os.cpu_count() or 1
    threads = max(1, cores // procs - cfg.DATA_LOADER.NUM_WORKERS)
    torch.set_num_threads(threads)
    logger.info("Using %d compute threads per process on the CPU (set OMP_NUM_THREADS to override).", threads)


def device_of(cfg: CfgNode) -> torch.device:
    if cfg.NUM_GPUS > 0:
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _to(x: Any, device: torch.device, channels_last: bool) -> Any:
    if isinstance(x, torch.Tensor):
        x = x.to(device, non_blocking=True)
        if channels_last and x.ndim == 5:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        return x
    if isinstance(x, (list, tuple)):
        return type(x)(_to(v, device, channels_last) for v in x)
    if isinstance(x, dict):
        return {k: _to(v, device, channels_last) for k, v in x.items()}
    return x


def batch_to_device(cfg: CfgNode, inputs: List[torch.Tensor], labels: torch.Tensor, meta: Dict) -> Tuple:
    """Move a batch to this process's device (channels_last_3d inputs when MODEL.CHANNELS_LAST)."""
    device = device_of(cfg)
    inputs = _to(inputs, device, cfg.MODEL.CHANNELS_LAST)
    labels = _to(labels, device, False)
    meta = _to(meta, device, False) if isinstance(meta, dict) else meta
    return inputs, labels, meta


def forward(cfg: CfgNode, model: nn.Module, inputs: List[torch.Tensor], meta: Dict) -> torch.Tensor:
    """Run the model on one batch: with the batch's boxes for detection models."""
    if cfg.DETECTION.ENABLE:
        return model(inputs, meta["boxes"])
    return model(inputs)


def autocast_context(cfg: CfgNode):
    """Autocast for TRAIN.MIXED_PRECISION (bf16 or fp16) on the job's device, else a null context."""
    if not cfg.TRAIN.MIXED_PRECISION:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if cfg.TRAIN.MIXED_PRECISION_DTYPE == "bfloat16" else torch.float16
    return torch.autocast(device_type="cuda" if cfg.NUM_GPUS > 0 else "cpu", dtype=dtype)


def build_tensorboard_writer(cfg: CfgNode, job: str):
    """A SummaryWriter under TENSORBOARD.LOG_DIR or OUTPUT_DIR/runs-<dataset> on the main rank, else None."""
    if not (cfg.TENSORBOARD.ENABLE and du.is_master_proc()):
        return None
    from torch.utils.tensorboard import SummaryWriter

    log_dir = cfg.TENSORBOARD.LOG_DIR or f"runs-{cfg.TRAIN.DATASET if job == 'train' else cfg.TEST.DATASET}"
    log_dir = os.path.join(cfg.OUTPUT_DIR, log_dir)
    logger.info("Tensorboard logs in %s", log_dir)
    return SummaryWriter(log_dir=log_dir)
