"""One-shot GPU check: the quickstart's GPU paths, distributed set-up, model and loader throughput.

    python tools/benchmark.py gpu --out gpu_check.json               # on one GPU, < 8 minutes
    python tools/benchmark.py gpu --device cpu --smoke --out x.json  # the same steps, tiny, on the CPU

Steps, each run on its own; a failing step records its full error text and the next one runs:
  quickstart_*     tools/run_net.py on configs/Synthetic/SLOWFAST_R18_CPU.yaml with NUM_GPUS 1 for
                   a few iterations: process-group init (NCCL; a world of one, `--init_method env://`),
                   AMP fp16 with the grad scaler, bf16, MODEL.CHANNELS_LAST, MODEL.COMPILE
  two_process_*    two run_net.py processes on the same GPU (env:// ranks 0 and 1, both LOCAL_RANK 0):
                   NCCL, then gloo over the same GPU (NCCL refuses two ranks on one device in most
                   releases; the error is what the row shows)
  train_*          training throughput of SlowFast 8x8 R50 (and MViTv2-S when MODEL_NAME MViT is
                   registered): clips/s, peak CUDA memory, achieved TFLOP/s and % of --peak-tflops
  loader           train loader clips/s with --workers workers on synthetic videos (256x340, the
                   SlowFast 8x8 recipe: 32 frames at rate 2, jitter 256-320, crop 224, flip)

Achieved TFLOP/s: fvcore counts one multiply-add as one flop (PySlowFast's GFLOPs figures), while
hardware peaks count it as two; `tflop_s` = 2 x fvcore GFLOPs x 3 (forward + backward ~ 3 forwards)
x clips/s, and `fvcore_x3_tflop_s` is the same without the factor 2. The default peak, 989 TFLOP/s,
is NVIDIA's H200 SXM dense BF16 tensor-core figure (the datasheet's 1,979 TFLOPS is with 2:4
sparsity); pass --peak-tflops for another GPU.

--device cpu replaces NCCL by gloo and NUM_GPUS 1 by 0, and skips fp16 (the scaler is a CUDA
path); --smoke shrinks every size so that the whole run takes about a minute. Prints one table and
writes the results as JSON to --out; the exit code is 1 if any step failed.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

try:
    import slowfast  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from slowfast.config import get_cfg, merge_from_file, merge_from_list  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART_CFG = ROOT / "configs" / "Synthetic" / "SLOWFAST_R18_CPU.yaml"
# The command (after the Python interpreter) that the quickstart steps run; tests swap in a wrapper.
RUN_NET = [str(ROOT / "tools" / "run_net.py")]
KINETICS_DIR = ROOT / "configs" / "Kinetics"
H200_DENSE_BF16_TFLOPS = 989.0
STEPS = (
    "quickstart_fp32", "quickstart_fp16", "quickstart_bf16", "quickstart_channels_last", "quickstart_compile",
    "two_process_nccl", "two_process_gloo", "train_slowfast_r50", "train_mvitv2_s", "loader",
)  # fmt: skip


class Skipped(Exception):
    """A step that does not apply here (its message says why); not a failure."""


@dataclass
class StepResult:
    name: str
    status: str  # "ok", "failed" or "skipped"
    seconds: float
    metrics: Dict[str, Any] = field(default_factory=dict)
    note: str = ""
    error: str = ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(text: str, limit: int = 20000) -> str:
    return text if len(text) <= limit else "[... cut ...]\n" + text[-limit:]


class Checker:
    """Runs the steps for one device and keeps their results."""

    def __init__(self, args: argparse.Namespace, work_dir: str) -> None:
        self.args = args
        self.work = Path(work_dir)
        self.gpu = args.device == "cuda"
        self.device = torch.device("cuda", 0) if self.gpu else torch.device("cpu")
        self.data_dir = self.work / "synthetic_data"

    # --- quickstart runs (subprocesses of tools/run_net.py) -------------------------------------

    def _quickstart_opts(self, name: str, extra: Sequence[str], test: bool = False) -> List[str]:
        smoke = self.args.smoke
        opts = [
            "NUM_GPUS", "1" if self.gpu else "0",
            "SOLVER.MAX_EPOCH", "1",
            "TRAIN.BATCH_SIZE", "4" if smoke else "8",
            "TEST.BATCH_SIZE", "4" if smoke else "8",
            "TRAIN.EVAL_PERIOD", "100",
            "TEST.ENABLE", str(test),
            "SYNTHETIC.NUM_TRAIN", "8" if smoke else "64",
            "SYNTHETIC.NUM_VAL", "4" if smoke else "16",
            "SYNTHETIC.NUM_TEST", "4" if smoke else "16",
            "DATA.PATH_TO_DATA_DIR", str(self.data_dir),
            "DATA_LOADER.NUM_WORKERS", "1" if smoke else "4",
            "DATA_LOADER.PIN_MEMORY", str(self.gpu),
            "OUTPUT_DIR", str(self.work / name),
            "LOG_PERIOD", "1",
        ]  # fmt: skip
        return opts + list(extra)

    def _run_net(self, opts: Sequence[str], env: Dict[str, str]) -> subprocess.Popen:
        cmd = [sys.executable, *RUN_NET, "--cfg", str(QUICKSTART_CFG),
               "--init_method", "env://", *opts]
        full_env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **env}
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env)

    def _wait(self, procs: List[subprocess.Popen]) -> List[str]:
        """The output of each process; raises with every process's output when any failed.

        A process that fails gets its peers killed after a short grace period (a rank whose peer
        died would otherwise wait in a collective until --step-timeout).
        """
        deadline = time.monotonic() + self.args.step_timeout
        outputs = [""] * len(procs)
        readers = []
        for i, proc in enumerate(procs):
            def read(i: int = i, proc: subprocess.Popen = proc) -> None:
                outputs[i] = proc.stdout.read()
            readers.append(threading.Thread(target=read, daemon=True))
            readers[-1].start()
        notes = [""] * len(procs)
        grace_end = None
        while any(p.poll() is None for p in procs):
            now = time.monotonic()
            if grace_end is None and any(p.poll() not in (None, 0) for p in procs):
                grace_end = now + 15.0
            limit = min(deadline, grace_end) if grace_end is not None else deadline
            if now > limit:
                reason = "a peer failed" if grace_end is not None and now > grace_end else (
                    f"--step-timeout {self.args.step_timeout:.0f} s")
                for i, p in enumerate(procs):
                    if p.poll() is None:
                        p.kill()
                        notes[i] = f"\n[killed: {reason}]"
                break
            time.sleep(0.2)
        for proc, reader in zip(procs, readers):
            proc.wait()
            reader.join()
        codes = [p.returncode for p in procs]
        if any(codes):
            parts = [f"--- rank {i} exit code {c} ---\n{_tail(o)}{n}"
                     for i, (c, o, n) in enumerate(zip(codes, outputs, notes))]
            raise RuntimeError("\n".join(parts))
        return outputs

    def _env(self, rank: int, world: int, port: int) -> Dict[str, str]:
        return {"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": "0",
                "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}

    def quickstart(self, name: str, extra: Sequence[str], test: bool = False) -> Dict[str, Any]:
        port = _free_port()
        (out,) = self._wait([self._run_net(self._quickstart_opts(name, extra, test), self._env(0, 1, port))])
        lines = [line for line in out.splitlines() if line.strip()]
        return {"backend": "nccl" if self.gpu else "gloo", "last_log_line": lines[-1] if lines else ""}

    def two_process(self, name: str, backend: str) -> Dict[str, Any]:
        if not self.gpu and backend == "nccl":
            raise Skipped("NCCL needs a GPU; the gloo row runs the same two processes on the CPU")
        port = _free_port()
        extra = ["DIST_BACKEND", backend] if self.gpu else ["NUM_CPU_PROCESSES", "2"]
        opts = self._quickstart_opts(name, extra)
        procs = [self._run_net(opts, self._env(rank, 2, port)) for rank in range(2)]
        outs = self._wait(procs)
        lines = [line for line in outs[0].splitlines() if line.strip()]
        return {"backend": backend, "world_size": 2, "last_log_line": lines[-1] if lines else ""}

    # --- model training throughput (in this process) ---------------------------------------------

    def _model_cfg(self, yaml_path: Path, model_name: Optional[str] = None):
        cfg = merge_from_file(get_cfg(), str(yaml_path))
        opts = ["NUM_GPUS", "1" if self.gpu else "0"]
        if self.args.smoke:
            opts += ["DATA.TRAIN_CROP_SIZE", "64", "DATA.TEST_CROP_SIZE", "64"]
        merge_from_list(cfg, opts)
        if self.args.smoke and cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH:
            cfg.DATA.NUM_FRAMES = 2 * cfg.SLOWFAST.ALPHA
        elif self.args.smoke:
            cfg.DATA.NUM_FRAMES = 4
        return cfg

    def train_throughput(self, cfg) -> Dict[str, Any]:
        from slowfast.models import MODEL_REGISTRY
        from slowfast.models.stats import get_model_stats, pathway_input

        args = self.args
        torch.manual_seed(0)
        model = MODEL_REGISTRY.get(cfg.MODEL.MODEL_NAME)(cfg).to(self.device)
        gflops = get_model_stats(model, cfg, "flop", use_train_input=True)
        fmt = torch.channels_last_3d if args.channels_last else torch.contiguous_format
        model = model.to(memory_format=fmt)
        batch = args.batch_size
        clip = pathway_input(cfg, cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE, self.device)
        inputs = [x.expand(batch, *x.shape[1:]).contiguous(memory_format=fmt) for x in clip]
        labels = torch.randint(0, cfg.MODEL.NUM_CLASSES, (batch,), device=self.device)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        dtype = torch.bfloat16

        def step() -> None:
            with torch.autocast(device_type=self.device.type, dtype=dtype):
                loss = F.cross_entropy(model(inputs).float(), labels)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        model.train()
        for _ in range(args.warmup):
            step()
        if self.gpu:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        start = time.perf_counter()
        for _ in range(args.iters):
            step()
        if self.gpu:
            torch.cuda.synchronize(self.device)
        elapsed = time.perf_counter() - start
        clips_s = batch * args.iters / elapsed
        tflop_s = 2 * 3 * gflops * clips_s / 1000
        peak_mb = torch.cuda.max_memory_allocated(self.device) / 2**20 if self.gpu else None
        del model, optimizer
        if self.gpu:
            torch.cuda.empty_cache()
        return {
            "model": cfg.MODEL.MODEL_NAME, "batch": batch, "frames": cfg.DATA.NUM_FRAMES,
            "crop": cfg.DATA.TRAIN_CROP_SIZE, "precision": "bf16 autocast", "channels_last": args.channels_last,
            "iters": args.iters, "clips_s": round(clips_s, 2), "peak_mb": None if peak_mb is None else round(peak_mb),
            "fvcore_gflops_per_clip": round(gflops, 2), "fvcore_x3_tflop_s": round(tflop_s / 2, 4),
            "tflop_s": round(tflop_s, 4), "pct_of_peak": round(100 * tflop_s / args.peak_tflops, 4),
            "peak_tflops": args.peak_tflops,
        }  # fmt: skip

    def train_slowfast(self) -> Dict[str, Any]:
        return self.train_throughput(self._model_cfg(KINETICS_DIR / "SLOWFAST_8x8_R50.yaml"))

    def train_mvit(self) -> Dict[str, Any]:
        from slowfast.models import MODEL_REGISTRY

        if "MViT" not in MODEL_REGISTRY:
            raise Skipped("MODEL_NAME MViT is not registered in this build")
        yamls = sorted(KINETICS_DIR.glob("MVITv2_S*.yaml"))
        if not yamls:
            raise Skipped(f"MViT is registered but there is no {KINETICS_DIR}/MVITv2_S*.yaml config")
        return self.train_throughput(self._model_cfg(yamls[0]))

    # --- loader throughput --------------------------------------------------------------------------

    def loader(self) -> Dict[str, Any]:
        from slowfast.datasets.loader import construct_loader
        from slowfast.datasets.synthetic import ensure_synthetic_dataset, spec_from_cfg

        smoke = self.args.smoke
        cfg = merge_from_file(get_cfg(), str(KINETICS_DIR / "SLOWFAST_8x8_R50.yaml"))
        videos = 8 if smoke else 16 * self.args.workers
        merge_from_list(cfg, [
            "NUM_GPUS", "0", "TRAIN.DATASET", "synthetic", "DATA.PATH_TO_DATA_DIR", str(self.work / "loader_data"),
            "SYNTHETIC.NUM_TRAIN", str(videos), "SYNTHETIC.NUM_VAL", "1", "SYNTHETIC.NUM_TEST", "1",
            "SYNTHETIC.HEIGHT", "64" if smoke else "256", "SYNTHETIC.WIDTH", "86" if smoke else "340",
            "SYNTHETIC.NUM_FRAMES", "72", "SYNTHETIC.FPS", "30",
            "TRAIN.BATCH_SIZE", "4" if smoke else "16", "DATA_LOADER.NUM_WORKERS", str(self.args.workers),
            "DATA_LOADER.PIN_MEMORY", str(self.gpu),
        ])  # fmt: skip
        if smoke:
            merge_from_list(cfg, ["DATA.TRAIN_JITTER_SCALES", "[64, 80]", "DATA.TRAIN_CROP_SIZE", "56"])
        start = time.perf_counter()
        ensure_synthetic_dataset(str(self.work / "loader_data"), spec_from_cfg(cfg))
        make_s = time.perf_counter() - start
        loader = construct_loader(cfg, "train")
        clips, first, shape = 0, None, None
        for _ in range(self.args.loader_epochs):
            for inputs, _, _, _ in loader:
                if first is None:  # worker start-up and the first batch are not timed
                    first, shape = time.perf_counter(), [list(x.shape) for x in inputs]
                    continue
                clips += inputs[0].shape[0]
        elapsed = time.perf_counter() - first
        return {"workers": self.args.workers, "clips_s": round(clips / elapsed, 2), "clips_timed": clips,
                "batch_shapes": shape, "video": f"{cfg.SYNTHETIC.HEIGHT}x{cfg.SYNTHETIC.WIDTH}",
                "dataset_make_s": round(make_s, 1)}

    # --- driver -------------------------------------------------------------------------------------

    def step_functions(self) -> Dict[str, Callable[[], Dict[str, Any]]]:
        def fp16() -> Dict[str, Any]:
            if not self.gpu:
                raise Skipped("fp16 autocast with the grad scaler is a CUDA path; skipped on the CPU")
            return self.quickstart("quickstart_fp16", ["TRAIN.MIXED_PRECISION", "True",
                                                       "TRAIN.MIXED_PRECISION_DTYPE", "float16"])

        return {
            "quickstart_fp32": lambda: self.quickstart("quickstart_fp32", [], test=True),
            "quickstart_fp16": fp16,
            "quickstart_bf16": lambda: self.quickstart(
                "quickstart_bf16", ["TRAIN.MIXED_PRECISION", "True", "TRAIN.MIXED_PRECISION_DTYPE", "bfloat16"]),
            "quickstart_channels_last": lambda: self.quickstart("quickstart_channels_last",
                                                                ["MODEL.CHANNELS_LAST", "True"]),
            "quickstart_compile": lambda: self.quickstart("quickstart_compile", ["MODEL.COMPILE", "True"]),
            "two_process_nccl": lambda: self.two_process("two_process_nccl", "nccl"),
            "two_process_gloo": lambda: self.two_process("two_process_gloo", "gloo"),
            "train_slowfast_r50": self.train_slowfast,
            "train_mvitv2_s": self.train_mvit,
            "loader": self.loader,
        }

    def prepare(self) -> Dict[str, Any]:
        """Write the quickstart's synthetic videos once, before processes would race to make them."""
        from slowfast.datasets.synthetic import ensure_synthetic_dataset, spec_from_cfg

        cfg = merge_from_file(get_cfg(), str(QUICKSTART_CFG))
        merge_from_list(cfg, self._quickstart_opts("prepare", []))
        ensure_synthetic_dataset(str(self.data_dir), spec_from_cfg(cfg))
        return {}


def run_step(name: str, fn: Callable[[], Dict[str, Any]]) -> StepResult:
    start = time.perf_counter()
    try:
        metrics = fn()
    except Skipped as e:
        return StepResult(name, "skipped", time.perf_counter() - start, note=str(e))
    except Exception:  # every failure is recorded in full and the next step runs
        return StepResult(name, "failed", time.perf_counter() - start, error=traceback.format_exc())
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return StepResult(name, "ok", time.perf_counter() - start, metrics=metrics)


def _summary(r: StepResult) -> str:
    m = r.metrics
    if r.status == "skipped":
        return r.note
    if r.status == "failed":
        lines = [line for line in r.error.strip().splitlines() if line.strip()]
        return "ERROR: " + (lines[-1] if lines else "?") + " (full text below)"
    if "tflop_s" in m:
        mem = "n/a" if m["peak_mb"] is None else f"{m['peak_mb']} MiB"
        return (f"{m['clips_s']} clips/s, batch {m['batch']}, peak {mem}, {m['fvcore_gflops_per_clip']} "
                f"GFLOPs/clip, {m['tflop_s']} TFLOP/s = {m['pct_of_peak']}% of {m['peak_tflops']}")
    if "workers" in m:
        return f"{m['clips_s']} clips/s with {m['workers']} workers ({m['video']} videos)"
    return f"backend {m.get('backend')}" + (f", world {m['world_size']}" if "world_size" in m else "")


def format_table(results: List[StepResult], header: str) -> str:
    lines = [header, f"{'step':<25} {'status':<8} {'s':>6}  result", "-" * 100]
    for r in results:
        lines.append(f"{r.name:<25} {r.status:<8} {r.seconds:>6.1f}  {_summary(r)}")
    for r in results:
        if r.status == "failed":
            lines += ["", f"=== {r.name}: full error ===", r.error.rstrip()]
    return "\n".join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--smoke", action="store_true", help="tiny sizes: checks that every step runs, measures nothing")
    p.add_argument("--out", default="", help="write the results as JSON here")
    p.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {list(STEPS)}")
    p.add_argument("--peak-tflops", type=float, default=H200_DENSE_BF16_TFLOPS,
                   help="the GPU's dense bf16 peak in TFLOP/s (default: H200 SXM, 989)")
    p.add_argument("--batch-size", type=int, default=None, help="training throughput batch (default 16; smoke 1)")
    p.add_argument("--iters", type=int, default=None, help="timed training iterations (default 20; smoke 1)")
    p.add_argument("--warmup", type=int, default=None, help="untimed iterations first (default 5; smoke 1)")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                   help="time the models in NCDHW instead of channels_last_3d")
    p.add_argument("--workers", type=int, default=None, help="loader workers (default 16; smoke 1)")
    p.add_argument("--loader-epochs", type=int, default=2, help="passes over the loader's synthetic videos")
    p.add_argument("--budget", type=float, default=450.0,
                   help="seconds after which the remaining steps are skipped (0: no limit); the JSON is rewritten "
                        "after every step")
    p.add_argument("--step-timeout", type=float, default=None, help="seconds per subprocess step (default 150; smoke 240)")
    args = p.parse_args(argv)
    for name in args.steps.split(","):
        if name not in STEPS:
            p.error(f"unknown step '{name}'; choose from {list(STEPS)}")
    defaults = {"batch_size": (16, 1), "iters": (20, 1), "warmup": (5, 1), "workers": (16, 1),
                "step_timeout": (150.0, 240.0)}
    for key, (full, smoke) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, smoke if args.smoke else full)
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the selected steps, print the table, write --out; 1 if any step failed."""
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available; use --device cpu --smoke here", file=sys.stderr)
        return 2
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
        try:
            nccl = ".".join(map(str, torch.cuda.nccl.version()))
        except Exception as e:  # reported in the header; the NCCL steps will show the full error
            nccl = f"unknown ({e})"
        where = f"{torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}, NCCL {nccl}"
    else:
        where = f"CPU, {torch.get_num_threads()} threads"
    header = f"GPU check on {where}; torch {torch.__version__}{' (smoke sizes)' if args.smoke else ''}"
    print(header, flush=True)
    total = time.perf_counter()
    results: List[StepResult] = []
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as work:
        checker = Checker(args, work)
        steps = checker.step_functions()
        prepared = run_step("prepare_data", checker.prepare)
        if prepared.status != "ok":
            results.append(prepared)
        for name in args.steps.split(","):
            spent = time.perf_counter() - total
            if args.budget and spent > args.budget:
                result = StepResult(name, "skipped", 0.0, note=f"--budget {args.budget:.0f} s spent ({spent:.0f} s)")
            else:
                result = run_step(name, steps[name])
            print(f"  {name}: {result.status} ({result.seconds:.1f} s)", flush=True)
            results.append(result)
            write_json(args, header, results, time.perf_counter() - total)  # a killed run keeps what it did
    elapsed = time.perf_counter() - total
    print(format_table(results, f"{header}; {elapsed:.0f} s in all"))
    if args.out:
        write_json(args, header, results, elapsed)
        print(f"wrote {args.out}")
    return 1 if any(r.status == "failed" for r in results) else 0


def write_json(args: argparse.Namespace, header: str, results: List[StepResult], elapsed: float) -> None:
    if not args.out:
        return
    payload = {"header": header, "device": args.device, "smoke": args.smoke, "total_seconds": round(elapsed, 1),
               "peak_tflops": args.peak_tflops, "failed": [r.name for r in results if r.status == "failed"],
               "steps": [{**asdict(r), "seconds": round(r.seconds, 1)} for r in results]}
    Path(args.out).write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    sys.exit(main())
