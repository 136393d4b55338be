"""Released Caffe2 .pkl checkpoints: name rules, round trips for every ResNet/SlowFast layout, safe unpickling."""

import logging
import os
import pickle

import numpy as np
import pytest
import torch

import slowfast.checkpoint as cu
from checkpoint_testutils import (
    TinyResNet,
    caffe2_blobs_from_state_dict,
    caffe2_name_of,
    randomize_,
    write_caffe2_pkl,
)


@pytest.mark.parametrize(
    "blob, key",
    [
        ("conv1_w", "s1.pathway0_stem.conv.weight"),
        ("t_conv1_w", "s1.pathway1_stem.conv.weight"),
        ("res_conv1_bn_s", "s1.pathway0_stem.bn.weight"),
        ("t_res_conv1_bn_riv", "s1.pathway1_stem.bn.running_var"),
        ("res2_0_branch1_w", "s2.pathway0_res0.branch1.weight"),
        ("res2_0_branch1_bn_b", "s2.pathway0_res0.branch1_bn.bias"),
        ("res2_0_branch2a_w", "s2.pathway0_res0.branch2.a.weight"),
        ("res2_0_branch2a_bn_riv", "s2.pathway0_res0.branch2.a_bn.running_var"),
        ("res3_1_branch2b_bn_rm", "s3.pathway0_res1.branch2.b_bn.running_mean"),
        ("t_res5_2_branch2c_bn_s", "s5.pathway1_res2.branch2.c_bn.weight"),
        ("nonlocal_conv3_1_theta_w", "s3.pathway0_nonlocal1.conv_theta.weight"),
        ("nonlocal_conv4_5_out_b", "s4.pathway0_nonlocal5.conv_out.bias"),
        ("nonlocal_conv4_3_bn_riv", "s4.pathway0_nonlocal3.bn.running_var"),
        ("t_pool1_subsample_w", "s1_fuse.conv_f2s.weight"),
        ("t_pool1_subsample_bn_rm", "s1_fuse.bn.running_mean"),
        ("t_res2_2_branch2c_bn_subsample_w", "s2_fuse.conv_f2s.weight"),
        ("t_res4_5_branch2c_bn_subsample_bn_b", "s4_fuse.bn.bias"),
        ("pred_w", "head.projection.weight"),
        ("pred_b", "head.projection.bias"),
        ("gpu_0/res2_0_branch2a_w", "s2.pathway0_res0.branch2.a.weight"),
    ],
)
def test_caffe2_name_rules(blob, key):
    assert cu.convert_caffe2_name(blob) == key


@pytest.mark.parametrize("blob", ["pool1_subsample_w", "res2_0_branch2a_w_momentum", "lr", "model_iter", "foo_w"])
def test_names_without_a_rule(blob):
    assert cu.convert_caffe2_name(blob) is None


def test_every_released_key_has_a_caffe2_name_that_converts_back(resnet_layout, layouts):
    keys = [e["key"] for e in layouts.read(resnet_layout)["state_dict"]]
    for key in keys:
        blob = caffe2_name_of(key, keys)
        if blob is not None:
            assert cu.convert_caffe2_name(blob) == key, blob


def _roundtrip(layouts, name, tmp_path, *, python2):
    source = layouts.module(name, fill="distinct")
    expected = source.state_dict()
    path = write_caffe2_pkl(
        tmp_path / "model.pkl", caffe2_blobs_from_state_dict(expected, momentum=False), python2=python2
    )
    target = layouts.module(name, fill="zeros")
    result = cu.restore_checkpoint(str(path), target, checkpoint_type="caffe2")
    os.remove(path)
    loaded = target.state_dict()
    for key, value in expected.items():
        if key.endswith("num_batches_tracked"):
            continue
        assert torch.equal(loaded[key], value), key
    report = result.report
    assert report.is_complete and not report.unexpected and not report.skipped
    assert sorted(report.ignored) == ["conv1_w_momentum", "lr", "model_iter"]
    assert result.epoch == -1
    return report


def test_caffe2_roundtrip_of_every_released_layout(resnet_layout, tmp_path, layouts):
    """A .pkl written from a model's own weights (Python 2 style, as released) loads back exactly."""
    report = _roundtrip(layouts, resnet_layout, tmp_path, python2=True)
    layout = layouts.read(resnet_layout)
    counters = sum(1 for e in layout["state_dict"] if e["key"].endswith("num_batches_tracked"))
    assert len(report.loaded) == layout["num_state_dict_entries"] - counters


def test_caffe2_roundtrip_python3_protocol2(tmp_path):
    """Files re-pickled by Python 3 (bytes via _codecs.encode) load too."""
    model = randomize_(TinyResNet(5), seed=3)
    path = write_caffe2_pkl(tmp_path / "m.pkl", caffe2_blobs_from_state_dict(model.state_dict()))
    target = TinyResNet(5)
    cu.load_checkpoint(str(path), target, checkpoint_type="caffe2")
    for key, value in model.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(target.state_dict()[key], value), key


def test_caffe2_solver_blobs_are_ignored_and_listed(tmp_path, caplog):
    model = randomize_(TinyResNet(5), seed=3)
    blobs = caffe2_blobs_from_state_dict(model.state_dict())
    path = write_caffe2_pkl(tmp_path / "m.pkl", blobs, python2=True)
    with caplog.at_level(logging.INFO):
        result = cu.restore_checkpoint(str(path), TinyResNet(5), checkpoint_type="caffe2")
    momentum = sorted(b for b in blobs if b.endswith("_momentum"))
    assert len(momentum) == 10
    assert sorted(result.report.ignored) == sorted(momentum + ["lr", "model_iter"])
    assert "Ignored solver entries" in caplog.text and "res2_0_branch2a_w_momentum" in caplog.text


def test_caffe2_shape_mismatch_and_unknown_blobs_are_reported(tmp_path, caplog):
    model = randomize_(TinyResNet(5), seed=3)
    blobs = caffe2_blobs_from_state_dict(model.state_dict())
    blobs["pred_w"] = np.zeros((7, 16), dtype=np.float32)
    blobs["pred_b"] = np.zeros((7,), dtype=np.float32)
    blobs["mystery_blob_w"] = np.zeros((3,), dtype=np.float32)
    path = write_caffe2_pkl(tmp_path / "m.pkl", blobs, python2=True)
    target = TinyResNet(5)
    head_before = target.head.projection.weight.detach().clone()
    with caplog.at_level(logging.INFO):
        result = cu.restore_checkpoint(str(path), target, checkpoint_type="caffe2")
    assert result.report.skipped == [
        ("head.projection.weight", (7, 16), (5, 16)),
        ("head.projection.bias", (7,), (5,)),
    ]
    assert result.report.unexpected == ["mystery_blob_w"]
    assert torch.equal(target.head.projection.weight, head_before)
    assert "pred_w -> head.projection.weight" in caplog.text


def test_caffe2_2d_kernels_load_into_time_1_kernels(tmp_path):
    """An ImageNet-style (O, I, H, W) blob fills a (O, I, 1, H, W) kernel exactly."""
    model = randomize_(TinyResNet(5), seed=4)
    blobs = caffe2_blobs_from_state_dict(model.state_dict())
    blobs = {k: (v[:, :, 0] if v.ndim == 5 else v) for k, v in blobs.items()}
    path = write_caffe2_pkl(tmp_path / "m.pkl", blobs, python2=True)
    target = TinyResNet(5)
    result = cu.restore_checkpoint(str(path), target, checkpoint_type="caffe2")
    assert result.report.is_complete
    assert torch.equal(target.s1.pathway0_stem.conv.weight, model.s1.pathway0_stem.conv.weight)


def test_caffe2_with_inflation_into_3d_kernels(tmp_path):
    model2d = randomize_(TinyResNet(5), seed=4)
    blobs = {
        k: (v[:, :, 0] if v.ndim == 5 else v) for k, v in caffe2_blobs_from_state_dict(model2d.state_dict()).items()
    }
    path = write_caffe2_pkl(tmp_path / "m.pkl", blobs, python2=True)
    target = TinyResNet(5, stem_temp_kernel=5, block_temp_kernel=3)
    cu.load_checkpoint(str(path), target, checkpoint_type="caffe2", inflate=True)
    stem = target.s1.pathway0_stem.conv.weight
    assert stem.shape == (8, 3, 5, 3, 3)
    torch.testing.assert_close(stem.sum(dim=2), model2d.s1.pathway0_stem.conv.weight[:, :, 0])
    torch.testing.assert_close(stem[:, :, 2], model2d.s1.pathway0_stem.conv.weight[:, :, 0] / 5)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("where", ["top", "inside_blobs"])
def test_malicious_caffe2_pickle_is_refused_and_runs_nothing(tmp_path, where):
    marker = tmp_path / "pwned"
    payload = _RunsCode(marker)
    data = {"blobs": {"conv1_w": np.zeros((8, 3, 1, 3, 3), np.float32), "evil": payload}}
    if where == "top":
        data = payload
    path = tmp_path / "evil.pkl"
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=2)
    with pytest.raises(cu.UnsafeCheckpointError) as err:
        cu.load_checkpoint(str(path), TinyResNet(5), checkpoint_type="caffe2")
    message = str(err.value)
    assert str(path) in message and "system" in message and "CHECKPOINT_ALLOW_UNSAFE" in message
    assert not marker.exists()


@pytest.mark.parametrize(
    "module, name",
    [("builtins", "eval"), ("posix", "system"), ("subprocess", "Popen"), ("numpy", "load"), ("torch", "load")],
)
def test_restricted_unpickler_allow_list(module, name, tmp_path):
    path = tmp_path / "x.pkl"
    path.write_bytes(b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n.")
    with pytest.raises(cu.UnsafeCheckpointError, match=f"{module}.{name}"):
        cu.load_caffe2_blobs(str(path))


def test_restricted_unpickler_refuses_codecs_other_than_latin1(tmp_path):
    path = tmp_path / "x.pkl"
    with open(path, "wb") as f:
        f.write(
            b"\x80\x02}q\x00X\x05\x00\x00\x00blobsq\x01"
            b"c_codecs\nencode\nX\x01\x00\x00\x00aX\x06\x00\x00\x00base64\x86R."
        )
    with pytest.raises(cu.CorruptCheckpointError, match="not allowed"):
        cu.load_caffe2_blobs(str(path))


def test_allow_unsafe_is_an_explicit_opt_in_for_trusted_pickles(tmp_path):
    from collections import Counter

    data = {"blobs": {"conv1_w": np.ones((8, 3, 1, 3, 3), np.float32)}, "meta": Counter(a=1)}
    path = tmp_path / "trusted.pkl"
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=2)
    with pytest.raises(cu.UnsafeCheckpointError, match="collections.Counter"):
        cu.load_caffe2_blobs(str(path))
    blobs = cu.load_caffe2_blobs(str(path), allow_unsafe=True)
    assert list(blobs) == ["conv1_w"]


def test_caffe2_bad_files(tmp_path):
    with pytest.raises(cu.CheckpointNotFoundError, match="does not exist"):
        cu.load_caffe2_blobs(str(tmp_path / "nope.pkl"))
    good = write_caffe2_pkl(
        tmp_path / "good.pkl", caffe2_blobs_from_state_dict(TinyResNet(3).state_dict()), python2=True
    )
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(cu.CorruptCheckpointError, match="truncated.pkl.*truncated or corrupt"):
        cu.load_caffe2_blobs(str(truncated))
    notdict = tmp_path / "list.pkl"
    notdict.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(cu.CorruptCheckpointError, match="'blobs'"):
        cu.load_caffe2_blobs(str(notdict))


def test_caffe2_checkpoint_of_another_architecture_is_an_error(tmp_path):
    blobs = {"conv_1_weights": np.zeros((3, 3), np.float32), "fc_w": np.zeros((10, 4), np.float32)}
    path = write_caffe2_pkl(tmp_path / "other.pkl", blobs, python2=True)
    with pytest.raises(cu.CheckpointMismatchError, match="another architecture") as err:
        cu.load_checkpoint(str(path), TinyResNet(4), checkpoint_type="caffe2")
    assert "conv_1_weights" in str(err.value) and "s1.pathway0_stem.conv.weight" in str(err.value)
