"""Charades and SSv2 frame-folder datasets: sampling rules, test views by hand, labels, bad frames."""

import json
import math
import os

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from slowfast.datasets import build_dataset
from slowfast.datasets import frame_list as fl
from slowfast.datasets.kinetics import DatasetFormatError
from slowfast.datasets.ssv2 import normalize_template
from slowfast.datasets.tiny_frames import write_charades_tree, write_ssv2_tree

# ------------------------------------------------------------------ temporal rules (worked examples)


def test_charades_test_starts_worked_examples():
    assert fl.charades_test_starts(250, 64, 2, 10) == [0, 14, 27, 41, 55, 68, 82, 96, 109, 123]
    assert fl.strided_indices(123, 64, 2, 250)[-1] == 249
    assert fl.charades_test_starts(129, 64, 2, 5) == [0, 0, 1, 2, 2]  # half to even
    assert fl.charades_test_starts(500, 64, 2, 1) == [0]  # the reference divides by zero here
    short = fl.strided_indices(fl.charades_test_starts(100, 64, 2, 10)[3], 64, 2, 100)
    assert short == list(range(0, 100, 2)) + [99] * 14


def test_charades_train_start_bounds_are_inclusive():
    import random

    rng = random.Random(0)
    assert {fl.charades_train_start(130, 64, 2, rng) for _ in range(400)} == {0, 1, 2, 3}
    assert {fl.charades_train_start(125, 64, 2, rng) for _ in range(400)} == {-2, -1, 0}


def test_ssv2_segment_worked_examples():
    assert fl.ssv2_segment_indices(45, 8) == [3, 8, 13, 19, 25, 30, 35, 41]
    frames = fl.ssv2_segment_indices(20, 64)
    assert frames[:12] == [0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3] and frames[-6:] == [17, 18, 18, 18, 18, 19]
    import random

    rng = random.Random(1)
    for _ in range(50):
        drawn = fl.ssv2_segment_indices(45, 8, rng)
        bounds = [int(np.round(5.5 * i)) for i in range(9)]
        assert all(bounds[i] <= f <= bounds[i + 1] for i, f in enumerate(drawn))


def test_template_normalisation():
    assert normalize_template("Moving [something] away from [something]") == "Moving something away from something"


# ------------------------------------------------------------------ test views by hand


def _hand_view(paths, clip, crop, s, mean, std, reverse):
    """The reference pixel rule, written out: BGR /255, -mean, /std, short side, crop s, channel flip."""
    frames = np.stack([cv2.imread(paths[i], cv2.IMREAD_COLOR) for i in clip]).astype(np.float32) / 255.0
    x = (torch.from_numpy(frames) - torch.tensor(mean)) / torch.tensor(std)
    x = x.permute(3, 0, 1, 2)
    h, w = x.shape[-2:]
    if min(h, w) != crop:
        nh, nw = (crop, math.floor(w / h * crop)) if h <= w else (math.floor(h / w * crop), crop)
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False)
        h, w = nh, nw
    y0, x0 = math.ceil((h - crop) / 2), math.ceil((w - crop) / 2)
    if h > w:
        y0 = {0: 0, 1: y0, 2: h - crop}[s]
    else:
        x0 = {0: 0, 1: x0, 2: w - crop}[s]
    x = x[:, :, y0:y0 + crop, x0:x0 + crop]
    return x.flip(0) if reverse else x


def _frame_paths(csv_path, prefix):
    return fl.load_frame_list(csv_path, prefix).paths


@pytest.fixture
def charades_dir(tmp_path):
    return write_charades_tree(str(tmp_path), num_classes=4, num_frames=(20, 9, 31))


@pytest.fixture
def ssv2_dir(tmp_path):
    return write_ssv2_tree(str(tmp_path), num_classes=3, num_frames=(12, 5, 17))


def _frame_cfg(make_cfg, root, **kw):
    keys = dict(DATA__PATH_PREFIX=os.path.join(root, "frames"), DATA__NUM_FRAMES=4,
                DATA__TEST_CROP_SIZE=32, DATA__TRAIN_CROP_SIZE=24, DATA__TRAIN_JITTER_SCALES=[30, 40],
                DATA__REVERSE_INPUT_CHANNEL=True, DATA__MEAN=[0.4, 0.5, 0.6], DATA__STD=[0.2, 0.25, 0.3],
                SLOWFAST__ALPHA=2, MODEL__NUM_CLASSES=4)
    keys.update(kw)
    return make_cfg(root, **keys)


@pytest.mark.parametrize("crops", [3, 1])
def test_charades_test_views_equal_hand_computation(charades_dir, make_cfg, crops):
    cfg = _frame_cfg(make_cfg, charades_dir, TEST__NUM_SPATIAL_CROPS=crops, TEST__NUM_ENSEMBLE_VIEWS=3)
    ds = build_dataset("charades", cfg, "test")
    paths = _frame_paths(os.path.join(charades_dir, "val.csv"), cfg.DATA.PATH_PREFIX)
    for index in range(len(ds)):
        (slow, fast), label, idx, meta = ds[index]
        assert idx == index and meta["skipped"] == 0
        assert fast.shape == (3 * crops, 3, 4, 32, 32) and slow.shape == (3 * crops, 3, 2, 32, 32)
        n = len(paths[index])
        starts = [round(max(n - 7, 0) / 2 * k) for k in range(3)]
        spatial = [0, 1, 2] if crops == 3 else [0]
        for v in range(3 * crops):
            k, s = divmod(v, crops)
            clip = [min(starts[k] + 2 * j, n - 1) for j in range(4)]
            want = _hand_view(paths[index], clip, 32, spatial[s], cfg.DATA.MEAN, cfg.DATA.STD, True)
            torch.testing.assert_close(fast[v], want, rtol=0, atol=0)
            torch.testing.assert_close(slow[v], want[:, [0, 3]], rtol=0, atol=0)
        cls = index % 4
        expected = torch.zeros(4)
        expected[[cls, (cls + 1) % 4]] = 1.0
        assert torch.equal(label, expected)  # video level: every frame's labels


def test_ssv2_test_views_equal_hand_computation(ssv2_dir, make_cfg):
    cfg = _frame_cfg(make_cfg, ssv2_dir, TEST__NUM_SPATIAL_CROPS=3, TEST__NUM_ENSEMBLE_VIEWS=2,
                     MODEL__ARCH="slow")
    ds = build_dataset("ssv2", cfg, "test")
    paths = _frame_paths(os.path.join(ssv2_dir, "val.csv"), cfg.DATA.PATH_PREFIX)
    for index in range(len(ds)):
        (clip_views,), label, idx, _ = ds[index]
        assert clip_views.shape == (6, 3, 4, 32, 32)
        assert label == index % 3
        clip = fl.ssv2_segment_indices(len(paths[index]), 4)
        for v in range(6):
            want = _hand_view(paths[index], clip, 32, v % 3, cfg.DATA.MEAN, cfg.DATA.STD, True)
            torch.testing.assert_close(clip_views[v], want, rtol=0, atol=0)


def test_ssv2_videos_follow_json_order(ssv2_dir, make_cfg):
    path = os.path.join(ssv2_dir, "something-something-v2-validation.json")
    entries = json.load(open(path))
    json.dump(entries[::-1], open(path, "w"))
    ds = build_dataset("ssv2", _frame_cfg(make_cfg, ssv2_dir), "val")
    assert ds._names == [e["id"] for e in entries[::-1]]


def test_ssv2_frame_list_must_match_json(ssv2_dir, make_cfg):
    path = os.path.join(ssv2_dir, "something-something-v2-validation.json")
    json.dump(json.load(open(path))[:-1], open(path, "w"))
    with pytest.raises(DatasetFormatError, match="val.csv lists 3 videos"):
        build_dataset("ssv2", _frame_cfg(make_cfg, ssv2_dir), "test")


def test_ssv2_unknown_template_is_named(ssv2_dir, make_cfg):
    path = os.path.join(ssv2_dir, "something-something-v2-train.json")
    entries = json.load(open(path))
    entries[0]["template"] = "Nothing [here]"
    json.dump(entries, open(path, "w"))
    with pytest.raises(DatasetFormatError, match="'Nothing here'"):
        build_dataset("ssv2", _frame_cfg(make_cfg, ssv2_dir), "train")


# ------------------------------------------------------------------ train / val items


def test_charades_train_label_covers_the_clip_span(charades_dir, make_cfg):
    cfg = _frame_cfg(make_cfg, charades_dir, DATA__NUM_FRAMES=2, DATA__SAMPLING_RATE=3)
    ds = build_dataset("charades", cfg, "train")
    seen = set()
    for _ in range(30):
        (slow, fast), label, idx, meta = ds[0]  # 20 frames, class 0 then 0+1 from frame 10
        assert fast.shape == (3, 2, 24, 24) and slow.shape == (3, 1, 24, 24)
        assert label[0] == 1.0 and label[2:].sum() == 0
        seen.add(float(label[1]))
    assert seen == {0.0, 1.0}
    val = build_dataset("charades", cfg, "val")
    assert val[0][1].tolist() == [1.0, 1.0, 0.0, 0.0]


def test_ssv2_train_item(ssv2_dir, make_cfg):
    cfg = _frame_cfg(make_cfg, ssv2_dir, DATA__RANDOM_FLIP=False)
    ds = build_dataset("ssv2", cfg, "train")
    (slow, fast), label, idx, meta = ds[4]
    assert fast.shape == (3, 4, 24, 24) and label == 1 and meta["skipped"] == 0


def test_frame_list_format_errors(tmp_path):
    bad = tmp_path / "a.csv"
    bad.write_text("video path\nx 0 0 x.jpg\n")
    with pytest.raises(DatasetFormatError, match="a.csv:1: the header"):
        fl.load_frame_list(str(bad))
    bad.write_text('original_vido_id video_id frame_id path labels\nx 0 0 x.jpg "1"\nx 0 1 "2"\n')
    with pytest.raises(DatasetFormatError, match="a.csv:3: expected 5 fields"):
        fl.load_frame_list(str(bad))
    bad.write_text('original_vido_id video_id frame_id path labels\nx 0 0 x.jpg "a,b"\n')
    with pytest.raises(DatasetFormatError, match="a.csv:2: labels"):
        fl.load_frame_list(str(bad))


def test_frame_list_order_prefix_and_labels(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text('original_vido_id video_id frame_id path labels\n'
                    'b 1 0 b/2.jpg "3,4"\na 0 0 a/1.jpg ""\nb 1 1 b/1.jpg 5\n')
    videos = fl.load_frame_list(str(path), "/p")
    assert videos.names == ["b", "a"]
    assert videos.paths == [["/p/b/2.jpg", "/p/b/1.jpg"], ["/p/a/1.jpg"]]
    assert videos.labels == [[[3, 4], [5]], [[]]]


# ------------------------------------------------------------------ bad frames


def _break_frame(root, name, t, how):
    path = os.path.join(root, "frames", name, f"{name}-{t:06d}.jpg")
    if how == "missing":
        os.remove(path)
    else:
        open(path, "wb").write(b"not a jpeg")
    return path


@pytest.mark.parametrize("how", ["missing", "corrupt"])
def test_bad_frame_is_a_named_error_in_testing(charades_dir, make_cfg, how):
    path = _break_frame(charades_dir, "val000", 1, how)
    ds = build_dataset("charades", _frame_cfg(make_cfg, charades_dir), "test")
    with pytest.raises(fl.FrameReadError, match=f"val000 .*{os.path.basename(path)}"):
        ds[0]


def test_bad_frames_are_replaced_and_counted_in_training(charades_dir, make_cfg):
    for t in range(1, 21):
        _break_frame(charades_dir, "train000", t, "corrupt")
    ds = build_dataset("charades", _frame_cfg(make_cfg, charades_dir), "train")
    _, _, used, meta = ds[0]
    assert used != 0 and meta["skipped"] == 1 and ds.num_skipped == 1


def test_unsupported_keys_are_refused(charades_dir, make_cfg):
    with pytest.raises(ValueError, match="NUM_SPATIAL_CROPS"):
        build_dataset("charades", _frame_cfg(make_cfg, charades_dir, TEST__NUM_SPATIAL_CROPS=2), "test")


def test_charades_long_cycle_sampling_rate_is_drawn_in_training_only(make_cfg):
    import random

    from slowfast.datasets.short_cycle import train_sampling_rate

    cfg = make_cfg("", DATA__SAMPLING_RATE=2)
    assert train_sampling_rate(cfg) == 2
    cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE = 5
    rng = random.Random(0)
    assert {train_sampling_rate(cfg, rng) for _ in range(200)} == {2, 3, 4, 5}
    cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE = 1
    with pytest.raises(ValueError, match="LONG_CYCLE_SAMPLING_RATE"):
        train_sampling_rate(cfg)


# ------------------------------------------------------------------ training augmentation (Kinetics' ClipAugmenter)


def _aug_item(make_cfg, root, name, seed, **aug):
    keys = dict(AUG__ENABLE=True, AUG__AA_TYPE="", AUG__COLOR_JITTER=0.0, AUG__RE_PROB=0.0, AUG__RE_MODE="const",
                DATA__RANDOM_FLIP=False)
    keys.update(aug)
    ds = build_dataset(name, _frame_cfg(make_cfg, root, **keys), "train")
    import random

    random.seed(seed)
    (slow, fast), label, index, meta = ds[0]
    return fast, label


@pytest.mark.parametrize("name", ["charades", "ssv2"])
def test_frame_datasets_apply_rand_augment_and_cube_erasing(charades_dir, ssv2_dir, make_cfg, name):
    root = charades_dir if name == "charades" else ssv2_dir
    plain, _ = _aug_item(make_cfg, root, name, 5)
    assert plain.shape == (3, 4, 24, 24)
    randaug, _ = _aug_item(make_cfg, root, name, 5, AUG__AA_TYPE="rand-m9-n4-mstd0.5-inc1")
    assert randaug.shape == plain.shape and not torch.equal(randaug, plain)
    erased, _ = _aug_item(make_cfg, root, name, 5, AUG__RE_PROB=1.0)
    changed = (erased != plain).any(0)  # T x H x W
    assert changed.any() and (erased[:, changed] == 0).all()
    assert (changed == changed[:1]).all()  # the same box on every frame
    rows, cols = changed[0].any(1).nonzero().flatten(), changed[0].any(0).nonzero().flatten()
    h, w = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
    assert 0.02 * 24 * 24 <= h * w <= 24 * 24 / 3 + 24 and h < 24 and w < 24  # RE's area range, within the frame


def test_frame_datasets_take_random_resized_crops_and_repeated_augmentation(charades_dir, make_cfg):
    from torch.utils.data import DataLoader

    cfg = _frame_cfg(make_cfg, charades_dir, DATA__TRAIN_JITTER_SCALES_RELATIVE=[0.08, 1.0],
                     DATA__TRAIN_JITTER_ASPECT_RELATIVE=[0.75, 4 / 3], AUG__NUM_SAMPLE=2)
    ds = build_dataset("charades", cfg, "train")
    (slow, fast), label, _, _ = ds[0]
    assert fast.shape == (2, 3, 4, 24, 24) and slow.shape == (2, 3, 2, 24, 24)
    assert label.shape == (2, 4) and torch.equal(label[0], label[1])
    assert not torch.equal(fast[0], fast[1])
    (slow, fast), labels, index, _ = next(iter(DataLoader(ds, batch_size=3, collate_fn=ds.collate_fn)))
    assert fast.shape == (6, 3, 4, 24, 24) and labels.shape == (6, 4) and index.tolist()[:2] == [0, 0]
    val = build_dataset("charades", cfg, "val")
    assert val[0][0][1].shape == (3, 4, 24, 24)  # one clip, short-side jitter and crop
