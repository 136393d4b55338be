"""Fixtures of the dataset tests: a config builder and a folder of tiny indexed videos."""

import os

import pytest

from slowfast.config import get_cfg
from video_testing import write_csv, write_video


@pytest.fixture
def make_cfg():
    """Build a small test config: ``make_cfg(data_dir, KEY=value, ...)`` with dotted keys as ``DATA__NUM_FRAMES``."""

    def build(data_dir: str = "", **overrides):
        cfg = get_cfg()
        cfg.DATA.PATH_TO_DATA_DIR = str(data_dir)
        cfg.DATA.NUM_FRAMES = 8
        cfg.DATA.SAMPLING_RATE = 2
        cfg.DATA.TRAIN_JITTER_SCALES = [48, 56]
        cfg.DATA.TRAIN_CROP_SIZE = 40
        cfg.DATA.TEST_CROP_SIZE = 40
        cfg.MODEL.ARCH = "slowfast"
        cfg.SLOWFAST.ALPHA = 4
        cfg.TEST.NUM_ENSEMBLE_VIEWS = 3
        cfg.TEST.NUM_SPATIAL_CROPS = 3
        cfg.DATA_LOADER.NUM_WORKERS = 0
        cfg.DATA_LOADER.PIN_MEMORY = False
        cfg.TRAIN.BATCH_SIZE = 2
        cfg.TEST.BATCH_SIZE = 9
        cfg.NUM_GPUS = 0
        for key, value in overrides.items():
            node = cfg
            parts = key.split("__")
            for part in parts[:-1]:
                node = node[part]
            node[parts[-1]] = value
        return cfg

    return build


@pytest.fixture
def video_dir(tmp_path):
    """A folder of small test videos plus train/val/test csv files over them (labels 0-3)."""
    videos = []
    specs = [
        dict(num_frames=40, fps=30),
        dict(num_frames=50, fps=15),
        dict(num_frames=30, fps=24, width=48, height=64),
        dict(num_frames=12, fps=30),
    ]
    for i, spec in enumerate(specs):
        videos.append(write_video(str(tmp_path / f"v{i}.mp4"), **spec))
    rows = [(os.path.basename(v), i) for i, v in enumerate(videos)]
    for split in ("train", "val", "test"):
        write_csv(str(tmp_path / f"{split}.csv"), rows)
    return tmp_path
