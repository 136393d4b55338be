"""Setting up a train, test or visualisation job in this process: RNG seeds, logging, CPU threads."""

import os
import random

import numpy as np
import torch
from fvcore.common.config import CfgNode

from slowfast.engine.placement import model_device
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
    logger.info("World size %d, rank %d, device %s", du.get_world_size(), du.get_rank(), model_device(cfg))


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
