"""The API of the book's network2.py (Nielsen, Neural Networks and Deep Learning, chapter 3),
trained by batchprop: the same class, methods, arguments and results, with every mini-batch
done as matrices on batchprop's CPU or GPU backend instead of a per-example Python loop.

    import batchprop as network2
    net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    net.SGD(training_data, 30, 10, 0.5, lmbda=5.0, evaluation_data=validation_data,
            monitor_evaluation_accuracy=True)

Beyond the book: keyword arguments device, dtype, seed (Network) and mode, progress (SGD); data
may also come as numpy arrays (X, y), which are used in place without a copy. Without seed=, a
network's seed is drawn from numpy's global generator, so np.random.seed(k) reproduces a run.
"""

import copy
import errno
import json
import operator
import os
import sys
import threading
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._data import _warn, as_data

# What SGD, accuracy and total_cost accept (see as_data): (X, y) arrays, the book's list of
# (x, y) tuples, or a prepared batchprop.Data.
DataLike = Union["_core.Data", Tuple[np.ndarray, Any], Sequence[Tuple[Any, Any]]]

__all__ = ["QuadraticCost", "CrossEntropyCost", "Network", "load", "sweep", "sigmoid", "sigmoid_prime",
           "vectorized_result"]


def sigmoid(z):
    """The sigmoid function, elementwise (numpy)."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """Derivative of the sigmoid function, elementwise (numpy)."""
    return sigmoid(z) * (1 - sigmoid(z))


def vectorized_result(j, classes=10):
    """A (classes, 1) column with 1.0 in row j: the book's one-hot training target."""
    e = np.zeros((classes, 1))
    e[j] = 1.0
    return e


class QuadraticCost:
    """C = ||a - y||^2 / 2 per example. batchprop computes it in its own kernels; fn and delta
    are the book's numpy formulas, kept for code that calls them."""
    name = "quadratic"

    @staticmethod
    def fn(a, y):
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:
    """C = -sum(y ln a + (1 - y) ln(1 - a)) per example (fn and delta: the book's formulas)."""
    name = "cross-entropy"

    @staticmethod
    def fn(a, y):
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        return a - y


_COSTS = {"quadratic": QuadraticCost, "cross-entropy": CrossEntropyCost}


def _cost_name(cost):
    if isinstance(cost, str) and cost in _COSTS:
        return cost
    for name, cls in _COSTS.items():
        if cost is cls or (isinstance(cost, type) and cost.__name__ == cls.__name__):
            return name  # also the classes of the book's own network2 module
    raise ValueError(f"cost must be QuadraticCost or CrossEntropyCost, got {cost!r}")


_INT_MIN, _INT_MAX = -2**31, 2**31 - 1  # batchprop's counts (layer sizes, epochs, m) are C ints
_SEED_MAX = 2**64 - 1                   # seeds are 64-bit


def _seed_of(seed):
    """The seed given, or one drawn from numpy's global generator: as the book's np.random
    calls, unseeded networks differ and np.random.seed(k) before makes them the same."""
    if seed is None:
        return int(np.random.randint(2**32, dtype=np.int64))
    return _as_int(seed, "seed", 0, _SEED_MAX)


_device_notice_given = False  # the CPU-fallback warning, once per process as the CLI's notice per run


def _say_device_notice(session):
    global _device_notice_given
    if session.device_notice and not _device_notice_given:
        _device_notice_given = True
        _warn(f"batchprop: {session.device_notice} (device=\"cpu\" skips this warning)")


# Python's numbers into batchprop's C types. Which values make sense is the library's to say:
# its checks (settings.hpp's validate, the network's sizes) raise batchprop.Error naming the
# argument as the book does (mini_batch_size, lmbda), so they are not repeated here.
def _as_int(value, name, least=_INT_MIN, most=_INT_MAX):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < least:
        raise ValueError(f"{name} must be >= {least}, got {value}")
    if value > most:
        raise ValueError(f"{name} must be <= {most}, got {value}")
    return int(value)


def _as_float(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    return float(value)


def _check_file(path):
    """FileNotFoundError / IsADirectoryError before the C++ reader says the same in its words."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    return path


class _InUse(RuntimeError):
    """Another thread is in the network's session: this call did nothing."""


class _OneThreadAtATime:
    """The compiled session behind a Network, entered by one thread at a time. Training releases
    the GIL, so without this another thread could call into the session mid-epoch (read the
    parameters being written, start a second training); it gets a RuntimeError instead. The
    training thread itself may call back in: a progress callback can read net.weights."""

    def __init__(self, session):
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_lock", threading.RLock())

    def _enter(self):
        if not self._lock.acquire(blocking=False):
            raise _InUse("this network is in use by another thread (training?); wait for it to finish")

    def __getattr__(self, name):
        attr = getattr(self._session, name)
        if not callable(attr):
            return attr  # sizes, dtype, device: fixed for the session's life

        def call(*args, **kwargs):
            self._enter()
            try:
                return attr(*args, **kwargs)
            finally:
                self._lock.release()
        return call

    def __setattr__(self, name, value):
        self._enter()
        try:
            setattr(self._session, name, value)
        finally:
            self._lock.release()


class _Layers(list):
    """net.weights or net.biases: the network's own float64 arrays, one per layer. Writing into
    one (net.weights[0][j, k] += eps) or replacing one (net.weights[0] = w) changes the network
    from its next computation on; the number of layers is fixed."""

    def __init__(self, arrays, name):
        super().__init__(arrays)
        self._name = name

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            indices = range(len(self))[index]
            values = list(value)
            if len(values) != len(indices):
                raise ValueError(f"{len(indices)} layers of {self._name} need {len(indices)} arrays, got {len(values)}")
            for i, v in zip(indices, values):
                self[i] = v
            return
        target = list.__getitem__(self, index)  # an IndexError as a list raises it
        i = operator.index(index) % len(self)
        new = np.asarray(value, dtype=np.float64)
        if self._name == "biases" and new.shape == target.shape[:1]:
            new = new.reshape(target.shape)  # (n_l,) for (n_l, 1), as assigning the whole list takes it
        if new.shape != target.shape:
            raise ValueError(f"{self._name}[{i}] must have shape {target.shape}, got {new.shape}")
        if not np.all(np.isfinite(new)):
            raise ValueError(f"{self._name}[{i}] holds a value that is not finite")
        target[...] = new  # into the array the network reads, so references to it stay live

    def _fixed(self, *args, **kwargs):
        raise TypeError(f"a network has one array of {self._name} per layer; set one with "
                        f"net.{self._name}[l] = array, or assign a whole list")

    append = extend = insert = pop = remove = clear = sort = reverse = __delitem__ = __iadd__ = __imul__ = _fixed

    # A copy is a snapshot: a plain list, no longer tied to the network.
    def __copy__(self):
        return list(self)

    def __deepcopy__(self, memo):
        return [copy.deepcopy(a, memo) for a in self]

    def __reduce__(self):
        return list, (list(self),)


class Network:
    """A fully-connected sigmoid network, as network2.py's Network.

    Network(sizes, cost=CrossEntropyCost, *, device="auto", dtype="f32", seed=None)

    sizes   neurons per layer, input layer first, e.g. [784, 30, 10]
    cost    CrossEntropyCost (network2.py's default) or QuadraticCost (network.py's)
    device  "auto" (a usable GPU, else the CPU, with a warning once), "cpu", "cuda" or "cuda:N"
    dtype   "f32" or "f64": the type batchprop computes in
    seed    seeds the initial weights and every epoch's shuffle; the same seed gives the same
            parameters as `batchprop train --seed` with the same settings, bit for bit.
            None (the default): drawn from numpy's global generator, so runs differ unless
            np.random.seed(k) came first, as with the book's code; net.seed tells which it was

    The weights start as network2.py's default_weight_initializer draws them (w ~ N(0, 1/n_in),
    b ~ N(0, 1)); large_weight_initializer() gives network.py's N(0, 1) instead.
    """

    _default_init = "scaled"

    def __init__(self, sizes: Sequence[int], cost: type = CrossEntropyCost, *, device: str = "auto",
                 dtype: str = "f32", seed: Optional[int] = None) -> None:
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
            raise TypeError(f"sizes must be a list of ints, got {type(sizes).__name__}")
        sizes = [_as_int(s, "every layer size") for s in sizes]
        self._seed = _seed_of(seed)
        self._attach(_core.Session(sizes, _cost_name(cost), self._default_init, self._seed, device, dtype))

    def _attach(self, session):
        _say_device_notice(session)
        self._session = _OneThreadAtATime(session)
        self._forget_parameters()
        self._training = False    # inside SGD: callbacks read parameters that are still moving
        self._epochs_trained = 0  # epochs trained since the initialisation: the next SGD goes on from there
        self._run = None          # the settings of the SGD that trained the parameters last (save records them)
        self.epoch_stats = []     # per epoch of the last SGD: seconds, examples/s (batchprop's)

    # ---- what the book's code reads -----------------------------------------------------------

    @property
    def sizes(self) -> List[int]:
        return list(self._session.sizes)

    @property
    def num_layers(self) -> int:
        return len(self._session.sizes)

    @property
    def cost(self) -> type:
        return _COSTS[self._session.cost]

    @cost.setter
    def cost(self, cost):
        self._session.cost = _cost_name(cost)

    @property
    def weights(self) -> List[np.ndarray]:
        """[w^2, ..., w^L], w^l of shape (n_l, n_{l-1}), float64: the network's parameters.

        They write through, as network2.py's arrays do: a change in place
        (net.weights[0][j, k] += eps), a layer replaced (net.weights[0] = w) or a whole list
        assigned (net.weights = [...]) is what the next feedforward, accuracy, total_cost, SGD
        or save computes with (a value that is not finite is refused there). With dtype="f32"
        a value is rounded to float when it reaches the network, and the array then shows the
        rounded value: take dtype="f64" for finite differences. SGD and the initialisers
        leave fresh arrays, as the book's update does: arrays taken before them no longer
        belong to the network. Inside a progress callback they are read-only snapshots."""
        return self._parameters()[0]

    @weights.setter
    def weights(self, weights):
        self._session.set_parameters(weights, self._parameters()[1])
        self._forget_parameters()

    @property
    def biases(self) -> List[np.ndarray]:
        """[b^2, ..., b^L], b^l of shape (n_l, 1), float64; they write through as weights do."""
        return self._parameters()[1]

    @biases.setter
    def biases(self, biases):
        self._session.set_parameters(self._parameters()[0], biases)
        self._forget_parameters()

    # The arrays net.weights and net.biases hand out are kept, with a copy of what the network
    # held when they were made; every call that computes with the parameters first hands
    # changed arrays back to the network (_synced). The network computes in its own type, on
    # its own device, so the arrays cannot be its memory.
    def _parameters(self):
        if self._training:  # the parameters move on while SGD runs: a snapshot for the callback
            weights, biases = self._session.parameters()
            for a in weights + biases:
                a.flags.writeable = False
            return weights, biases
        if self._arrays is None:
            weights, biases = self._session.parameters()
            self._arrays = (_Layers(weights, "weights"), _Layers(biases, "biases"))
            self._held = [a.copy() for a in weights + biases]
        return self._arrays

    def _synced(self):
        """The session, holding whatever was written into net.weights and net.biases."""
        if self._arrays is not None:
            arrays = list(self._arrays[0]) + list(self._arrays[1])
            if not all(np.array_equal(a, h) for a, h in zip(arrays, self._held)):
                self._session.set_parameters(*self._arrays)
                held = self._session.parameters()  # in f32, rounded to float
                for a, h in zip(arrays, held[0] + held[1]):
                    a[...] = h
                self._held = [a.copy() for a in arrays]
        return self._session

    def _forget_parameters(self):
        """After the network changed its parameters itself: the next read makes fresh arrays."""
        self._arrays = None  # (weights, biases) as _Layers, once read
        self._held = None    # what the network held when they were made or last handed back

    # ---- batchprop's own -----------------------------------------------------------------------

    @property
    def device(self) -> str:
        """The backend computing, e.g. "cpu (OpenBLAS)"."""
        return self._session.device

    @property
    def device_notice(self) -> str:
        """Why device="auto" chose the CPU ("" when it did not)."""
        return self._session.device_notice

    @property
    def dtype(self) -> str:
        return self._session.dtype

    @property
    def seed(self) -> int:
        return self._seed

    def __repr__(self):
        # device as it is given ("cpu", "cuda:0"), not the backend's name: the text can be run
        device = self.device.split(" ")[0]
        return (f"Network({self.sizes}, cost={self.cost.__name__}, device={device!r}, "
                f"dtype={self.dtype!r}, seed={self._seed})")

    # ---- the book's methods -----------------------------------------------------------------------

    def default_weight_initializer(self) -> None:
        """w ~ N(0, 1/n_in), b ~ N(0, 1), drawn from the network's seed (network2.py's default)."""
        self._session.initialise("scaled", self._seed)
        self._forget_parameters()
        self._epochs_trained = 0
        self._run = None

    def large_weight_initializer(self) -> None:
        """w, b ~ N(0, 1), drawn from the network's seed (network.py's initialisation)."""
        self._session.initialise("gaussian", self._seed)
        self._forget_parameters()
        self._epochs_trained = 0
        self._run = None

    def feedforward(self, a: np.ndarray) -> np.ndarray:
        """The output for input a: a column (n_0, 1) gives (n_L, 1); a matrix (n_0, k) whose
        columns are inputs gives (n_L, k). Inputs are used as float32 (uint8 as k/255)."""
        a = np.asarray(a)
        if a.ndim == 1:
            a = a.reshape(-1, 1)
        if a.ndim != 2 or a.shape[0] != self.sizes[0]:
            raise ValueError(f"feedforward: an input must have {self.sizes[0]} rows, got shape {a.shape}")
        data = as_data(np.ascontiguousarray(a.T), "feedforward", labels=False)
        return self._synced().outputs(data).T

    def SGD(self, training_data: DataLike, epochs: int, mini_batch_size: int, eta: float, lmbda: float = 0.0,
            evaluation_data: Optional[DataLike] = None,
            monitor_evaluation_cost: bool = False, monitor_evaluation_accuracy: bool = False,
            monitor_training_cost: bool = False, monitor_training_accuracy: bool = False,
            *, mode: str = "matrix", seed: Optional[int] = None, shuffle: bool = True,
            progress: Optional[Callable[[int, int, int], Any]] = None, verbose: bool = True,
            launch: str = "auto") -> Tuple[List[float], List[int], List[float], List[int]]:
        """Mini-batch stochastic gradient descent, as network2.py's SGD; returns its four lists
        (evaluation_cost, evaluation_accuracy, training_cost, training_accuracy), each with one
        entry per epoch for the monitors asked for and empty otherwise.

        training_data      labelled examples: the book's list of (x, y) tuples (y one-hot), or
                           numpy arrays (X, y) (X (n, pixels) uint8 or float32, used in place;
                           y int labels), or a batchprop.Data
        epochs             epochs to train (each a shuffled pass over training_data)
        mini_batch_size    examples per mini-batch, m (the last one of an epoch may be smaller)
        eta                learning rate
        lmbda              L2 regularisation: w <- (1 - eta*lmbda/n) w - (eta/m) dC/dw
        evaluation_data    labelled examples in the same forms (y an int in the book's form)
        monitor_*          what to compute after each epoch: cost (with the L2 term, over the
                           data set's own size, as network2.py's total_cost) and accuracy (the
                           number of examples classified right) on either data set

        batchprop's own (keywords):
        mode      "matrix" (a mini-batch as one matrix) or "per-example" (the book's loop over
                  the examples of a mini-batch; the same numbers, for timing the difference)
        seed      the shuffle's seed (default: the network's); the shuffle of an epoch depends on
                  (seed, epochs trained before it), so SGD(.., 10, ..) twice equals one 20-epoch SGD
        shuffle   False: the examples in their order (no shuffle)
        progress  called as progress(epoch, examples_done, examples_total) a few times a second
                  (epoch 1-based, counted from this call); an exception from it stops training
        verbose   print the book's per-epoch lines
        launch    on a GPU: "fused" (each ~2,000 examples' steps in one kernel; small networks,
                  matrix mode), "graph" (record the steps once as CUDA graphs, replay them),
                  "eager" (every kernel launched every step) or "auto" (fused where it fits,
                  else graph; the default)

        Training runs with the GIL released. Ctrl-C stops it after the current mini-batch and
        raises KeyboardInterrupt; the network keeps the parameters it reached. SGD that
        diverges (a parameter infinite or NaN at the end of an epoch; eta far too large) raises
        batchprop.Error "training diverged in epoch N", and the network keeps the parameters
        it had before this call (where the book's code would go on printing nan).
        """
        # epochs of this call, counted on from those trained before (an int in batchprop)
        epochs = _as_int(epochs, "epochs", 0, _INT_MAX - self._epochs_trained)
        train = as_data(training_data, "training_data")
        monitor_evaluation = bool(monitor_evaluation_cost or monitor_evaluation_accuracy)
        if monitor_evaluation and evaluation_data is None:
            raise ValueError("monitor_evaluation_cost/accuracy need evaluation_data")
        config = _core.TrainConfig()
        config.first_epoch = self._epochs_trained
        config.epochs = self._epochs_trained + epochs
        config.batch = _as_int(mini_batch_size, "mini_batch_size")
        config.eta = _as_float(eta, "eta")
        config.lmbda = _as_float(lmbda, "lmbda")
        config.mode = mode
        config.launch = launch
        config.shuffle = bool(shuffle)
        config.seed = self._seed if seed is None else _as_int(seed, "seed", 0, _SEED_MAX)
        config.monitor_training = bool(monitor_training_cost or monitor_training_accuracy)
        config.monitor_evaluation = monitor_evaluation
        config.l2_over_evaluated_set = True  # network2.py's total_cost: lambda / (2 len(data))
        if epochs == 0:  # as the book's loop over range(0): nothing trained, nothing monitored
            return [], [], [], []
        _core.validate(config, train.n)  # before the evaluation data is converted
        # converted only when a monitor reads it (the book passes it along either way)
        evaluation = as_data(evaluation_data, "evaluation_data") if monitor_evaluation else None

        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        self.epoch_stats = []
        first = self._epochs_trained
        monitors = (monitor_evaluation_cost, monitor_evaluation_accuracy, monitor_training_cost,
                    monitor_training_accuracy)

        def on_epoch(r):
            j = r["epoch"] - 1 - first  # the book counts this call's epochs from 0
            self.epoch_stats.append({"epoch": j, "train_seconds": r["train_seconds"],
                                     "examples_per_second": r["examples_per_second"]})
            if r["examples"] == train.n:
                self._epochs_trained = r["epoch"]
            for which, costs, accuracies, want_cost, want_accuracy in (
                    ("training", training_cost, training_accuracy, monitor_training_cost, monitor_training_accuracy),
                    ("evaluation", evaluation_cost, evaluation_accuracy, monitor_evaluation_cost,
                     monitor_evaluation_accuracy)):
                if r[which] is not None:
                    correct, _, cost = r[which]
                    if want_cost:
                        costs.append(cost)
                    if want_accuracy:
                        accuracies.append(correct)
            if verbose:
                self._report_epoch(j, r, monitors)
                sys.stdout.flush()
            return True

        def on_progress(epoch, done, total):
            progress(epoch - first, done, total)

        session = self._synced()
        self._forget_parameters()
        # The record save() writes (the CLI's run record); "interrupted" until the call returns.
        previous_run = self._run
        run = self._run = {"interrupted": True, "eta": config.eta, "lambda": config.lmbda, "batch": config.batch,
                           "mode": config.mode, "launch": config.launch, "seed": config.seed,
                           "shuffle": config.shuffle, "training_examples": train.n}
        outer = self._training  # an SGD called from a callback of another (the library refuses it)
        self._training = True
        try:
            session.train(train, evaluation, config, on_epoch, None if progress is None else on_progress)
        except (_core.Error, _InUse):
            self._run = previous_run  # refused, or the library's errors: the network is as it was before
            raise
        finally:
            self._training = outer
        run["interrupted"] = False
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    @staticmethod
    def _report_epoch(j, r, monitors):
        """network2.py's lines after epoch j."""
        evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = monitors
        print(f"Epoch {j} training complete")
        for which, want_cost, want_accuracy in (("training", training_cost, training_accuracy),
                                                ("evaluation", evaluation_cost, evaluation_accuracy)):
            if r[which] is not None:
                correct, total, cost = r[which]
                if want_cost:
                    print(f"Cost on {which} data: {cost}")
                if want_accuracy:
                    print(f"Accuracy on {which} data: {correct} / {total}")
        print()

    def accuracy(self, data: DataLike, convert: bool = False) -> int:
        """How many examples of data the network classifies right (the most activated output is
        the label). convert is accepted for the book's calls; the label form is recognised."""
        correct, _, _ = self._synced().evaluate(as_data(data, "data"))
        return int(correct)

    def total_cost(self, data: DataLike, lmbda: float, convert: bool = False) -> float:
        """The mean cost over data plus the L2 term 0.5 * (lmbda / len(data)) * sum ||w||^2, as
        network2.py's total_cost (convert is accepted; the label form is recognised)."""
        d = as_data(data, "data")
        lmbda = _as_float(lmbda, "lmbda")
        if not lmbda >= 0 or lmbda == float("inf"):  # the formula's own domain (no TrainConfig here)
            raise ValueError(f"lmbda must be a finite number >= 0, got {lmbda}")
        _, _, cost = self._synced().evaluate(d)
        if lmbda and d.n:
            cost += 0.5 * (lmbda / d.n) * sum(float(np.sum(w * w)) for w in self.weights)
        return cost

    def predict(self, data: Union[DataLike, np.ndarray]) -> np.ndarray:
        """The class of every example (images alone, or labelled data) as an int array."""
        return self._synced().predict(as_data(data, "data", labels=False))

    def save(self, filename: Union[str, os.PathLike]) -> None:
        """Writes the network to filename in network2.py's JSON format (readable by network2.py's
        load and by `batchprop eval --model`). The file is replaced only once fully written.

        As `batchprop train --save` does, the file also records under "batchprop" how the
        network was trained: the epochs since it was made, loaded or initialised, and the
        settings of the SGD call that trained it last (eta, lmbda as "lambda",
        mini_batch_size as "batch", mode, launch, seed, shuffle), with its dtype and
        "front_end": "python". `batchprop train --init-model` continues with them."""
        filename = os.fspath(filename)
        folder = os.path.dirname(filename) or "."
        if not os.path.isdir(folder):  # as open() would say it, before the C++ writer does
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), folder)
        record = {"version": _core.__version__, "front_end": "python", "epochs": self._epochs_trained,
                  "cost": self._session.cost, "dtype": self.dtype, "seed": self._seed}
        record.update(self._run or {})  # nothing more before the first SGD
        self._synced().save(filename, json.dumps(record))


def load(filename: Union[str, os.PathLike], *, device: str = "auto", dtype: str = "f32",
         seed: Optional[int] = None) -> Network:
    """A Network from a file written by save() (here, network2.py's or `batchprop train --save`).
    seed: for its SGD's shuffle and its initialisers, as Network's (None: from numpy's)."""
    net = Network.__new__(Network)
    net._seed = _seed_of(seed)
    net._attach(_core.Session.load(_check_file(filename), device, dtype))
    return net


# ---- many networks at once ----------------------------------------------------------------------

_GRID_KEYS = ("sizes", "eta", "lmbda", "mini_batch_size", "seed")


def _grid_values(grid, key, convert, default):
    """grid[key] as a list of converted values (a single value is a list of one)."""
    if key not in grid:
        if default is None:
            raise ValueError(f"grid needs {key!r} (a value or a list of values)")
        return default
    values = grid[key]
    if key == "sizes" and isinstance(values, (list, tuple)) and values and not isinstance(values[0], (list, tuple)):
        values = [values]  # one network: [784, 30, 10]
    if not isinstance(values, (list, tuple, range, np.ndarray)):
        values = [values]
    if len(values) == 0:
        raise ValueError(f"grid[{key!r}] is empty")
    return [convert(v, f"grid[{key!r}][{i}]") for i, v in enumerate(values)]


def _grid_sizes(value, name):
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise TypeError(f"{name} must be a list of layer sizes, got {type(value).__name__}")
    return [_as_int(s, f"{name}'s layer size") for s in value]


def sweep(training_data: DataLike, epochs: int, grid: dict, evaluation_data: Optional[DataLike] = None, *,
          cost: type = CrossEntropyCost, initializer: str = "default",
          monitor_evaluation_cost: bool = True, monitor_evaluation_accuracy: bool = True,
          monitor_training_cost: bool = False, monitor_training_accuracy: bool = False,
          device: str = "auto", dtype: str = "f32", jobs: int = 0, mode: str = "matrix", launch: str = "auto",
          shuffle: bool = True, progress: Optional[Callable[[int, int, int, int], Any]] = None) -> List[dict]:
    """Trains one Network per combination of the grid's values, several at once, and returns one
    record per network: a hyper-parameter search without a Python loop around SGD.

    grid             the values to combine, by network2's names: {"sizes": [[784, 30, 10],
                     [784, 100, 10]], "eta": [0.025, 0.25, 2.5], "lmbda": [0.0, 1.0, 5.0],
                     "mini_batch_size": [10], "seed": [1, 2, 3, 4]}; a single value stands for a
                     list of one. "sizes" and "eta" are required; "lmbda" defaults to 0,
                     "mini_batch_size" to 10 and "seed" to one drawn from numpy's generator (as
                     Network's). The networks are every combination, the seed varying fastest.
    training_data, epochs, evaluation_data, monitor_*, cost, mode, launch, shuffle
                     as Network(..., cost) and its SGD take them; every network trains with them
                     (the evaluation monitors are on by default: the point is to compare)
    initializer      "default" (network2's default_weight_initializer) or "large" (N(0, 1))
    device, dtype    as Network's; every network computes there
    jobs             networks trained at once on the CPU: 0 (the default) is one per core. On a
                     GPU the networks the one-block fused step trains alone share launches (a
                     block each, up to one per SM), and jobs is how many of the others train at
                     once, each on a stream of its own (0: 4)
    progress         called as progress(networks_done, networks, epochs_done, epochs) a few
                     times a second

    Returns, in grid order, one dict per network: "run" (its place in the grid), "sizes",
    "eta", "lmbda", "mini_batch_size", "seed"; "status" ("done"; "diverged" when a parameter
    became infinite or NaN, with "error" saying in which epoch; the others train on regardless);
    "epochs" done and "seconds"; the four lists SGD returns ("evaluation_cost",
    "evaluation_accuracy", "training_cost", "training_accuracy"); and "net", the trained Network
    (None when it diverged). Each network is bit for bit the one Network(sizes, cost,
    seed=seed).SGD(training_data, epochs, mini_batch_size, eta, lmbda, ...) trains on the same
    device, and so `batchprop train`'s with the same settings (see the README's "Sweeps" for
    products of 32 MFLOP and more, which a sweep runs on one BLAS thread each).

    Choose on the validation data, as the book does:
        best = max(records, key=lambda r: max(r["evaluation_accuracy"]))
    A combination no network can train (eta * lmbda / n >= 1, a mini_batch_size larger than the
    training data) raises batchprop.Error naming it before anything trains. Training runs with
    the GIL released; Ctrl-C stops every network after its current mini-batch and raises
    KeyboardInterrupt.
    """
    if not isinstance(grid, dict):
        raise TypeError(f"grid must be a dict of lists of values, got {type(grid).__name__}")
    unknown = [k for k in grid if k not in _GRID_KEYS]
    if unknown:
        raise ValueError(f"grid has {unknown[0]!r}, which is not one of {', '.join(_GRID_KEYS)}")
    sizes = _grid_values(grid, "sizes", _grid_sizes, None)
    etas = _grid_values(grid, "eta", _as_float, None)
    lmbdas = _grid_values(grid, "lmbda", _as_float, [0.0])
    batches = _grid_values(grid, "mini_batch_size", _as_int, [10])
    seeds = _grid_values(grid, "seed", lambda v, n: _as_int(v, n, 0, _SEED_MAX), None) if "seed" in grid \
        else [_seed_of(None)]
    if initializer not in ("default", "large"):
        raise ValueError(f"initializer must be 'default' or 'large', got {initializer!r}")
    monitors = (monitor_evaluation_cost, monitor_evaluation_accuracy, monitor_training_cost, monitor_training_accuracy)
    monitor_evaluation = bool(monitor_evaluation_cost or monitor_evaluation_accuracy)
    if monitor_evaluation and evaluation_data is None:
        raise ValueError("monitor_evaluation_cost/accuracy need evaluation_data")
    config = _core.TrainConfig()
    config.epochs = _as_int(epochs, "epochs")
    config.mode = mode
    config.launch = launch
    config.shuffle = bool(shuffle)
    config.monitor_training = bool(monitor_training_cost or monitor_training_accuracy)
    config.monitor_evaluation = monitor_evaluation
    config.l2_over_evaluated_set = True  # network2.py's total_cost, as SGD
    train = as_data(training_data, "training_data")
    evaluation = as_data(evaluation_data, "evaluation_data") if monitor_evaluation else None
    records, notice = _core.sweep(train, evaluation, sizes, etas, lmbdas, batches, seeds, config, _cost_name(cost),
                                  "scaled" if initializer == "default" else "gaussian", device, dtype,
                                  _as_int(jobs, "jobs", 0), progress)
    if notice:
        _warn(f"batchprop: {notice}")
    return [_sweep_record(r, monitors, config, train.n) for r in records]


def _sweep_record(r, monitors, config, n_train):
    """A record of _core.sweep as sweep() returns it: SGD's four lists and the Network."""
    want_eval_cost, want_eval_acc, want_train_cost, want_train_acc = monitors
    lists = {"evaluation_cost": [], "evaluation_accuracy": [], "training_cost": [], "training_accuracy": []}
    for e in r.pop("results"):
        for which, want_cost, want_acc in (("evaluation", want_eval_cost, want_eval_acc),
                                           ("training", want_train_cost, want_train_acc)):
            if e[which] is not None:
                correct, _, c = e[which]
                if want_cost:
                    lists[which + "_cost"].append(c)
                if want_acc:
                    lists[which + "_accuracy"].append(correct)
    r.update(lists)
    session = r.pop("session")
    net = None
    if session is not None and r["status"] == "done":
        net = Network.__new__(Network)
        net._seed = r["seed"]
        net._attach(session)
        net._epochs_trained = r["epochs"]
        # What save() records, as after the SGD call that trained it.
        net._run = {"interrupted": False, "eta": r["eta"], "lambda": r["lmbda"], "batch": r["mini_batch_size"],
                    "mode": config.mode, "launch": config.launch, "seed": r["seed"], "shuffle": config.shuffle,
                    "training_examples": n_train}
    r["net"] = net
    return r
