"""Preemption-safe training: stop on SIGTERM/SIGUSR1 after the current iteration with a mid-epoch
checkpoint, save every TRAIN.CHECKPOINT_PERIOD_ITERS iterations, keep the newest TRAIN.CHECKPOINT_KEEP.

A mid-epoch checkpoint stores, per rank, the random states at the start of the epoch (they fix the
sampler's order and the loader workers' seeds, both drawn when the epoch's iterator is created)
and at the iteration boundary (dropout and the other main-process streams). Resuming recreates the
epoch's iterator from the first, draws and discards the batches already trained on (so that each
worker's augmentation stream is where it was), then continues from the second.
"""

import os
import signal
from typing import Any, Dict, Iterator, List, Optional, Tuple

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
from fvcore.common.config import CfgNode

import slowfast.checkpoint as cu
from slowfast.utils import distributed as du
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

# The exit status of a preempted run: 128 + SIGTERM, what a shell reports for a job killed by SIGTERM.
PREEMPTED_EXIT_CODE = 143
SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class TrainingPreempted(SystemExit):
    """Raised on every rank once the preemption checkpoint is written; exits with PREEMPTED_EXIT_CODE."""

    def __init__(self, path: Optional[str]) -> None:
        super().__init__(PREEMPTED_EXIT_CODE)
        self.path = path


def _gather(obj: Any) -> List[Any]:
    if du.get_world_size() == 1:
        return [obj]
    out: List[Any] = [None] * du.get_world_size()
    dist.all_gather_object(out, obj)
    return out


class PreemptionGuard:
    """Per-job state of the stop-and-save logic; `train_epoch` drives it through `batches` and `after_iter`."""

    def __init__(self, cfg: CfgNode, start: cu.TrainStart) -> None:
        self.cfg = cfg
        self.period = int(cfg.TRAIN.CHECKPOINT_PERIOD_ITERS)
        self.keep = int(cfg.TRAIN.CHECKPOINT_KEEP)
        self._signal: Optional[int] = None
        self._previous: Dict[int, Any] = {}
        self._epoch_rng: Optional[Dict[str, Any]] = None
        self._iterator: Any = None
        self._resume_epoch = start.start_epoch if start.start_iter > 0 else None
        self._resume_iter = start.start_iter
        extra = start.extra or {}
        rank = du.get_rank()
        self._resume_epoch_rng = _of_rank(extra.get("epoch_rng_states"), rank)
        self._resume_rng = _of_rank(extra.get("rng_states"), rank)
        if self._resume_epoch is not None and self._resume_epoch_rng is None:
            raise cu.CorruptCheckpointError(
                f"{start.path} is a mid-epoch checkpoint without 'epoch_rng_states'; it cannot be resumed exactly."
            )

    def install(self) -> None:
        """Catch SIGTERM and SIGUSR1: note them and stop after the current iteration."""
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self._note)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _note(self, signum: int, frame) -> None:
        if self._signal is None:
            logger.warning("Received %s: stopping after this iteration with a checkpoint.", signal.Signals(signum).name)
        self._signal = signum

    def batches(self, loader, cur_epoch: int) -> Iterator[Tuple[int, Any]]:
        """(iteration, batch) of epoch `cur_epoch`, continuing a mid-epoch checkpoint where it stopped."""
        skip = self._resume_iter if cur_epoch == self._resume_epoch else 0
        if skip:
            cu.set_rng_state(self._resume_epoch_rng)
        self._epoch_rng = cu.get_rng_state()
        it = iter(loader)
        self._iterator = it
        for _ in range(skip):
            next(it)
        if skip:
            cu.set_rng_state(self._resume_rng)
            logger.info("Epoch %d continues at iteration %d (%d batches replayed untrained).", cur_epoch + 1, skip + 1, skip)
            self._resume_epoch = None
        yield from enumerate(it, start=skip)

    def after_iter(self, model: nn.Module, optimizer, scaler, cur_epoch: int, cur_iter: int, epoch_iters: int) -> None:
        """Save every CHECKPOINT_PERIOD_ITERS iterations; on a caught signal (on any rank) save and stop."""
        stop = torch.tensor([1.0 if self._signal is not None else 0.0])
        if du.get_world_size() > 1:
            du.all_reduce([stop], average=False)
        done = cur_iter + 1
        stopping = bool(stop.item() > 0)
        periodic = self.period > 0 and done % self.period == 0 and done < epoch_iters
        if not (stopping or periodic):
            return
        path = self.save(model, optimizer, scaler, cur_epoch, done)
        if stopping:
            # Stop the loader workers now: they ignore the cluster's SIGTERM, so exiting with them alive
            # would wait on them.
            shutdown = getattr(self._iterator, "_shutdown_workers", None)
            if callable(shutdown):
                shutdown()
            du.synchronize()
            logger.warning("Preempted at epoch %d, iteration %d; exiting with status %d.", cur_epoch + 1, done, PREEMPTED_EXIT_CODE)
            raise TrainingPreempted(path)

    def save(self, model: nn.Module, optimizer, scaler, cur_epoch: int, done: int) -> Optional[str]:
        """A mid-epoch checkpoint after `done` iterations of `cur_epoch` (collective: every rank calls it)."""
        states = _gather({"now": cu.get_rng_state(), "epoch": self._epoch_rng})
        batch = self.cfg.TRAIN.BATCH_SIZE // du.get_world_size()
        extra = {
            "rng_states": [s["now"] for s in states],
            "epoch_rng_states": [s["epoch"] for s in states],
            "samples_seen": done * batch,
        }
        path = cu.save_checkpoint(self.cfg.OUTPUT_DIR, model, optimizer, cur_epoch, self.cfg, scaler=scaler,
                                  iteration=done, extra=extra)
        self.prune()
        return path

    def prune(self) -> None:
        """Delete all but the newest TRAIN.CHECKPOINT_KEEP checkpoints (0: keep all); main process only."""
        if self.keep <= 0 or not du.is_master_proc():
            return
        found = cu.list_checkpoints(self.cfg.OUTPUT_DIR, str(getattr(self.cfg, "TASK", "") or ""))
        for _, _, path in found[: -self.keep]:
            os.remove(path)
            logger.info("Removed old checkpoint %s (TRAIN.CHECKPOINT_KEEP %d).", path, self.keep)


def _of_rank(states: Optional[List[Any]], rank: int) -> Optional[Any]:
    if not states:
        return None
    return states[min(rank, len(states) - 1)]


def join_forwarding_signals(context) -> None:
    """Wait for the workers of `torch.multiprocessing.start_processes(join=False)`, passing SIGTERM and
    SIGUSR1 on to them, and exit with PREEMPTED_EXIT_CODE when a worker did (a preempted job)."""

    def forward(signum: int, frame) -> None:
        for process in context.processes:
            if process.is_alive():
                os.kill(process.pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in SIGNALS}
    try:
        while not context.join():
            pass
    except mp.ProcessExitedException as e:
        if e.exit_code == PREEMPTED_EXIT_CODE:
            raise TrainingPreempted(None) from None
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
