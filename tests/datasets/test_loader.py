"""DataLoader construction: batch sizes, collation of items and meta, workers, distributed sampling."""

import os

import pytest
import torch
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from video_testing import write_csv, write_video
from slowfast.datasets import Kinetics
from slowfast.datasets.loader import construct_loader, shuffle_dataset


def test_train_loader_batches_and_drops_last(video_dir, make_cfg):
    cfg = make_cfg(video_dir, DATA__PATH_PREFIX=str(video_dir), TRAIN__BATCH_SIZE=3)
    loader = construct_loader(cfg, "train")
    assert loader.drop_last and loader.batch_size == 3 and not loader.pin_memory
    batches = list(loader)
    assert len(batches) == 1
    (slow, fast), labels, index, meta = batches[0]
    assert fast.shape == (3, 3, 8, 40, 40) and slow.shape == (3, 3, 2, 40, 40)
    assert labels.dtype == torch.int64 and sorted(index.tolist()) == sorted(labels.tolist())
    assert meta["skipped"].tolist() == [0, 0, 0] and (meta["decoded_frames"] > 0).all()
    val = construct_loader(cfg, "val")
    assert not val.drop_last and len(list(val)) == 2


def test_test_loader_counts_videos_from_clips(video_dir, make_cfg):
    cfg = make_cfg(video_dir, DATA__PATH_PREFIX=str(video_dir), TEST__BATCH_SIZE=18)
    loader = construct_loader(cfg, "test")
    assert loader.batch_size == 2  # 18 clips = 2 videos of 9 views
    (slow, fast), labels, index, meta = next(iter(loader))
    assert fast.shape == (2, 9, 3, 8, 40, 40) and index.tolist() == [0, 1]
    cfg.TEST.BATCH_SIZE = 4
    assert construct_loader(cfg, "test").batch_size == 1


def test_skip_counts_come_back_from_worker_processes(tmp_path, make_cfg):
    good = [write_video(str(tmp_path / f"g{i}.mp4"), num_frames=20, fps=30) for i in range(2)]
    bad = str(tmp_path / "bad.mp4")
    open(bad, "wb").write(os.urandom(2000))
    write_csv(str(tmp_path / "train.csv"), [(good[0], 0), (bad, 1), (bad, 1), (good[1], 3)])
    cfg = make_cfg(tmp_path, TRAIN__BATCH_SIZE=2, DATA_LOADER__NUM_WORKERS=1)
    loader = construct_loader(cfg, "train")
    skipped = sum(int(meta["skipped"].sum()) for _, _, _, meta in loader)
    assert skipped >= 2


def test_distributed_sampler_epoch(video_dir, make_cfg):
    cfg = make_cfg(video_dir, DATA__PATH_PREFIX=str(video_dir))
    dataset = Kinetics(cfg, "train")
    sampler = DistributedSampler(dataset, num_replicas=2, rank=0, shuffle=True, seed=0)
    loader = DataLoader(dataset, batch_size=1, sampler=sampler)
    orders = []
    for epoch in range(3):
        shuffle_dataset(loader, epoch)
        assert sampler.epoch == epoch
        orders.append(list(sampler))
    assert len(orders[0]) == 2 and len({tuple(o) for o in orders}) > 1
    shuffle_dataset(construct_loader(cfg, "train", dataset=dataset), 5)  # no sampler: nothing to do


def test_a_train_split_smaller_than_one_batch_is_an_error_not_empty_epochs():
    from slowfast.config import get_cfg
    from slowfast.datasets.loader import construct_loader

    class Three(torch.utils.data.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return torch.zeros(1), 0, i, {}

    cfg = get_cfg()
    cfg.TRAIN.BATCH_SIZE = 4
    cfg.DATA_LOADER.NUM_WORKERS = 0
    with pytest.raises(ValueError, match=r"has 3 items on this process, too few for one full batch of 4 \(TRAIN"):
        construct_loader(cfg, "train", dataset=Three())
    assert len(construct_loader(cfg, "val", dataset=Three())) == 1
