"""The AVA dataset on a tiny synthetic mini-AVA: items, box geometry, batching and bad input."""

import logging
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from slowfast.config import get_cfg
from slowfast.datasets import DATASET_REGISTRY, build_dataset
from slowfast.datasets.ava_dataset import Ava, FrameLoadError, ava_collate, color_jitter, lighting_jitter
from slowfast.datasets.ava_helper import sec_to_frame
from slowfast.datasets.ava_synthetic import AvaSyntheticSpec, config_overrides, ensure_synthetic_ava
from slowfast.datasets.kinetics import DatasetFormatError
from slowfast.datasets.loader import construct_loader

CFG = Path(__file__).resolve().parents[2] / "configs" / "Synthetic" / "AVA_SLOWFAST_R18_CPU.yaml"
TINY = AvaSyntheticSpec(num_train_videos=2, num_val_videos=2, keyframes_per_video=4)


@pytest.fixture(scope="module")
def ava_root(tmp_path_factory) -> str:
    return ensure_synthetic_ava(str(tmp_path_factory.mktemp("tiny_ava")), TINY)


@pytest.fixture
def copy_root(ava_root, tmp_path) -> str:
    """A private copy of the annotations and frame lists (frames shared), for tests that break files."""
    root = tmp_path / "ava"
    root.mkdir()
    for name in ("annotations", "frame_lists"):
        shutil.copytree(os.path.join(ava_root, name), root / name)
    os.symlink(os.path.join(ava_root, "frames"), root / "frames")
    return str(root)


def make_cfg(root: str, *overrides):
    cfg = get_cfg()
    cfg.merge_from_file(str(CFG))
    cfg.merge_from_list(config_overrides(root))
    cfg.merge_from_list(["DATA_LOADER.NUM_WORKERS", 0, *overrides])
    return cfg


def gt_rows(root: str, split: str):
    rows = {}
    with open(os.path.join(root, "annotations", f"ava_{split}_v2.2.csv")) as f:
        for line in f:
            vid, sec, x1, y1, x2, y2, action, _ = line.strip().split(",")
            rows.setdefault((vid, int(sec), x1, y1, x2, y2), set()).add(int(action))
    return rows


def test_registered_as_ava_and_built_case_insensitively(ava_root):
    assert DATASET_REGISTRY.get("Ava") is Ava
    ds = build_dataset("AVA", make_cfg(ava_root), "test")
    assert isinstance(ds, Ava) and len(ds) == TINY.num_val_videos * TINY.keyframes_per_video


def test_train_item_matches_the_annotations(ava_root):
    cfg = make_cfg(ava_root)
    ds = Ava(cfg, "train")
    assert len(ds) == TINY.num_train_videos * TINY.keyframes_per_video
    truth = gt_rows(ava_root, "train")
    for idx in (0, len(ds) - 1):
        inputs, labels, index, meta = ds[idx]
        assert index == idx and meta["skipped"] == 0
        slow, fast = inputs
        assert fast.shape == (3, cfg.DATA.NUM_FRAMES, 64, 64) and slow.shape == (3, cfg.DATA.NUM_FRAMES // 4, 64, 64)
        n = len(meta["boxes"])
        assert labels.shape == (n, 5) and labels.dtype == np.float32
        assert meta["ori_boxes"].shape == (n, 4) and meta["metadata"].shape == (n, 2)
        video = ds.video_idx_to_name[meta["metadata"][0, 0]]
        sec = int(meta["metadata"][0, 1])
        assert sec in TINY.keyframe_secs
        expected = {k[2:]: v for k, v in truth.items() if k[:2] == (video, sec)}
        got = {tuple(f"{v:.3f}" for v in box): set(np.flatnonzero(row) + 1) for box, row in zip(meta["ori_boxes"], labels)}
        # Training adds detected boxes (negatives or jittered copies) to the ground-truth ones.
        for box, actions in expected.items():
            assert got[box] == actions
        assert (meta["boxes"] >= 0).all() and (meta["boxes"][:, [0, 2]] <= 63).all() and (meta["boxes"][:, [1, 3]] <= 63).all()


def test_clip_is_centred_on_the_keyframe(ava_root):
    ds = Ava(make_cfg(ava_root, "DATA.NUM_FRAMES", 8, "DATA.SAMPLING_RATE", 3), "test")
    video_idx, _, sec, center = ds._keyframe_indices[0]
    assert center == sec_to_frame(sec) == (sec - 900) * 30
    paths = ds.clip_paths(0)
    name = ds.video_idx_to_name[video_idx]
    numbers = [int(p.rsplit("_", 1)[1][:-4]) - 1 for p in paths]
    assert numbers == [center - 12 + 3 * k for k in range(8)]
    assert all(os.path.basename(os.path.dirname(p)) == name for p in paths)


def test_test_boxes_scale_with_the_whole_frame(ava_root):
    ds = Ava(make_cfg(ava_root, "DATA.TEST_CROP_SIZE", 48), "test")
    inputs, _, _, meta = ds[1]
    assert inputs[1].shape[-2:] == (48, 64)
    np.testing.assert_allclose(meta["boxes"], np.minimum(meta["ori_boxes"] * [64, 48, 64, 48], [63, 47, 63, 47]), atol=1e-4)


def test_val_takes_the_centre_crop_and_force_flip_mirrors_boxes(ava_root):
    val = Ava(make_cfg(ava_root, "AVA.FULL_TEST_ON_VAL", True), "val")
    inputs, _, _, meta = val[0]
    assert inputs[1].shape[-2:] == (64, 64)
    x_offset = (85 - 64 + 1) // 2
    expected = meta["ori_boxes"] * [85, 64, 85, 64] - [x_offset, 0, x_offset, 0]
    np.testing.assert_allclose(meta["boxes"], np.clip(expected, 0, 63), atol=1e-3)
    flipped = Ava(make_cfg(ava_root, "AVA.FULL_TEST_ON_VAL", True, "AVA.TEST_FORCE_FLIP", True), "val")
    f_inputs, _, _, f_meta = flipped[0]
    assert torch.allclose(f_inputs[1], inputs[1].flip(-1))
    np.testing.assert_allclose(f_meta["boxes"][:, [0, 2]], 63 - meta["boxes"][:, [2, 0]], atol=1e-4)


def test_val_keeps_seconds_divisible_by_four_unless_full_test(ava_root):
    val = Ava(make_cfg(ava_root, "AVA.FULL_TEST_ON_VAL", False), "val")
    assert sorted({sec for _, _, sec, _ in val._keyframe_indices}) == [s for s in TINY.keyframe_secs if s % 4 == 0]


def boxed_frames(box, height=96, width=128, t=8):
    """Dark BGR frames with a bright rectangle at the normalised ``box`` whose left third has no green."""
    frames = np.full((t, height, width, 3), 20, dtype=np.uint8)
    x1, y1, x2, y2 = (np.array(box) * [width, height, width, height]).round().astype(int)
    frames[:, y1:y2, x1:x2] = 235
    frames[:, y1:y2, x1 : x1 + (x2 - x1) // 3, 1] = 20
    return frames


def test_train_boxes_follow_the_content_through_scale_crop_and_flip(ava_root):
    ds = Ava(make_cfg(ava_root, "DATA.RANDOM_FLIP", True, "DATA.TRAIN_JITTER_SCALES", [64, 96]), "train")
    box = np.array([[0.35, 0.3, 0.6, 0.8]], dtype=np.float32)
    random.seed(0)
    flips = []
    for _ in range(30):
        clip, out = ds.preprocess(boxed_frames(box[0]), box.copy())
        x1, y1, x2, y2 = (int(v) for v in out[0])
        red, green = clip[0, 0], clip[1, 0]
        inside = red[y1 + 2 : y2 - 1, x1 + 2 : x2 - 1]
        assert inside.numel() > 0 and inside.min() > 1.0, (out, clip.shape)
        mask = torch.ones_like(red, dtype=torch.bool)
        mask[max(y1 - 1, 0) : y2 + 3, max(x1 - 1, 0) : x2 + 3] = False
        assert red[mask].max() < -1.0
        if x1 == 0 or x2 == 63:
            continue  # the crop cut the box: its thirds are not the original ones
        third = (x2 - x1) // 3
        left = green[y1 + 2 : y2 - 1, x1 + 1 : x1 + third - 1].mean()
        right = green[y1 + 2 : y2 - 1, x2 - third + 2 : x2 - 1].mean()
        assert abs(left - right) > 2.0
        flips.append(bool(left > right))
    assert len(flips) >= 8 and set(flips) == {True, False}


def test_bgr_flag_reverses_channels(ava_root):
    frames = np.zeros((8, 96, 128, 3), dtype=np.uint8)
    frames[..., 2] = 255  # red in OpenCV's BGR order
    boxes = np.array([[0.1, 0.1, 0.5, 0.5]], dtype=np.float32)
    rgb, _ = Ava(make_cfg(ava_root), "test").preprocess(frames, boxes.copy())
    bgr, _ = Ava(make_cfg(ava_root, "AVA.BGR", True), "test").preprocess(frames, boxes.copy())
    assert rgb[0].mean() > 2.0 and rgb[2].mean() < -1.0
    assert torch.allclose(bgr, rgb.flip(0))


def test_colour_augmentation():
    clip = torch.rand(3, 4, 8, 8)
    assert torch.equal(color_jitter(clip, 0, 0, 0), clip)
    out = color_jitter(clip, 0.4, 0.4, 0.4, rng=random.Random(0))
    assert out.shape == clip.shape and not torch.equal(out, clip)
    eigvec = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    lit = lighting_jitter(clip, 0.1, [1.0, 2.0, 3.0], eigvec, rng=random.Random(0))
    offsets = (lit - clip).flatten(1)
    assert torch.allclose(offsets, offsets[:, :1].expand_as(offsets), atol=1e-6)
    assert torch.equal(lighting_jitter(clip, 0.0, [1.0] * 3, eigvec), clip)


def test_train_colour_augmentation_runs(ava_root):
    for pca_only in (True, False):
        cfg = make_cfg(ava_root, "AVA.TRAIN_USE_COLOR_AUGMENTATION", True, "AVA.TRAIN_PCA_JITTER_ONLY", pca_only)
        inputs, _, _, _ = Ava(cfg, "train")[0]
        assert torch.isfinite(inputs[0]).all()


def test_collate_tags_boxes_with_their_clip_and_pads_sizes():
    def item(idx, n, h, w):
        meta = {
            "boxes": np.full((n, 4), float(idx), dtype=np.float32),
            "ori_boxes": np.full((n, 4), 0.5, dtype=np.float32),
            "metadata": np.array([[idx, 902 + idx]] * n),
            "skipped": idx % 2,
        }
        return [torch.ones(3, 2, h, w), torch.ones(3, 8, h, w)], np.eye(n, 5, dtype=np.float32), idx, meta

    inputs, labels, index, meta = ava_collate([item(7, 2, 64, 85), item(3, 1, 64, 64), item(5, 3, 48, 64)])
    assert [x.shape for x in inputs] == [(3, 3, 2, 64, 85), (3, 3, 8, 64, 85)]
    assert inputs[1][1, :, :, :, 64:].abs().sum() == 0 and inputs[1][2, :, :, 48:].abs().sum() == 0
    assert inputs[1][2, :, :, :48, :64].eq(1).all()
    assert labels.shape == (6, 5) and labels.dtype == torch.float32
    assert index.tolist() == [7, 3, 5]
    assert meta["boxes"].shape == (6, 5) and meta["boxes"].dtype == torch.float32
    assert meta["boxes"][:, 0].tolist() == [0, 0, 1, 2, 2, 2]
    assert meta["boxes"][:, 1].tolist() == [7, 7, 3, 5, 5, 5]
    assert meta["ori_boxes"][:, 0].tolist() == [0, 0, 1, 2, 2, 2]
    assert meta["metadata"].tolist() == [[7, 909], [7, 909], [3, 905], [5, 907], [5, 907], [5, 907]]
    assert meta["keyframe_index"].tolist() == [7, 7, 3, 5, 5, 5]
    assert meta["skipped"].tolist() == [1, 1, 1]


def test_loader_batches_with_the_dataset_collate(ava_root):
    cfg = make_cfg(ava_root, "TRAIN.BATCH_SIZE", 3)
    loader = construct_loader(cfg, "train")
    inputs, labels, index, meta = next(iter(loader))
    assert inputs[0].shape[0] == 3 and meta["boxes"].shape == (labels.shape[0], 5)
    assert set(meta["boxes"][:, 0].long().tolist()) == {0, 1, 2}


def test_missing_frame_fails_evaluation_and_is_skipped_counted_in_training(copy_root, ava_root, tmp_path):
    frames = tmp_path / "frames"
    shutil.copytree(os.path.join(ava_root, "frames"), frames)
    cfg = make_cfg(copy_root, "AVA.FRAME_DIR", str(frames))
    test = Ava(cfg, "test")
    victim = test.clip_paths(0)[4]
    os.remove(victim)
    with pytest.raises(FrameLoadError, match=rf"{os.path.basename(victim)} does not exist .*second 902, test split"):
        test[0]
    train = Ava(cfg, "train")
    victim = train.clip_paths(1)[4]
    os.remove(victim)
    random.seed(0)
    _, _, used, meta = train[1]
    assert used != 1 and meta["skipped"] == 1 and train.num_skipped == 1
    with open(victim, "wb") as f:
        f.write(b"not a jpeg")
    with pytest.raises(FrameLoadError, match="cannot be decoded"):
        train.load_keyframe(1)


def test_annotated_video_missing_from_frame_lists(copy_root, caplog):
    lists = os.path.join(copy_root, "frame_lists")
    for split in ("train", "val"):
        path = os.path.join(lists, f"{split}.csv")
        with open(path) as f:
            lines = f.readlines()
        with open(path, "w") as f:
            f.writelines(line for line in lines if not line.startswith(f"synth_{split}_000 "))
    with pytest.raises(DatasetFormatError, match=r"1 videos of the test annotations .*synth_val_000 \(first at .*ava_detection_val_boxes_and_labels\.csv:1\)"):
        Ava(make_cfg(copy_root), "test")
    with caplog.at_level(logging.WARNING):
        ds = Ava(make_cfg(copy_root), "train")
    assert len(ds) == (TINY.num_train_videos - 1) * TINY.keyframes_per_video
    assert "synth_train_000 (first at" in caplog.text and "keyframes are skipped" in caplog.text


def test_keyframe_past_the_end_of_the_frame_list(copy_root, caplog):
    last = sec_to_frame(TINY.keyframe_secs[-1])
    for split in ("train", "val"):
        path = os.path.join(copy_root, "frame_lists", f"{split}.csv")
        with open(path) as f:
            lines = f.readlines()
        with open(path, "w") as f:
            f.writelines(l for l in lines if not (l.startswith(f"synth_{split}_000 ") and int(l.split()[2]) >= last))
    with pytest.raises(DatasetFormatError, match="past the end of their frame list: synth_val_000 second 905"):
        Ava(make_cfg(copy_root), "test")
    with caplog.at_level(logging.WARNING):
        ds = Ava(make_cfg(copy_root), "train")
    assert len(ds) == TINY.num_train_videos * TINY.keyframes_per_video - 1
    assert "synth_train_000 second 905 (frame 150, video has 150)" in caplog.text


def test_annotation_with_wrong_column_count_is_an_error(copy_root):
    path = os.path.join(copy_root, "annotations", "person_box_67091280_iou90", "ava_detection_val_boxes_and_labels.csv")
    with open(path, "a") as f:
        f.write("synth_val_000,0903,0.1,0.1,0.4,0.9,0.95\n")
    with open(path) as f:
        line = len(f.readlines())
    with pytest.raises(DatasetFormatError, match=rf"ava_detection_val_boxes_and_labels\.csv:{line}: expected 8 columns"):
        Ava(make_cfg(copy_root), "test")


def test_unknown_backend_and_split(ava_root):
    with pytest.raises(ValueError, match="IMG_PROC_BACKEND"):
        Ava(make_cfg(ava_root, "AVA.IMG_PROC_BACKEND", "pil"), "train")
    with pytest.raises(ValueError, match="Unknown AVA split"):
        Ava(make_cfg(ava_root), "eval")
    assert len(Ava(make_cfg(ava_root, "AVA.IMG_PROC_BACKEND", "pytorch"), "test")) > 0
