"""Logging: main rank to stdout and OUTPUT_DIR/stdout.log; other ranks only warnings and errors."""

import logging
import os
import sys
from typing import Any, Dict

import simplejson

from slowfast.utils import distributed as du

_FORMAT = "[%(asctime)s][%(levelname)s] %(name)s:%(lineno)d: %(message)s"


def setup_logging(output_dir: str = "") -> None:
    """Configure the root logger of this process.

    The main process logs INFO to stdout and appends to `output_dir`/stdout.log;
    the other ranks log only WARNING and above, with their rank in the line.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    rank = du.get_rank()
    if du.is_master_proc():
        root.setLevel(logging.INFO)
        fmt = logging.Formatter(_FORMAT, datefmt="%m/%d %H:%M:%S")
        out = logging.StreamHandler(sys.stdout)
        out.setFormatter(fmt)
        root.addHandler(out)
        if output_dir:
            os.makedirs(output_dir, exist_ok=True)
            fh = logging.FileHandler(os.path.join(output_dir, "stdout.log"), mode="a")
            fh.setFormatter(fmt)
            root.addHandler(fh)
    else:
        root.setLevel(logging.WARNING)
        err = logging.StreamHandler(sys.stderr)
        err.setFormatter(logging.Formatter(f"[rank {rank}]" + _FORMAT, datefmt="%m/%d %H:%M:%S"))
        root.addHandler(err)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def log_json_stats(stats: Dict[str, Any]) -> None:
    """Log one `json_stats: {...}` line, the machine-readable record of training progress."""
    stats = {k: _round(v) for k, v in stats.items()}
    logging.getLogger(__name__).info("json_stats: %s", simplejson.dumps(stats, sort_keys=True, use_decimal=True))
