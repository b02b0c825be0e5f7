"""Turning the data a caller hands us into batchprop.Data: numpy arrays borrowed in place where
their type and layout allow, the book's lists of (x, y) tuples gathered into one array.

The rule for images: integers are pixels 0..255, and the input a network sees is k/255; floats
are the inputs as they are. Data that looks meant the other way gets a warning."""

import sys
import warnings

import numpy as np

from . import _core

__all__ = ["as_data"]


def _labels(y, n, what):
    """Class labels as a 1-d integer array: ints as they are, one-hot rows by their argmax."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape == (n, 1):  # a column of labels (a one-hot row of one class means nothing)
        y = y[:, 0]
    if y.ndim == 2 and y.shape[0] == n:  # one-hot (n, classes), as the book's training targets
        return np.argmax(y, axis=1).astype(np.int32)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{what}: {n} images need {n} labels (a 1-d array of ints or {n} one-hot rows), "
                         f"got an array of shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if not (np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0)):
            raise ValueError(f"{what}: labels must be integers, got {y.dtype}")
    # batchprop holds int32 labels: a wider value must not wrap into a valid-looking class.
    if y.size and (y.min() < 0 or y.max() > np.iinfo(np.int32).max):
        bad = y.min() if y.min() < 0 else y.max()
        raise ValueError(f"{what}: label {bad} is not a class number (0, 1, 2, ...)")
    return y.astype(np.int32, copy=False)


def _warn(message):
    """A UserWarning attributed to the caller's line outside this package. Python shows it once
    per line and message unless told otherwise (warnings.simplefilter)."""
    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("batchprop"):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)


def _check_range(X, what):
    """Warns where the data looks meant the other way round from the rule (module text)."""
    if not X.size or not np.issubdtype(X.dtype, np.number):
        return
    top = X.max()
    if np.issubdtype(X.dtype, np.floating) and top > 1:
        _warn(f"{what}: float images are used as the network's inputs as they are, and these reach {top:g}; "
              "pixels 0..255 should come as integers (an input is then k/255) or be divided by 255 "
              "(inputs beyond 1 on purpose: ignore this warning)")
    elif np.issubdtype(X.dtype, np.integer) and top == 1:
        _warn(f"{what}: integer images are pixels 0..255 (an input is k/255), and these reach only 1, so every "
              "input is at most 1/255; inputs 0 and 1 should come as floats (used as they are)")


def _images(X, what):
    """(n, pixels) in a type batchprop reads in place: uint8 bytes 0..255 or float32 inputs."""
    X = np.asarray(X)
    if X.ndim > 2:  # (n, rows, cols) images
        X = X.reshape(X.shape[0], -1)
    if X.ndim != 2:
        raise ValueError(f"{what}: images must be a 2-d array (examples, pixels), got shape {X.shape}")
    _check_range(X, what)
    if X.dtype == np.uint8 or (X.dtype == np.float32 and X.flags.aligned):
        return np.ascontiguousarray(X)  # no copy when already C-contiguous
    if np.issubdtype(X.dtype, np.integer):
        if X.size and (X.min() < 0 or X.max() > 255):
            raise ValueError(f"{what}: integer pixels must lie in 0..255 (got {X.min()}..{X.max()})")
        return X.astype(np.uint8)
    if np.issubdtype(X.dtype, np.floating):
        # inputs are used in single precision; a fresh array is aligned (one that starts inside
        # a byte buffer need not be, and batchprop reads floats only from aligned memory)
        return np.array(X, dtype=np.float32, order="C", copy=True)
    raise TypeError(f"{what}: images must be numbers, got {X.dtype}")


def _is_array_form(data):
    # A book-form list holds (x, y) tuples, never an array, so an array first means (X, y).
    return isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], np.ndarray)


def as_data(data, what="data", labels=True):
    """batchprop.Data from any of the forms the module accepts.

    - a batchprop.Data: returned as it is;
    - (X, y) numpy arrays: X of shape (n, pixels) (or (n, rows, cols)), integers 0..255 (an input
      is k/255, exact in f64) or floats (the inputs as they are, used as float32; a warning when
      they exceed 1, and when integers reach only 1), y n int labels or n one-hot rows (or None
      for images to predict). C-contiguous uint8 and float32 arrays are used in place, not copied;
    - the book's form, as mnist_loader gives it: a list (or any iterable) of (x, y) tuples, x a
      (pixels, 1) column, y a one-hot (classes, 1) column or an int.
    labels=False accepts images alone (an array, or a list of x columns)."""
    if isinstance(data, _core.Data):
        if labels and not data.has_labels:
            raise ValueError(f"{what}: the data set has no labels")
        return data
    if isinstance(data, np.ndarray) and not labels:
        return _core.Data(_images(data, what), None, what)
    if _is_array_form(data):
        X, y = data
        X = _images(X, what)
        if y is None:
            if labels:
                raise ValueError(f"{what}: labels are needed here (got None)")
            return _core.Data(X, None, what)
        return _core.Data(X, _labels(y, X.shape[0], what), what)
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise TypeError(f"{what}: expected (X, y) numpy arrays or a list of (x, y) tuples, got {type(data).__name__}")
    items = list(data)  # zip objects and generators too
    if not items:
        raise ValueError(f"{what}: no examples")
    if not labels and not isinstance(items[0], tuple):
        return _core.Data(_images(np.stack([np.asarray(x).reshape(-1) for x in items]), what), None, what)
    try:
        xs = [np.asarray(x).reshape(-1) for x, _ in items]
        ys = [y for _, y in items]
    except (TypeError, ValueError):
        raise TypeError(f"{what}: expected a list of (x, y) tuples") from None
    width = xs[0].shape[0]
    for i, x in enumerate(xs):
        if x.shape[0] != width:
            raise ValueError(f"{what}: example {i} has {x.shape[0]} inputs, example 0 has {width}")
    X = _images(np.stack(xs), what)
    if np.ndim(ys[0]) == 0:
        y = np.fromiter((int(v) for v in ys), dtype=np.int32, count=len(ys))
    else:
        y = np.fromiter((int(np.argmax(v)) for v in ys), dtype=np.int32, count=len(ys))
    return _core.Data(X, y, what)
