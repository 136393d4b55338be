"""ImageNet class-folder dataset: layout, ResNet-recipe transforms, single centre crop, bad images."""

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from slowfast.config import get_cfg
from slowfast.datasets import build_dataset
from slowfast.datasets.frame_list import FrameReadError
from slowfast.datasets.imagenet import random_resized_crop_box
from slowfast.datasets.kinetics import DatasetFormatError


@pytest.fixture
def imagenet_dir(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c, name in enumerate(["n002", "n001"]):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(rng.integers(0, 256, (30 + 4 * i, 40, 3), dtype=np.uint8)).save(
                    tmp_path / split / name / f"img{i}.png")
    (tmp_path / "val" / "README").mkdir()  # not a class folder
    return tmp_path


def _cfg(root, **data):
    cfg = get_cfg()
    cfg.DATA.PATH_TO_DATA_DIR = str(root)
    cfg.DATA.TRAIN_CROP_SIZE, cfg.DATA.TEST_CROP_SIZE = 24, 20
    cfg.DATA.MEAN, cfg.DATA.STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    cfg.DATA.TRAIN_JITTER_SCALES_RELATIVE = [0.08, 1.0]
    cfg.DATA.TRAIN_JITTER_ASPECT_RELATIVE = [0.75, 4 / 3]
    cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS = 1, 1
    for k, v in data.items():
        cfg.DATA[k] = v
    return cfg


def test_classes_are_sorted_class_folders(imagenet_dir):
    ds = build_dataset("imagenet", _cfg(imagenet_dir), "test")
    assert ds.classes == ["n001", "n002"] and len(ds) == 4
    assert [ds[i][1] for i in range(4)] == [0, 0, 1, 1]


def test_test_image_is_short_side_then_centre_crop(imagenet_dir):
    ds = build_dataset("imagenet", _cfg(imagenet_dir), "test")
    (view,), label, index, meta = ds[1]
    assert view.shape[0] == 1
    image = view[0]
    raw = np.asarray(Image.open(imagenet_dir / "val" / "n001" / "img1.png").convert("RGB"), dtype=np.float32) / 255
    x = torch.from_numpy(raw).permute(2, 0, 1)  # 34 x 40 -> 24 x 28
    x = F.interpolate(x[None], size=(24, 28), mode="bilinear", align_corners=False)[0]
    x = x[:, 2:22, 4:24]
    want = (x - torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    assert image.shape == (3, 20, 20) and index == 1 and meta["skipped"] == 0
    torch.testing.assert_close(image, want)


def test_train_image_shape_and_crop_box_bounds(imagenet_dir):
    ds = build_dataset("imagenet", _cfg(imagenet_dir), "train")
    (image,), label, _, _ = ds[0]
    assert image.shape == (3, 24, 24) and label == 0
    rng = random.Random(0)
    for _ in range(200):
        y, x, h, w = random_resized_crop_box(30, 40, (0.08, 1.0), (0.75, 4 / 3), rng)
        assert 0 <= y and y + h <= 30 and 0 <= x and x + w <= 40 and h > 0 and w > 0


def test_refusals_name_their_keys(imagenet_dir, tmp_path):
    cfg = _cfg(imagenet_dir)
    cfg.AUG.ENABLE = True
    with pytest.raises(NotImplementedError, match="AUG.ENABLE"):
        build_dataset("imagenet", cfg, "train")
    with pytest.raises(ValueError, match="TRAIN_JITTER_SCALES_RELATIVE"):
        build_dataset("imagenet", _cfg(imagenet_dir, TRAIN_JITTER_SCALES_RELATIVE=[]), "train")
    cfg = _cfg(imagenet_dir)
    cfg.TEST.NUM_SPATIAL_CROPS = 3
    with pytest.raises(ValueError, match="TEST.NUM_SPATIAL_CROPS 1"):
        build_dataset("imagenet", cfg, "test")
    with pytest.raises(ValueError, match="TEST_CROP_SIZE"):
        build_dataset("imagenet", _cfg(imagenet_dir, TEST_CROP_SIZE=32), "val")
    (tmp_path / "empty" / "val" / "cats").mkdir(parents=True)
    with pytest.raises(DatasetFormatError, match="no class folders"):
        build_dataset("imagenet", _cfg(tmp_path / "empty"), "val")


def test_bad_image_replaced_in_training_error_in_testing(imagenet_dir):
    (imagenet_dir / "train" / "n001" / "img0.png").write_bytes(b"broken")
    (imagenet_dir / "val" / "n001" / "img0.png").write_bytes(b"broken")
    train = build_dataset("imagenet", _cfg(imagenet_dir), "train")
    _, _, used, meta = train[0]
    assert used != 0 and meta["skipped"] == 1
    with pytest.raises(FrameReadError, match="img0.png"):
        build_dataset("imagenet", _cfg(imagenet_dir), "test")[0]
