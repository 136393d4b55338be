"""Process launch: one process per GPU or CPU worker, over NUM_SHARDS machines."""

from typing import Callable

from fvcore.common.config import CfgNode


def launch_job(cfg: CfgNode, init_method: str, func: Callable[[CfgNode], None]) -> None:
    """Run `func(cfg)` in every process of the job."""
    func(cfg)
