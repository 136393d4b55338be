"""Command line of the AVA evaluation (``tools/eval_ava.py``) and its result table."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from slowfast.evaluation.ava_metric import PROTOCOLS, evaluate_ava


def format_results(result: Mapping[str, Any]) -> str:
    """Formats a result of :func:`evaluate_ava` as a table (id, name, #gt, AP) and the mAP."""
    names = result.get("names", {})
    num_gt = result.get("num_groundtruth", {})
    width = max([len("name")] + [len(str(names.get(c, ""))) for c in result["per_class"]])
    lines = [f"{'id':>4}  {'name':<{width}}  {'#gt':>7}  {'AP':>8}"]
    for cid, ap in result["per_class"].items():
        ap_text = "     nan" if math.isnan(ap) else f"{ap:8.4f}"
        lines.append(f"{cid:>4}  {str(names.get(cid, '')):<{width}}  {num_gt.get(cid, 0):>7}  {ap_text}")
    m = result["mAP"]
    lines.append(f"mAP@0.5IOU: {'nan' if math.isnan(m) else f'{m:.6f}'}"
                 " (mean over classes with ground truth)")
    return "\n".join(lines)


def _json_number(x: float) -> Optional[float]:
    return None if math.isnan(x) else float(x)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point (``tools/eval_ava.py``).

    Prints the per-class table and the mAP under ``--protocol`` (default
    ``activitynet``); with ``--json`` also writes
    ``{"mAP": float, "per_class": {"<id>": AP}}`` (NaN written as ``null``).
    """
    parser = argparse.ArgumentParser(description="AVA frame-level mAP@0.5IOU (ActivityNet or PySlowFast protocol).")
    parser.add_argument("--gt", "--groundtruth", dest="gt", required=True, help="ground-truth CSV")
    parser.add_argument("--detections", "--det", dest="detections", required=True, help="detection CSV")
    parser.add_argument("--labelmap", required=True, help="label map .pbtxt (evaluated classes)")
    parser.add_argument("--exclusions", default=None, help="CSV of excluded video_id,timestamp")
    parser.add_argument("--json", default=None, help="write the result as JSON here")
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default=PROTOCOLS[0],
        help="activitynet: the official get_ava_performance.py (top 50 per keyframe, matched by score); "
        "pyslowfast: PySlowFast's in-engine evaluation (all detections, matched in file order)",
    )
    parser.add_argument(
        "--capacity",
        type=int,
        default=None,
        help="detections kept per keyframe, activitynet protocol only (default 50; 0 keeps all)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        result = evaluate_ava(
            args.gt, args.detections, args.labelmap, args.exclusions, protocol=args.protocol, capacity=args.capacity
        )
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_results(result))
    if args.json:
        payload = {
            "mAP": _json_number(result["mAP"]),
            "per_class": {str(k): _json_number(v) for k, v in result["per_class"].items()},
        }
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return 0
