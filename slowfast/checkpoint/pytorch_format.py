"""The `.pyth` format: a dict with "epoch", "model_state", "optimizer_state", "cfg" (YAML text), "scaler_state"."""

from collections import OrderedDict
from typing import Any, Dict

import numpy as np
import torch

from slowfast.checkpoint.caffe2 import is_caffe2_path
from slowfast.checkpoint.io import CorruptCheckpointError, load_pyth
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

# Where other codebases keep the weights, tried after PySlowFast's "model_state".
_MODEL_KEYS = ("model_state", "state_dict", "model")


def _as_state_dict(path: str, entries: Dict[str, Any]) -> "OrderedDict[str, torch.Tensor]":
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for key, value in entries.items():
        if isinstance(value, torch.Tensor):
            out[key] = value
        elif isinstance(value, (np.ndarray, np.generic)):
            out[key] = torch.from_numpy(np.array(value))
        else:
            logger.warning(
                "Checkpoint %s: model entry %s is a %s, not a tensor; ignored.", path, key, type(value).__name__
            )
    return out


def read_pytorch_checkpoint(path: str, *, allow_unsafe: bool = False) -> Dict[str, Any]:
    """Read a `.pyth`/`.pt` checkpoint (safely) and return it with "model_state" as a tensor state dict.

    A bare state dict (every value a tensor) is accepted as the model state of a checkpoint
    without epoch or optimizer. Raises the errors of `load_pyth`, and CorruptCheckpointError when
    the file holds no model weights.
    """
    try:
        data = load_pyth(path, allow_unsafe=allow_unsafe)
    except CorruptCheckpointError as e:
        if is_caffe2_path(path):
            raise CorruptCheckpointError(
                f"{e} A .pkl file is usually a Caffe2 checkpoint: set CHECKPOINT_TYPE caffe2."
            ) from e
        raise
    if not isinstance(data, dict):
        raise CorruptCheckpointError(f"Checkpoint {path} holds a {type(data).__name__}, not a checkpoint dict.")
    for key in _MODEL_KEYS:
        if isinstance(data.get(key), dict):
            if key != "model_state":
                logger.info("Checkpoint %s keeps its weights under %r.", path, key)
            state = _as_state_dict(path, data[key])
            checkpoint = {k: v for k, v in data.items() if k != key}
            break
    else:
        if data and all(isinstance(v, torch.Tensor) for v in data.values()):
            logger.info("Checkpoint %s is a bare state dict (no epoch or optimizer state).", path)
            state, checkpoint = _as_state_dict(path, data), {}
        else:
            raise CorruptCheckpointError(
                f"Checkpoint {path} has no model weights: expected a 'model_state' entry, found keys "
                f"{sorted(map(str, data))[:10]}."
            )
    if not state:
        raise CorruptCheckpointError(f"Checkpoint {path} holds an empty model state.")
    checkpoint["model_state"] = state
    return checkpoint
