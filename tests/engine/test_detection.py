"""AVA meter and detection eval/test passes: gathering, de-duplication, official mAP, CSV and log output."""

import csv
import logging
import os
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import torch

from slowfast.config import get_cfg
from slowfast.datasets.ava_synthetic import VAL_GT, AvaSyntheticSpec, config_overrides, ensure_synthetic_ava
from slowfast.datasets.loader import construct_loader
from slowfast.engine import detection
from slowfast.engine.placement import prepare_model
from slowfast.evaluation import ava_eval
from slowfast.evaluation.ava_meter import AVAMeter, mini_groundtruth
from slowfast.models import build_model

CFG = Path(__file__).resolve().parents[2] / "configs" / "Synthetic" / "AVA_SLOWFAST_R18_CPU.yaml"
TINY = AvaSyntheticSpec(num_train_videos=1, num_val_videos=2, keyframes_per_video=5, seed=1)


@pytest.fixture(scope="module")
def ava_root(tmp_path_factory) -> str:
    import slowfast.datasets.ava_dataset  # noqa: F401  (registers "Ava")

    return ensure_synthetic_ava(str(tmp_path_factory.mktemp("det_ava")), TINY)


def make_cfg(root: str, *overrides):
    cfg = get_cfg()
    cfg.merge_from_file(str(CFG))
    cfg.merge_from_list(config_overrides(root))
    cfg.merge_from_list(["DATA_LOADER.NUM_WORKERS", 0, "LOG_PERIOD", 1, *overrides])
    return cfg


class Truth:
    """The ground truth of the synthetic val split as model-like outputs (one row per person box)."""

    def __init__(self, root: str) -> None:
        boxes: Dict[Tuple[str, int, Tuple[float, ...]], List[int]] = {}
        with open(os.path.join(root, "annotations", VAL_GT)) as f:
            for r in csv.reader(f):
                boxes.setdefault((r[0], int(r[1]), tuple(float(v) for v in r[2:6])), []).append(int(r[6]))
        self.videos = sorted({k[0] for k in boxes})
        keys = sorted({(v, s) for v, s, _ in boxes})
        self.keyframe_of = {k: i for i, k in enumerate(keys)}
        self.rows = [(v, s, b, labels) for (v, s, b), labels in boxes.items()]

    def batch(self, rows, scores=None, num_classes=5):
        n = len(rows)
        preds = torch.zeros(n, num_classes)
        for i, (_, _, _, labels) in enumerate(rows):
            preds[i, [a - 1 for a in labels]] = 1.0
        if scores is not None:
            preds = torch.as_tensor(scores, dtype=torch.float32).expand(n, num_classes).clone()
        items = {}
        for v, s, _, _ in rows:
            items.setdefault((v, s), len(items))
        ori = torch.tensor([[items[(v, s)], *b] for v, s, b, _ in rows], dtype=torch.float32)
        meta = torch.tensor([[self.videos.index(v), s] for v, s, _, _ in rows])
        kf = torch.tensor([self.keyframe_of[(v, s)] for v, s, _, _ in rows])
        return preds, ori, meta, kf


def feed(meter: AVAMeter, truth: Truth, rows, per_batch: int = 4, scores=None) -> None:
    by_key: Dict[Tuple[str, int], list] = {}
    for row in rows:
        by_key.setdefault(row[:2], []).append(row)
    keys = list(by_key)
    for start in range(0, len(keys), per_batch):
        batch_rows = [r for k in keys[start : start + per_batch] for r in by_key[k]]
        meter.update_stats(*truth.batch(batch_rows, scores))


def test_perfect_scores_give_map_one_and_constant_scores_less(ava_root, tmp_path):
    cfg = make_cfg(ava_root)
    truth = Truth(ava_root)
    meter = AVAMeter(cfg, "test", truth.videos, len(truth.keyframe_of))
    feed(meter, truth, truth.rows)
    result = meter.finalize(str(tmp_path))
    assert result["map"] == pytest.approx(1.0)
    assert result["num_keyframes"] == len(truth.keyframe_of) and result["num_boxes"] == len(truth.rows)
    with open(result["detections_csv"]) as f:
        lines = list(csv.reader(f))
    assert len(lines) == 5 * len(truth.rows)
    assert all(len(r) == 8 and len(r[1]) == 4 and len(r[2].split(".")[1]) == 3 and len(r[7].split(".")[1]) == 4 for r in lines)
    again = ava_eval.evaluate_ava(
        os.path.join(ava_root, "annotations", VAL_GT), result["detections_csv"],
        os.path.join(ava_root, "annotations", cfg.AVA.LABEL_MAP_FILE),
        os.path.join(ava_root, "annotations", cfg.AVA.EXCLUSION_FILE), capacity=0,
    )
    assert again["mAP"] == pytest.approx(1.0)
    meter.reset()
    feed(meter, truth, truth.rows, scores=0.5)
    constant = meter.finalize()
    assert 0.1 < constant["map"] < 0.7 and "detections_csv" not in constant


def test_repeated_keyframes_count_once(ava_root):
    cfg = make_cfg(ava_root)
    truth = Truth(ava_root)
    meter = AVAMeter(cfg, "test", truth.videos, len(truth.keyframe_of))
    feed(meter, truth, truth.rows)
    feed(meter, truth, truth.rows[:5], scores=[0.9, 0.8, 0.7, 0.6, 0.5])
    assert meter.finalize()["map"] == pytest.approx(1.0)


def test_missing_keyframes_are_an_error(ava_root):
    truth = Truth(ava_root)
    meter = AVAMeter(make_cfg(ava_root), "test", truth.videos, len(truth.keyframe_of) + 2)
    feed(meter, truth, truth.rows)
    with pytest.raises(RuntimeError, match=r"2 of \d+ test keyframes received no prediction"):
        meter.finalize()


def test_unpredicted_ground_truth_keyframes_are_reported(ava_root, caplog):
    truth = Truth(ava_root)
    dropped = truth.rows[0][:2]
    kept = [r for r in truth.rows if r[:2] != dropped]
    meter = AVAMeter(make_cfg(ava_root), "test", truth.videos, len(truth.keyframe_of))
    meter.num_keyframes -= 1
    truth.keyframe_of = {k: i for i, k in enumerate(k for k in truth.keyframe_of if k != dropped)}
    feed(meter, truth, kept)
    with caplog.at_level(logging.WARNING):
        result = meter.finalize()
    assert result["map"] < 1.0
    assert f"1 of {len(truth.keyframe_of) + 1} ground-truth keyframes have no predicted box" in caplog.text
    assert f"{dropped[0]},{dropped[1]:04d}" in caplog.text


def test_validation_scores_every_fourth_second_unless_full(ava_root):
    truth = Truth(ava_root)
    mini = AVAMeter(make_cfg(ava_root, "AVA.FULL_TEST_ON_VAL", False), "val", truth.videos, 0)
    assert set(mini.groundtruth.timestamps.tolist()) == {904}
    full = AVAMeter(make_cfg(ava_root, "AVA.FULL_TEST_ON_VAL", True), "val", truth.videos, 0)
    assert set(full.groundtruth.timestamps.tolist()) == set(TINY.keyframe_secs)
    assert len(mini_groundtruth(full.groundtruth)) == len(mini.groundtruth)


def test_label_map_beyond_num_classes_is_an_error(ava_root):
    with pytest.raises(ValueError, match="above MODEL.NUM_CLASSES 4"):
        AVAMeter(make_cfg(ava_root, "MODEL.NUM_CLASSES", 4), "test", ["x"], 1)


def test_logit_heads_write_probabilities(ava_root, tmp_path):
    truth = Truth(ava_root)
    meter = AVAMeter(make_cfg(ava_root, "MODEL.HEAD_ACT", "none"), "test", truth.videos, len(truth.keyframe_of))
    feed(meter, truth, truth.rows, scores=[-3.0, 3.0, 0.0, 1.0, -1.0])
    result = meter.finalize(str(tmp_path))
    with open(result["detections_csv"]) as f:
        scores = {float(r[7]) for r in csv.reader(f)}
    assert scores == {0.0474, 0.9526, 0.5, 0.7311, 0.2689}


def test_eval_and_test_passes_with_a_model(ava_root, tmp_path, caplog):
    cfg = make_cfg(ava_root, "OUTPUT_DIR", str(tmp_path), "AVA.FULL_TEST_ON_VAL", False, "TEST.BATCH_SIZE", 3)
    torch.manual_seed(0)
    model = prepare_model(cfg, build_model(cfg))
    with caplog.at_level(logging.INFO):
        val = detection.eval_detection_epoch(construct_loader(cfg, "val"), model, 2, cfg)
    assert val["_type"] == "val_epoch" and val["epoch"] == f"3/{cfg.SOLVER.MAX_EPOCH}"
    assert 0.0 <= val["map"] <= 1.0 and val["num_keyframes"] == TINY.num_val_videos
    assert '"map": ' in caplog.text and '"_type": "val_epoch"' in caplog.text
    assert "walk left" in caplog.text and "mAP@0.5IOU" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO):
        test = detection.test_detection(construct_loader(cfg, "test"), model, cfg)
    assert test["num_keyframes"] == TINY.num_val_videos * TINY.keyframes_per_video
    assert test["detections_csv"] == os.path.join(str(tmp_path), "detections_latest.csv")
    assert '"_type": "test_final"' in caplog.text and '"split": "test_final"' in caplog.text
    with open(test["detections_csv"]) as f:
        rows = list(csv.reader(f))
    assert len(rows) == 5 * test["num_boxes"] and {r[0] for r in rows} == {"synth_val_000", "synth_val_001"}
    assert model.training is False


@pytest.mark.parametrize("protocol, expected", [("pyslowfast", 0.5), ("activitynet", 1.0)])
def test_eval_protocol_decides_which_of_two_boxes_claims_a_person(ava_root, protocol, expected):
    """Each person is predicted twice with the same box: first at 0.4, then at 0.9 (box order).

    PySlowFast's rule matches in box order (the 0.4 copy takes the person, every 0.9 copy is a false
    positive ranked above all true positives: AP 0.5); the ActivityNet rule matches in score order (1.0).
    """
    cfg = make_cfg(ava_root, "AVA.EVAL_PROTOCOL", protocol)
    truth = Truth(ava_root)
    meter = AVAMeter(cfg, "test", truth.videos, len(truth.keyframe_of))
    by_key: Dict[Tuple[str, int], list] = {}
    for row in truth.rows:
        by_key.setdefault(row[:2], []).extend([row, row])
    for rows in by_key.values():
        preds, ori, meta, kf = truth.batch(rows)
        preds[0::2] *= 0.4
        preds[1::2] *= 0.9
        meter.update_stats(preds, ori, meta, kf)
    assert meter.finalize()["map"] == pytest.approx(expected)
