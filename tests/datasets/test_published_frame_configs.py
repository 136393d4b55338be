"""The published Charades and SSv2 SlowFast 16x8 R50 configs build their model and their test data."""

import os
from pathlib import Path

import pytest
import torch

from slowfast.config import assert_and_infer_cfg, get_cfg, merge_from_file, merge_from_list
from slowfast.datasets import build_dataset
from slowfast.datasets.tiny_frames import write_charades_tree, write_ssv2_tree
from slowfast.models import build_model

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _published(name, root):
    cfg = merge_from_file(get_cfg(), str(CONFIGS / name))
    merge_from_list(cfg, ["NUM_GPUS", "0", "DATA.PATH_TO_DATA_DIR", root,
                          "DATA.PATH_PREFIX", os.path.join(root, "frames"), "DATA_LOADER.NUM_WORKERS", "0"])
    return assert_and_infer_cfg(cfg) or cfg


@pytest.mark.parametrize("name", ["Charades/SLOWFAST_16x8_R50.yaml", "SSv2/SLOWFAST_16x8_R50.yaml"])
def test_published_config_builds_its_model(name, tmp_path):
    cfg = _published(name, str(tmp_path))
    model = build_model(cfg)
    assert model.head.projection.out_features == cfg.MODEL.NUM_CLASSES


def test_published_charades_config_samples_the_worked_example(tmp_path):
    root = write_charades_tree(str(tmp_path), num_classes=157, videos_per_split={"val": 1},
                               num_frames=(250,), height=8, width=12)
    cfg = _published("Charades/SLOWFAST_16x8_R50.yaml", root)
    assert cfg.MODEL.HEAD_ACT == "sigmoid" and cfg.MODEL.LOSS_FUNC == "bce_logit" and cfg.DATA.MULTI_LABEL
    assert cfg.DATA.ENSEMBLE_METHOD == "max"
    ds = build_dataset("charades", cfg, "test")
    starts = [clip[0] for clip in ds.test_clips(0)]
    assert starts == [0, 14, 27, 41, 55, 68, 82, 96, 109, 123]
    assert ds.test_clips(0)[9][-1] == 249 and ds.num_views == 30


def test_published_ssv2_config_gives_one_left_crop_view(tmp_path):
    root = write_ssv2_tree(str(tmp_path), num_classes=174, videos_per_split={"train": 1, "val": 1},
                           num_frames=(45,), height=18, width=24)
    cfg = _published("SSv2/SLOWFAST_16x8_R50.yaml", root)
    assert cfg.DATA.RANDOM_FLIP is False
    (slow, fast), label, index, meta = build_dataset("ssv2", cfg, "test")[0]
    assert fast.shape == (1, 3, 64, 256, 256) and slow.shape == (1, 3, 16, 256, 256)
    assert label == 0 and index == 0
    assert torch.isfinite(fast).all()


@pytest.mark.parametrize("name", ["MVITv2_S_16x4.yaml", "MVITv2_B_32x3.yaml", "MVITv2_L_40x3.yaml"])
def test_published_ssv2_mvitv2_recipe_augments_its_training_clips(tmp_path, name):
    """The SSv2 MViTv2 YAMLs (RandAugment, erasing, PREFETCH.NUM_LOADERS) load and augment the clips."""
    import random

    path = Path(__file__).resolve().parents[1] / "data" / "pyslowfast_configs" / "SSv2" / name
    root = write_ssv2_tree(str(tmp_path), num_classes=174, videos_per_split={"train": 1, "val": 1},
                           num_frames=(45,), height=18, width=24)
    cfg = merge_from_file(get_cfg(), str(path))
    merge_from_list(cfg, ["NUM_GPUS", "0", "DATA.PATH_TO_DATA_DIR", root, "DATA.PATH_PREFIX",
                          os.path.join(root, "frames"), "DATA.TRAIN_JITTER_SCALES", "[20, 24]",
                          "DATA.TRAIN_CROP_SIZE", "16"])
    assert_and_infer_cfg(cfg)
    assert cfg.PREFETCH.NUM_LOADERS == 3 and cfg.AUG.ENABLE and cfg.AUG.AA_TYPE and cfg.AUG.RE_PROB == 0.25
    ds = build_dataset("ssv2", cfg, "train")
    assert ds._augment.rand_augment is not None and ds._augment.erasing is not None
    clips = []
    for seed in (0, 0):
        random.seed(seed)
        torch.manual_seed(seed)
        (clip,), label, _, _ = ds[0]
        clips.append(clip)
    assert clips[0].shape == (3, cfg.DATA.NUM_FRAMES, 16, 16) and label == 0
    assert torch.equal(clips[0], clips[1])  # the recipe is a function of the seeds
    random.seed(1)
    assert not torch.equal(ds[0][0][0], clips[0])
