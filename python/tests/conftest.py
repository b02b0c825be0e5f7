"""Shared fixtures: Fashion-MNIST (Debian's dataset-fashion-mnist) as numpy arrays, loaded once,
and the CLI built with the module ($BATCHPROP_CLI, set by ctest)."""

import os

import numpy as np
import pytest

import batchprop

DATA_DIR = "/usr/share/datasets/fashion-mnist"


@pytest.fixture(autouse=True)
def numpy_seeded():
    """Networks made without seed= draw theirs from numpy's global generator: each test starts
    it from the same state, so that every run of the suite trains the same networks."""
    np.random.seed(20221)


@pytest.fixture(scope="session")
def fashion():
    """((X, y) training: the first 50,000, (X, y) test) as uint8 images and int labels."""
    if not os.path.isdir(DATA_DIR):
        pytest.skip(f"no {DATA_DIR} (apt-get install dataset-fashion-mnist)")
    (X, y), _, (Xt, yt) = batchprop.mnist_loader.load_data(DATA_DIR)
    return (X, y), (Xt, yt)


@pytest.fixture(scope="session")
def small(fashion):
    """2,000 training and 1,000 test examples: enough to learn something, quick to train."""
    (X, y), (Xt, yt) = fashion
    return (X[:2000], y[:2000]), (Xt[:1000], yt[:1000])


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("BATCHPROP_CLI")
    if not path or not os.access(path, os.X_OK):
        pytest.skip("BATCHPROP_CLI is not set to the batchprop executable (ctest sets it)")
    return path


def max_rel_diff(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))
