"""AVA frame-level mAP: the public API in one place.

The implementation is split by job: :mod:`slowfast.evaluation.ava_io` reads and
writes the AVA files (and reproduces the official reader's row order),
:mod:`slowfast.evaluation.ava_metric` computes the mAP under the ``activitynet``
or ``pyslowfast`` protocol, and :mod:`slowfast.evaluation.ava_cli` is the
command line of ``tools/eval_ava.py``. Import from here.
"""

from slowfast.evaluation.ava_cli import format_results, main
from slowfast.evaluation.ava_io import (
    DEFAULT_DETECTION_CAPACITY,
    AvaBoxes,
    detections_from_predictions,
    make_image_key,
    read_csv,
    read_exclusions,
    read_labelmap,
    write_detections_csv,
)
from slowfast.evaluation.ava_metric import (
    IOU_THRESHOLD,
    PROTOCOLS,
    evaluate_ava,
    evaluate_ava_from_predictions,
)

__all__ = [
    "DEFAULT_DETECTION_CAPACITY",
    "IOU_THRESHOLD",
    "PROTOCOLS",
    "AvaBoxes",
    "make_image_key",
    "read_labelmap",
    "read_csv",
    "read_exclusions",
    "detections_from_predictions",
    "evaluate_ava",
    "evaluate_ava_from_predictions",
    "write_detections_csv",
    "format_results",
    "main",
]
