"""Released Caffe2 `.pkl` checkpoints: a restricted unpickler and the blob-name -> state-dict-key rules.

A Caffe2 checkpoint is a pickled dict whose "blobs" entry maps blob names to numpy arrays. It is
read with an unpickler that can rebuild numpy arrays and plain containers and nothing else, so a
malicious file cannot run code while it is being read.

Name rules (`t_` prefix = Fast pathway, pathway1; no prefix = pathway0; `{p}`: w -> weight,
b -> bias; `{bn}`: s -> weight, b -> bias, rm -> running_mean, riv -> running_var):

    conv1_{p}, res_conv1_{p}                 s1.pathwayK_stem.conv.{p}
    res_conv1_bn_{bn}                        s1.pathwayK_stem.bn.{bn}
    resS_B_branch1_{p}                       sS.pathwayK_resB.branch1.{p}
    resS_B_branch1_bn_{bn}                   sS.pathwayK_resB.branch1_bn.{bn}
    resS_B_branch2X_{p}                      sS.pathwayK_resB.branch2.X.{p}        (X = a, b, c)
    resS_B_branch2X_bn_{bn}                  sS.pathwayK_resB.branch2.X_bn.{bn}
    nonlocal_convS_B_Y_{p}                   sS.pathwayK_nonlocalB.conv_Y.{p}      (Y = theta, phi, g, out)
    nonlocal_convS_B_bn_{bn}                 sS.pathwayK_nonlocalB.bn.{bn}
    t_pool1_subsample_{p}                    s1_fuse.conv_f2s.{p}                  (Fast -> Slow fusion)
    t_pool1_subsample_bn_{bn}                s1_fuse.bn.{bn}
    t_resS_B_branch2c_bn_subsample_{p}       sS_fuse.conv_f2s.{p}
    t_resS_B_branch2c_bn_subsample_bn_{bn}   sS_fuse.bn.{bn}
    pred_{p}                                 head.projection.{p}

A leading "gpu_N/" is dropped. Solver blobs (a `momentum` or `lr` name part, `model_iter`) are ignored.
"""

import contextlib
import os
import pickle
import re
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from slowfast.checkpoint.io import (
    UNSAFE_OPT_IN,
    CorruptCheckpointError,
    UnsafeCheckpointError,
    check_file,
)
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

_PARAM = {"w": "weight", "b": "bias"}
_BN = {"s": "weight", "b": "bias", "rm": "running_mean", "riv": "running_var"}
_P = r"(?P<p>w|b)"
_BNP = r"(?P<bn>s|b|rm|riv)"

# (pattern on the name without "t_", target with {pw} = pathway, {p}/{bn} = parameter, fast_only)
_RULES: List[Tuple["re.Pattern[str]", str, bool]] = [
    (re.compile(rf"pool1_subsample_bn_{_BNP}"), "s1_fuse.bn.{bn}", True),
    (re.compile(rf"pool1_subsample_{_P}"), "s1_fuse.conv_f2s.{p}", True),
    (re.compile(rf"res(?P<s>\d+)_\d+_branch2c_bn_subsample_bn_{_BNP}"), "s{s}_fuse.bn.{bn}", True),
    (re.compile(rf"res(?P<s>\d+)_\d+_branch2c_bn_subsample_{_P}"), "s{s}_fuse.conv_f2s.{p}", True),
    (re.compile(rf"(?:res_)?conv1_{_P}"), "s1.{pw}_stem.conv.{p}", False),
    (re.compile(rf"res_conv1_bn_{_BNP}"), "s1.{pw}_stem.bn.{bn}", False),
    (re.compile(rf"res(?P<s>\d+)_(?P<b>\d+)_branch1_{_P}"), "s{s}.{pw}_res{b}.branch1.{p}", False),
    (re.compile(rf"res(?P<s>\d+)_(?P<b>\d+)_branch1_bn_{_BNP}"), "s{s}.{pw}_res{b}.branch1_bn.{bn}", False),
    (re.compile(rf"res(?P<s>\d+)_(?P<b>\d+)_branch2(?P<x>[a-z])_{_P}"), "s{s}.{pw}_res{b}.branch2.{x}.{p}", False),
    (
        re.compile(rf"res(?P<s>\d+)_(?P<b>\d+)_branch2(?P<x>[a-z])_bn_{_BNP}"),
        "s{s}.{pw}_res{b}.branch2.{x}_bn.{bn}",
        False,
    ),
    (
        re.compile(rf"nonlocal_conv(?P<s>\d+)_(?P<b>\d+)_(?P<y>theta|phi|g|out)_{_P}"),
        "s{s}.{pw}_nonlocal{b}.conv_{y}.{p}",
        False,
    ),
    (re.compile(rf"nonlocal_conv(?P<s>\d+)_(?P<b>\d+)_bn_{_BNP}"), "s{s}.{pw}_nonlocal{b}.bn.{bn}", False),
]
_HEAD = re.compile(rf"pred_{_P}")
_GPU_PREFIX = re.compile(r"^gpu_\d+/")


def convert_caffe2_name(name: str) -> Optional[str]:
    """Our state-dict key for Caffe2 blob `name`, or None when no rule applies."""
    name = _GPU_PREFIX.sub("", name)
    head = _HEAD.fullmatch(name)
    if head:
        return f"head.projection.{_PARAM[head['p']]}"
    fast = name.startswith("t_")
    core = name[2:] if fast else name
    for pattern, target, fast_only in _RULES:
        m = pattern.fullmatch(core)
        if m is None or (fast_only and not fast):
            continue
        parts = m.groupdict()
        if parts.get("p"):
            parts["p"] = _PARAM[parts["p"]]
        if parts.get("bn"):
            parts["bn"] = _BN[parts["bn"]]
        return target.format(pw="pathway1" if fast else "pathway0", **parts)
    return None


def is_solver_blob(name: str) -> bool:
    """True for optimizer bookkeeping blobs (momentum buffers, learning rate, iteration counter)."""
    tokens = _GPU_PREFIX.sub("", name).split("_")
    return "momentum" in tokens or "lr" in tokens or name.endswith("model_iter") or name in ("iter", "lr")


def _latin1_encode(text: Any, encoding: str = "utf-8") -> bytes:
    """What Python 3 protocol-2 pickles use to store bytes: `_codecs.encode(text, "latin1")`, nothing else."""
    if not isinstance(text, str) or encoding.lower().replace("-", "") not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return text.encode("latin1")


def _numpy_module(name: str) -> Any:
    """numpy's `_core` module, also when a pickle names it by its numpy < 2 name `numpy.core`."""
    import importlib

    if name.startswith("numpy.core"):
        with contextlib.suppress(ImportError):
            return importlib.import_module("numpy._core" + name[len("numpy.core") :])
    return importlib.import_module(name)


def _allowed_globals() -> Dict[Tuple[str, str], Callable[[], Any]]:
    return {
        ("numpy.core.multiarray", "_reconstruct"): lambda: _numpy_module("numpy.core.multiarray")._reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): lambda: _numpy_module("numpy._core.multiarray")._reconstruct,
        ("numpy.core.multiarray", "scalar"): lambda: _numpy_module("numpy.core.multiarray").scalar,
        ("numpy._core.multiarray", "scalar"): lambda: _numpy_module("numpy._core.multiarray").scalar,
        ("numpy.core.numeric", "_frombuffer"): lambda: _numpy_module("numpy.core.numeric")._frombuffer,
        ("numpy._core.numeric", "_frombuffer"): lambda: _numpy_module("numpy._core.numeric")._frombuffer,
        ("numpy", "ndarray"): lambda: np.ndarray,
        ("numpy", "dtype"): lambda: np.dtype,
        ("collections", "OrderedDict"): lambda: OrderedDict,
        ("_codecs", "encode"): lambda: _latin1_encode,
    }


class RefusedGlobalError(pickle.UnpicklingError):
    """A pickle referenced a global outside the allow-list."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"global {module}.{name} is not allowed")
        self.qualname = f"{module}.{name}"


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, numpy scalars and plain containers only; any other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        factory = _allowed_globals().get((module, name))
        if factory is None:
            raise RefusedGlobalError(module, name)
        return factory()


def _read_pickle(path: str, allow_unsafe: bool) -> Any:
    size = check_file(path)
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f, encoding="latin1").load()
    except RefusedGlobalError as e:
        if not allow_unsafe:
            raise UnsafeCheckpointError(
                f"Refusing to load Caffe2 checkpoint {path}: it references {e.qualname}, and a Caffe2 "
                f"checkpoint should hold only numpy arrays and plain containers. {UNSAFE_OPT_IN}"
            ) from e
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise CorruptCheckpointError(
            f"Caffe2 checkpoint {path} ({size} bytes) is truncated or corrupt: {type(e).__name__}: {e}"
        ) from e
    logger.warning("Loading %s with full unpickling (allow_unsafe=True): only do this for trusted files.", path)
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


def load_caffe2_blobs(path: str, *, allow_unsafe: bool = False) -> "OrderedDict[str, np.ndarray]":
    """The blobs of a Caffe2 `.pkl` checkpoint (a dict with "blobs", or a bare dict of arrays).

    Raises:
        CheckpointNotFoundError, CorruptCheckpointError, UnsafeCheckpointError.
    """
    data = _read_pickle(path, allow_unsafe)
    blobs = data.get("blobs", data) if isinstance(data, dict) else None
    if not isinstance(blobs, dict):
        raise CorruptCheckpointError(
            f"Caffe2 checkpoint {path} is not a dict with a 'blobs' entry (got {type(data).__name__})."
        )
    out: "OrderedDict[str, np.ndarray]" = OrderedDict()
    for name, value in blobs.items():
        if isinstance(name, bytes):
            name = name.decode("latin1")
        if isinstance(value, (np.ndarray, np.generic, int, float)):
            out[str(name)] = np.asarray(value)
        else:
            logger.warning(
                "Caffe2 checkpoint %s: blob %s is a %s, not an array; ignored.", path, name, type(value).__name__
            )
    if not out:
        raise CorruptCheckpointError(f"Caffe2 checkpoint {path} holds no array blobs.")
    return out


def caffe2_to_state_dict(
    blobs: Dict[str, np.ndarray],
) -> Tuple["OrderedDict[str, torch.Tensor]", Dict[str, str], List[str]]:
    """Convert blobs to tensors under our key names.

    Returns:
        state_dict: converted entries, plus unconvertible blobs under their own names (so that
            matching reports them as unused); source_names: our key -> blob name; ignored: solver blobs.
    """
    state_dict: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    source_names: Dict[str, str] = {}
    ignored: List[str] = []
    for name, array in blobs.items():
        if is_solver_blob(name):
            ignored.append(name)
            continue
        key = convert_caffe2_name(name) or name
        if key in state_dict:
            logger.warning("Caffe2 blobs %s and %s both map to %s; keeping the first.", source_names[key], name, key)
            continue
        state_dict[key] = torch.tensor(np.ascontiguousarray(array))
        source_names[key] = name
    return state_dict, source_names, ignored


def is_caffe2_path(path: str) -> bool:
    """True for a `.pkl` file name (the released Caffe2 checkpoints)."""
    return os.path.splitext(path)[1].lower() == ".pkl"
