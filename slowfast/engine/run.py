"""The command-line entry point behind tools/run_net.py."""

import sys
from typing import Optional, Sequence

from fvcore.common.config import CfgNode

from slowfast.config.loading import ConfigError
from slowfast.utils.parser import load_config, parse_args


def _jobs(cfg: CfgNode):
    """The entry points a config asks for, in the order they run."""
    from slowfast.engine.launch import launch_job

    jobs = []
    if cfg.TRAIN.ENABLE:
        from slowfast.engine.trainer import train

        jobs.append(("train", train))
    if cfg.TEST.ENABLE:
        from slowfast.engine.tester import test

        jobs.append(("test", test))
    if cfg.DEMO.ENABLE:
        from slowfast.visualization.demo import demo

        jobs.append(("demo", demo))
    return launch_job, jobs


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run every job of every `--cfg` file in turn; return the process exit code."""
    args = parse_args(argv)
    for path in args.cfg_files:
        try:
            cfg = load_config(args, path)
        except ConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        launch_job, jobs = _jobs(cfg)
        if not jobs:
            print(
                f"Nothing to run for {path or 'the default config'}: TRAIN.ENABLE, TEST.ENABLE and "
                "DEMO.ENABLE are all False.",
                file=sys.stderr,
            )
        for _, func in jobs:
            launch_job(cfg=cfg, init_method=args.init_method, func=func)
    return 0
