"""The command-line entry point behind tools/run_net.py."""

import functools
import sys
from typing import Callable, List, Optional, Sequence, Tuple

from fvcore.common.config import CfgNode

from slowfast.config.loading import ConfigError
from slowfast.config.validation import world_size_of
from slowfast.utils.logging import get_logger
from slowfast.utils.parser import load_config, parse_args

logger = get_logger(__name__)

Job = Callable[[CfgNode], None]


def _jobs(cfg: CfgNode) -> List[Job]:
    """The entry points a config asks for, in the order they run."""
    jobs: List[Job] = []
    if cfg.TRAIN.ENABLE:
        from slowfast.engine.trainer import train

        jobs.append(train)
    if cfg.TEST.ENABLE:
        from slowfast.engine.tester import test

        jobs.append(test)
    from slowfast.visualization.tensorboard_vis import visualize, wants_visualize

    if wants_visualize(cfg):
        jobs.append(visualize)
    if cfg.DEMO.ENABLE:
        from slowfast.visualization.demo import demo

        jobs.append(demo)
    return jobs


def _layout(cfg: CfgNode) -> Tuple:
    """What decides the process group: configs with the same layout can share one."""
    from slowfast.config.validation import dist_backend_of, procs_per_node

    return (cfg.NUM_GPUS > 0, procs_per_node(cfg), cfg.NUM_SHARDS, cfg.SHARD_ID, dist_backend_of(cfg))


def run_planned_jobs(plan: List[Tuple[CfgNode, List[Job]]], cfg: CfgNode) -> None:
    """Run each config's jobs in turn inside one launch (one process group for all of them).

    `cfg` is the config the launch was made with; every config in `plan` has its layout.
    """
    from slowfast.datasets.loader import stop_loader_workers

    del cfg
    try:
        for job_cfg, jobs in plan:
            for job in jobs:
                job(job_cfg)
    except BaseException:
        stopped = stop_loader_workers()
        if stopped:
            logger.info("Stopped %d data-loader workers of the failed job.", stopped)
        raise


def _group_by_layout(plan: List[Tuple[CfgNode, List[Job]]]) -> List[List[Tuple[CfgNode, List[Job]]]]:
    groups: List[List[Tuple[CfgNode, List[Job]]]] = []
    for item in plan:
        if groups and _layout(groups[-1][0][0]) == _layout(item[0]):
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run every job of every `--cfg` file in turn; return the process exit code.

    Every config is loaded and checked before anything runs. Consecutive configs that
    need the same processes run in one launch: a process group is set up once and its
    jobs (train, then test, ...) share it. Tearing a group down and creating it again on
    the same address races: a fast rank can reach the old rendezvous server just before
    it closes and then waits forever.
    """
    args = parse_args(argv)
    plan: List[Tuple[CfgNode, List[Job]]] = []
    for path in args.cfg_files:
        try:
            cfg = load_config(args, path)
        except ConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        jobs = _jobs(cfg)
        if not jobs:
            print(
                f"Nothing to run for {path or 'the default config'}: TRAIN.ENABLE, TEST.ENABLE and "
                "DEMO.ENABLE are all False.",
                file=sys.stderr,
            )
            continue
        plan.append((cfg, jobs))

    from slowfast.engine.launch import launch_job

    groups = _group_by_layout(plan)
    multi = [g for g in groups if world_size_of(g[0][0]) > 1]
    fixed_address = args.init_method is not None or any(g[0][0].DIST_PORT for g in multi)
    if len(multi) > 1 and fixed_address:
        print(
            f"error: the --cfg files need {len(multi)} different process layouts (NUM_GPUS, "
            "NUM_CPU_PROCESSES, NUM_SHARDS, SHARD_ID, DIST_BACKEND); a process group cannot be "
            f"re-created safely on the same address ({args.init_method or 'DIST_PORT'}). Give them "
            "the same layout, or run them as separate commands.",
            file=sys.stderr,
        )
        return 2
    for group in groups:
        launch_job(cfg=group[0][0], init_method=args.init_method, func=functools.partial(run_planned_jobs, group))
    return 0
