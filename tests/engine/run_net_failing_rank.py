"""``tools/run_net.py`` with one rank made to fail once its process group is up.

Usage: ``python tests/engine/run_net_failing_rank.py RANK [run_net arguments]``. The job
function of every launch is wrapped so that rank RANK raises while its peers train: the
launcher's fault-injection test checks that the whole job then fails instead of hanging.
"""

import os
import sys
from typing import Callable, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import torch.distributed as dist  # noqa: E402
from fvcore.common.config import CfgNode  # noqa: E402

from slowfast.engine import launch, run  # noqa: E402


class FailOnRank:
    """``func`` that raises on rank ``rank`` instead of running (picklable, for spawned workers)."""

    def __init__(self, func: Callable[[CfgNode], None], rank: int) -> None:
        self.func = func
        self.rank = rank

    def __call__(self, cfg: CfgNode) -> None:
        if dist.is_initialized() and dist.get_rank() == self.rank:
            raise RuntimeError(f"injected failure on rank {self.rank}")
        self.func(cfg)


def main() -> int:
    rank = int(sys.argv[1])
    real_launch = launch.launch_job

    def failing_launch(cfg: CfgNode, init_method: Optional[str], func: Callable[[CfgNode], None]) -> None:
        real_launch(cfg, init_method, FailOnRank(func, rank))

    launch.launch_job = failing_launch
    return run.main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
