"""File-level behaviour: atomic writes, weights-only loading, clear errors for bad files."""

import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

import slowfast.checkpoint as cu
from slowfast.checkpoint import io as ckpt_io
from checkpoint_testutils import TinyResNet


def test_atomic_save_writes_through_a_fsynced_temporary_file(tmp_path, monkeypatch):
    synced, renamed = [], []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(ckpt_io.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    monkeypatch.setattr(ckpt_io.os, "replace", lambda a, b: (renamed.append((a, b)), real_replace(a, b))[1])
    target = tmp_path / "ckpts" / "checkpoint_epoch_00001.pyth"
    cu.atomic_save({"epoch": 0, "x": torch.ones(3)}, str(target))
    assert synced, "the temporary file was not fsynced"
    ((tmp, final),) = renamed
    assert os.path.dirname(tmp) == str(target.parent) and os.path.basename(tmp).startswith(".") and final == str(target)
    assert sorted(os.listdir(target.parent)) == [target.name]
    assert torch.equal(torch.load(target, weights_only=True)["x"], torch.ones(3))


def test_a_failed_save_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "c.pyth"
    cu.atomic_save({"epoch": 1}, str(target))
    before = target.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_io.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        cu.atomic_save({"epoch": 2}, str(target))
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.pyth"]


def test_missing_file_is_named(tmp_path):
    path = tmp_path / "nope.pyth"
    with pytest.raises(cu.CheckpointNotFoundError, match=f"{path} does not exist"):
        cu.load_checkpoint(str(path), TinyResNet())
    with pytest.raises(FileNotFoundError):
        cu.load_pyth(str(path))


def _good_file(tmp_path):
    path = tmp_path / "good.pyth"
    torch.save({"epoch": 3, "model_state": TinyResNet().state_dict(), "cfg": ""}, path)
    return path


@pytest.mark.parametrize("cut", [0, 10, 200, -100])
def test_truncated_file_is_a_clear_error(tmp_path, cut):
    data = _good_file(tmp_path).read_bytes()
    path = tmp_path / "truncated.pyth"
    path.write_bytes(data[:cut] if cut >= 0 else data[:cut])
    with pytest.raises(cu.CorruptCheckpointError) as err:
        cu.load_checkpoint(str(path), TinyResNet())
    message = str(err.value)
    assert str(path) in message and ("truncated or corrupt" in message or "empty" in message)


def test_garbage_and_wrong_content(tmp_path):
    garbage = tmp_path / "garbage.pyth"
    garbage.write_bytes(b"hello world" * 50)
    with pytest.raises(cu.CorruptCheckpointError, match="garbage.pyth"):
        cu.load_pyth(str(garbage))
    tensor_only = tmp_path / "tensor.pyth"
    torch.save(torch.ones(2), tensor_only)
    with pytest.raises(cu.CorruptCheckpointError, match="not a checkpoint dict"):
        cu.load_checkpoint(str(tensor_only), TinyResNet())
    no_weights = tmp_path / "noweights.pyth"
    torch.save({"epoch": 1, "cfg": "x"}, no_weights)
    with pytest.raises(cu.CorruptCheckpointError, match="no model weights.*'cfg', 'epoch'"):
        cu.load_checkpoint(str(no_weights), TinyResNet())


def test_pkl_loaded_as_pytorch_hints_at_caffe2(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"blobs": {"conv1_w": np.zeros(3, np.float32)}}, protocol=2))
    with pytest.raises(cu.CorruptCheckpointError, match="CHECKPOINT_TYPE caffe2"):
        cu.load_checkpoint(str(path), TinyResNet())


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pyth_that_needs_unpickling_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pyth"
    torch.save({"epoch": 1, "model_state": TinyResNet().state_dict(), "hook": _RunsCode(marker)}, path)
    with pytest.raises(cu.UnsafeCheckpointError) as err:
        cu.load_checkpoint(str(path), TinyResNet())
    message = str(err.value)
    assert str(path) in message and "system" in message
    assert "TRAIN.CHECKPOINT_ALLOW_UNSAFE" in message and "allow_unsafe=True" in message
    assert not marker.exists()


class Trusted:
    """A harmless object that only full unpickling can rebuild."""

    def __init__(self, value):
        self.value = value


def test_allow_unsafe_loads_a_trusted_file(tmp_path):
    model = TinyResNet()
    path = tmp_path / "trusted.pyth"
    torch.save({"epoch": 4, "model_state": model.state_dict(), "note": Trusted(1)}, path)
    with pytest.raises(cu.UnsafeCheckpointError, match="Trusted"):
        cu.load_checkpoint(str(path), TinyResNet())
    assert cu.load_checkpoint(str(path), TinyResNet(), allow_unsafe=True) == 4


def test_numpy_arrays_in_a_released_pyth_load_safely(tmp_path):
    model = TinyResNet()
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    path = tmp_path / "np.pyth"
    torch.save({"epoch": np.int64(7), "model_state": state}, path)
    target = TinyResNet()
    assert cu.load_checkpoint(str(path), target) == 7
    assert torch.equal(target.head.projection.weight, model.head.projection.weight)


def _relocate_to_cuda(path):
    """Rewrite a CPU checkpoint as if its tensors had been saved on cuda:0 (the location is a pickled string)."""
    with zipfile.ZipFile(path) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    name = next(n for n in entries if n.endswith("data.pkl"))
    cpu = pickle.BINUNICODE + (3).to_bytes(4, "little") + b"cpu"
    assert cpu in entries[name]
    entries[name] = entries[name].replace(cpu, pickle.BINUNICODE + (6).to_bytes(4, "little") + b"cuda:0")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for n, data in entries.items():
            zf.writestr(n, data)
    path.write_bytes(buf.getvalue())


def test_checkpoint_saved_on_cuda_loads_on_cpu(tmp_path):
    model = TinyResNet()
    path = tmp_path / "gpu.pyth"
    torch.save({"epoch": 2, "model_state": model.state_dict()}, path)
    _relocate_to_cuda(path)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(path, weights_only=True)
    target = TinyResNet()
    assert cu.load_checkpoint(str(path), target) == 2
    assert target.head.projection.weight.device.type == "cpu"
    assert torch.equal(target.head.projection.weight, model.head.projection.weight)


def test_is_complete_pyth(tmp_path):
    good = _good_file(tmp_path)
    assert ckpt_io.is_complete_pyth(str(good))
    cut = tmp_path / "cut.pyth"
    cut.write_bytes(good.read_bytes()[:-50])
    assert not ckpt_io.is_complete_pyth(str(cut))
    empty = tmp_path / "empty.pyth"
    empty.write_bytes(b"")
    assert not ckpt_io.is_complete_pyth(str(empty))


def test_check_plain_rejects_objects_that_weights_only_loading_refuses():
    cu_io = ckpt_io
    cu_io.check_plain({"a": [1, 2.0, "x", None, torch.ones(1), (3, {"b": True})]})
    with pytest.raises(TypeError, match=r"extra\['rng'\]\[1\] is a numpy.ndarray"):
        cu_io.check_plain({"rng": [1, np.zeros(3)]}, "extra")
