#!/usr/bin/env bash
# One-shot GPU check (benchmarks/gpu_check.py): `benchmarks/gpu.sh [OUT.json] [ARGS ...]`.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-gpu_check.json}"
shift || true
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" timeout 540 python tools/benchmark.py gpu --out "$out" "$@"
