"""Run a benchmark from benchmarks/: `python tools/benchmark.py NAME [ARGS ...]`.

    python tools/benchmark.py data     # decoding and loader throughput (benchmarks/data_speed.py)
    python tools/benchmark.py model    # model inference and train-step speed
    python tools/benchmark.py gpu      # one-shot GPU check (benchmarks/gpu_check.py)
    python tools/benchmark.py NAME --help

Each benchmark is a script under benchmarks/ with a `main()` that parses
sys.argv and prints a table; add one by adding a line to BENCHMARKS.
"""

import importlib.util
import os
import sys
from typing import Dict, List, Optional

try:
    import slowfast  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BENCHMARKS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")

# Subcommand -> script under benchmarks/.
BENCHMARKS: Dict[str, str] = {
    "data": "data_speed.py",
    "model": "model_speed.py",
    "train": "train_speed.py",
    "roi_align": "roi_align_speed.py",
    "gpu": "gpu_check.py",
}


def _usage() -> str:
    lines = ["usage: python tools/benchmark.py NAME [ARGS ...]", "", "benchmarks:"]
    for name, script in BENCHMARKS.items():
        there = os.path.exists(os.path.join(BENCHMARKS_DIR, script))
        lines.append(f"  {name:<10} benchmarks/{script}{'' if there else '  (not written yet)'}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in BENCHMARKS:
        print(f"unknown benchmark '{name}'\n\n{_usage()}", file=sys.stderr)
        return 2
    path = os.path.join(BENCHMARKS_DIR, BENCHMARKS[name])
    if not os.path.exists(path):
        print(f"benchmark '{name}' ({path}) does not exist yet", file=sys.stderr)
        return 2
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.argv = [path] + rest  # benchmarks parse sys.argv, whatever their main() signature
    result = module.main()
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
