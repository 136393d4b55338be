"""The synthetic motion dataset: determinism, format, motion as the only label cue, concurrent creation."""

import hashlib
import multiprocessing as mp
import os
import random
import subprocess
import sys

import av
import numpy as np
import pytest

from slowfast.datasets import Synthetic, build_dataset
from slowfast.datasets.kinetics import load_video_list
from slowfast.datasets.synthetic import (
    SyntheticSpec,
    class_names,
    ensure_synthetic_dataset,
    mirrored_class,
    render_video,
)

TINY = SyntheticSpec(num_classes=4, num_train=8, num_val=4, num_test=4, height=48, width=64, num_frames=16,
                     fps=12, seed=3)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def digest(folder: str) -> str:
    h = hashlib.sha1()
    for split in ("train", "val", "test"):
        paths, labels = load_video_list(os.path.join(folder, f"{split}.csv"))
        for p, y in zip(paths, labels):
            h.update(os.path.relpath(p, folder).encode() + str(y).encode() + open(p, "rb").read())
    return h.hexdigest()


def test_format_and_determinism(tmp_path):
    a = ensure_synthetic_dataset(str(tmp_path / "a"), TINY)
    b = ensure_synthetic_dataset(str(tmp_path / "b"), TINY)
    assert digest(a) == digest(b)
    c = ensure_synthetic_dataset(str(tmp_path / "c"), SyntheticSpec(**{**TINY.__dict__, "seed": 4}))
    assert digest(a) != digest(c)
    paths, labels = load_video_list(os.path.join(a, "train.csv"))
    assert len(paths) == 8 and sorted(labels) == [0, 0, 1, 1, 2, 2, 3, 3]
    with av.open(paths[0]) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and (stream.width, stream.height) == (64, 48)
        assert stream.frames == 16 and float(stream.average_rate) == 12
    assert class_names(4) == ["right", "up", "left", "down"]


EXPECTED = {0: (0, 1), 1: (-1, 0), 2: (0, -1), 3: (1, 0)}  # right, up, left, down as signs of (dy, dx)


def _direction(frames) -> np.ndarray:
    """Median shift, as (dy, dx), between consecutive frame differences (the static background cancels)."""
    gray = [np.asarray(f, np.float32).mean(-1) for f in frames]
    diffs = [b - a for a, b in zip(gray[:-1], gray[1:])]
    shifts = []
    for d0, d1 in zip(diffs[:-1], diffs[1:]):
        r = np.fft.fft2(d1) * np.conj(np.fft.fft2(d0))
        corr = np.fft.ifft2(r / (np.abs(r) + 1e-9)).real
        dy, dx = np.unravel_index(np.argmax(corr), corr.shape)
        h, w = corr.shape
        shifts.append((dy - h if dy > h // 2 else dy, dx - w if dx > w // 2 else dx))
    return np.median(shifts, axis=0)


def test_label_is_the_direction_of_motion(tmp_path):
    spec = SyntheticSpec(num_classes=4, height=64, width=64, num_frames=10, fps=12)
    for label, expected in EXPECTED.items():
        for seed in range(4):
            frames = list(render_video(spec, label, np.random.default_rng([seed, 0, label])))
            assert tuple(np.sign(_direction(frames))) == expected
    # Also after h264 compression, in the written files.
    folder = ensure_synthetic_dataset(str(tmp_path / "d"), TINY)
    paths, labels = load_video_list(os.path.join(folder, "train.csv"))
    for path, label in zip(paths, labels):
        with av.open(path) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        assert tuple(np.sign(_direction(frames))) == EXPECTED[label]


def test_single_frames_look_alike_across_classes():
    """Position and colour statistics of one frame do not depend on the class."""
    spec = SyntheticSpec(num_classes=4, height=48, width=48, num_frames=12, fps=12)
    stats = {c: [] for c in range(4)}
    for c in range(4):
        for i in range(40):
            frames = list(render_video(spec, c, np.random.default_rng([9, c, i])))
            last = frames[-1].astype(np.float32)
            # Where is the image brightest in the last frame: a class cue if shapes drifted to one side.
            cols = last.mean(axis=(0, 2))
            stats[c].append(float(np.argmax(cols)) / 48)
    means = [np.mean(v) for v in stats.values()]
    assert max(means) - min(means) < 0.2


def _make(args):
    folder, spec = args
    return ensure_synthetic_dataset(folder, spec)


def test_two_processes_creating_at_once(tmp_path):
    folder = str(tmp_path / "shared")
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        out = pool.map(_make, [(folder, TINY), (folder, TINY)])
    assert out[0] == out[1] == folder
    assert digest(folder) == digest(ensure_synthetic_dataset(str(tmp_path / "solo"), TINY))
    assert not [n for n in os.listdir(folder) if n.startswith(".tmp")]


def test_existing_real_dataset_is_not_overwritten(tmp_path):
    (tmp_path / "train.csv").write_text("a.mp4 0\n")
    with pytest.raises(FileExistsError, match="refusing"):
        ensure_synthetic_dataset(str(tmp_path), TINY)


def test_synthetic_dataset_created_on_first_use(tmp_path, make_cfg):
    cfg = make_cfg("", OUTPUT_DIR=str(tmp_path / "out"))
    for key, value in TINY.__dict__.items():
        cfg.SYNTHETIC[key.upper()] = value
    ds = build_dataset("synthetic", cfg, "test")
    assert isinstance(ds, Synthetic) and len(ds) == 4
    assert os.path.exists(tmp_path / "out" / "synthetic_data" / "synthetic.json")
    (slow, fast), label, _, _ = ds[1]
    assert fast.shape == (9, 3, 8, 40, 40) and label == 1
    cfg.DATA.PATH_TO_DATA_DIR = str(tmp_path / "elsewhere")
    assert len(build_dataset("Synthetic", cfg, "train")) == 8


def test_tool_writes_the_dataset(tmp_path):
    out = tmp_path / "tool"
    cmd = [sys.executable, os.path.join(REPO, "tools", "make_synthetic_dataset.py"), "--out", str(out),
           "--num-train", "4", "--num-val", "4", "--num-test", "4", "--height", "32", "--width", "32",
           "--num-frames", "8"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(load_video_list(str(out / "train.csv"))[0]) == 4


def test_flip_mirrors_the_label(tmp_path, make_cfg):
    cfg = make_cfg(str(tmp_path / "d"), DATA__RANDOM_FLIP=True)
    for key, value in TINY.__dict__.items():
        cfg.SYNTHETIC[key.upper()] = value
    ds = build_dataset("synthetic", cfg, "train")
    assert [mirrored_class(c, 4) for c in range(4)] == [2, 1, 0, 3]  # right <-> left; up, down stay
    assert mirrored_class(0, 3) is None
    seen = set()
    for seed in range(12):
        random.seed(seed)
        clip, label, _ = ds.load_train_item(0)  # video 0 moves right
        frames = (clip.permute(1, 2, 3, 0) * 0.225 + 0.45) * 255
        assert tuple(np.sign(_direction(frames.numpy()))) == EXPECTED[label]
        seen.add(label)
    assert seen == {0, 2}
