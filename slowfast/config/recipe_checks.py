"""Checks of the training-recipe keys (AUG, MIXUP, random-resized crops, solver extras).

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
    return problems
