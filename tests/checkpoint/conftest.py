"""Fixtures of the checkpoint tests, and modules built from the released checkpoint layouts: every
parameter and buffer registered under the exact dotted name, shape and dtype of a layout JSON."""

import json
from pathlib import Path
from typing import Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pytest
import torch
import torch.nn as nn

from checkpoint_testutils import LAYOUTS, read_layout
from slowfast.config.defaults import get_cfg

REPO = Path(__file__).resolve().parents[2]
RESNET_FAMILY = ("ResNet", "SlowFast")


def layout_names(model_classes: Sequence[str] = RESNET_FAMILY) -> List[str]:
    """Layout names ("Kinetics/SLOWFAST_8x8_R50") of the given model classes."""
    names = []
    for path in sorted(LAYOUTS.rglob("*.json")):
        with open(path) as f:
            if json.load(f)["model_class"] in model_classes:
                names.append(str(path.relative_to(LAYOUTS).with_suffix("")))
    return names


def _fill(shape: Tuple[int, ...], dtype: torch.dtype, fill: str, gen: torch.Generator, index: int) -> torch.Tensor:
    """Seeded random values; or zeros; or "distinct": entry index + position / size (fast, and no two
    entries or positions share a value, so a misplaced or transposed tensor is caught)."""
    if fill == "zeros":
        return torch.zeros(shape, dtype=dtype)
    if not dtype.is_floating_point:
        return torch.randint(0, 100, shape, generator=gen, dtype=dtype)
    if fill == "distinct":
        numel = max(1, int(np.prod(shape)))
        return (index + torch.arange(numel, dtype=torch.float64) / numel).to(dtype).reshape(shape)
    return torch.randn(shape, generator=gen, dtype=dtype)


class LayoutModule(nn.Module):
    """A module whose state_dict has exactly the given keys, shapes and dtypes (parameters and buffers
    registered under the dotted names), filled as `fill` says ("random", "zeros", "distinct"). It has no forward."""

    def __init__(
        self,
        entries: Iterable[Tuple[str, Sequence[int], str]],
        buffers: Iterable[str] = (),
        seed: int = 0,
        fill: str = "random",
    ):
        super().__init__()
        buffers = set(buffers)
        gen = torch.Generator().manual_seed(seed)
        for index, (key, shape, dtype) in enumerate(entries):
            *path, leaf = key.split(".")
            owner = self
            for part in path:
                if part not in owner._modules:
                    owner.add_module(part, nn.Module())
                owner = owner._modules[part]
            value = _fill(tuple(shape), getattr(torch, dtype), fill, gen, index)
            if key in buffers:
                owner.register_buffer(leaf, value)
            else:
                owner.register_parameter(leaf, nn.Parameter(value))


def layout_module(
    name: str, *, shapes: Optional[Mapping[str, Sequence[int]]] = None, seed: int = 0, fill: str = "random"
) -> LayoutModule:
    """A LayoutModule for the released layout `name`, with some shapes replaced (`shapes`)."""
    layout = read_layout(name)
    shapes = shapes or {}
    entries = [(e["key"], shapes.get(e["key"], e["shape"]), e["dtype"]) for e in layout["state_dict"]]
    return LayoutModule(entries, layout["buffers"], seed=seed, fill=fill)


class Layouts:
    """The `layouts` fixture: read layouts and build LayoutModules from them (or from explicit entries)."""

    names = staticmethod(layout_names)
    read = staticmethod(read_layout)
    module = staticmethod(layout_module)

    @staticmethod
    def from_entries(
        entries: Iterable[Tuple[str, Sequence[int], str]], buffers: Iterable[str] = (), **kwargs
    ) -> LayoutModule:
        return LayoutModule(entries, buffers, **kwargs)


@pytest.fixture
def layouts() -> Layouts:
    return Layouts()


def pytest_generate_tests(metafunc) -> None:
    """A test taking `resnet_layout` runs once per released ResNet/SlowFast layout."""
    if "resnet_layout" in metafunc.fixturenames:
        metafunc.parametrize("resnet_layout", layout_names())


@pytest.fixture
def cfg(tmp_path):
    """Default config on the CPU, OUTPUT_DIR in a temporary folder."""
    c = get_cfg()
    c.NUM_GPUS = 0
    c.OUTPUT_DIR = str(tmp_path / "job")
    c.SOLVER.MAX_EPOCH = 10
    return c


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny models run faster on one thread than on two cores shared with other jobs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
