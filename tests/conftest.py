"""Shared fixtures: small videos generated on the fly, never downloaded."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def sample_dataset(tmp_path_factory):
    """A tiny copy of the embedded sample dataset (UCF-101 layout), built once per run."""
    from imrkit.data.sample import SampleConfig, make_sample

    root = tmp_path_factory.mktemp("sample")
    make_sample(root, SampleConfig(videos_per_class=2, num_gops=6, seed=0, workers=1))
    return root
