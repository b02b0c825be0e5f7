"""batchprop from Python: the book's network2.py API (Network, SGD, accuracy, total_cost,
save/load, the cost classes), trained by batchprop's fully matrix-based backprop on the CPU or
a GPU. `import batchprop as network2` and the book's chapter-3 code runs unchanged;
batchprop.network is network.py's chapter-1 API, batchprop.mnist_loader the data loader;
batchprop.sweep trains a grid of networks at once (a hyper-parameter search).

Errors batchprop itself reports are batchprop.Error (a ValueError) with its one-line message;
missing files raise FileNotFoundError, wrong argument types TypeError.
"""

import sys

try:
    import numpy  # noqa: F401
    from . import _core
except ImportError as e:  # another interpreter than the one the module was built for, most often
    try:
        from ._build import python as _built_for, python_version as _built_version
    except ImportError:
        _built_for, _built_version = "the python3 that built it", "?"
    raise ImportError(f"batchprop cannot be imported here ({e}): it was built for {_built_for} (Python "
                      f"{_built_version}, with numpy), and this is {sys.executable} (Python "
                      f"{sys.version.split()[0]}); run it with {_built_for}") from e

from . import mnist_loader, network, network2
from ._core import Data, Error
from ._data import as_data
from .network2 import (CrossEntropyCost, Network, QuadraticCost, load, sigmoid, sigmoid_prime, sweep,
                       vectorized_result)

__version__ = _core.__version__

__all__ = ["Network", "QuadraticCost", "CrossEntropyCost", "load", "sweep", "Data", "as_data", "Error",
           "sigmoid", "sigmoid_prime", "vectorized_result", "load_idx", "__version__"]


def load_idx(images, labels):
    """An IDX images file and its labels (gzipped or not) as numpy arrays (X uint8 (n, pixels),
    y int32 (n,)), which batchprop trains on in place."""
    from .network2 import _check_file
    return _core.load_idx(_check_file(images), _check_file(labels))
