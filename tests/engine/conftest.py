"""Fixtures of the end-to-end engine tests."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    """A tiny synthetic dataset shared by the end-to-end tests (written by the dataset on first use)."""
    return tmp_path_factory.mktemp("synthetic_tiny")
