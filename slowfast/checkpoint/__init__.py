"""Checkpoints: save/load of `.pyth` files and released Caffe2 `.pkl` files, 2D->3D inflation, safe loading, resume.

Import as `import slowfast.checkpoint as cu`; `slowfast.utils.checkpoint` re-exports the same names.
"""

from slowfast.checkpoint.api import CHECKPOINT_TYPES, LoadResult, load_checkpoint, restore_checkpoint, save_checkpoint
from slowfast.checkpoint.caffe2 import (
    RestrictedUnpickler,
    caffe2_to_state_dict,
    convert_caffe2_name,
    load_caffe2_blobs,
)
from slowfast.checkpoint.inflate import inflate_conv_weight, inflate_weight
from slowfast.checkpoint.io import (
    CheckpointError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    CorruptCheckpointError,
    UnsafeCheckpointError,
    atomic_save,
    load_pyth,
)
from slowfast.checkpoint.paths import (
    get_checkpoint_dir,
    get_last_checkpoint,
    get_path_to_checkpoint,
    has_checkpoint,
    is_checkpoint_epoch,
    list_checkpoints,
    make_checkpoint_dir,
)
from slowfast.checkpoint.resume import TrainStart, load_test_checkpoint, load_train_checkpoint, load_train_state
from slowfast.checkpoint.rng import gather_rng_states, get_rng_state, set_rng_state
from slowfast.checkpoint.state import (
    LoadReport,
    model_state_for_saving,
    normal_to_sub_bn,
    sub_to_normal_bn,
    unwrap_model,
)

__all__ = [
    "CHECKPOINT_TYPES",
    "CheckpointError",
    "CheckpointMismatchError",
    "CheckpointNotFoundError",
    "CorruptCheckpointError",
    "LoadReport",
    "LoadResult",
    "RestrictedUnpickler",
    "TrainStart",
    "UnsafeCheckpointError",
    "atomic_save",
    "caffe2_to_state_dict",
    "convert_caffe2_name",
    "gather_rng_states",
    "get_checkpoint_dir",
    "get_last_checkpoint",
    "get_path_to_checkpoint",
    "get_rng_state",
    "has_checkpoint",
    "inflate_conv_weight",
    "inflate_weight",
    "is_checkpoint_epoch",
    "list_checkpoints",
    "load_caffe2_blobs",
    "load_checkpoint",
    "load_pyth",
    "load_test_checkpoint",
    "load_train_checkpoint",
    "load_train_state",
    "make_checkpoint_dir",
    "model_state_for_saving",
    "normal_to_sub_bn",
    "restore_checkpoint",
    "save_checkpoint",
    "set_rng_state",
    "sub_to_normal_bn",
    "unwrap_model",
]
