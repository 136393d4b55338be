"""Helpers of the checkpoint tests: tiny real models with PySlowFast's key names, and a writer of
Caffe2-style `.pkl` files (including Python 2 style pickles) built from an independent inverse of the
blob-name rules."""

import json
import pickle
import re
import struct
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Iterable, List, Mapping, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn

REPO = Path(__file__).resolve().parents[2]
LAYOUTS = REPO / "tests" / "data" / "checkpoint_layouts"


def read_layout(name: str) -> dict:
    """The released layout ("Kinetics/SLOWFAST_8x8_R50") from tests/data/checkpoint_layouts."""
    with open(LAYOUTS / f"{name}.json") as f:
        return json.load(f)


class _Block(nn.Module):
    """A bottleneck block with PySlowFast's names (branch1, branch1_bn, branch2.a ... c_bn)."""

    def __init__(self, dim_in: int, dim_out: int, inner: int, temp_kernel: int, norm: Callable[[int], nn.Module]):
        super().__init__()
        self.branch1 = nn.Conv3d(dim_in, dim_out, 1, bias=False)
        self.branch1_bn = norm(dim_out)
        self.branch2 = nn.Module()
        self.branch2.a = nn.Conv3d(dim_in, inner, (temp_kernel, 1, 1), padding=(temp_kernel // 2, 0, 0), bias=False)
        self.branch2.a_bn = norm(inner)
        self.branch2.b = nn.Conv3d(inner, inner, (1, 3, 3), padding=(0, 1, 1), bias=False)
        self.branch2.b_bn = norm(inner)
        self.branch2.c = nn.Conv3d(inner, dim_out, 1, bias=False)
        self.branch2.c_bn = norm(dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.branch2
        y = torch.relu(b.a_bn(b.a(x)))
        y = torch.relu(b.b_bn(b.b(y)))
        y = b.c_bn(b.c(y))
        return torch.relu(self.branch1_bn(self.branch1(x)) + y)


class TinyResNet(nn.Module):
    """A small single-pathway video ResNet with PySlowFast's state_dict names (s1.pathway0_stem.conv,
    s2.pathway0_res0.branch2.a_bn, head.projection ...)."""

    def __init__(
        self,
        num_classes: int = 4,
        *,
        stem_temp_kernel: int = 1,
        block_temp_kernel: int = 1,
        norm: Callable[[int], nn.Module] = nn.BatchNorm3d,
    ):
        super().__init__()
        self.s1 = nn.Module()
        self.s1.pathway0_stem = nn.Module()
        stem = self.s1.pathway0_stem
        stem.conv = nn.Conv3d(3, 8, (stem_temp_kernel, 3, 3), padding=(stem_temp_kernel // 2, 1, 1), bias=False)
        stem.bn = norm(8)
        self.s2 = nn.Module()
        self.s2.pathway0_res0 = _Block(8, 16, 4, block_temp_kernel, norm)
        self.s2.pathway0_res1 = _Block(16, 16, 4, block_temp_kernel, norm)
        self.head = nn.Module()
        self.head.projection = nn.Linear(16, num_classes)

    def forward(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        x = torch.relu(self.s1.pathway0_stem.bn(self.s1.pathway0_stem.conv(inputs[0])))
        x = self.s2.pathway0_res1(self.s2.pathway0_res0(x))
        return self.head.projection(x.mean(dim=(2, 3, 4)))


class TinyResNet2D(nn.Module):
    """The 2D (image) counterpart of TinyResNet: same names, Conv2d kernels, for inflation tests."""

    def __init__(self, num_classes: int = 4):
        super().__init__()
        ref = TinyResNet(num_classes)
        for key, value in ref.state_dict().items():
            *path, leaf = key.split(".")
            owner = self
            for part in path:
                if part not in owner._modules:
                    owner.add_module(part, nn.Module())
                owner = owner._modules[part]
            if value.ndim == 5:
                value = torch.randn(value.shape[0], value.shape[1], value.shape[3], value.shape[4])
            if key.endswith(("running_mean", "running_var", "num_batches_tracked")):
                owner.register_buffer(leaf, value.clone())
            else:
                owner.register_parameter(leaf, nn.Parameter(torch.randn_like(value.float()).to(value.dtype)))


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Fill every floating-point parameter and buffer with seeded random values (BN statistics too)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, tensor in list(model.named_parameters()) + list(model.named_buffers()):
            if tensor.is_floating_point():
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
    return model


def fill_distinct_(model: nn.Module) -> nn.Module:
    """Fill entry i of the state dict with i + position / size (fast; no two values alike), counters with 0."""
    with torch.no_grad():
        for index, tensor in enumerate(model.state_dict().values()):
            if tensor.is_floating_point():
                ramp = torch.arange(tensor.numel(), dtype=torch.float64) / max(tensor.numel(), 1)
                tensor.copy_((index + ramp).reshape(tensor.shape))
            else:
                tensor.zero_()
    return model


# ---- Caffe2 side: an independent inverse of the name rules, used to write test files ----

_PARAM_C2 = {"weight": "w", "bias": "b"}
_BN_C2 = {"weight": "s", "bias": "b", "running_mean": "rm", "running_var": "riv"}


def _last_fast_block(keys: Iterable[str], stage: int) -> int:
    blocks = [int(m.group(1)) for k in keys for m in [re.match(rf"s{stage}\.pathway1_res(\d+)\.", k)] if m]
    return max(blocks)


def caffe2_name_of(key: str, keys: Sequence[str]) -> Optional[str]:
    """The Caffe2 blob name of one of our keys (None for batch counters), written from the released naming."""
    *path, leaf = key.split(".")
    if leaf == "num_batches_tracked":
        return None
    if key.startswith("head.projection."):
        return "pred_" + _PARAM_C2[leaf]
    m = re.fullmatch(r"s(\d+)_fuse\.(conv_f2s|bn)", ".".join(path))
    if m:
        stage = int(m.group(1))
        base = (
            "t_pool1_subsample" if stage == 1 else f"t_res{stage}_{_last_fast_block(keys, stage)}_branch2c_bn_subsample"
        )
        return f"{base}_{_PARAM_C2[leaf]}" if m.group(2) == "conv_f2s" else f"{base}_bn_{_BN_C2[leaf]}"
    m = re.fullmatch(r"s(\d+)\.pathway(\d)_(\w+?)(\d*)", path[0] + "." + path[1])
    stage, pathway, kind, index = m.groups()
    prefix = "t_" if pathway == "1" else ""
    rest = path[2:]
    if kind == "stem":
        return f"{prefix}conv1_{_PARAM_C2[leaf]}" if rest == ["conv"] else f"{prefix}res_conv1_bn_{_BN_C2[leaf]}"
    if kind == "nonlocal":
        base = f"{prefix}nonlocal_conv{stage}_{index}"
        return f"{base}_bn_{_BN_C2[leaf]}" if rest == ["bn"] else f"{base}_{rest[0][len('conv_'):]}_{_PARAM_C2[leaf]}"
    base = f"{prefix}res{stage}_{index}"
    if rest == ["branch1"]:
        return f"{base}_branch1_{_PARAM_C2[leaf]}"
    if rest == ["branch1_bn"]:
        return f"{base}_branch1_bn_{_BN_C2[leaf]}"
    part = rest[1]
    if part.endswith("_bn"):
        return f"{base}_branch2{part[0]}_bn_{_BN_C2[leaf]}"
    return f"{base}_branch2{part}_{_PARAM_C2[leaf]}"


def caffe2_blobs_from_state_dict(
    state_dict: Mapping[str, torch.Tensor], *, momentum: bool = True
) -> "OrderedDict[str, np.ndarray]":
    """The Caffe2 blobs of a ResNet/SlowFast state dict, plus the solver blobs a real file has
    (a momentum blob per weight, or with `momentum` False just the first one; lr; model_iter)."""
    keys = list(state_dict)
    blobs: "OrderedDict[str, np.ndarray]" = OrderedDict()
    for key, value in state_dict.items():
        name = caffe2_name_of(key, keys)
        if name is None:
            continue
        blobs[name] = value.detach().cpu().numpy().copy()
        if name.endswith("_w") and (momentum or name == "conv1_w"):
            blobs[name + "_momentum"] = np.zeros(value.shape, dtype=np.float32)
    blobs["lr"] = np.asarray([0.1], dtype=np.float32)
    blobs["model_iter"] = np.asarray([1000], dtype=np.int64)
    return blobs


class Python2Pickler(pickle._Pickler):
    """Writes str and bytes as Python 2 byte strings (BINSTRING), as the released Caffe2 files were written,
    and names numpy's module numpy.core.multiarray as numpy < 2 did."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2_string(self, obj) -> None:
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = _save_py2_string
    dispatch[bytes] = _save_py2_string

    def save_global(self, obj, name=None) -> None:
        module = getattr(obj, "__module__", "")
        if module.startswith("numpy._core"):
            qualname = name or obj.__qualname__
            self.write(
                pickle.GLOBAL
                + ("numpy.core" + module[len("numpy._core") :]).encode()
                + b"\n"
                + qualname.encode()
                + b"\n"
            )
            self.memoize(obj)
            return
        super().save_global(obj, name)

    dispatch[type] = save_global


def write_caffe2_pkl(path: Path, blobs: Mapping[str, np.ndarray], *, python2: bool = False) -> Path:
    """Write {"blobs": blobs} as a released Caffe2 checkpoint (protocol 2; Python 2 style strings if asked)."""
    data = {"blobs": dict(blobs)}
    with open(path, "wb") as f:
        if python2:
            Python2Pickler(f, protocol=2).dump(data)
        else:
            pickle.dump(data, f, protocol=2)
    return path
