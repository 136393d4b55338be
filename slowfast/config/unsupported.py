"""The one table of config keys that exist only so PySlowFast YAML files parse.

Every key of the default tree is either read by the code or listed here with
the reason it does nothing; validation refuses a listed key whose value differs
from its default, naming the key, the file it came from and the reason.
Entries with ``refused=False`` are the exception: keys that PySlowFast itself
never reads, accepted with any value (the reason says so).
Entries with a ``default`` are PySlowFast keys the tree would otherwise lack;
``add_missing_keys`` adds them to the tree with PySlowFast's default.
"""

import math
from dataclasses import dataclass
from typing import Any, Dict, List

from fvcore.common.config import CfgNode

_NO_DEFAULT = object()


@dataclass(frozen=True)
class Unsupported:
    reason: str
    default: Any = _NO_DEFAULT
    # False only for a key that no code reads in PySlowFast either: any value is accepted and changes nothing.
    refused: bool = True


_CONTRASTIVE = "self-supervised contrastive training (ContrastiveModel) is not supported"
_MASK = "masked pre-training (MaskFeat / MAE) is not supported"
_SSL_DATA = "the self-supervised colour and blur augmentations are not supported"
_IMAGENET = ("only the ImageNet class-folder layout is supported (no preloaded image lists, no ImageNet-22k "
             "train+val split or 22k-to-1k validation mapping)")
_TB_VIS = "plotting saved predictions offline (PySlowFast's visualisation job reading a predictions file) is not supported"
_BENCH = "use tools/benchmark.py data, which takes its settings on the command line"


def _group(keys: str, reason: str) -> Dict[str, Unsupported]:
    return {k: Unsupported(reason) for k in keys.split()}


def _new(reason: str, **defaults: Any) -> Dict[str, Unsupported]:
    return {k.replace("__", "."): Unsupported(reason, v) for k, v in defaults.items()}


UNSUPPORTED: Dict[str, Unsupported] = {
    "DATA.SSL_COLOR_JITTER": Unsupported(_SSL_DATA),
    "DATA.DECODING_SHORT_SIZE": Unsupported(
        "it only sets the decode size of the torchvision backend; PyAV (DATA.DECODING_BACKEND pyav) decodes "
        "at full size"
    ),
    "SOLVER.STEP_SIZE": Unsupported("no supported LR policy uses it (PySlowFast's neither)"),
    "SOLVER.WARMUP_FACTOR": Unsupported("the warmup starts at SOLVER.WARMUP_START_LR; use that"),
    **_new(_TB_VIS, TENSORBOARD__PREDICTIONS_PATH=""),
    **_group("BENCHMARK.NUM_EPOCHS BENCHMARK.LOG_PERIOD BENCHMARK.SHUFFLE", _BENCH),
    # PySlowFast keys the tree lacked.
    **_new(
        _CONTRASTIVE,
        CONTRASTIVE__T=0.07, CONTRASTIVE__DIM=128, CONTRASTIVE__LENGTH=239975, CONTRASTIVE__QUEUE_LEN=65536,
        CONTRASTIVE__MOMENTUM=0.5, CONTRASTIVE__MOMENTUM_ANNEALING=False, CONTRASTIVE__TYPE="mem",
        CONTRASTIVE__INTERP_MEMORY=False, CONTRASTIVE__MEM_TYPE="1d", CONTRASTIVE__NUM_CLASSES_DOWNSTREAM=400,
        CONTRASTIVE__NUM_MLP_LAYERS=1, CONTRASTIVE__MLP_DIM=2048, CONTRASTIVE__BN_MLP=False,
        CONTRASTIVE__BN_SYNC_MLP=False, CONTRASTIVE__LOCAL_SHUFFLE_BN=True, CONTRASTIVE__MOCO_MULTI_VIEW_QUEUE=False,
        CONTRASTIVE__DELTA_CLIPS_MIN=-math.inf, CONTRASTIVE__DELTA_CLIPS_MAX=math.inf,
        CONTRASTIVE__PREDICTOR_DEPTHS=[], CONTRASTIVE__SEQUENTIAL=False, CONTRASTIVE__SIMCLR_DIST_ON=True,
        CONTRASTIVE__SWAV_QEUE_LEN=0, CONTRASTIVE__KNN_ON=True, DATA__TIME_DIFF_PROB=0.0,
    ),
    **_new(
        _MASK,
        MASK__ENABLE=False, MASK__MAE_ON=False, MASK__MAE_RND_MASK=False, MASK__PER_FRAME_MASKING=False,
        MASK__TIME_STRIDE_LOSS=True, MASK__NORM_PRED_PIXEL=True, MASK__SCALE_INIT_BY_DEPTH=False,
        MASK__DECODER_EMBED_DIM=512, MASK__DECODER_SEP_POS_EMBED=False, MASK__DEC_KV_KERNEL=[],
        MASK__DEC_KV_STRIDE=[], MASK__PRETRAIN_DEPTH=[15], MASK__HEAD_TYPE="separate", MASK__DECODER_DEPTH=0,
        MASK__PRED_HOG=False, AUG__GEN_MASK_LOADER=False, AUG__MASK_TUBE=False, AUG__MASK_FRAMES=False,
        AUG__MASK_WINDOW_SIZE=[8, 7, 7], AUG__MASK_RATIO=0.0, AUG__MAX_MASK_PATCHES_PER_BLOCK=None,
        VIS_MASK__ENABLE=False,
    ),
    **_new(
        _SSL_DATA,
        DATA__COLOR_RND_GRAYSCALE=0.0, DATA__SSL_COLOR_BRI_CON_SAT=[0.4, 0.4, 0.4], DATA__SSL_COLOR_HUE=0.1,
        DATA__SSL_MOCOV2_AUG=False, DATA__SSL_BLUR_SIGMA_MIN=[0.0, 0.1], DATA__SSL_BLUR_SIGMA_MAX=[0.0, 2.0],
    ),
    **_new(
        _IMAGENET,
        DATA__PATH_TO_PRELOAD_IMDB="", DATA__IN22K_TRAINVAL=False, DATA__IN22k_VAL_IN1K="",
    ),
    **_new("the loss-explosion guard is not supported; a non-finite loss stops training",
           TRAIN__KILL_LOSS_EXPLOSION_FACTOR=0.0),
    **_new("several temporal-clip counts in one test run are not supported; use TEST.NUM_ENSEMBLE_VIEWS",
           TEST__NUM_TEMPORAL_CLIPS=[]),
    **_new("frozen BN is not supported", MODEL__FROZEN_BN=False),
    **_new("fp16 gradient all-reduce is not supported", MODEL__FP16_ALLREDUCE=False),
    **_new("target-fps jitter is not supported", DATA__TRAIN_JITTER_FPS=0.0),
    **_new("several temporal crops per training video are not supported; see AUG.NUM_SAMPLE",
           DATA__TRAIN_CROP_NUM_TEMPORAL=1),
    **_new("several spatial crops per training video are not supported; see AUG.NUM_SAMPLE",
           DATA__TRAIN_CROP_NUM_SPATIAL=1),
    **_new("chunked (streamed) list loading is not supported", DATA__LOADER_CHUNK_SIZE=0,
           DATA__LOADER_CHUNK_OVERALL_SIZE=0, DATA__SKIP_ROWS=0),
    **_new("dummy loading (the first batch repeated) is not supported; see tools/benchmark.py",
           DATA__DUMMY_LOAD=False),
    **_new("LARS is not supported", SOLVER__LARS_ON=False),
    # Not in PySlowFast's defaults at 287ec00, yet its SSv2 MViTv2 YAMLs set it (to 3).
    "PREFETCH.NUM_LOADERS": Unsupported(
        "PySlowFast reads it nowhere: its SSv2 MViTv2 YAMLs set it, but at 287ec00 no code reads it and it is "
        "not in the defaults (those YAMLs do not even merge there). Accepted with any value, it does nothing "
        "here either; DATA_LOADER.NUM_WORKERS sets the loader's worker processes",
        0,
        refused=False,
    ),
}


def add_missing_keys(cfg: CfgNode) -> None:
    """Add the table's PySlowFast-only keys (those with a default) to the default tree."""
    for key, entry in UNSUPPORTED.items():
        if entry.default is _NO_DEFAULT:
            continue
        node = cfg
        *parents, leaf = key.split(".")
        for name in parents:
            if name not in node:
                node[name] = CfgNode()
            node = node[name]
        if leaf not in node:
            node[leaf] = entry.default


def _lookup(cfg: CfgNode, key: str) -> Any:
    node = cfg
    for name in key.split("."):
        node = node[name]
    return node


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def refused_keys(cfg: CfgNode, defaults: CfgNode, origin) -> List[str]:
    """One message per listed key whose value in ``cfg`` differs from ``defaults``.

    ``origin(key)`` names where the value came from (a file or the command line).
    """
    problems = []
    for key, entry in UNSUPPORTED.items():
        if not entry.refused:
            continue
        value, default = _lookup(cfg, key), _lookup(defaults, key)
        if not _same(value, default):
            problems.append(
                f"{key} = {value!r} (from {origin(key)}) is not supported: {entry.reason}. "
                f"Remove it or set it to its default {default!r}."
            )
    return problems
