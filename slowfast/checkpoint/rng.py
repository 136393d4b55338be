"""Random-number-generator states as tensors and plain types, so that they survive weights-only loading."""

import random
from typing import Any, Dict, List

import numpy as np
import torch
import torch.distributed as dist

from slowfast.utils import distributed as du


def get_rng_state() -> Dict[str, Any]:
    """This process's Python, NumPy (global), torch CPU and (if initialised) CUDA generator states."""
    version, internal, gauss = random.getstate()
    bit_generator, key, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: Dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": {
            "bit_generator": str(bit_generator),
            "key": torch.from_numpy(key.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restore generator states saved by `get_rng_state` (parts that are absent are left alone)."""
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((int(version), tuple(int(x) for x in internal), gauss))
    if "numpy" in state:
        s = state["numpy"]
        key = torch.as_tensor(s["key"]).numpy().astype(np.uint32)
        np.random.set_state((s["bit_generator"], key, int(s["pos"]), int(s["has_gauss"]), float(s["cached_gaussian"])))
    if "torch" in state:
        torch.set_rng_state(torch.as_tensor(state["torch"], dtype=torch.uint8).cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([torch.as_tensor(s, dtype=torch.uint8) for s in cuda_states])
        elif cuda_states:
            torch.cuda.set_rng_state(torch.as_tensor(cuda_states[0], dtype=torch.uint8))


def gather_rng_states() -> List[Dict[str, Any]]:
    """Every process's `get_rng_state()`, indexed by rank (a collective call: all ranks must make it)."""
    state = get_rng_state()
    if du.get_world_size() == 1:
        return [state]
    states: List[Any] = [None] * du.get_world_size()
    dist.all_gather_object(states, state)
    return states
