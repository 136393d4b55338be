"""File-level checkpoint I/O: atomic writes, safe (weights-only) reads, and the errors they raise."""

import contextlib
import os
import pickle
import tempfile
import zipfile
from typing import Any, Iterator, List

import numpy as np
import torch

from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

UNSAFE_OPT_IN = (
    "If you trust this file, opt in to full unpickling with TRAIN.CHECKPOINT_ALLOW_UNSAFE True "
    "(or allow_unsafe=True in Python); never do this for a file from an unknown source, "
    "since unpickling can run arbitrary code."
)


class CheckpointError(RuntimeError):
    """Base class of checkpoint errors; the message names the file and what is wrong."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint path does not exist."""


class CorruptCheckpointError(CheckpointError):
    """The file is truncated, empty, or not a checkpoint of the expected format."""


class UnsafeCheckpointError(CheckpointError):
    """The file needs unpickling of arbitrary Python objects and was refused."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint does not fit the model (another architecture, or a strict load found gaps)."""


def check_file(path: str) -> int:
    """Raise a clear error unless `path` is a non-empty regular file; return its size in bytes."""
    if not os.path.exists(path):
        raise CheckpointNotFoundError(f"Checkpoint file {path} does not exist.")
    if not os.path.isfile(path):
        raise CorruptCheckpointError(f"Checkpoint path {path} is not a regular file.")
    size = os.path.getsize(path)
    if size == 0:
        raise CorruptCheckpointError(f"Checkpoint file {path} is empty (0 bytes): it is incomplete or corrupt.")
    return size


def _fsync_dir(directory: str) -> None:
    """Flush a directory entry (the rename) to disk where the platform supports it."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_save(obj: Any, path: str) -> None:
    """`torch.save` to a temporary file in the same folder, flush + fsync it, then rename it to `path`.

    A reader never sees a partial file at `path`: after a crash it finds either the old file
    (or none) or the complete new one. Leftover temporary files start with "." and end in ".tmp".
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


def _numpy_safe_globals() -> List[Any]:
    """numpy array/scalar reconstruction, allowed in weights-only loading (some released files hold arrays)."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]
    allowed: List[Any] = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    # Files written with numpy < 2 name the module numpy.core.multiarray.
    allowed += [
        (multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
        (multiarray.scalar, "numpy.core.multiarray.scalar"),
    ]
    allowed += [type(np.dtype(t)) for t in ("f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "?")]
    return allowed


@contextlib.contextmanager
def _numpy_allowed() -> Iterator[None]:
    with torch.serialization.safe_globals(_numpy_safe_globals()):
        yield


def _unsafe_globals(path: str) -> List[str]:
    with contextlib.suppress(Exception):
        return list(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    return []


def is_complete_pyth(path: str) -> bool:
    """Cheap completeness test without unpickling: a readable zip archive holding a data.pkl record.

    Files in torch's legacy (pre-1.6, non-zip) format cannot be checked this way and count as complete.
    """
    try:
        if os.path.getsize(path) == 0:
            return False
        if not zipfile.is_zipfile(path):
            with open(path, "rb") as f:
                return f.read(2) == b"\x80\x02"  # legacy torch.save output starts with a pickle PROTO 2
        with zipfile.ZipFile(path) as zf:
            return any(name.endswith("data.pkl") for name in zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


# What torch.load raises on a damaged file (the zip reader reports a cut-off archive as OSError).
_READ_ERRORS = (
    RuntimeError,
    EOFError,
    KeyError,
    ValueError,
    IndexError,
    OSError,
    zipfile.BadZipFile,
    UnicodeDecodeError,
)


def load_pyth(path: str, *, allow_unsafe: bool = False) -> Any:
    """Load a `.pyth`/`.pt` file on CPU with `torch.load(weights_only=True)`.

    Tensors saved on CUDA are mapped to CPU. numpy arrays and scalars are allowed (they
    unpickle without running code). Anything else that needs full unpickling raises
    UnsafeCheckpointError, unless `allow_unsafe` is set for a trusted file.

    Raises:
        CheckpointNotFoundError, CorruptCheckpointError, UnsafeCheckpointError.
    """
    size = check_file(path)
    try:
        with _numpy_allowed():
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        message = str(e)
        needed = _unsafe_globals(path)
        if not needed and "GLOBAL" not in message:
            raise CorruptCheckpointError(_corrupt_message(path, size, e)) from e
        if not allow_unsafe:
            what = ", ".join(needed) if needed else message.strip().splitlines()[-1]
            raise UnsafeCheckpointError(
                f"Refusing to load checkpoint {path}: it holds Python objects that only full (unsafe) "
                f"unpickling can rebuild ({what}), and weights-only loading allows just tensors, numpy "
                f"arrays and plain containers. {UNSAFE_OPT_IN}"
            ) from e
    except PermissionError:
        raise
    except _READ_ERRORS as e:
        raise CorruptCheckpointError(_corrupt_message(path, size, e)) from e
    logger.warning("Loading %s with full unpickling (allow_unsafe=True): only do this for trusted files.", path)
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except PermissionError:
        raise
    except (pickle.UnpicklingError,) + _READ_ERRORS as e:
        raise CorruptCheckpointError(_corrupt_message(path, size, e)) from e


def _corrupt_message(path: str, size: int, error: BaseException) -> str:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (
        f"Checkpoint file {path} ({size} bytes) is truncated or corrupt and cannot be read: "
        f"{type(error).__name__}: {reason}"
    )


PLAIN_TYPES = (type(None), bool, int, float, str, bytes, torch.Tensor, torch.dtype, torch.Size, torch.device)


def check_plain(obj: Any, where: str = "checkpoint") -> None:
    """Raise TypeError unless `obj` holds only tensors and plain Python types (weights-only loadable)."""
    if isinstance(obj, PLAIN_TYPES):
        return
    if isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            check_plain(value, f"{where}[{i}]")
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, (str, int, float, bool, type(None))):
                raise TypeError(f"{where} has a key of type {type(key).__name__}; use str or int keys.")
            check_plain(value, f"{where}[{key!r}]")
        return
    raise TypeError(
        f"{where} is a {type(obj).__module__}.{type(obj).__qualname__}; checkpoints hold only tensors and "
        "plain Python types (convert numpy arrays with torch.from_numpy, numbers with int()/float()), "
        "so that they load with torch.load(weights_only=True)."
    )
