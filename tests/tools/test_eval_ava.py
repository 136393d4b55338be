"""tools/eval_ava.py as a user runs it: a subprocess, from another directory."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from slowfast.evaluation.ava_eval import evaluate_ava

REPO = Path(__file__).resolve().parents[2]
CASES_DIR = REPO / "tests" / "data" / "ava_eval_cases"
CASE = CASES_DIR / "syn2_50x10"


def test_cli_writes_json_and_prints_table(tmp_path):
    out = tmp_path / "out" / "result.json"
    cmd = [
        sys.executable,
        str(REPO / "tools" / "eval_ava.py"),
        "--gt", str(CASE / "gt.csv"),
        "--detections", str(CASE / "det.csv"),
        "--labelmap", str(CASE / "labelmap.pbtxt"),
        "--exclusions", str(CASE / "exclusions.csv"),
        "--json", str(out),
    ]
    # run from tmp_path, with no PYTHONPATH: the tool must find the package itself
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ""}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    want = evaluate_ava(CASE / "gt.csv", CASE / "det.csv", CASE / "labelmap.pbtxt", CASE / "exclusions.csv")
    assert set(data) == {"mAP", "per_class"}
    assert data["mAP"] == pytest.approx(want["mAP"], abs=1e-12)
    assert set(data["per_class"]) == {str(c) for c in want["per_class"]}
    for cid, ap in want["per_class"].items():
        got = data["per_class"][str(cid)]
        assert got is None if math.isnan(ap) else got == pytest.approx(ap, abs=1e-12)
    assert any(v is None for v in data["per_class"].values())  # this case has a class without GT
    assert "mAP@0.5IOU: %.6f" % want["mAP"] in proc.stdout
    first_name = want["names"][next(iter(want["per_class"]))]
    assert first_name in proc.stdout


def test_cli_reports_bad_input(tmp_path):
    gt = tmp_path / "gt.csv"
    gt.write_text("v,0902,0.1,0.1,0.5,0.5,1,0\n")
    det = tmp_path / "det.csv"
    det.write_text("v,0902,0.1,0.1,0.5\n")
    lm = tmp_path / "l.pbtxt"
    lm.write_text('item {\n  name: "a"\n  id: 1\n}\n')
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "eval_ava.py"), "--gt", str(gt), "--detections", str(det),
         "--labelmap", str(lm)],
        cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ""}, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert f"{det}:1" in proc.stderr and "columns" in proc.stderr


@pytest.mark.parametrize("protocol", ["activitynet", "pyslowfast"])
def test_cli_protocol_gives_the_reference_numbers(tmp_path, protocol):
    out = tmp_path / "result.json"
    cmd = [
        sys.executable, str(REPO / "tools" / "eval_ava.py"),
        "--gt", str(CASE / "gt.csv"), "--detections", str(CASE / "det.csv"),
        "--labelmap", str(CASE / "labelmap.pbtxt"), "--exclusions", str(CASE / "exclusions.csv"),
        "--protocol", protocol, "--json", str(out),
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ""},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(out.read_text())
    want = json.loads((CASE / f"expected_{protocol}.json").read_text())
    assert got["mAP"] == pytest.approx(want["mAP"], abs=1e-9)
    for cid, ap in want["per_class"].items():
        assert got["per_class"][cid] is None if ap is None else got["per_class"][cid] == pytest.approx(ap, abs=1e-9)


def test_cli_refuses_a_capacity_with_the_pyslowfast_protocol(tmp_path):
    cmd = [
        sys.executable, str(REPO / "tools" / "eval_ava.py"),
        "--gt", str(CASE / "gt.csv"), "--detections", str(CASE / "det.csv"),
        "--labelmap", str(CASE / "labelmap.pbtxt"), "--protocol", "pyslowfast", "--capacity", "50",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ""},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "pyslowfast" in proc.stderr
