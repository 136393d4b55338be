"""A small SlowFast detector trained through tools/run_net.py on the synthetic mini-AVA beats constant scores."""

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from e2e_utils import REPO, json_stats, run_net

from slowfast.datasets import ava_synthetic as syn
from slowfast.evaluation import ava_eval

AVA_CFG = REPO / "configs" / "Synthetic" / "AVA_SLOWFAST_R18_CPU.yaml"


def evaluate(root: Path, detections) -> float:
    ann = root / "annotations"
    result = ava_eval.evaluate_ava(
        str(ann / syn.VAL_GT), detections, str(ann / syn.LABEL_MAP), str(ann / syn.EXCLUSIONS), protocol="pyslowfast"
    )
    return result["mAP"]


@pytest.mark.slow
def test_detector_learns_the_synthetic_actions(tmp_path_factory, tmp_path):
    root = Path(syn.ensure_synthetic_ava(str(tmp_path_factory.mktemp("ava_synthetic"))))
    out = tmp_path / "run"
    # One compute thread next to the one data-loading worker: two busy cores, no oversubscription.
    proc = run_net(
        ["--cfg", AVA_CFG, *syn.config_overrides(str(root)), "OUTPUT_DIR", out],
        timeout=420,
        env_extra={"OMP_NUM_THREADS": "1"},
    )
    log = (out / "stdout.log").read_text()
    stats = json_stats(log)
    val = [s for s in stats if s.get("_type") == "val_epoch"]
    test = [s for s in stats if s.get("split") == "test_final"]
    assert len(val) == 1 and val[0]["epoch"] == "10/10" and len(test) == 1
    printed = re.search(r"Final test frame-mAP@0\.5IOU: ([0-9.]+)%", proc.stdout)
    assert printed and float(printed.group(1)) == pytest.approx(100 * test[0]["map"], abs=0.01)
    for name in syn.ACTIONS.values():
        assert re.search(rf"\d+\s+{name}\s+\d+\s+[0-9.]+\n", log), f"no AP row for {name}"

    csv_path = out / "detections_latest.csv"
    with open(csv_path) as f:
        rows = list(csv.reader(f))
    assert rows and all(len(r) == 8 for r in rows) and {r[1] for r in rows} <= {f"{s:04d}" for s in range(902, 917)}
    det = ava_eval.read_csv(str(csv_path))
    constant = ava_eval.AvaBoxes.from_arrays(det.video_ids, det.timestamps, det.boxes, det.labels, np.full(len(det), 0.5))
    learned, baseline = evaluate(root, det), evaluate(root, constant)
    print(f"synthetic AVA frame-mAP: trained SlowFast {test[0]['map']:.4f} (from its CSV {learned:.4f}), "
          f"constant scores {baseline:.4f}, val after training {val[0]['map']:.4f}")
    assert learned == pytest.approx(test[0]["map"], abs=0.02)
    assert test[0]["map"] >= 0.45
    assert test[0]["map"] >= baseline + 0.2, (test[0]["map"], baseline)
