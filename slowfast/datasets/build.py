"""Dataset registry: TRAIN.DATASET / TEST.DATASET name a class registered here (case-insensitive)."""

from typing import List, Type

from fvcore.common.config import CfgNode
from fvcore.common.registry import Registry
from torch.utils.data import Dataset

from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

DATASET_REGISTRY = Registry("DATASET")
DATASET_REGISTRY.__doc__ = """
Registry for datasets. A registered class is built as ``cls(cfg, split)`` with
split in "train", "val", "test". It may define ``infer_cfg(cfg) -> List[str]`` (fill in
values derived for this dataset, returning what it set) and ``check_cfg(cfg, split) -> List[str]``
(the problems that would stop ``cls(cfg, split)``): config validation calls both, so a bad
test setting stops the run before training, not after it.
"""


def build_dataset(name: str, cfg: CfgNode, split: str) -> Dataset:
    """Build the dataset registered as ``name`` (any letter case) for ``split``.

    Args:
        name: dataset name, e.g. cfg.TRAIN.DATASET ("kinetics", "Kinetics", "synthetic").
        cfg: the config.
        split: "train", "val" or "test".
    Returns:
        The dataset instance.
    """
    return dataset_class(name)(cfg, split)


def dataset_class(name: str) -> Type[Dataset]:
    """The class registered as ``name`` (any letter case); KeyError listing the registered ones."""
    known = {registered.lower(): registered for registered, _ in DATASET_REGISTRY}
    key = name.lower()
    if key not in known:
        raise KeyError(f"Unknown dataset '{name}'; registered datasets: {sorted(known)}")
    return DATASET_REGISTRY.get(known[key])


def dataset_cfg_problems(cfg: CfgNode) -> List[str]:
    """Infer and check the dataset settings of the jobs ``cfg`` enables (train and val on
    TRAIN.DATASET, test on TEST.DATASET) through the classes' ``infer_cfg`` / ``check_cfg``."""
    import slowfast.datasets  # noqa: F401  (registers the datasets)

    jobs = []
    if cfg.TRAIN.ENABLE:
        jobs.append(("TRAIN.DATASET", cfg.TRAIN.DATASET, ["train"] + (["val"] if cfg.TRAIN.EVAL_PERIOD > 0 else [])))
    if cfg.TEST.ENABLE:
        jobs.append(("TEST.DATASET", cfg.TEST.DATASET, ["test"]))
    problems: List[str] = []
    for key, name, splits in jobs:
        try:
            cls = dataset_class(name)
        except KeyError as e:
            message = f"{key}: {e.args[0]}"
            if name.lower().startswith("ptv") and name.lower()[3:] in {n.lower() for n, _ in DATASET_REGISTRY}:
                message += (f". PySlowFast's PyTorchVideo wrappers (ptv*) sample and transform clips their own way "
                            f"and are not supported; '{name[3:].lower()}' reads the same list files with "
                            "PySlowFast's own pipeline")
            problems.append(message)
            continue
        infer = getattr(cls, "infer_cfg", None)
        if infer is not None:
            for change in infer(cfg):
                logger.info("%s %s: set %s", key, name, change)
        check = getattr(cls, "check_cfg", None)
        if check is not None:
            for split in splits:
                problems += [f"{key} {name} ({split}): {p}" for p in check(cfg, split)]
    return problems
