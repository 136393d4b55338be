"""Small helpers over torch.distributed that also work when it is not initialised (one process)."""

from typing import List, Sequence

import torch
import torch.distributed as dist


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def get_rank() -> int:
    return dist.get_rank() if is_initialized() else 0


def get_local_rank() -> int:
    """Rank of this process on its machine (set by the launcher in LOCAL_RANK)."""
    import os

    return int(os.environ.get("LOCAL_RANK", get_rank()))


def is_master_proc(num_gpus: int = 8) -> bool:
    """True on the process that logs and writes files (global rank 0)."""
    return get_rank() == 0


def synchronize() -> None:
    """Barrier over all processes; a no-op in one process."""
    if get_world_size() > 1:
        dist.barrier()


def all_reduce(tensors: Sequence[torch.Tensor], average: bool = True) -> List[torch.Tensor]:
    """Sum (or average) each tensor over all processes, in place; returns the tensors."""
    if get_world_size() == 1:
        return list(tensors)
    for t in tensors:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    if average:
        world = get_world_size()
        for t in tensors:
            t.div_(world)
    return list(tensors)


def all_gather(tensors: Sequence[torch.Tensor]) -> List[torch.Tensor]:
    """Concatenate each tensor along dim 0 over all processes (same shape on every rank)."""
    world = get_world_size()
    if world == 1:
        return list(tensors)
    out = []
    for t in tensors:
        parts = [torch.empty_like(t) for _ in range(world)]
        dist.all_gather(parts, t.contiguous())
        out.append(torch.cat(parts, dim=0))
    return out


def all_gather_variable(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate along dim 0 tensors whose first dimension differs between processes."""
    world = get_world_size()
    if world == 1:
        return tensor
    size = torch.tensor([tensor.shape[0]], device=tensor.device)
    sizes = all_gather([size])[0].tolist()
    padded = torch.zeros((max(sizes),) + tuple(tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device)
    padded[: tensor.shape[0]] = tensor
    gathered = all_gather([padded])[0].split(max(sizes))
    return torch.cat([g[:n] for g, n in zip(gathered, sizes)], dim=0)


def replica_checksums(module: torch.nn.Module) -> torch.Tensor:
    """Per-tensor sums and absolute sums of every parameter and buffer, in float64."""
    values = []
    for t in list(module.parameters()) + list(module.buffers()):
        t = t.detach().double()
        values.append(t.sum())
        values.append(t.abs().sum())
    return torch.stack(values) if values else torch.zeros(1, dtype=torch.float64)


def assert_replicas_in_sync(module: torch.nn.Module) -> float:
    """Check that every process holds the same weights; returns the largest checksum difference.

    Data-parallel replicas must stay identical; a difference means a bug such as an
    unsynchronised buffer, and is raised rather than saved into a checkpoint.
    """
    local = replica_checksums(module)
    if get_world_size() == 1:
        return 0.0
    if dist.get_backend() == "nccl":
        local = local.cuda()
    gathered = all_gather([local.unsqueeze(0)])[0]
    diff = float((gathered - gathered[0:1]).abs().max())
    if diff != 0.0:
        raise RuntimeError(f"Model replicas differ across {get_world_size()} processes (max checksum difference {diff}).")
    return diff
