"""Checkpoints with the real models of slowfast.models (skipped while build_model is unavailable)."""

import logging

import pytest
import torch

import slowfast.checkpoint as cu
from checkpoint_testutils import REPO, caffe2_blobs_from_state_dict, fill_distinct_, randomize_, write_caffe2_pkl
from slowfast.config import get_cfg, merge_from_file, merge_from_list

SYNTHETIC = "Synthetic/SLOWFAST_R18_CPU.yaml"


def _build(config, tmp_path, opts=(), seed=0):
    try:
        from slowfast.models import build_model
    except ImportError as e:
        pytest.skip(f"slowfast.models.build_model is not available: {e}")
    path = REPO / "configs" / config
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    cfg = get_cfg()
    merge_from_file(cfg, str(path))
    merge_from_list(cfg, ["NUM_GPUS", "0", "OUTPUT_DIR", str(tmp_path / "job"), *opts])
    torch.manual_seed(seed)
    return cfg, build_model(cfg)


def _clip(cfg, batch=2):
    frames, crop, alpha = cfg.DATA.NUM_FRAMES, cfg.DATA.TEST_CROP_SIZE, cfg.SLOWFAST.ALPHA
    fast = torch.randn(batch, 3, frames, crop, crop, generator=torch.Generator().manual_seed(1))
    return [fast[:, :, ::alpha].contiguous(), fast]


def test_finetune_real_slowfast_from_4_to_3_classes(tmp_path, caplog):
    cfg4, model4 = _build(SYNTHETIC, tmp_path, ["MODEL.NUM_CLASSES", "4"])
    randomize_(model4, seed=1)
    path = cu.save_checkpoint(str(tmp_path / "pretrain"), model4, None, 11, cfg4)

    cfg3, model3 = _build(SYNTHETIC, tmp_path, ["MODEL.NUM_CLASSES", "3"])
    head_init = {k: v.clone() for k, v in model3.head.state_dict().items()}
    optimizer = torch.optim.SGD(model3.parameters(), lr=0.1, momentum=0.9)
    cfg3.TRAIN.CHECKPOINT_FILE_PATH = path
    cfg3.TRAIN.CHECKPOINT_EPOCH_RESET = True
    with caplog.at_level(logging.INFO):
        assert cu.load_train_checkpoint(cfg3, model3, optimizer) == 0
    for key, value in model4.state_dict().items():
        if key.startswith("head."):
            continue
        assert torch.equal(model3.state_dict()[key], value), key
    for key, value in head_init.items():
        assert torch.equal(model3.head.state_dict()[key], value), key
    assert optimizer.state_dict()["state"] == {}
    dim = model3.head.projection.weight.shape[1]
    assert f"Skipped head.projection.weight: checkpoint shape (4, {dim}), model shape (3, {dim})" in caplog.text
    assert "Skipped head.projection.bias: checkpoint shape (4,), model shape (3,)" in caplog.text


def test_real_slowfast_save_and_resume_gives_the_same_outputs(tmp_path):
    cfg, model = _build(SYNTHETIC, tmp_path, seed=2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    cu.save_checkpoint(cfg.OUTPUT_DIR, model, optimizer, 2, cfg)
    _, resumed = _build(SYNTHETIC, tmp_path, seed=3)
    assert not torch.equal(resumed.head.projection.weight, model.head.projection.weight)
    resumed_opt = torch.optim.SGD(resumed.parameters(), lr=0.1, momentum=0.9)
    assert cu.load_train_checkpoint(cfg, resumed, resumed_opt) == 3
    model.eval()
    resumed.eval()
    with torch.no_grad():
        torch.testing.assert_close(resumed(_clip(cfg)), model(_clip(cfg)), rtol=0, atol=0)


def test_caffe2_roundtrip_with_the_real_slowfast_r50(tmp_path):
    cfg, model = _build("Kinetics/SLOWFAST_8x8_R50.yaml", tmp_path)
    fill_distinct_(model)
    path = write_caffe2_pkl(
        tmp_path / "SLOWFAST_8x8_R50.pkl",
        caffe2_blobs_from_state_dict(model.state_dict(), momentum=False),
        python2=True,
    )
    _, target = _build("Kinetics/SLOWFAST_8x8_R50.yaml", tmp_path)
    for tensor in target.state_dict().values():
        tensor.zero_()
    result = cu.restore_checkpoint(str(path), target, checkpoint_type="caffe2", strict=True)
    assert not result.report.unexpected
    for key, value in model.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(target.state_dict()[key], value), key
