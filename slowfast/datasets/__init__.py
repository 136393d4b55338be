"""Datasets: registry, PyAV decoding, sampling and transforms; Kinetics, AVA and the synthetic motion set.

``build_dataset(name, cfg, split)`` builds a registered dataset; the
``loader`` module turns it into a DataLoader.
"""

from slowfast.datasets.ava_dataset import Ava
from slowfast.datasets.ava_synthetic import AvaSynthetic
from slowfast.datasets.build import DATASET_REGISTRY, build_dataset
from slowfast.datasets.decoder import DecodeError
from slowfast.datasets.kinetics import DatasetFormatError, Kinetics
from slowfast.datasets.synthetic import Synthetic

__all__ = ["Ava", "AvaSynthetic", "DATASET_REGISTRY", "DatasetFormatError", "DecodeError", "Kinetics", "Synthetic", "build_dataset"]
