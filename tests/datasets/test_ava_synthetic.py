"""The synthetic mini-AVA generator writes the real AVA layout, consistently, once."""

import csv
import importlib.util
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from slowfast.datasets import ava_synthetic as syn
from slowfast.datasets.ava_helper import AVA_START_SEC, FPS, read_frame_lists
from slowfast.evaluation.ava_eval import read_csv, read_exclusions, read_labelmap

TINY = syn.AvaSyntheticSpec(num_train_videos=2, num_val_videos=1, keyframes_per_video=3, seed=3)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> str:
    return syn.ensure_synthetic_ava(str(tmp_path_factory.mktemp("syn_ava")), TINY)


def rows(path: str):
    with open(path) as f:
        return list(csv.reader(f))


def test_layout_and_frame_lists(root):
    paths, names = read_frame_lists([os.path.join(root, "frame_lists", "train.csv")])
    assert names == ["synth_train_000", "synth_train_001"]
    assert all(len(p) == TINY.num_frames == (902 - 900 + 3) * 30 for p in paths)
    first = os.path.join(root, "frames", paths[0][0].decode())
    assert first.endswith("synth_train_000/synth_train_000_000001.jpg")
    img = cv2.imread(first)
    assert img.shape == (TINY.height, TINY.width, 3)
    with open(os.path.join(root, "frame_lists", "val.csv")) as f:
        header, line = f.readline(), f.readline()
    assert header.split() == ["original_vido_id", "video_id", "frame_id", "path", "labels"]
    assert line.split() == ["synth_val_000", "0", "0", "synth_val_000/synth_val_000_000001.jpg", '""']


def test_ground_truth_and_detections(root):
    ann = os.path.join(root, "annotations")
    gt = rows(os.path.join(ann, syn.TRAIN_GT))
    assert {len(r) for r in gt} == {8}
    assert {r[1] for r in gt} == {"0902", "0903", "0904"}
    boxes = np.array([[float(v) for v in r[2:6]] for r in gt])
    assert (boxes >= 0).all() and (boxes <= 1).all() and (boxes[:, 2] > boxes[:, 0]).all()
    actions = [int(r[6]) for r in gt]
    assert set(actions) <= set(syn.ACTIONS)
    per_person = {}
    for r in gt:
        per_person.setdefault((r[0], r[1], r[7]), []).append(int(r[6]))
    assert all(sum(a in (1, 2, 3, 4) for a in acts) == 1 for acts in per_person.values())
    for name, labelled in ((syn.TRAIN_DETECTIONS, True), (syn.VAL_DETECTIONS, False)):
        det = rows(os.path.join(ann, name))
        assert {len(r) for r in det} == {8}
        scores = np.array([float(r[7]) for r in det])
        assert (scores < 0.8).any() and (scores >= 0.8).any()
        assert any(r[6] for r in det) == labelled
    categories, ids = read_labelmap(os.path.join(ann, syn.LABEL_MAP))
    assert ids == set(syn.ACTIONS) and categories[1] == {"id": 2, "name": "walk left"}
    assert read_exclusions(os.path.join(ann, syn.EXCLUSIONS)) == {"synth_val_000,0903"}
    val = read_csv(os.path.join(ann, syn.VAL_GT), class_whitelist=ids)
    assert len(val) > 0 and set(val.video_ids.tolist()) == {"synth_val_000"}


def test_ground_truth_box_covers_the_drawn_actor(root):
    gt = rows(os.path.join(root, "annotations", syn.VAL_GT))
    r = gt[0]
    frame = (int(r[1]) - AVA_START_SEC) * FPS
    path = os.path.join(root, "frames", r[0], f"{r[0]}_{frame + 1:06d}.jpg")
    img = cv2.imread(path).astype(np.float32)
    x1, y1, x2, y2 = (np.array([float(v) for v in r[2:6]]) * ([TINY.width, TINY.height] * 2)).astype(int)
    rng = np.random.default_rng([TINY.seed, 1, 0])
    background = syn._background(rng, TINY.height, TINY.width).astype(np.float32)
    inside = np.abs(img[y1 + 2 : y2 - 2, x1 + 2 : x2 - 2] - background[y1 + 2 : y2 - 2, x1 + 2 : x2 - 2]).mean()
    assert inside > 25.0


def test_generation_is_deterministic_idempotent_and_safe(root, tmp_path):
    marker = os.path.join(root, syn.MARKER)
    before = os.stat(marker).st_mtime_ns
    assert syn.ensure_synthetic_ava(root, TINY) == root
    assert os.stat(marker).st_mtime_ns == before
    other = syn.ensure_synthetic_ava(str(tmp_path / "again"), TINY)
    for name in (syn.TRAIN_GT, syn.VAL_DETECTIONS):
        assert rows(os.path.join(other, "annotations", name)) == rows(os.path.join(root, "annotations", name))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "train.csv").write_text("x\n")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        syn.ensure_synthetic_ava(str(foreign), TINY)
    with pytest.raises(ValueError):
        syn.AvaSyntheticSpec(width=32).validate()


def test_tool_writes_the_dataset_and_prints_overrides(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("make_synthetic_ava", REPO / "tools" / "make_synthetic_ava.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / "tool"
    argv = ["--out", str(out), "--num-train-videos", "1", "--num-val-videos", "1", "--keyframes-per-video", "1"]
    assert tool.main(argv) == 0
    assert f"AVA.FRAME_DIR {out}/frames" in capsys.readouterr().out
    assert (out / "annotations" / syn.VAL_GT).exists()


def _cpu_config(*overrides):
    from slowfast.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(str(REPO / "configs" / "Synthetic" / "AVA_SLOWFAST_R18_CPU.yaml"))
    cfg.merge_from_list(["DATA_LOADER.NUM_WORKERS", 0, *overrides])
    return cfg


def test_cpu_config_writes_its_data_on_first_use(tmp_path, monkeypatch):
    from slowfast.datasets import build_dataset

    monkeypatch.setattr(syn, "FIRST_USE_SPEC", TINY)
    data = tmp_path / "fresh"
    cfg = _cpu_config(*syn.config_overrides(str(data)))
    assert cfg.TRAIN.DATASET == cfg.TEST.DATASET == "AvaSynthetic"
    train = build_dataset(cfg.TRAIN.DATASET, cfg, "train")
    assert len(train) == TINY.num_train_videos * TINY.keyframes_per_video
    marker = data / syn.MARKER
    stamp = marker.stat().st_mtime_ns
    val = build_dataset(cfg.TEST.DATASET, cfg, "val")  # already there: read, not regenerated
    assert len(val) > 0 and marker.stat().st_mtime_ns == stamp
    # a set written with other options is used as it is
    monkeypatch.setattr(syn, "FIRST_USE_SPEC", syn.AvaSyntheticSpec())
    assert len(build_dataset(cfg.TRAIN.DATASET, cfg, "train")) == len(train)


def test_synthetic_dataset_needs_the_generated_layout(tmp_path):
    from slowfast.datasets import build_dataset

    overrides = syn.config_overrides(str(tmp_path))
    overrides[overrides.index("AVA.ANNOTATION_DIR") + 1] = str(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="AVA.ANNOTATION_DIR="):
        build_dataset("AvaSynthetic", _cpu_config(*overrides), "train")
