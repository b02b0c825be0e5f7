"""The book's mnist_loader, reading MNIST-format IDX files (Fashion-MNIST from Debian's
dataset-fashion-mnist by default) instead of mnist.pkl.gz:

    from batchprop import mnist_loader
    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()

load_data() gives numpy arrays (X uint8 (n, 784), y int32), which batchprop uses in place;
load_data_wrapper() gives the book's lists of (x, y) tuples, x a (784, 1) float32 column of
k/255 values, y one-hot (10, 1) for training and an int for validation and test. As in the book,
the 60,000 training images split into 50,000 for training and 10,000 for validation.
"""

import os

import numpy as np

from . import _core
from .network2 import _check_file, vectorized_result

__all__ = ["load_data", "load_data_wrapper"]


def load_data(data_dir=None):
    """((X, y) training, (X, y) validation, (X, y) test) as numpy arrays, from the four IDX
    files in data_dir (default: Debian's Fashion-MNIST)."""
    data_dir = os.fspath(data_dir) if data_dir is not None else _core.default_data_dir()
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"no data directory {data_dir}"
                                + (" (apt-get install dataset-fashion-mnist)" if data_dir == _core.default_data_dir() else ""))
    files = _core.find_idx_files(data_dir)
    X, y = _core.load_idx(_check_file(files["train_images"]), _check_file(files["train_labels"]))
    X_test, y_test = _core.load_idx(_check_file(files["test_images"]), _check_file(files["test_labels"]))
    n_train = min(50000, X.shape[0])
    return (X[:n_train], y[:n_train]), (X[n_train:], y[n_train:]), (X_test, y_test)


def _columns(X):
    # k/255 in float32, each x a (pixels, 1) view into one array: no per-example copies.
    inputs = X.astype(np.float32) / np.float32(255)
    return [x.reshape(-1, 1) for x in inputs]


def load_data_wrapper(data_dir=None):
    """(training_data, validation_data, test_data) in the book's form (see the module's text)."""
    (X, y), (Xv, yv), (Xt, yt) = load_data(data_dir)
    classes = int(max(y.max(), yv.max() if yv.size else 0, yt.max())) + 1
    training_data = list(zip(_columns(X), (vectorized_result(int(j), classes) for j in y)))
    validation_data = list(zip(_columns(Xv), (int(j) for j in yv)))
    test_data = list(zip(_columns(Xt), (int(j) for j in yt)))
    return training_data, validation_data, test_data
