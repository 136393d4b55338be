"""tools/run_net.py trains and tests on tiny Charades and SSv2 frame trees, printing mAP / top-1."""

import os
import re

import pytest

from e2e_utils import SYNTHETIC_CFG, final_top1, json_stats, run_net
from slowfast.datasets.tiny_frames import write_charades_tree, write_ssv2_tree

# The small CPU SlowFast on 8-frame, 32-pixel clips; each dataset adds its own keys.
SMALL = [
    "DATA.NUM_FRAMES", "8", "DATA.TRAIN_JITTER_SCALES", "[32, 40]", "DATA.TRAIN_CROP_SIZE", "32",
    "DATA.TEST_CROP_SIZE", "32", "RESNET.WIDTH_PER_GROUP", "8", "TRAIN.BATCH_SIZE", "3",
    "TEST.BATCH_SIZE", "6", "DATA_LOADER.NUM_WORKERS", "1", "LOG_PERIOD", "1", "LOG_MODEL_INFO", "False",
    "SOLVER.MAX_EPOCH", "2", "TRAIN.EVAL_PERIOD", "1", "DATA.REVERSE_INPUT_CHANNEL", "True",
    "DATA.INV_UNIFORM_SAMPLE", "True",
]


@pytest.mark.slow
def test_charades_trains_and_tests_with_map(tmp_path):
    root = write_charades_tree(str(tmp_path / "charades"), num_classes=3, num_frames=(20, 33))
    out = tmp_path / "run"
    proc = run_net(
        ["--cfg", SYNTHETIC_CFG, *SMALL, "TRAIN.DATASET", "charades", "TEST.DATASET", "charades",
         "DATA.PATH_TO_DATA_DIR", root, "DATA.PATH_PREFIX", os.path.join(root, "frames"),
         "MODEL.NUM_CLASSES", "3", "DATA.MULTI_LABEL", "True", "MODEL.LOSS_FUNC", "bce_logit",
         "MODEL.HEAD_ACT", "sigmoid", "DATA.ENSEMBLE_METHOD", "max", "DATA.SAMPLING_RATE", "2",
         "TEST.NUM_ENSEMBLE_VIEWS", "2", "TEST.NUM_SPATIAL_CROPS", "3", "OUTPUT_DIR", out], timeout=170,
    )
    m = re.search(r"Final test mAP: ([0-9.]+) over 3 videos", proc.stdout)
    assert m, proc.stdout[-3000:]
    assert 0.0 < float(m.group(1)) <= 1.0
    stats = json_stats((out / "stdout.log").read_text())
    val = [s for s in stats if s["_type"] == "val_epoch"]
    assert len(val) == 2 and all(0.0 < s["map"] <= 1.0 for s in val)


@pytest.mark.slow
def test_ssv2_trains_and_tests_with_top1(tmp_path):
    root = write_ssv2_tree(str(tmp_path / "ssv2"), num_classes=3, num_frames=(12, 20))
    out = tmp_path / "run"
    proc = run_net(
        ["--cfg", SYNTHETIC_CFG, *SMALL, "TRAIN.DATASET", "ssv2", "TEST.DATASET", "ssv2",
         "DATA.PATH_TO_DATA_DIR", root, "DATA.PATH_PREFIX", os.path.join(root, "frames"),
         "MODEL.NUM_CLASSES", "3", "DATA.RANDOM_FLIP", "False",
         "TEST.NUM_ENSEMBLE_VIEWS", "1", "TEST.NUM_SPATIAL_CROPS", "1", "OUTPUT_DIR", out], timeout=170,
    )
    assert 0.0 <= final_top1(proc.stdout) <= 100.0
    final = [s for s in json_stats((out / "stdout.log").read_text()) if s.get("split") == "test_final"]
    assert final and final[-1]["num_videos"] == 3
