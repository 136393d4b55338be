"""AVA frame-level mAP@0.5IOU of a detection CSV.

    python tools/eval_ava.py --gt ava_val_v2.2.csv --detections det.csv \
        --labelmap ava_action_list_v2.2_for_activitynet_2019.pbtxt \
        [--exclusions ava_val_excluded_timestamps_v2.2.csv] [--json result.json] \
        [--protocol activitynet|pyslowfast]

``--protocol activitynet`` (default) is the official ActivityNet evaluator (top
50 detections per keyframe, matched in score order); ``pyslowfast`` is
PySlowFast's in-engine evaluation (every detection, matched in file order), the
rule behind its published AVA numbers.

Prints a per-class table (id, name, number of ground-truth boxes, AP) and the
mAP; ``--json`` writes ``{"mAP": float, "per_class": {"<id>": AP}}`` (``null``
for classes without ground truth). The logic lives in
``slowfast.evaluation.ava_eval`` (``ava_cli``, ``ava_metric``, ``ava_io``).
"""

import os
import sys

try:
    import slowfast  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from slowfast.evaluation.ava_eval import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
