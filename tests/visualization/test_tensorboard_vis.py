"""TensorBoard: a short training with MODEL_VIS and Grad-CAM logs loss, lr and images; the matrix renderers."""

import glob
import sys

import numpy as np
import pytest
import torch

from slowfast.visualization.tensorboard_vis import (
    confusion_matrix,
    parse_layer_list,
    render_confusion_matrix,
    render_topk_histogram,
)

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "engine"))
from e2e_utils import SYNTHETIC_CFG, TINY, run_net  # noqa: E402


def test_confusion_matrix_rows_are_normalised_per_true_class():
    preds = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.1, 0.7, 0.2], [0.0, 0.0, 1.0]])
    labels = torch.tensor([0, 1, 0, 2])
    cmtx = confusion_matrix(preds, labels, 3)
    np.testing.assert_allclose(cmtx, [[0.5, 0.5, 0], [0, 1, 0], [0, 0, 1]])
    img = render_confusion_matrix(cmtx, ["a", "b", "c"], (4, 4))
    assert img.dtype == np.uint8 and img.shape[2] == 3 and img.min() < 100  # dark cells were drawn
    hist = render_topk_histogram("a", cmtx[0], 2, ["a", "b", "c"], (4, 3))
    assert hist.shape[2] == 3 and (hist != 255).any()


def test_layer_list_entries_take_an_index():
    assert parse_layer_list(["s1/pathway0_stem/conv", "s2/pathway1_res0 1,2;0"]) == [
        ("s1/pathway0_stem/conv", ()), ("s2/pathway1_res0", ([1, 2], [0])),
    ]
    with pytest.raises(ValueError, match="LAYER_LIST"):
        parse_layer_list(["s1 x,y"])


def test_short_training_logs_scalars_and_grad_cam_images(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_net([
        "--cfg", SYNTHETIC_CFG, *TINY, "OUTPUT_DIR", tmp_path, "SOLVER.MAX_EPOCH", "1", "TRAIN.EVAL_PERIOD", "1",
        "TEST.ENABLE", "False", "TENSORBOARD.ENABLE", "True", "TENSORBOARD.MODEL_VIS.ENABLE", "True",
        "TENSORBOARD.MODEL_VIS.GRAD_CAM.ENABLE", "True", "TENSORBOARD.CONFUSION_MATRIX.ENABLE", "True",
        "TENSORBOARD.HISTOGRAM.ENABLE", "True", "TENSORBOARD.HISTOGRAM.TOPK", "2",
        "TENSORBOARD.MODEL_VIS.MODEL_WEIGHTS", "True", "TENSORBOARD.MODEL_VIS.ACTIVATIONS", "True",
        "TENSORBOARD.MODEL_VIS.LAYER_LIST", "['s1/pathway0_stem/conv']", "TENSORBOARD.WRONG_PRED_VIS.ENABLE", "True",
        "SYNTHETIC.NUM_TEST", "2", "TEST.NUM_ENSEMBLE_VIEWS", "1",
    ], timeout=300)
    runs = glob.glob(str(tmp_path / "runs-synthetic"))
    assert runs, list(tmp_path.iterdir())
    acc = EventAccumulator(runs[0], size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"Train/loss", "Train/lr"} <= set(tags["scalars"])
    assert len(acc.Scalars("Train/loss")) == 2  # 8 clips, batch 4
    images = set(tags["images"])
    assert any("Grad-CAM Pathway 1" in t for t in images) and any("Grad-CAM Pathway 2" in t for t in images)
    assert "Confusion Matrix" in images
    assert any(t.startswith("Top 2 predictions by classes/") for t in images)
    assert "Layer Weights/s1/pathway0_stem/conv" in images
    assert any("Activations: s1/pathway0_stem/conv" in t for t in images)
    cam = acc.Images(next(t for t in images if "Grad-CAM Pathway 2" in t))[0]
    assert cam.width > cam.height > 0
