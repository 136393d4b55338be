"""The short-cycle batch sampler and the per-item multigrid crops of the video datasets."""

import os
import random
from unittest import mock

import pytest
from torch.utils.data import SequentialSampler

from slowfast.datasets import build_dataset
from slowfast.datasets import short_cycle as sc
from slowfast.datasets import transform
from slowfast.datasets.loader import construct_loader
from slowfast.datasets.tiny_frames import write_charades_tree, write_ssv2_tree
from slowfast.utils.multigrid import init_multigrid


def _multigrid(cfg, **mg):
    cfg.MULTIGRID.SHORT_CYCLE = True
    for key, value in mg.items():
        cfg.MULTIGRID[key] = value
    return init_multigrid(cfg)[0]


def test_sampler_cycles_three_batch_sizes_with_the_short_cycle_index(make_cfg):
    cfg = _multigrid(make_cfg("", DATA__TRAIN_CROP_SIZE=224))
    sampler = sc.ShortCycleBatchSampler(SequentialSampler(range(100)), 2, True, cfg)
    assert sampler.batch_sizes == [8, 4, 2]  # (224 / 112)^2 and (224 / 158.4)^2 times the base batch
    batches = list(sampler)
    assert [len(b) for b in batches] == [8, 4, 2] * 7  # the last 2 items would start a batch of 8
    assert [b[0][1] for b in batches[:4]] == [0, 1, 2, 0]
    assert [i for b in batches for i, _ in b] == list(range(98))
    assert len(sampler) == len(batches)
    assert sc.short_cycle_crop_sizes(cfg) == [112, 158, 224]


@pytest.mark.parametrize("items,drop_last", [(0, True), (13, True), (13, False), (14, True), (15, False), (28, True)])
def test_length_is_the_number_of_batches_yielded(make_cfg, items, drop_last):
    cfg = _multigrid(make_cfg("", DATA__TRAIN_CROP_SIZE=224))
    sampler = sc.ShortCycleBatchSampler(SequentialSampler(range(items)), 2, drop_last, cfg)
    assert len(sampler) == len(list(sampler))


def test_the_work_per_iteration_stays_about_constant(make_cfg):
    cfg = _multigrid(make_cfg("", DATA__TRAIN_CROP_SIZE=224))
    work = [b * c * c for b, c in zip(sc.short_cycle_batch_sizes(cfg, 8), sc.short_cycle_crop_sizes(cfg))]
    assert max(work) / min(work) < 1.05


def test_sampler_refuses_a_non_positive_batch(make_cfg):
    cfg = _multigrid(make_cfg(""))
    with pytest.raises(ValueError, match="batch_size"):
        sc.ShortCycleBatchSampler(SequentialSampler(range(4)), 0, True, cfg)


def test_crop_shape_scales_the_jitter_lower_bound_with_the_crop(make_cfg):
    cfg = make_cfg("", DATA__TRAIN_CROP_SIZE=224, DATA__TRAIN_JITTER_SCALES=[256, 320])
    assert sc.train_crop_shape(cfg, 0) is None  # multigrid off
    cfg = _multigrid(cfg)
    assert sc.train_crop_shape(cfg, 0) == (112, 128, 320)
    assert sc.train_crop_shape(cfg, 1) == (158, 181, 320)
    assert sc.train_crop_shape(cfg, 2) == sc.train_crop_shape(cfg, None) == (224, 256, 320)
    assert sc.split_item_index((5, 1)) == (5, 1) and sc.split_item_index(5) == (5, None)


def _crop_sizes_of(loader):
    return [(inputs[-1].shape[0], inputs[-1].shape[-1]) for inputs, *_ in loader]


def test_kinetics_items_take_the_short_cycle_crop(video_dir, make_cfg):
    cfg = _multigrid(make_cfg(video_dir, DATA__PATH_PREFIX=str(video_dir), TRAIN__BATCH_SIZE=1))
    # crops: round(0.5 * 40) = 20 and round(0.7071 * 40) = 28; batches 4 and 2 clips then 1.
    loader = construct_loader(cfg, "train")
    random.seed(0)
    assert _crop_sizes_of(loader) == [(4, 20)]  # 4 videos: one batch of 4 (the next would need 2)
    cfg.TRAIN.BATCH_SIZE = 2
    with pytest.raises(ValueError, match=r"too few for one full batch of 2 \(scaled up by the MULTIGRID short cycle\)"):
        construct_loader(cfg, "train")  # 8 clips needed for the first batch
    ds = build_dataset("kinetics", cfg, "train")
    assert ds[(0, 1)][0][-1].shape[-2:] == (28, 28) and ds[(0, 2)][0][-1].shape[-2:] == (40, 40)
    assert construct_loader(cfg, "train", is_precise_bn=True).batch_size == 2  # no short cycle there


def test_kinetics_jitter_range_follows_the_crop(video_dir, make_cfg):
    cfg = _multigrid(make_cfg(video_dir, DATA__PATH_PREFIX=str(video_dir)))
    ds = build_dataset("kinetics", cfg, "train")
    seen = []
    real = transform.jitter_size

    def spy(min_size, max_size, *args, **kwargs):
        seen.append((min_size, max_size))
        return real(min_size, max_size, *args, **kwargs)

    # The short-side train path (train_augment.draw_jitter_crop) draws the short side with jitter_size.
    with mock.patch.object(transform, "jitter_size", spy):
        ds[(1, 0)]
        ds[(1, 2)]
    assert seen == [(24, 56), (48, 56)]  # round(48 * 20 / 40) for the half-size crop


def test_kinetics_draws_the_long_cycle_sampling_rate(video_dir, make_cfg):
    cfg = make_cfg(video_dir, DATA__PATH_PREFIX=str(video_dir))
    cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE = 4
    ds = build_dataset("kinetics", cfg, "train")
    with mock.patch("slowfast.datasets.decoder.decode_clips", side_effect=RuntimeError("stop")) as decode:
        for _ in range(40):
            with pytest.raises(RuntimeError):
                ds.load_train_clip(0)
    assert {call.kwargs["sampling_rate"] for call in decode.call_args_list} == {2, 3, 4}


@pytest.mark.parametrize("name", ["charades", "ssv2"])
def test_frame_datasets_take_the_short_cycle_crop(tmp_path, make_cfg, name):
    root = str(tmp_path)
    if name == "charades":
        write_charades_tree(root, num_classes=4, num_frames=(20, 9, 31))
    else:
        write_ssv2_tree(root, num_classes=4, num_frames=(12, 5, 17))
    cfg = make_cfg(root, DATA__PATH_PREFIX=os.path.join(root, "frames"), DATA__NUM_FRAMES=4,
                   DATA__TRAIN_CROP_SIZE=24, DATA__TEST_CROP_SIZE=24, DATA__TRAIN_JITTER_SCALES=[30, 40],
                   SLOWFAST__ALPHA=2, MODEL__NUM_CLASSES=4)
    cfg = _multigrid(cfg)
    ds = build_dataset(name, cfg, "train")
    assert [ds[(0, k)][0][-1].shape[-1] for k in (0, 1, 2)] == [12, 17, 24]
    assert ds[0][0][-1].shape[-1] == 24
    test_item = build_dataset(name, cfg, "test")[0]
    assert test_item[0][-1].shape[-1] == 24  # test time is unaffected
