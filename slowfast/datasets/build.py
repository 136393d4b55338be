"""Dataset registry: TRAIN.DATASET / TEST.DATASET name a class registered here (case-insensitive)."""

from fvcore.common.config import CfgNode
from fvcore.common.registry import Registry
from torch.utils.data import Dataset

DATASET_REGISTRY = Registry("DATASET")
DATASET_REGISTRY.__doc__ = """
Registry for datasets. A registered class is built as ``cls(cfg, split)`` with
split in "train", "val", "test".
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
    known = {registered.lower(): registered for registered, _ in DATASET_REGISTRY}
    key = name.lower()
    if key not in known:
        raise KeyError(f"Unknown dataset '{name}'; registered datasets: {sorted(known)}")
    return DATASET_REGISTRY.get(known[key])(cfg, split)
