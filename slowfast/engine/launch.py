"""Process launch: one process per GPU (or CPU worker) on each of NUM_SHARDS machines.

Three ways in:
  * one process per machine started by us: `--init_method tcp://HOST:PORT --num_shards N --shard_id K`,
    spawning NUM_GPUS (or NUM_CPU_PROCESSES) workers here;
  * torchrun or SLURM started every process already: `--init_method env://`, ranks read from
    the environment (RANK/WORLD_SIZE/LOCAL_RANK, or SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID);
  * a single process (NUM_GPUS <= 1, one shard): no process group at all.
A worker that raises makes the whole job fail with that worker's traceback: the spawning
context terminates the other workers instead of leaving them blocked in a collective.
"""

import datetime
import os
import socket
from typing import Callable, Optional

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from fvcore.common.config import CfgNode

from slowfast.config.validation import dist_backend_of, procs_per_node, world_size_of
from slowfast.engine.placement import check_devices

# How long a collective may wait for a missing peer before the job fails instead of hanging.
_TIMEOUT = datetime.timedelta(minutes=int(os.environ.get("SLOWFAST_DIST_TIMEOUT_MIN", "30")))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env_ranks() -> Optional[tuple]:
    """(rank, world_size, local_rank) from torchrun's or SLURM's variables, if present."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))
    if "SLURM_PROCID" in os.environ and "SLURM_NTASKS" in os.environ:
        return int(os.environ["SLURM_PROCID"]), int(os.environ["SLURM_NTASKS"]), int(os.environ.get("SLURM_LOCALID", 0))
    return None


def _worker(
    local_rank: int,
    func: Callable[[CfgNode], None],
    init_method: str,
    rank: int,
    world_size: int,
    cfg: CfgNode,
) -> None:
    os.environ["LOCAL_RANK"] = str(local_rank)
    os.environ.setdefault("LOCAL_WORLD_SIZE", str(procs_per_node(cfg)))
    if cfg.NUM_GPUS > 0:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(
        backend=dist_backend_of(cfg), init_method=init_method, world_size=world_size, rank=rank, timeout=_TIMEOUT
    )
    try:
        func(cfg)
    finally:
        dist.destroy_process_group()


def _spawned(local_rank: int, func, init_method: str, shard_id: int, world_size: int, cfg: CfgNode) -> None:
    rank = shard_id * procs_per_node(cfg) + local_rank
    _worker(local_rank, func, init_method, rank, world_size, cfg)


def launch_job(cfg: CfgNode, init_method: Optional[str], func: Callable[[CfgNode], None]) -> None:
    """Run `func(cfg)` in every process of the job, setting up torch.distributed around it."""
    check_devices(cfg)
    if init_method == "env://":
        ranks = _env_ranks()
        if ranks is None:
            raise RuntimeError(
                "--init_method env:// needs RANK and WORLD_SIZE (torchrun) or SLURM_PROCID and SLURM_NTASKS, "
                "plus MASTER_ADDR and MASTER_PORT, in the environment."
            )
        rank, world_size, local_rank = ranks
        os.environ.setdefault("RANK", str(rank))
        os.environ.setdefault("WORLD_SIZE", str(world_size))
        _worker(local_rank, func, init_method, rank, world_size, cfg)
        return

    per_node = procs_per_node(cfg)
    world_size = world_size_of(cfg)
    if world_size == 1:
        func(cfg)
        return
    if init_method is None:
        if cfg.NUM_SHARDS > 1:
            raise RuntimeError(
                f"NUM_SHARDS is {cfg.NUM_SHARDS}: give every machine the same --init_method tcp://HOST:PORT "
                "naming the machine of shard 0."
            )
        init_method = f"tcp://127.0.0.1:{cfg.DIST_PORT or _free_port()}"
    if per_node == 1:
        _worker(0, func, init_method, cfg.SHARD_ID, world_size, cfg)
        return
    context = mp.start_processes(
        _spawned,
        args=(func, init_method, cfg.SHARD_ID, world_size, cfg),
        nprocs=per_node,
        join=False,
        start_method="spawn",
    )
    from slowfast.engine.preemption import join_forwarding_signals

    join_forwarding_signals(context)
