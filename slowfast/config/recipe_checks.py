"""Checks of the training-recipe keys (AUG, MIXUP, random-resized crops, solver extras, MULTIGRID).

Each problem names the key, its value, where it came from and the accepted
form, and is found before any data is read. Recipe keys that would have no
effect in the config as a whole (AUG.* without AUG.ENABLE, MIXUP.* without
MIXUP.ENABLE, recipes on a detection dataset) are refused too.
"""

from numbers import Real
from typing import Callable, List

from fvcore.common.config import CfgNode

Origin = Callable[[str], str]

_AUG_RECIPE = ("AA_TYPE", "INTERPOLATION", "COLOR_JITTER", "RE_PROB", "RE_MODE", "RE_COUNT", "RE_SPLIT")
_MIXUP_RECIPE = ("ALPHA", "CUTMIX_ALPHA", "PROB", "SWITCH_PROB", "LABEL_SMOOTH_VALUE")


def _where(key: str, value, origin: Origin) -> str:
    return f"{key} = {value!r} (from {origin(key)})"


def _is_number(x) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool)


def _range_pair(cfg: CfgNode, key: str, problems: List[str], origin: Origin, *, upper_one: bool) -> bool:
    section, leaf = key.split(".")
    value = cfg[section][leaf]
    if len(value) == 0:
        return False
    form = "[min, max] with 0 < min <= max <= 1" if upper_one else "[min, max] with 0 < min <= max"
    ok = len(value) == 2 and all(_is_number(v) for v in value) and 0 < value[0] <= value[1]
    if ok and upper_one:
        ok = value[1] <= 1
    if not ok:
        problems.append(f"{_where(key, value, origin)} is invalid; accepted form: {form}, or [] to disable.")
    return True


def check_recipes(cfg: CfgNode, defaults: CfgNode, origin: Origin) -> List[str]:
    """The problems of the recipe keys of ``cfg`` (``defaults`` is the default tree)."""
    # Imported here: the config package must not import the datasets package at import time.
    from slowfast.datasets.rand_augment import INTERPOLATIONS, parse_policy
    from slowfast.datasets.random_erasing import RE_MODES

    problems: List[str] = []
    aug, mix, data, solver = cfg.AUG, cfg.MIXUP, cfg.DATA, cfg.SOLVER

    if aug.AA_TYPE:
        try:
            parse_policy(aug.AA_TYPE)
        except ValueError as e:
            problems.append(f"{e} (from {origin('AUG.AA_TYPE')})")
    if aug.INTERPOLATION not in INTERPOLATIONS:
        problems.append(f"{_where('AUG.INTERPOLATION', aug.INTERPOLATION, origin)} must be one of {INTERPOLATIONS}.")
    if not (isinstance(aug.NUM_SAMPLE, int) and aug.NUM_SAMPLE >= 1):
        problems.append(f"{_where('AUG.NUM_SAMPLE', aug.NUM_SAMPLE, origin)} must be an integer >= 1.")
    if not (_is_number(aug.RE_PROB) and 0 <= aug.RE_PROB <= 1):
        problems.append(f"{_where('AUG.RE_PROB', aug.RE_PROB, origin)} must be a probability in [0, 1].")
    if aug.RE_MODE not in RE_MODES:
        problems.append(f"{_where('AUG.RE_MODE', aug.RE_MODE, origin)} must be one of {RE_MODES}.")
    if not (isinstance(aug.RE_COUNT, int) and aug.RE_COUNT >= 1):
        problems.append(f"{_where('AUG.RE_COUNT', aug.RE_COUNT, origin)} must be an integer >= 1.")
    if aug.COLOR_JITTER is not None and not (_is_number(aug.COLOR_JITTER) and aug.COLOR_JITTER >= 0):
        problems.append(f"{_where('AUG.COLOR_JITTER', aug.COLOR_JITTER, origin)} must be a number >= 0 or None.")
    if not aug.ENABLE:
        for leaf in _AUG_RECIPE:
            if aug[leaf] != defaults.AUG[leaf]:
                problems.append(f"{_where('AUG.' + leaf, aug[leaf], origin)} has no effect without AUG.ENABLE True.")

    for leaf in ("ALPHA", "CUTMIX_ALPHA"):
        if not (_is_number(mix[leaf]) and mix[leaf] >= 0):
            problems.append(f"{_where('MIXUP.' + leaf, mix[leaf], origin)} must be a number >= 0 (0 disables it).")
    for leaf in ("PROB", "SWITCH_PROB"):
        if not (_is_number(mix[leaf]) and 0 <= mix[leaf] <= 1):
            problems.append(f"{_where('MIXUP.' + leaf, mix[leaf], origin)} must be a probability in [0, 1].")
    if not (_is_number(mix.LABEL_SMOOTH_VALUE) and 0 <= mix.LABEL_SMOOTH_VALUE < 1):
        problems.append(f"{_where('MIXUP.LABEL_SMOOTH_VALUE', mix.LABEL_SMOOTH_VALUE, origin)} must be in [0, 1).")
    if mix.ENABLE:
        if _is_number(mix.ALPHA) and _is_number(mix.CUTMIX_ALPHA) and mix.ALPHA <= 0 and mix.CUTMIX_ALPHA <= 0:
            problems.append("MIXUP.ENABLE is True but MIXUP.ALPHA and MIXUP.CUTMIX_ALPHA are both 0: nothing to mix.")
        from slowfast.config.validation import world_size_of

        per_process = cfg.TRAIN.BATCH_SIZE // max(1, world_size_of(cfg))
        if per_process < 2:
            problems.append(
                f"MIXUP.ENABLE mixes the clips of each process's batch with each other, but "
                f"{_where('TRAIN.BATCH_SIZE', cfg.TRAIN.BATCH_SIZE, origin)} gives {per_process} per process; "
                "use at least 2 per process."
            )
        if cfg.DATA.MULTI_LABEL or cfg.DETECTION.ENABLE:
            problems.append("MIXUP.ENABLE works with single-label classification only (not DATA.MULTI_LABEL or DETECTION).")
    else:
        for leaf in _MIXUP_RECIPE:
            if mix[leaf] != defaults.MIXUP[leaf]:
                problems.append(f"{_where('MIXUP.' + leaf, mix[leaf], origin)} has no effect without MIXUP.ENABLE True.")

    rrc_scale = _range_pair(cfg, "DATA.TRAIN_JITTER_SCALES_RELATIVE", problems, origin, upper_one=True)
    rrc_aspect = _range_pair(cfg, "DATA.TRAIN_JITTER_ASPECT_RELATIVE", problems, origin, upper_one=False)
    if rrc_scale != rrc_aspect:
        given, missing = (
            ("DATA.TRAIN_JITTER_SCALES_RELATIVE", "DATA.TRAIN_JITTER_ASPECT_RELATIVE")
            if rrc_scale
            else ("DATA.TRAIN_JITTER_ASPECT_RELATIVE", "DATA.TRAIN_JITTER_SCALES_RELATIVE")
        )
        problems.append(
            f"{given} (from {origin(given)}) turns on random-resized crops, which also need {missing} "
            "(e.g. SCALES_RELATIVE [0.08, 1.0] and ASPECT_RELATIVE [0.75, 1.3333])."
        )
    if data.TRAIN_JITTER_MOTION_SHIFT and not rrc_scale:
        problems.append(
            f"{_where('DATA.TRAIN_JITTER_MOTION_SHIFT', True, origin)} only applies to random-resized crops "
            "(DATA.TRAIN_JITTER_SCALES_RELATIVE and TRAIN_JITTER_ASPECT_RELATIVE)."
        )
    if data.IN_VAL_CROP_RATIO != defaults.DATA.IN_VAL_CROP_RATIO and not (
            aug.ENABLE and "imagenet" in (cfg.TRAIN.DATASET, cfg.TEST.DATASET)):
        problems.append(f"{_where('DATA.IN_VAL_CROP_RATIO', data.IN_VAL_CROP_RATIO, origin)} only applies to the "
                        "imagenet val/test transform of the AUG.ENABLE recipe (as in PySlowFast).")
    if cfg.DETECTION.ENABLE:
        for key, on in (("AUG.ENABLE", aug.ENABLE), ("AUG.NUM_SAMPLE", aug.NUM_SAMPLE != 1),
                        ("DATA.TRAIN_JITTER_SCALES_RELATIVE", rrc_scale)):
            if on:
                problems.append(f"{key} (from {origin(key)}) is not supported by the detection (AVA) pipeline.")

    if not (_is_number(solver.LAYER_DECAY) and 0 < solver.LAYER_DECAY <= 1):
        problems.append(f"{_where('SOLVER.LAYER_DECAY', solver.LAYER_DECAY, origin)} must be in (0, 1] (1 = off).")
    for leaf in ("CLIP_GRAD_VAL", "CLIP_GRAD_L2NORM"):
        value = solver[leaf]
        if value is not None and not (_is_number(value) and value > 0):
            problems.append(f"{_where('SOLVER.' + leaf, value, origin)} must be a positive number or None (off).")
    if solver.CLIP_GRAD_VAL is not None and solver.CLIP_GRAD_L2NORM is not None:
        problems.append(
            "SOLVER.CLIP_GRAD_VAL and SOLVER.CLIP_GRAD_L2NORM are both set "
            f"(from {origin('SOLVER.CLIP_GRAD_VAL')} and {origin('SOLVER.CLIP_GRAD_L2NORM')}); choose one."
        )
    betas = tuple(solver.BETAS)
    if len(betas) != 2 or not all(_is_number(b) and 0 <= b < 1 for b in betas):
        problems.append(f"{_where('SOLVER.BETAS', solver.BETAS, origin)} must be (beta1, beta2), each in [0, 1).")
    elif betas != tuple(defaults.SOLVER.BETAS) and solver.OPTIMIZING_METHOD != "adamw":
        problems.append(f"{_where('SOLVER.BETAS', solver.BETAS, origin)} only applies to SOLVER.OPTIMIZING_METHOD adamw.")
    return problems + check_multigrid(cfg, defaults, origin)


_MULTIGRID_MODELS = ("ResNet", "ResNet_nopool", "SlowFast", "X3D", "PTVResNet", "PTVSlowFast", "PTVX3D")
_DERIVED = {"DEFAULT_B": "TRAIN.BATCH_SIZE", "DEFAULT_T": "DATA.NUM_FRAMES", "DEFAULT_S": "DATA.TRAIN_CROP_SIZE"}


def _factor_list(value, pairs: bool) -> bool:
    """Whether ``value`` is a non-empty list of numbers in (0, 1] (of such pairs with ``pairs``)."""
    if not isinstance(value, (list, tuple)) or not value:
        return False
    if pairs:
        if not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
            return False
        value = [v for pair in value for v in pair]
    return all(_is_number(v) and 0 < v <= 1 for v in value)


def _multigrid_dataset_takes_crops(name: str) -> bool:
    """Whether dataset ``name`` takes per-item crops (an unknown name is reported by the dataset checks)."""
    from slowfast.datasets.build import dataset_class
    from slowfast.datasets.frame_list import FrameDataset
    from slowfast.datasets.kinetics import Kinetics

    try:
        return issubclass(dataset_class(name), (Kinetics, FrameDataset))
    except KeyError:
        return True


def check_multigrid(cfg: CfgNode, defaults: CfgNode, origin: Origin) -> List[str]:
    """The problems of the MULTIGRID.* keys (and SOLVER.GAMMA, which only the long cycle reads)."""
    mg, solver = cfg.MULTIGRID, cfg.SOLVER
    problems: List[str] = []
    for leaf, source in _DERIVED.items():
        if mg[leaf] != 0:
            problems.append(
                f"{_where('MULTIGRID.' + leaf, mg[leaf], origin)} is set by multigrid training from {source}; "
                "leave it 0."
            )
    rate = mg.LONG_CYCLE_SAMPLING_RATE
    if not (isinstance(rate, int) and (rate == 0 or rate >= cfg.DATA.SAMPLING_RATE)):
        problems.append(
            f"{_where('MULTIGRID.LONG_CYCLE_SAMPLING_RATE', rate, origin)} must be 0 (off) or an integer >= "
            f"DATA.SAMPLING_RATE ({cfg.DATA.SAMPLING_RATE})."
        )
    if not (mg.LONG_CYCLE or mg.SHORT_CYCLE):
        for leaf in ("EPOCH_FACTOR", "SHORT_CYCLE_FACTORS", "LONG_CYCLE_FACTORS", "BN_BASE_SIZE", "EVAL_FREQ"):
            if mg[leaf] != defaults.MULTIGRID[leaf]:
                problems.append(
                    f"{_where('MULTIGRID.' + leaf, mg[leaf], origin)} has no effect without MULTIGRID.LONG_CYCLE "
                    "or MULTIGRID.SHORT_CYCLE True."
                )
    if not mg.LONG_CYCLE and solver.GAMMA != defaults.SOLVER.GAMMA:
        problems.append(
            f"{_where('SOLVER.GAMMA', solver.GAMMA, origin)} has no effect: only MULTIGRID.LONG_CYCLE uses it "
            "(the learning-rate ratio between SOLVER.STEPS); set SOLVER.LRS instead."
        )
    if not (mg.LONG_CYCLE or mg.SHORT_CYCLE):
        return problems

    if not (_is_number(mg.EPOCH_FACTOR) and mg.EPOCH_FACTOR > 0):
        problems.append(f"{_where('MULTIGRID.EPOCH_FACTOR', mg.EPOCH_FACTOR, origin)} must be a number > 0.")
    for leaf in ("BN_BASE_SIZE", "EVAL_FREQ"):
        if not (isinstance(mg[leaf], int) and not isinstance(mg[leaf], bool) and mg[leaf] >= 1):
            problems.append(f"{_where('MULTIGRID.' + leaf, mg[leaf], origin)} must be an integer >= 1.")
    if mg.SHORT_CYCLE and not (_factor_list(mg.SHORT_CYCLE_FACTORS, pairs=False) and len(mg.SHORT_CYCLE_FACTORS) == 2):
        problems.append(
            f"{_where('MULTIGRID.SHORT_CYCLE_FACTORS', mg.SHORT_CYCLE_FACTORS, origin)} is invalid; accepted form: "
            "two crop-size factors [a, b] with 0 < a, b <= 1 (e.g. [0.5, 0.7071])."
        )
    long_ok = True
    if mg.LONG_CYCLE and not _factor_list(mg.LONG_CYCLE_FACTORS, pairs=True):
        long_ok = False
        problems.append(
            f"{_where('MULTIGRID.LONG_CYCLE_FACTORS', mg.LONG_CYCLE_FACTORS, origin)} is invalid; accepted form: "
            "a list of (frames factor, crop factor) pairs, each in (0, 1], e.g. [(0.5, 0.7071), (1, 1)]."
        )
    if cfg.DETECTION.ENABLE:
        problems.append("MULTIGRID.LONG_CYCLE / SHORT_CYCLE are not supported with DETECTION.ENABLE (AVA).")
    if cfg.MODEL.MODEL_NAME not in _MULTIGRID_MODELS:
        problems.append(
            f"MULTIGRID.LONG_CYCLE / SHORT_CYCLE change the clip shape during training, which "
            f"{_where('MODEL.MODEL_NAME', cfg.MODEL.MODEL_NAME, origin)} does not take; use one of {_MULTIGRID_MODELS}."
        )
    if not _multigrid_dataset_takes_crops(cfg.TRAIN.DATASET):
        problems.append(
            f"{_where('TRAIN.DATASET', cfg.TRAIN.DATASET, origin)} does not take multigrid's per-clip shapes; "
            "multigrid training supports the Kinetics-format and frame-list (Charades, SSv2) datasets."
        )
    if not mg.LONG_CYCLE:
        return problems

    if rate != 0:
        problems.append(
            f"{_where('MULTIGRID.LONG_CYCLE_SAMPLING_RATE', rate, origin)} is set per long-cycle shape by "
            "MULTIGRID.LONG_CYCLE; leave it 0."
        )
    if solver.LR_POLICY != "steps_with_relative_lrs":
        problems.append(
            f"MULTIGRID.LONG_CYCLE scales the learning rate of each shape through SOLVER.LRS, which "
            f"{_where('SOLVER.LR_POLICY', solver.LR_POLICY, origin)} does not use; use steps_with_relative_lrs."
        )
    steps = list(solver.STEPS)
    if not (len(steps) >= 2 and steps[0] == 0 and all(a < b for a, b in zip(steps, steps[1:]))
            and steps[-1] <= solver.MAX_EPOCH):
        problems.append(
            f"MULTIGRID.LONG_CYCLE splits each SOLVER step over the long-cycle shapes, so "
            f"{_where('SOLVER.STEPS', solver.STEPS, origin)} must be [0, s1, ...] increasing, with at least one step "
            f"and the last <= SOLVER.MAX_EPOCH ({solver.MAX_EPOCH})."
        )
        long_ok = False
    if long_ok and _is_number(mg.EPOCH_FACTOR) and mg.EPOCH_FACTOR > 0 and isinstance(mg.BN_BASE_SIZE, int) \
            and mg.BN_BASE_SIZE >= 1 and (not mg.SHORT_CYCLE or _factor_list(mg.SHORT_CYCLE_FACTORS, pairs=False)):
        problems += _long_cycle_shape_problems(cfg, origin)
    return problems


def _long_cycle_shape_problems(cfg: CfgNode, origin: Origin) -> List[str]:
    """Each long-cycle shape must suit the model and put MULTIGRID.BN_BASE_SIZE clips in every BN batch."""
    from slowfast.config.archs import pathway_arch_lists
    from slowfast.config.validation import procs_per_node, world_size_of
    from slowfast.utils.multigrid import bn_layout, long_cycle_schedule

    problems: List[str] = []
    world = max(1, world_size_of(cfg))
    base = cfg.MULTIGRID.BN_BASE_SIZE
    two_pathways = cfg.MODEL.ARCH in pathway_arch_lists(cfg)[1]
    where = _where("MULTIGRID.LONG_CYCLE_FACTORS", cfg.MULTIGRID.LONG_CYCLE_FACTORS, origin)
    seen = set()
    for stage in long_cycle_schedule(cfg):
        if stage[1:4] in seen:
            continue
        seen.add(stage[1:4])
        if two_pathways and stage.num_frames % cfg.SLOWFAST.ALPHA and stage.num_frames not in seen:
            seen.add(stage.num_frames)
            problems.append(
                f"{where} gives a shape of {stage.num_frames} frames, not divisible by SLOWFAST.ALPHA "
                f"({cfg.SLOWFAST.ALPHA}); choose frame factors that keep DATA.NUM_FRAMES x factor a multiple of it."
            )
        per_process = stage.batch_factor * cfg.TRAIN.BATCH_SIZE // world
        if per_process % base and base % per_process:
            problems.append(
                f"{_where('MULTIGRID.BN_BASE_SIZE', base, origin)} and the long-cycle batch of {per_process} clips per "
                f"process ({stage.batch_factor} x TRAIN.BATCH_SIZE {cfg.TRAIN.BATCH_SIZE} over {world} processes, "
                f"{stage.num_frames} frames x {stage.crop_size}^2) must divide one another, so that every BN batch "
                "holds BN_BASE_SIZE clips."
            )
            continue
        norm, count = bn_layout(per_process, base)
        local = procs_per_node(cfg)
        if norm == "sync_batchnorm" and cfg.NUM_GPUS > 0 and local % count:
            problems.append(
                f"{_where('MULTIGRID.BN_BASE_SIZE', base, origin)} needs BN synchronised over {count} devices for the "
                f"long-cycle batch of {per_process} clips per process, which must divide the {local} processes per "
                "machine; lower BN_BASE_SIZE or raise TRAIN.BATCH_SIZE."
            )
    return problems
