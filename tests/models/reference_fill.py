"""A state_dict fill that depends only on each entry's (key, shape, dtype), and a fixed input clip.

Our models and the reference implementation filled this way must give the same outputs; the
reference's are stored under tests/data/reference_outputs/ (see tests/data/README.md). Pure
torch, so a throwaway script that imports the reference can use it too.
"""

import math
import zlib

import torch
import torch.nn as nn


def fill_value(key: str, shape, dtype: torch.dtype) -> torch.Tensor:
    """Gaussian values seeded by crc32(key), scaled so activations stay of order one."""
    gen = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    values = torch.randn(tuple(shape), generator=gen, dtype=torch.float64)
    leaf = key.rsplit(".", 1)[-1]
    if "pos" in leaf or leaf == "cls_token":
        values = 0.5 * values
    elif len(shape) >= 2:
        values = values / math.sqrt(math.prod(shape[1:]))
    elif "norm" in key and leaf == "weight":
        values = 1.0 + 0.1 * values
    else:
        values = 0.1 * values
    return values.to(dtype)


def fill_state_dict(model: nn.Module) -> None:
    """Overwrite every floating-point entry of `model.state_dict()` with `fill_value`."""
    with torch.no_grad():
        for key, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(fill_value(key, tensor.shape, tensor.dtype))


def clip(frames: int, crop: int = 64, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The fixed input: one (1, 3, frames, crop, crop) clip of seeded Gaussian noise."""
    gen = torch.Generator().manual_seed(0)
    return torch.randn(1, 3, frames, crop, crop, generator=gen, dtype=torch.float64).to(dtype)
