"""The Kinetics dataset: csv lists, train and test items, decode-once views, bad videos."""

import logging
import os
import random

import pytest
import torch

from per_view_reference import PerViewKinetics
from video_testing import clip_indices, write_csv, write_video
from slowfast.datasets import DATASET_REGISTRY, DatasetFormatError, DecodeError, Kinetics, build_dataset
from slowfast.datasets import decoder
from slowfast.datasets.kinetics import load_video_list
from slowfast.datasets.utils import tensor_normalize


def test_registry_is_case_insensitive(video_dir, make_cfg):
    cfg = make_cfg(video_dir, DATA__PATH_PREFIX=str(video_dir))
    for name in ["kinetics", "Kinetics", "KINETICS"]:
        assert isinstance(build_dataset(name, cfg, "val"), Kinetics)
    assert "Kinetics" in DATASET_REGISTRY and "Synthetic" in DATASET_REGISTRY
    with pytest.raises(KeyError, match="kinetic"):
        build_dataset("kinetic", cfg, "train")
    with pytest.raises(ValueError):
        Kinetics(cfg, "validation")


def test_csv_separators_and_prefix(tmp_path):
    space = write_csv(str(tmp_path / "a.csv"), [("x/a.mp4", 3), ("b.mp4", 0)])
    assert load_video_list(space, "/data") == (["/data/x/a.mp4", "/data/b.mp4"], [3, 0])
    comma = write_csv(str(tmp_path / "b.csv"), [("a.mp4", 1), ("b.mp4", 2)], sep=",")
    assert load_video_list(comma) == (["a.mp4", "b.mp4"], [1, 2])
    pipe = write_csv(str(tmp_path / "c.csv"), [("my video.mp4", 1)], sep="|")
    assert load_video_list(pipe, separator="|") == (["my video.mp4"], [1])
    blank = tmp_path / "d.csv"
    blank.write_text("a.mp4 1\n\n  \nb.mp4   2\n")
    assert load_video_list(str(blank))[1] == [1, 2]


@pytest.mark.parametrize(
    "text,lineno,what",
    [
        ("a.mp4 1\nb.mp4 2 7\n", 2, "3"),
        ("a.mp4\n", 1, "1"),
        ("a.mp4 1\nb.mp4 dog\n", 2, "'dog'"),
        ("a.mp4 1.5\n", 1, "'1.5'"),
    ],
)
def test_bad_csv_lines_name_file_and_line(tmp_path, text, lineno, what):
    path = tmp_path / "train.csv"
    path.write_text(text)
    with pytest.raises(DatasetFormatError) as info:
        load_video_list(str(path))
    message = str(info.value)
    assert f"{path}:{lineno}:" in message and what in message


@pytest.mark.parametrize("label", [7, -1])
def test_label_outside_num_classes_names_file_and_line(video_dir, make_cfg, label):
    path = video_dir / "train.csv"
    path.write_text(f"v0.mp4 0\nv1.mp4 {label}\n")
    with pytest.raises(DatasetFormatError) as info:
        load_video_list(str(path), num_classes=7)
    assert f"{path}:2:" in str(info.value) and "MODEL.NUM_CLASSES=7" in str(info.value)
    with pytest.raises(DatasetFormatError, match="train.csv:2:"):
        Kinetics(make_cfg(video_dir, MODEL__NUM_CLASSES=7), "train")
    assert load_video_list(str(path))[1] == [0, label]  # no range without a class count


def test_missing_or_empty_csv(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.csv"):
        load_video_list(str(tmp_path / "nothing.csv"))
    (tmp_path / "empty.csv").write_text("\n")
    with pytest.raises(DatasetFormatError, match="no videos"):
        load_video_list(str(tmp_path / "empty.csv"))


def test_train_item(video_dir, make_cfg):
    cfg = make_cfg(video_dir, DATA__PATH_PREFIX=str(video_dir))
    ds = build_dataset("kinetics", cfg, "train")
    assert len(ds) == 4
    random.seed(0)
    for index in range(4):
        inputs, label, used, meta = ds[index]
        slow, fast = inputs
        assert fast.shape == (3, 8, 40, 40) and slow.shape == (3, 2, 40, 40) and fast.dtype == torch.float32
        assert torch.equal(slow, fast[:, [0, 7]])
        assert (label, used) == (index, index)
        assert meta["skipped"] == 0 and meta["decoded_frames"] > 0
    cfg.MODEL.ARCH = "i3d"
    (clip,), _, _, _ = build_dataset("kinetics", cfg, "val")[1]
    assert clip.shape == (3, 8, 40, 40)


def test_train_clip_is_normalised_flipped_crop_of_the_frames(video_dir, make_cfg):
    """Undo the normalisation and find the crop and flip in the decoded frames."""
    cfg = make_cfg(video_dir, DATA__PATH_PREFIX=str(video_dir), DATA__TRAIN_JITTER_SCALES=[48, 48],
                   DATA__TRAIN_CROP_SIZE=48, DATA__MEAN=[0.5, 0.4, 0.3], DATA__STD=[0.2, 0.25, 0.3])
    ds = Kinetics(cfg, "train")
    flips = set()
    for seed in range(8):
        random.seed(seed)
        clip, _ = ds.load_train_clip(0)  # 64x48 video: short side 48 already, crop 48 of 64
        pixels = clip * torch.tensor(cfg.DATA.STD).view(3, 1, 1, 1) + torch.tensor(cfg.DATA.MEAN).view(3, 1, 1, 1)
        random.seed(seed)
        decoded = decoder.decode_clips(ds.video_path(0), num_frames=8, sampling_rate=2, target_fps=30,
                                       clip_indices=[-1])
        frames = decoded.clip(0).permute(3, 0, 1, 2).float() / 255.0
        matches = [(x, f) for x in range(17) for f in (False, True)
                   if torch.allclose((frames[..., x:x + 48].flip(-1) if f else frames[..., x:x + 48]), pixels,
                                     atol=1e-5)]
        assert len(matches) == 1
        flips.add(matches[0][1])
    assert flips == {False, True}


def test_test_item_views_and_order(video_dir, make_cfg):
    cfg = make_cfg(video_dir, DATA__PATH_PREFIX=str(video_dir))
    ds = build_dataset("kinetics", cfg, "test")
    (slow, fast), label, index, meta = ds[0]
    assert fast.shape == (9, 3, 8, 40, 40) and slow.shape == (9, 3, 2, 40, 40)
    assert (label, index, meta["skipped"]) == (0, 0, 0)
    # Views are clip-major: the three crops of one clip show the same frames.
    mean, std = torch.tensor(cfg.DATA.MEAN).view(3, 1, 1, 1), torch.tensor(cfg.DATA.STD).view(3, 1, 1, 1)
    shown = []
    for v in range(9):
        pixels = ((fast[v] * std + mean) * 255).round().clamp(0, 255).byte().permute(1, 2, 3, 0)
        shown.append(pixels)
    # 64x48 frames scale to 53x40; crops start at x = 0, 7, 13: the left crop keeps the bit blocks readable.
    first = [clip_indices(torch.nn.functional.pad(shown[3 * k].permute(0, 3, 1, 2), (0, 24, 0, 8))
                          .permute(0, 2, 3, 1)[..., :48, :64, :]) for k in range(3)]
    assert first[0][0] == 0 and first[0] != first[2]


@pytest.mark.parametrize("crops,clips,offset", [(3, 3, False), (1, 2, False), (3, 1, False), (1, 1, False),
                                                (3, 3, True), (1, 1, True)])
def test_decode_once_equals_per_view_decoding(video_dir, make_cfg, crops, clips, offset):
    cfg = make_cfg(video_dir, DATA__PATH_PREFIX=str(video_dir), TEST__NUM_SPATIAL_CROPS=crops,
                   TEST__NUM_ENSEMBLE_VIEWS=clips, DATA__USE_OFFSET_SAMPLING=offset)
    once = Kinetics(cfg, "test")
    per_view = PerViewKinetics(cfg, "test")
    for index in range(len(once)):  # landscape, 15 fps, portrait, too short for the window
        a, b = once[index], per_view[index]
        assert a[0][1].shape == (clips * crops, 3, 8, 40, 40)
        for x, y in zip(a[0], b[0]):
            assert torch.equal(x, y)
        assert a[1:3] == b[1:3]
        # About one decode per clip at most, where the per-view path decodes every clip once per crop
        # (offset windows tile the whole video, so there the one pass decodes all of it).
        if not offset:
            assert a[3]["decoded_frames"] <= b[3]["decoded_frames"] // crops + clips


def test_one_crop_is_the_centre_of_the_first_jitter_scale(video_dir, make_cfg):
    # TEST.NUM_SPATIAL_CROPS 1: short side to TRAIN_JITTER_SCALES[0] (48), then the centre 40x40 crop.
    cfg = make_cfg(video_dir, DATA__PATH_PREFIX=str(video_dir), TEST__NUM_SPATIAL_CROPS=1,
                   TEST__NUM_ENSEMBLE_VIEWS=1)
    ds = Kinetics(cfg, "test")
    views, _ = ds.load_test_views(0)  # 64x48 (w x h) video
    decoded = decoder.decode_clips(ds.video_path(0), num_frames=8, sampling_rate=2, target_fps=30,
                                   clip_indices=[0], num_clips=1)
    frames = tensor_normalize(decoded.clip(0), cfg.DATA.MEAN, cfg.DATA.STD).permute(3, 0, 1, 2)
    assert views.shape == (1, 3, 8, 40, 40)
    assert torch.equal(views[0], frames[..., 4:44, 12:52])  # 48x64 is already at scale: ceil(8/2), ceil(24/2)
    cfg.DATA.TRAIN_JITTER_SCALES = [56, 64]
    views, _ = Kinetics(cfg, "test").load_test_views(0)
    scaled = torch.nn.functional.interpolate(frames, size=(56, 74), mode="bilinear", align_corners=False)
    assert torch.equal(views[0], scaled[..., 8:48, 17:57])


@pytest.mark.parametrize("offset,clips,firsts", [(False, 1, [0]), (True, 1, [13]), (False, 3, [0, 9, 18]),
                                                 (True, 3, [0, 13, 26])])
def test_clip_starts_follow_offset_sampling(video_dir, make_cfg, offset, clips, firsts):
    # Video 0: 40 frames at 30 fps, window ceil(2 * 7) = 14 frames, delta 26. Without offsets the
    # windows start at 26 k / 3 = 8.67, 17.33: the first frame at or after that is 9, 18.
    cfg = make_cfg(video_dir, DATA__PATH_PREFIX=str(video_dir), TEST__NUM_ENSEMBLE_VIEWS=clips,
                   DATA__USE_OFFSET_SAMPLING=offset)
    decoded = Kinetics(cfg, "test")._decode(0, list(range(clips)))
    assert [clip_indices(decoded.clip(k))[0] for k in range(clips)] == firsts


def test_portrait_crops_move_vertically(video_dir, make_cfg):
    cfg = make_cfg(video_dir, DATA__PATH_PREFIX=str(video_dir), TEST__NUM_ENSEMBLE_VIEWS=1)
    ds = Kinetics(cfg, "test")
    views, _ = ds.load_test_views(2)  # 48x64 (w x h) video
    decoded = decoder.decode_clips(ds.video_path(2), num_frames=8, sampling_rate=2, target_fps=30,
                                   clip_indices=[0], num_clips=1)
    frames = tensor_normalize(decoded.clip(0), cfg.DATA.MEAN, cfg.DATA.STD).permute(3, 0, 1, 2)
    scaled = torch.nn.functional.interpolate(frames, size=(53, 40), mode="bilinear", align_corners=False)
    for s, y in enumerate([0, 7, 13]):
        assert torch.equal(views[s], scaled[..., y:y + 40, :])


def _bad_video_dir(tmp_path):
    good = [write_video(str(tmp_path / f"g{i}.mp4"), num_frames=30, fps=30) for i in range(2)]
    bad = str(tmp_path / "corrupt.mp4")
    open(bad, "wb").write(os.urandom(3000))
    rows = [(good[0], 0), (bad, 1), (str(tmp_path / "missing.mp4"), 2), (good[1], 3)]
    for split in ("train", "test"):
        write_csv(str(tmp_path / f"{split}.csv"), rows)
    return tmp_path, bad


def test_bad_videos_are_replaced_and_counted_in_training(tmp_path, make_cfg, caplog):
    data_dir, bad = _bad_video_dir(tmp_path)
    ds = Kinetics(make_cfg(data_dir), "train")
    random.seed(3)
    skipped = 0
    with caplog.at_level(logging.WARNING):
        for index in range(len(ds)):
            inputs, label, used, meta = ds[index]
            assert used in (0, 3) and label == used and inputs[1].shape == (3, 8, 40, 40)
            skipped += meta["skipped"]
    assert skipped >= 2 and ds.num_skipped == skipped
    assert bad in caplog.text and "missing.mp4" in caplog.text


def test_training_gives_up_after_num_retries(tmp_path, make_cfg):
    bad = str(tmp_path / "bad.mp4")
    open(bad, "wb").write(b"not a video")
    write_csv(str(tmp_path / "train.csv"), [(bad, 0), (str(tmp_path / "gone.mp4"), 1)])
    ds = Kinetics(make_cfg(tmp_path, DATA_LOADER__NUM_RETRIES=3), "train")
    with pytest.raises(RuntimeError, match="after 4 attempts") as info:
        ds[0]
    assert "bad.mp4" in str(info.value)


def test_bad_video_is_an_error_in_testing(tmp_path, make_cfg):
    data_dir, bad = _bad_video_dir(tmp_path)
    ds = Kinetics(make_cfg(data_dir), "test")
    assert ds[0][0][0].shape[0] == 9
    with pytest.raises(DecodeError, match="corrupt.mp4"):
        ds[1]
    with pytest.raises(DecodeError, match="missing.mp4"):
        ds[2]


def test_unsupported_options(video_dir, make_cfg):
    with pytest.raises(ValueError, match="DECODING_BACKEND"):
        Kinetics(make_cfg(video_dir, DATA__DECODING_BACKEND="torchvision"), "train")


def test_num_sample_gives_several_augmented_clips_of_one_decode(video_dir, make_cfg):
    ds = Kinetics(make_cfg(video_dir, AUG__NUM_SAMPLE=2, DATA__PATH_PREFIX=str(video_dir)), "train")
    inputs, label, index, meta = ds[0]
    assert inputs[0].shape[0] == 2 and label.tolist() == [ds.label(index)] * 2
    assert not torch.equal(inputs[0][0], inputs[0][1])
    assert ds.collate_fn is not None and Kinetics(make_cfg(video_dir), "train").__dict__.get("collate_fn") is None
