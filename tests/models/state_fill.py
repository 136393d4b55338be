"""A deterministic state_dict fill that depends only on each entry's (key, shape, dtype).

Used to compare our models' outputs with numbers computed from the reference implementation
under the same fill (tests/data/reference_outputs/, see tests/data/README.md). Imports only
torch, so a throwaway script can load it next to the reference code.
"""

import math
import zlib
from typing import Dict, List, Sequence

import torch


def fill_value(key: str, shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
    """The tensor for one entry: uniform noise seeded by crc32(key), scaled by its role.

    Conv/linear weights get U(-1, 1) / sqrt(fan_in); BN weights 1 + 0.2 U, biases and running
    means 0.1 U, running variances 0.5 + U in [0, 1); integer entries are 0.
    """
    if not dtype.is_floating_point:
        return torch.zeros(tuple(shape), dtype=dtype)
    gen = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    u = torch.rand(tuple(shape), generator=gen, dtype=torch.float64)
    name = key.rsplit(".", 1)[-1]
    if name == "running_var":
        value = 0.5 + u
    elif name in ("bias", "running_mean"):
        value = 0.1 * (2 * u - 1)
    elif len(shape) <= 1:
        value = 1.0 + 0.2 * (2 * u - 1)
    else:
        value = (2 * u - 1) / math.sqrt(math.prod(shape[1:]))
    return value.to(dtype)


def fill_state_dict(model: torch.nn.Module) -> None:
    """Overwrite every state_dict entry of `model` with `fill_value` of its key, shape and dtype."""
    state = {k: fill_value(k, v.shape, v.dtype) for k, v in model.state_dict().items()}
    model.load_state_dict(state)


def clip_input(shape: Sequence[int], dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The fixed input clip: N(0, 1) from a generator seeded with 0."""
    gen = torch.Generator().manual_seed(0)
    return torch.randn(tuple(shape), generator=gen, dtype=torch.float64).to(dtype)


def output_summary(out: torch.Tensor) -> Dict[str, List[float]]:
    """A few numbers of the [N, classes] eval output: log of the first 8 scores per clip and a
    cosine-weighted sum over all classes per clip."""
    out = out.to(torch.float64)
    weights = torch.cos(torch.arange(out.shape[1], dtype=torch.float64))
    return {
        "log_first8": torch.log(out[:, :8]).flatten().tolist(),
        "weighted_sum": (out * weights).sum(1).tolist(),
    }
