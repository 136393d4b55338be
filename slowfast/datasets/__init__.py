"""Datasets: registry, PyAV decoding, sampling and transforms; Kinetics, AVA, Charades, SSv2, ImageNet and the synthetic motion set.

``build_dataset(name, cfg, split)`` builds a registered dataset; the
``loader`` module turns it into a DataLoader.
"""

from slowfast.datasets.ava_dataset import Ava
from slowfast.datasets.ava_synthetic import AvaSynthetic
from slowfast.datasets.build import DATASET_REGISTRY, build_dataset
from slowfast.datasets.charades import Charades
from slowfast.datasets.decoder import DecodeError
from slowfast.datasets.imagenet import Imagenet
from slowfast.datasets.kinetics import DatasetFormatError, Kinetics
from slowfast.datasets.ssv2 import Ssv2
from slowfast.datasets.synthetic import Synthetic

__all__ = [
    "Ava", "AvaSynthetic", "Charades", "DATASET_REGISTRY", "DatasetFormatError", "DecodeError", "Imagenet", "Kinetics",
    "Ssv2", "Synthetic", "build_dataset",
]
