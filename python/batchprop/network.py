"""The API of the book's network.py (chapter 1): Network(sizes) with the quadratic cost and
N(0, 1) weights, SGD(training_data, epochs, mini_batch_size, eta, test_data=None), evaluate.

    from batchprop import network
    net = network.Network([784, 30, 10])
    net.SGD(training_data, 30, 10, 3.0, test_data=test_data)
"""

from . import network2
from .network2 import QuadraticCost, sigmoid, sigmoid_prime

__all__ = ["Network", "sigmoid", "sigmoid_prime"]


class Network(network2.Network):
    """network.py's Network: quadratic cost, w and b ~ N(0, 1) from the seed. Keywords device,
    dtype and seed as for batchprop.Network."""

    _default_init = "gaussian"

    def __init__(self, sizes, *, device="auto", dtype="f32", seed=None):
        super().__init__(sizes, QuadraticCost, device=device, dtype=dtype, seed=seed)

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None, **batchprop_options):
        """network.py's SGD: after each epoch prints "Epoch j: correct / n" when test_data is
        given, "Epoch j complete" otherwise; returns None. batchprop_options: mode, seed,
        shuffle, progress, verbose, launch (see batchprop.Network.SGD)."""
        super().SGD(training_data, epochs, mini_batch_size, eta, evaluation_data=test_data,
                    monitor_evaluation_accuracy=test_data is not None, **batchprop_options)

    def __repr__(self):  # network.py's Network has no cost argument
        return super().__repr__().replace(f", cost={self.cost.__name__}", "")

    @staticmethod
    def _report_epoch(j, r, monitors):
        if r["evaluation"] is not None:
            correct, total, _ = r["evaluation"]
            print(f"Epoch {j}: {correct} / {total}")
        else:
            print(f"Epoch {j} complete")

    def evaluate(self, test_data):
        """How many test inputs the network classifies right (network.py's evaluate)."""
        return self.accuracy(test_data)
