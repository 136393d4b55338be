"""The AVA demo with precomputed boxes on a real H.264 clip: boxes and labels drawn, every frame written."""

import json

import numpy as np
import pytest

from slowfast.datasets.kinetics import DatasetFormatError
from slowfast.visualization.demo import demo
from vis_testing import AVA_CFG, decode_all, demo_cfg, save_random_checkpoint, write_sar_clip

BOX = (0.25, 0.2, 0.75, 0.9)  # x1, y1, x2, y2 normalised


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_sar_clip(str(tmp_path_factory.mktemp("ava_clip") / "in.mp4"))


def _box_csv(path, video, seconds, score=0.95, action=""):
    rows = [f"{video},{s},{BOX[0]},{BOX[1]},{BOX[2]},{BOX[3]},{action},{score}" for s in seconds]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def _opts(tmp_path, clip, preds, **extra):
    labels = tmp_path / "ava_labels.json"
    labels.write_text(json.dumps({f"action {i}": i for i in range(5)}))
    opts = {
        "DEMO.ENABLE": True, "TRAIN.ENABLE": False, "TEST.ENABLE": False, "DEMO.INPUT_VIDEO": clip,
        "DEMO.OUTPUT_FILE": str(tmp_path / "ava_out.mp4"), "DEMO.LABEL_FILE_PATH": str(labels),
        "DEMO.PREDS_BOXES": preds, "DEMO.STARTING_SECOND": 900, "DEMO.VIS_MODE": "top-k",
        "TENSORBOARD.MODEL_VIS.TOPK_PREDS": 2, "OUTPUT_DIR": str(tmp_path), "LOG_MODEL_INFO": False,
    }
    opts.update(extra)
    return [str(x) for kv in opts.items() for x in kv]


def test_ava_demo_draws_boxes_and_labels_on_every_frame(tmp_path, clip):
    preds = _box_csv(tmp_path / "preds.csv", "in", [902, 904, 906, 908])
    gt = tmp_path / "gt.csv"
    gt.write_text(f"in,904,0.1,0.1,0.5,0.5,3,0\n")
    cfg = demo_cfg(AVA_CFG, _opts(tmp_path, clip, preds))
    ckpt = save_random_checkpoint(cfg, str(tmp_path / "job"))
    cfg = demo_cfg(AVA_CFG, _opts(tmp_path, clip, preds, **{"TEST.CHECKPOINT_FILE_PATH": ckpt,
                                                            "DEMO.GT_BOXES": str(gt)}))
    demo(cfg)
    src, src_aspect = decode_all(clip)
    out, out_aspect = decode_all(cfg.DEMO.OUTPUT_FILE)
    assert len(out) >= 0.9 * len(src) and len(out) == len(src) == 280
    assert out_aspect == pytest.approx(src_aspect, rel=1e-3)
    h, w = src[0].shape[:2]
    x1, y1, x2, y2 = int(BOX[0] * w), int(BOX[1] * h), int(BOX[2] * w), int(BOX[3] * h)
    key = (904 - 900) * 30
    a, b = src[key].astype(int), out[key].astype(int)
    # The box's left edge (green) and the label lines above its top-left corner.
    edge = np.abs(a[y1 + 10 : y2 - 10, x1 - 1 : x1 + 2] - b[y1 + 10 : y2 - 10, x1 - 1 : x1 + 2]).mean()
    label = np.abs(a[max(y1 - 20, 0) : y1, x1 : x1 + 60] - b[max(y1 - 20, 0) : y1, x1 : x1 + 60]).mean()
    assert edge > 30 and label > 20
    # Far from any keyframe (frame 20 precedes the first at 60 by more than DEMO.CLIP_VIS_SIZE) nothing is drawn.
    assert np.abs(src[20].astype(int) - out[20].astype(int)).mean() < 3
    # The ground-truth box (dashed) is drawn too.
    gx1, gy1, gy2 = int(0.1 * w), int(0.1 * h), int(0.5 * h)
    assert np.abs(a[gy1:gy2, gx1 - 1 : gx1 + 2] - b[gy1:gy2, gx1 - 1 : gx1 + 2]).mean() > 10


def test_box_file_of_another_video_is_a_named_error(tmp_path, clip):
    preds = _box_csv(tmp_path / "other.csv", "someothervideo", [902, 904])
    cfg = demo_cfg(AVA_CFG, _opts(tmp_path, clip, preds))
    with pytest.raises(DatasetFormatError, match="no boxes of video 'in'"):
        demo(cfg)


def test_without_box_file_the_person_detector_needs_torchvision_or_says_to_pass_boxes(tmp_path, clip):
    cfg = demo_cfg(AVA_CFG, _opts(tmp_path, clip, ""))
    try:
        import torchvision  # noqa: F401
    except ImportError:
        match = "DEMO.PREDS_BOXES"
    else:
        match = "DEMO.DETECTRON2_WEIGHTS"  # installed, but weights are never downloaded
    with pytest.raises(RuntimeError, match=match):
        demo(cfg)


def test_detected_boxes_are_drawn_near_the_middle_of_each_window(tmp_path, clip):
    import torch

    from slowfast.visualization.demo import run_recognition_demo

    cfg = demo_cfg(AVA_CFG, _opts(tmp_path, clip, "", **{"DEMO.CLIP_VIS_SIZE": 2}))

    def detect_and_predict(task):  # stands in for the person detector and the model
        task.boxes = np.array([[60.0, 40.0, 200.0, 220.0]], dtype=np.float32)
        task.preds = torch.tensor([[0.9, 0.1, 0.8, 0.2, 0.3]])
        return task

    assert run_recognition_demo(cfg, predictor=detect_and_predict) == 280
    src, _ = decode_all(clip)
    out, _ = decode_all(cfg.DEMO.OUTPUT_FILE)
    seq = cfg.DATA.NUM_FRAMES * cfg.DATA.SAMPLING_RATE  # 24-frame windows: the middle is frame 12
    edge = lambda i: np.abs(src[i][50:210, 59:62].astype(int) - out[i][50:210, 59:62].astype(int)).mean()
    assert edge(seq // 2) > 30 and edge(seq + seq // 2 + 1) > 30
    assert edge(seq // 2 - 5) < 5 and edge(0) < 5
