"""Bad arguments raise the Python exception that fits, with batchprop's message."""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import batchprop


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.integers(1, 256, size=(50, 12), dtype=np.uint8), rng.integers(0, 3, size=50)


def test_hyper_parameters(data):
    net = batchprop.Network([12, 4, 3], device="cpu")
    with pytest.raises(ValueError, match="eta must be a finite number > 0"):
        net.SGD(data, 1, 10, 0.0)
    with pytest.raises(ValueError, match="lmbda must be a finite number >= 0"):
        net.SGD(data, 1, 10, 0.5, lmbda=-1)
    with pytest.raises(ValueError, match="mini_batch_size 51 is larger than the training set \\(50 examples\\)"):
        net.SGD(data, 1, 51, 0.5)
    with pytest.raises(ValueError, match=r"mini_batch_size must be at least 1 \(got 0\)"):
        net.SGD(data, 1, 0, 0.5)
    with pytest.raises(TypeError, match="epochs must be an int"):
        net.SGD(data, 1.5, 10, 0.5)
    net.SGD(data, 1, 10, 0.5, verbose=False)
    with pytest.raises(ValueError, match="epochs must be <= 2147483646"):  # one epoch trained already
        net.SGD(data, 2**31 - 1, 10, 0.5)
    with pytest.raises(ValueError, match="mode: 'batch' is not one of matrix, per-example"):
        net.SGD(data, 1, 10, 0.5, mode="batch")
    with pytest.raises(ValueError, match="launch: 'fast' is not one of auto, fused, graph, eager"):
        net.SGD(data, 1, 10, 0.5, launch="fast")
    for launch in ("auto", "fused", "graph", "eager"):  # on the CPU every launch runs the same calls
        net.SGD(data, 1, 10, 0.5, launch=launch, verbose=False)
    with pytest.raises(ValueError, match="need evaluation_data"):
        net.SGD(data, 1, 10, 0.5, monitor_evaluation_accuracy=True)
    with pytest.raises(ValueError, match=r"eta \* lmbda / n = 10 \* 5 / 50 = 1 >= 1"):
        net.SGD(data, 1, 10, 10.0, lmbda=5.0)  # weight decay would flip signs; in the book's names
    net.SGD(data, 1, 10, 10.0, lmbda=4.9, verbose=False)  # just below: fine


def test_networks():
    with pytest.raises(ValueError, match="sizes 784: need at least two layers"):
        batchprop.Network([784])
    with pytest.raises(ValueError, match="sizes 784,0,10: every layer needs at least one neuron"):
        batchprop.Network([784, 0, 10])
    with pytest.raises(TypeError):
        batchprop.Network("784,30,10")
    with pytest.raises(ValueError, match="cost must be QuadraticCost or CrossEntropyCost"):
        batchprop.Network([4, 2], cost=object)
    with pytest.raises(ValueError, match="dtype: 'f16' is not one of f32, f64"):
        batchprop.Network([4, 2], dtype="f16")
    with pytest.raises(batchprop.Error, match="^device: 'tpu' is not one of"):
        batchprop.Network([4, 2], device="tpu")


def test_ints_beyond_batchprops_range(data):
    # Python ints are unbounded; batchprop's sizes are C ints and its seeds 64-bit.
    with pytest.raises(ValueError, match="every layer size must be <= 2147483647"):
        batchprop.Network([2**31, 3])
    with pytest.raises(ValueError, match="seed must be <= 18446744073709551615"):
        batchprop.Network([12, 3], seed=2**64)
    net = batchprop.Network([12, 3], seed=2**64 - 1)
    with pytest.raises(ValueError, match="seed must be <= 18446744073709551615"):
        net.SGD(data, 1, 10, 0.5, seed=2**64)
    net.SGD(data, 1, 10, 0.5, seed=2**64 - 1, verbose=False)
    net.SGD(data, 1, 10, 0.5, seed=0, verbose=False)


def test_divergence_stops_sgd_and_keeps_the_network(data):
    net = batchprop.Network([12, 4, 3], device="cpu")
    before = [w.copy() for w in net.weights]
    with pytest.raises(batchprop.Error, match="training diverged in epoch 1: .* try a smaller learning rate eta"):
        net.SGD(data, 3, 10, 1e300, verbose=False)  # a huge eta overflows to inf, then nan
    assert all(np.array_equal(w, b) for w, b in zip(net.weights, before))


def test_data_that_does_not_fit(data):
    X, y = data
    net = batchprop.Network([12, 4, 3], device="cpu")
    with pytest.raises(batchprop.Error, match="images of 11 pixels, but the network has 12 input neurons"):
        net.SGD((X[:, :11].copy(), y), 1, 10, 0.5)
    with pytest.raises(batchprop.Error, match="label 3 is beyond the network's 3 outputs"):
        net.SGD((X, np.where(y == 2, 3, y)), 1, 10, 0.5)
    with pytest.raises(ValueError, match="50 images need 50 labels"):
        net.SGD((X, y[:49]), 1, 10, 0.5)
    with pytest.raises(ValueError, match=r"pixels must lie in 0\.\.255"):
        net.SGD((X.astype(np.int32) * 2, y), 1, 10, 0.5)
    bad = X.astype(np.float32)
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="finite"):
        net.SGD((bad, y), 1, 10, 0.5)
    with pytest.raises(TypeError, match="expected"):
        net.SGD(42, 1, 10, 0.5)
    with pytest.raises(ValueError, match="no examples"):
        net.SGD([], 1, 10, 0.5)
    with pytest.raises(batchprop.Error, match="^the training set is empty$"):
        net.SGD((X[:0], y[:0]), 1, 10, 0.5)


def test_images_that_look_meant_the_other_way_warn(data):
    # Integers are pixels 0..255 (an input is k/255); floats are the inputs as they are.
    X, y = data
    net = batchprop.Network([12, 4, 3], device="cpu")
    with pytest.warns(UserWarning, match="training_data: float images are used as the network's inputs as they "
                                         "are, and these reach 255; pixels 0..255 should come as integers") as seen:
        net.SGD((X.astype(np.float64), y), 1, 10, 0.5, verbose=False)
    assert seen[0].filename == __file__  # the caller's line, not the package's
    with pytest.warns(UserWarning, match="data: integer images are pixels 0..255 .* reach only 1"):
        net.accuracy(((X > 128).astype(np.uint8), y))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inputs = X / 255.0
        inputs[0, 0] = 1.0
        net.accuracy((inputs, y))
        net.accuracy((X, y))
        net.accuracy((np.zeros_like(X), y))


def test_the_cpu_fallback_warns_once(monkeypatch, tmp_path):
    if not batchprop.Network([4, 2], device="auto").device_notice:
        pytest.skip("device='auto' found a GPU here")
    monkeypatch.setattr(batchprop.network2, "_device_notice_given", False)
    with pytest.warns(UserWarning, match=r"^batchprop: .*; running on the CPU \(device=\"cpu\" skips this warning\)$"):
        net = batchprop.Network([4, 2])
    net.save(tmp_path / "net.json")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batchprop.Network([4, 2])
        batchprop.load(tmp_path / "net.json")


def test_another_interpreter_is_told_which_one_the_module_is_for():
    from batchprop._build import python
    code = "import sys; sys.modules['numpy'] = None; import batchprop"  # as where numpy is missing
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 1
    assert (f"it was built for {python} (Python " in run.stderr and f"this is {sys.executable} (Python " in run.stderr
            and f"run it with {python}" in run.stderr), run.stderr


def test_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        batchprop.load(tmp_path / "missing.json")
    with pytest.raises(IsADirectoryError):
        batchprop.load(tmp_path)
    broken = tmp_path / "broken.json"
    broken.write_text('{"sizes": [2, 1], "weights": [[[1.0]]]')
    with pytest.raises(batchprop.Error, match="broken.json"):
        batchprop.load(broken)
    with pytest.raises(FileNotFoundError):
        batchprop.load_idx(tmp_path / "images.gz", tmp_path / "labels.gz")
    with pytest.raises(FileNotFoundError, match="no data directory"):
        batchprop.mnist_loader.load_data(tmp_path / "nowhere")


@pytest.fixture
def unreadable_models(tmp_path):
    """A file of bytes that are not text, and a model whose cost is a long non-ASCII name."""
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\xff\xfe\x80 not a model")
    cost = tmp_path / "cost.json"
    cost.write_text(json.dumps({"sizes": [1, 1], "weights": [[[1.0]]], "biases": [[[1.0]]], "cost": "\u00e9" * 30},
                               ensure_ascii=False), encoding="utf-8")
    return junk, cost


def test_messages_quoting_bytes_that_are_not_utf8_arrive_whole(tmp_path, unreadable_models):
    junk, cost = unreadable_models
    # The JSON parser quotes the byte it stopped at: escaped, not dropped with the whole message.
    with pytest.raises(batchprop.Error, match=r"junk\.bin: not valid JSON: .* last read: '\\xff'$"):
        batchprop.load(junk)
    # A quoted value is shortened between characters, never inside one.
    with pytest.raises(batchprop.Error, match='"cost" is "\u00e9{20}\\.\\.\\.; expected "QuadraticCost"'):
        batchprop.load(cost)
    # A file name given as bytes that are not UTF-8 reaches Python as the library quotes it:
    # the module escapes what it cannot decode.
    name = os.path.join(os.fsencode(tmp_path), b"\xff-net.json")
    with open(name, "wb") as f:
        f.write(b'{"sizes": ')
    with pytest.raises(batchprop.Error, match=r"/\\xff-net\.json: not valid JSON: .* unexpected end of input"):
        batchprop.load(name)


def test_the_cli_prints_those_messages_readably(cli, unreadable_models):
    junk, cost = unreadable_models
    for model, tail in ((junk, "last read: '\\xff'\n"), (cost, '"' + "\u00e9" * 20 + '...; expected')):
        run = subprocess.run([cli, "eval", "--model", str(model), "--device", "cpu"], capture_output=True)
        assert run.returncode == 1
        err = run.stderr.decode("utf-8")  # strict: a raw byte would raise here
        assert err.startswith(f"batchprop: error: {model}: ") and tail in err, err


def test_saving_never_leaves_half_a_file(tmp_path):
    net = batchprop.Network([4, 3, 2], device="cpu")
    target = tmp_path / "keep.json"
    target.write_text("the user's file")
    with pytest.raises(FileNotFoundError, match="no-such-dir"):
        net.save(tmp_path / "no-such-dir" / "net.json")
    assert target.read_text() == "the user's file"
    net.save(target)  # replacing a file the user names as the output is what save is for
    assert batchprop.load(target).sizes == [4, 3, 2]
    (tmp_path / "read-only").mkdir(mode=0o500)
    if os.access(tmp_path / "read-only", os.W_OK):
        pytest.skip("running as a user who may write anywhere (root)")
    with pytest.raises(batchprop.Error, match="read-only"):
        net.save(tmp_path / "read-only" / "net.json")


def test_a_gpu_asked_for_where_there_is_none():
    net = batchprop.Network([4, 2], device="auto")
    if not net.device.startswith("cpu"):
        pytest.skip("this machine has a GPU")
    assert net.device_notice  # why auto chose the CPU
    with pytest.raises(batchprop.Error, match="^device cuda: "):
        batchprop.Network([4, 2], device="cuda")


def test_labels_that_would_wrap_and_arrays_that_need_a_copy(data):
    X, y = data
    net = batchprop.Network([12, 4, 3], device="cpu")
    with pytest.raises(ValueError, match="label 4294967297 is not a class number"):
        net.SGD((X, np.where(y == 1, 2**32 + 1, y).astype(np.int64)), 1, 10, 0.5)
    with pytest.raises(ValueError, match="label -1 is not a class number"):
        net.SGD((X, np.where(y == 1, -1, y)), 1, 10, 0.5)
    # float32 images that start one byte into a buffer: copied to aligned memory, not refused
    raw = np.empty(X.size * 4 + 1, dtype=np.uint8)
    unaligned = np.frombuffer(raw.data, dtype=np.float32, count=X.size, offset=1).reshape(X.shape)
    assert not unaligned.flags.aligned
    raw[1:] = (X.astype(np.float32) / np.float32(255)).view(np.uint8).ravel()
    d = batchprop.as_data((unaligned, y))
    assert d.address != unaligned.ctypes.data and d.pixel_type == "float32"
    net.SGD(d, 1, 10, 0.5, verbose=False)
