"""Helpers for end-to-end runs of tools/run_net.py on small synthetic data."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Sequence

REPO = Path(__file__).resolve().parents[2]
RUN_NET = REPO / "tools" / "run_net.py"
SYNTHETIC_CFG = REPO / "configs" / "Synthetic" / "SLOWFAST_R18_CPU.yaml"
C2D_CFG = REPO / "configs" / "Synthetic" / "C2D_R18_CPU.yaml"

# A dataset and model small enough for seconds-long runs.
TINY = [
    "SYNTHETIC.NUM_TRAIN", "8", "SYNTHETIC.NUM_VAL", "4", "SYNTHETIC.NUM_TEST", "4",
    "SYNTHETIC.HEIGHT", "48", "SYNTHETIC.WIDTH", "64", "SYNTHETIC.NUM_FRAMES", "24",
    "DATA.NUM_FRAMES", "8", "DATA.TRAIN_JITTER_SCALES", "[32, 40]", "DATA.TRAIN_CROP_SIZE", "32",
    "DATA.TEST_CROP_SIZE", "32", "RESNET.WIDTH_PER_GROUP", "8", "TRAIN.BATCH_SIZE", "4",
    "TEST.BATCH_SIZE", "4", "DATA_LOADER.NUM_WORKERS", "0", "LOG_PERIOD", "1", "LOG_MODEL_INFO", "False",
]


def run_net(args: Sequence[str], timeout: float = 600, check: bool = True, env_extra: Dict[str, str] = None,
            script: Path = RUN_NET):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_extra or {})
    proc = subprocess.run(
        [sys.executable, str(script), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"run_net failed ({proc.returncode}):\nSTDOUT:\n{proc.stdout[-6000:]}\nSTDERR:\n{proc.stderr[-6000:]}")
    return proc


def json_stats(log_text: str) -> List[Dict]:
    """Every json_stats record of a log, in order."""
    return [json.loads(m) for m in re.findall(r"json_stats: (\{.*\})", log_text)]


def final_top1(stdout: str) -> float:
    m = re.search(r"Final test top-1 accuracy: ([0-9.]+)%", stdout)
    assert m, f"no final top-1 line in:\n{stdout[-3000:]}"
    return float(m.group(1))

