"""tools/run_net.py trains a 2D MViTv2 on a tiny ImageNet tree with the published AUG + MIXUP recipe, then tests."""

import pytest

from e2e_utils import REPO, final_top1, json_stats, run_net
from slowfast.datasets.tiny_frames import write_imagenet_tree


@pytest.mark.slow
def test_imagenet_mvit_trains_with_randaugment_erasing_mixup_and_repeated_aug(tmp_path):
    root = write_imagenet_tree(str(tmp_path / "imagenet"), num_classes=3, images_per_class={"train": 4, "val": 2})
    out = tmp_path / "run"
    # configs/ImageNet/MVITv2_T.yaml keeps its recipe: RandAugment rand-m9-n6-mstd0.5-inc1, bicubic, random
    # erasing 0.25 (pixel), mixup 0.8 / CutMix 1.0, soft cross-entropy, IN_VAL_CROP_RATIO 0.875 for val/test.
    proc = run_net(
        ["--cfg", REPO / "configs" / "ImageNet" / "MVITv2_T.yaml", "NUM_GPUS", "0", "DATA.PATH_TO_DATA_DIR", root,
         "MODEL.NUM_CLASSES", "3", "DATA.TRAIN_CROP_SIZE", "32", "DATA.TEST_CROP_SIZE", "32", "MVIT.EMBED_DIM", "16",
         "AUG.NUM_SAMPLE", "2", "TRAIN.BATCH_SIZE", "4", "TEST.BATCH_SIZE", "6", "DATA_LOADER.NUM_WORKERS", "1",
         "SOLVER.MAX_EPOCH", "2", "SOLVER.WARMUP_EPOCHS", "1.0", "TRAIN.EVAL_PERIOD", "1", "LOG_PERIOD", "1",
         "LOG_MODEL_INFO", "False", "OUTPUT_DIR", out], timeout=300,
    )
    stats = json_stats((out / "stdout.log").read_text())
    train = [s for s in stats if s["_type"] == "train_iter"]
    assert len(train) == 6  # 12 images / 4 per batch, 2 epochs
    assert len([s for s in stats if s["_type"] == "val_epoch"]) == 2
    assert 0.0 <= final_top1(proc.stdout) <= 100.0
    final = [s for s in stats if s.get("split") == "test_final"]
    assert final and final[-1]["num_videos"] == 6
