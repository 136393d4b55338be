"""DataLoader construction: batch size per process, distributed sampling, per-epoch shuffling."""

import multiprocessing
import signal
from typing import Optional

import torch
from fvcore.common.config import CfgNode
from torch.utils.data import DataLoader, Dataset, RandomSampler
from torch.utils.data.distributed import DistributedSampler

from slowfast.datasets.build import build_dataset
from slowfast.datasets.short_cycle import ShortCycleBatchSampler
from slowfast.utils import distributed as du


def _per_process(total: int, world: int, what: str) -> int:
    if total % world:
        raise ValueError(f"{what} ({total}) must be divisible by the number of processes ({world})")
    return total // world


def _ignore_stop_signals(worker_id: int) -> None:
    """Loader workers ignore SIGTERM/SIGUSR1 (a cluster signals every process of a job): the main
    process finishes its iteration and checkpoints (slowfast.engine.preemption), then stops them."""
    for sig in (signal.SIGTERM, signal.SIGUSR1):
        signal.signal(sig, signal.SIG_IGN)


def stop_loader_workers() -> int:
    """Kill this process's loader workers (its daemonic child processes); returns how many.

    For a job that fails: the workers ignore SIGTERM, which is what multiprocessing sends its
    daemonic children at interpreter exit, so a process whose loop raised while a loader
    iterator was still alive (held by the traceback) would wait on them forever.
    """
    workers = [p for p in multiprocessing.active_children() if p.daemon]
    if workers and hasattr(signal, "SIGCHLD"):
        # torch's SIGCHLD handler would turn these deaths into a new error that hides the job's own.
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for process in workers:
        process.kill()
    for process in workers:
        process.join(timeout=10)
    return len(workers)


def construct_loader(
    cfg: CfgNode, split: str, is_precise_bn: bool = False, dataset: Optional[Dataset] = None
) -> DataLoader:
    """Build the DataLoader of ``split`` ("train", "val" or "test").

    TRAIN.BATCH_SIZE and TEST.BATCH_SIZE are totals over all processes of the
    job and count clips. A test item holds every view of one video, so a test
    batch holds ``max(1, clips_per_process // (NUM_ENSEMBLE_VIEWS * NUM_SPATIAL_CROPS))``
    videos, i.e. about as many clips as the reference puts in one batch. With
    more than one process a DistributedSampler splits the data (call
    ``shuffle_dataset`` every epoch); training shuffles and drops the last
    incomplete batch. With MULTIGRID.SHORT_CYCLE the training loader (not the
    ``is_precise_bn`` one) batches with ``ShortCycleBatchSampler``: the batch
    size and crop change from iteration to iteration. ``is_precise_bn`` builds a
    training loader for re-estimating BN statistics. ``dataset`` replaces the registered one
    (benchmarks use it to compare decoding strategies).
    """
    if split not in ("train", "val", "test"):
        raise ValueError(f"Unknown split '{split}'")
    world = du.get_world_size()
    if split in ("train", "val"):
        name = cfg.TRAIN.DATASET
        batch_size = _per_process(cfg.TRAIN.BATCH_SIZE, world, "TRAIN.BATCH_SIZE")
        shuffle = split == "train"
        drop_last = split == "train"
    else:
        name = cfg.TEST.DATASET
        clips = _per_process(cfg.TEST.BATCH_SIZE, world, "TEST.BATCH_SIZE")
        # A detection item is one keyframe clip; a classification item holds every view of a video.
        views = 1 if cfg.DETECTION.ENABLE else cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS
        batch_size = max(1, clips // views)
        shuffle = False
        drop_last = False
    if dataset is None:
        dataset = build_dataset(name, cfg, split)
    sampler = DistributedSampler(dataset, shuffle=shuffle) if world > 1 else None
    num_workers = cfg.DATA_LOADER.NUM_WORKERS
    if split == "train" and cfg.MULTIGRID.SHORT_CYCLE and not is_precise_bn:
        batch_sampler = ShortCycleBatchSampler(
            sampler if sampler is not None else RandomSampler(dataset), batch_size, drop_last, cfg
        )
        batching = {"batch_sampler": batch_sampler}
    else:
        batch_sampler = None
        batching = {"batch_size": batch_size, "shuffle": shuffle and sampler is None, "sampler": sampler,
                    "drop_last": drop_last}
    loader = DataLoader(
        dataset,
        **batching,
        num_workers=num_workers,
        pin_memory=bool(cfg.DATA_LOADER.PIN_MEMORY) and torch.cuda.is_available(),
        collate_fn=getattr(dataset, "collate_fn", None),
        persistent_workers=False,
        worker_init_fn=_ignore_stop_signals if num_workers > 0 else None,
    )
    if drop_last and len(loader) == 0:
        # Training drops the last incomplete batch: every epoch would run no iteration at all.
        scaled = " (scaled up by the MULTIGRID short cycle)" if batch_sampler is not None else ""
        raise ValueError(
            f"The {name} {split} split has {len(sampler) if sampler is not None else len(dataset)} items on this "
            f"process, too few for one full batch of {batch_size}{scaled} (TRAIN.BATCH_SIZE "
            f"{cfg.TRAIN.BATCH_SIZE} over {world} processes): an epoch would train on nothing. "
            "Lower TRAIN.BATCH_SIZE or add data."
        )
    return loader


def shuffle_dataset(loader: DataLoader, cur_epoch: int) -> None:
    """Tell the loader's DistributedSampler which epoch starts, so each epoch gets a new order."""
    sampler = loader.batch_sampler.sampler if loader.batch_sampler is not None else loader.sampler
    if isinstance(sampler, DistributedSampler):
        sampler.set_epoch(cur_epoch)
