"""SGD through the module: the four lists, the data forms, zero copy, continuation, callbacks,
the GIL, and the same parameters as the CLI."""

import json
import subprocess
import threading
import time

import numpy as np
import pytest

import batchprop


def params_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.weights + a.biases, b.weights + b.biases))


def book_form(X, y, one_hot):
    xs = [x.reshape(-1, 1) for x in X.astype(np.float32) / np.float32(255)]
    ys = [batchprop.vectorized_result(int(j)) for j in y] if one_hot else [int(j) for j in y]
    return list(zip(xs, ys))


def test_sgd_returns_network2s_four_lists(small):
    (X, y), (Xt, yt) = small
    net = batchprop.Network([784, 30, 10], device="cpu", seed=2)
    ec, ea, tc, ta = net.SGD((X, y), 3, 10, 0.5, lmbda=5.0, evaluation_data=(Xt, yt),
                             monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                             monitor_training_cost=True, monitor_training_accuracy=True, verbose=False)
    assert len(ec) == len(ea) == len(tc) == len(ta) == 3
    assert all(isinstance(c, int) for c in ea + ta)
    assert ea[-1] > 600  # 60%+ of 1,000 Fashion-MNIST test images after 3 epochs on 2,000
    # the last entries are what accuracy() and total_cost() say of the final network
    assert ea[-1] == net.accuracy((Xt, yt)) and ta[-1] == net.accuracy((X, y), convert=True)
    assert ec[-1] == pytest.approx(net.total_cost((Xt, yt), 5.0, convert=True), rel=1e-5)
    assert tc[-1] == pytest.approx(net.total_cost((X, y), 5.0), rel=1e-5)
    assert net.SGD((X, y), 1, 10, 0.5, verbose=False) == ([], [], [], [])
    before = net.weights
    assert net.SGD((X, y), 0, 10, 0.5, evaluation_data=(Xt, yt), monitor_evaluation_accuracy=True) == ([], [], [], [])
    assert all(np.array_equal(a, b) for a, b in zip(before, net.weights))


def test_the_book_form_and_the_numpy_form_train_alike(small):
    (X, y), (Xt, yt) = small
    a = batchprop.Network([784, 30, 10], device="cpu", seed=5)
    b = batchprop.Network([784, 30, 10], device="cpu", seed=5)
    ra = a.SGD((X, y), 2, 10, 0.5, lmbda=1.0, evaluation_data=(Xt, yt), monitor_evaluation_accuracy=True,
               monitor_evaluation_cost=True, verbose=False)
    rb = b.SGD(book_form(X, y, True), 2, 10, 0.5, lmbda=1.0, evaluation_data=book_form(Xt, yt, False),
               monitor_evaluation_accuracy=True, monitor_evaluation_cost=True, verbose=False)
    # float(k)/255 as float32 input is exactly what batchprop makes of the byte k in f32
    assert params_equal(a, b)
    assert ra == rb


def test_one_hot_rows_and_label_columns_are_labels(small):
    (X, y), (Xt, yt) = small
    a = batchprop.Network([784, 30, 10], device="cpu", seed=4)
    b = batchprop.Network([784, 30, 10], device="cpu", seed=4)
    a.SGD((X, y), 1, 10, 0.5, verbose=False)
    b.SGD((X, np.eye(10)[y]), 1, 10, 0.5, verbose=False)  # (n, 10) one-hot rows
    assert params_equal(a, b)
    assert b.accuracy((Xt, np.eye(10)[yt])) == b.accuracy((Xt, yt)) == b.accuracy((Xt, yt.reshape(-1, 1)))


def test_numpy_arrays_are_used_in_place(small):
    (X, y), _ = small
    for images in (X, (X.astype(np.float32) / np.float32(255))):
        d = batchprop.as_data((images, y))
        assert d.borrowed and d.address == images.ctypes.data
        assert d.pixel_type == str(images.dtype)
    # what cannot be read in place is converted once: a strided view, float64
    d = batchprop.as_data((X[::2], y[::2]))
    assert d.address != X.ctypes.data and d.n == 1000
    assert batchprop.as_data((X.astype(np.float64) / 255, y)).pixel_type == "float32"
    # the borrowed array stays alive with the data set, even when the caller lets go of it
    Z = np.ascontiguousarray(X[:100])
    d = batchprop.as_data((Z, y[:100]))
    address = Z.ctypes.data
    del Z
    assert d.address == address
    net = batchprop.Network([784, 10, 10], device="cpu")
    net.SGD(d, 1, 10, 0.5, verbose=False)


def test_training_reads_the_borrowed_images_not_a_copy(small):
    # Changing the array after making the data set changes what the network is evaluated on.
    (X, y), _ = small
    Z = X[:500].copy()
    d = batchprop.as_data((Z, y[:500]))
    net = batchprop.Network([784, 30, 10], device="cpu", seed=1)
    net.SGD(d, 2, 10, 0.5, verbose=False)
    before = net.accuracy(d)
    Z[:] = 255 - Z
    assert net.accuracy(d) != before


def test_sgd_twice_equals_one_longer_sgd(small):
    (X, y), _ = small
    a = batchprop.Network([784, 30, 10], device="cpu", seed=8)
    b = batchprop.Network([784, 30, 10], device="cpu", seed=8)
    a.SGD((X, y), 1, 10, 0.5, verbose=False)
    a.SGD((X, y), 2, 10, 0.5, verbose=False)
    b.SGD((X, y), 3, 10, 0.5, verbose=False)
    assert params_equal(a, b)


def test_per_example_mode_gives_the_matrix_modes_numbers(small):
    (X, y), _ = small
    a = batchprop.Network([784, 30, 10], device="cpu", dtype="f64", seed=3)
    b = batchprop.Network([784, 30, 10], device="cpu", dtype="f64", seed=3)
    a.SGD((X[:500], y[:500]), 1, 10, 0.5, verbose=False, mode="matrix")
    b.SGD((X[:500], y[:500]), 1, 10, 0.5, verbose=False, mode="per-example")
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_allclose(wa, wb, rtol=1e-9, atol=1e-12)


def test_the_same_seed_gives_the_clis_parameters_bit_for_bit(small, cli, tmp_path):
    (X, y), _ = small
    for dtype in ("f32", "f64"):
        out = tmp_path / f"cli-{dtype}.json"
        subprocess.run([cli, "train", "--device", "cpu", "--dtype", dtype, "--train-limit", "2000", "--epochs", "2",
                        "--cost", "cross-entropy", "--init", "scaled", "--eta", "0.5", "--lambda", "5", "--seed", "7",
                        "--monitor", "none", "-q", "--save", str(out)], check=True)
        net = batchprop.Network([784, 30, 10], batchprop.CrossEntropyCost, device="cpu", dtype=dtype, seed=7)
        net.SGD((X, y), 2, 10, 0.5, lmbda=5.0, verbose=False)
        saved = json.loads(out.read_text())
        for mine, theirs in zip(net.weights + net.biases, saved["weights"] + saved["biases"]):
            assert np.array_equal(mine, np.array(theirs)), dtype


def test_models_travel_between_the_module_and_the_cli(small, fashion, cli, tmp_path):
    (X, y), _ = small
    _, (X_test, y_test) = fashion
    net = batchprop.Network([784, 30, 10], device="cpu", seed=2)
    net.SGD((X, y), 1, 10, 0.5, verbose=False)
    path = tmp_path / "from-python.json"
    net.save(path)
    report = json.loads(subprocess.run([cli, "eval", "--model", str(path), "--device", "cpu", "--json"],
                                       check=True, capture_output=True, text=True).stdout)
    assert report["correct"] == net.accuracy((X_test, y_test))
    assert report["cost"] == pytest.approx(net.total_cost((X_test, y_test), 0.0), rel=1e-6)
    # and the reverse: a model the CLI trained, evaluated here
    cli_model = tmp_path / "from-cli.json"
    subprocess.run([cli, "train", "--device", "cpu", "--train-limit", "2000", "--epochs", "1", "--monitor", "none",
                    "-q", "--save", str(cli_model)], check=True)
    loaded = batchprop.load(cli_model, device="cpu")
    report = json.loads(subprocess.run([cli, "eval", "--model", str(cli_model), "--device", "cpu", "--json"],
                                       check=True, capture_output=True, text=True).stdout)
    assert loaded.cost is batchprop.QuadraticCost
    assert report["correct"] == loaded.accuracy((X_test, y_test))


def test_a_model_saved_here_continues_in_the_cli_with_its_settings(small, cli, tmp_path):
    (X, y), _ = small
    net = batchprop.Network([784, 30, 10], device="cpu", dtype="f64", seed=5)
    net.SGD((X, y), 2, 20, 0.25, lmbda=2.0, mode="per-example", shuffle=False, verbose=False)
    path = tmp_path / "net.json"
    net.save(path)
    assert json.loads(path.read_text())["batchprop"] == {
        "version": batchprop.__version__, "front_end": "python", "epochs": 2, "interrupted": False, "eta": 0.25,
        "lambda": 2.0, "batch": 20, "cost": "cross-entropy", "mode": "per-example", "launch": "auto", "dtype": "f64",
        "seed": 5, "shuffle": False, "training_examples": 2000}
    run = subprocess.run([cli, "train", "--init-model", str(path), "--device", "cpu", "--train-limit", "2000",
                          "--epochs", "1", "--monitor", "none"], check=True, capture_output=True, text=True)
    assert (f"batchprop: continuing with the settings {path} was trained with: cross-entropy cost, eta 0.25, "
            "lambda 2, batch 20, mode per-example, dtype f64 (flags given override them)") in run.stdout + run.stderr


def test_the_record_follows_the_last_sgd_that_trained(tmp_path):
    rng = np.random.default_rng(8)
    X, y = rng.integers(1, 256, size=(50, 12), dtype=np.uint8), rng.integers(0, 3, size=50)
    net = batchprop.Network([12, 4, 3], device="cpu", seed=3)

    def record():
        net.save(tmp_path / "net.json")
        return json.loads((tmp_path / "net.json").read_text())["batchprop"]

    assert record() == {"version": batchprop.__version__, "front_end": "python", "epochs": 0,
                        "cost": "cross-entropy", "dtype": "f32", "seed": 3}  # nothing trained yet
    net.SGD((X, y), 1, 10, 0.5, verbose=False)
    with pytest.raises(batchprop.Error, match="training diverged"):
        net.SGD((X, y), 1, 5, 1e300, seed=9, verbose=False)  # the network stays as it was: so does its record
    assert record()["eta"] == 0.5 and record()["batch"] == 10 and record()["epochs"] == 1

    def stop(epoch, done, total):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        net.SGD((X, y), 3, 5, 0.25, seed=9, verbose=False, progress=stop)  # it keeps what it reached
    assert {k: record()[k] for k in ("epochs", "interrupted", "eta", "batch", "seed")} == {
        "epochs": 2, "interrupted": True, "eta": 0.25, "batch": 5, "seed": 9}
    net.large_weight_initializer()
    assert "eta" not in record() and record()["epochs"] == 0


def test_progress_is_reported_and_its_exception_stops_training(small):
    (X, y), _ = small
    seen = []
    net = batchprop.Network([784, 30, 10], device="cpu", dtype="f64", seed=1)
    net.SGD((X, y), 2, 10, 0.5, verbose=False, progress=lambda e, done, total: seen.append((e, done, total)))
    assert (1, 2000, 2000) in seen and (2, 2000, 2000) in seen

    class Stop(Exception):
        pass

    def boom(epoch, done, total):
        raise Stop("from the callback")

    before = net.weights
    with pytest.raises(Stop, match="from the callback"):
        net.SGD((X, y), 5, 10, 0.5, verbose=False, progress=boom)
    assert not np.array_equal(before[0], net.weights[0])  # it trained up to the stop
    assert all(np.all(np.isfinite(w)) for w in net.weights)


def test_training_releases_the_gil(fashion):
    (X, y), _ = fashion
    ticks = 0
    running = True

    def count():
        nonlocal ticks
        while running:
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    net = batchprop.Network([784, 30, 10], device="cpu", seed=1)
    start = time.monotonic()
    net.SGD((X[:20000], y[:20000]), 2, 10, 0.5, verbose=False)
    seconds = time.monotonic() - start
    running = False
    t.join()
    # Holding the GIL, training would leave the thread ~1 tick per 5 ms switch interval at most.
    assert ticks > 0.2 * seconds / 0.001, (ticks, seconds)


def test_the_book_prints_its_lines(small, capsys):
    (X, y), (Xt, yt) = small
    net = batchprop.Network([784, 30, 10], device="cpu")
    net.SGD((X, y), 1, 10, 0.5, evaluation_data=(Xt, yt), monitor_evaluation_accuracy=True,
            monitor_training_cost=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 0 training complete"
    assert lines[1].startswith("Cost on training data: ")
    assert lines[2].startswith("Accuracy on evaluation data: ") and lines[2].endswith(" / 1000")


def test_another_thread_waits_its_turn_but_callbacks_may_read(fashion, tmp_path):
    (X, y), _ = fashion
    net = batchprop.Network([784, 30, 10], device="cpu", seed=1)
    seen, started, errors = [], threading.Event(), []

    def progress(epoch, done, total):
        seen.append(net.weights[0][0, 0])  # the training thread itself may read
        started.set()

    def train():
        try:
            net.SGD((X, y), 6, 10, 0.5, verbose=False, progress=progress)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    t = threading.Thread(target=train)
    t.start()
    assert started.wait(30)
    with pytest.raises(RuntimeError, match="in use by another thread"):
        net.accuracy((X[:100], y[:100]))
    with pytest.raises(RuntimeError, match="in use by another thread"):
        net.SGD((X, y), 1, 20, 0.1, verbose=False)  # refused: the training thread's settings stay on record
    t.join()
    assert not errors and len(seen) > 1
    assert net.accuracy((X[:100], y[:100])) >= 0  # free again
    net.save(tmp_path / "net.json")
    record = json.loads((tmp_path / "net.json").read_text())["batchprop"]
    assert (record["epochs"], record["eta"], record["batch"], record["interrupted"]) == (6, 0.5, 10, False)


def test_labels_as_a_column_are_labels():
    rng = np.random.default_rng(3)
    X, y = rng.integers(1, 256, size=(60, 12), dtype=np.uint8), rng.integers(0, 3, size=60)
    a, b = (batchprop.Network([12, 4, 3], device="cpu", dtype="f64", seed=1) for _ in range(2))
    a.SGD((X, y), 1, 10, 0.5, verbose=False)
    b.SGD((X, y.reshape(-1, 1)), 1, 10, 0.5, verbose=False)  # (n, 1): not one-hot rows of one class
    assert all(np.array_equal(p, q) for p, q in zip(a.weights, b.weights))
    assert a.accuracy((X, y.reshape(-1, 1))) == a.accuracy((X, y))


def test_a_callback_sees_the_network_as_trained_so_far():
    rng = np.random.default_rng(4)
    X, y = rng.integers(1, 256, size=(200, 12), dtype=np.uint8), rng.integers(0, 3, size=200)
    net = batchprop.Network([12, 5, 3], device="cpu", dtype="f64")
    x = X[:1].T / 255.0
    seen = []

    def progress(epoch, done, total):
        if done == total:
            a = x
            for w, b in zip(net.weights, net.biases):
                a = batchprop.sigmoid(w @ a + b)
            seen.append((net.feedforward(x), a, net.accuracy((X, y))))
            with pytest.raises(batchprop.Error, match="not while training"):
                net.SGD((X, y), 1, 10, 0.5, verbose=False)  # once crashed the process

    net.SGD((X, y), 2, 10, 0.5, verbose=False, progress=progress)
    assert len(seen) == 2
    for got, want, _ in seen:
        assert np.allclose(got, want, rtol=1e-6, atol=0), (got, want)  # inputs go in as float32
    assert not np.array_equal(seen[0][0], seen[1][0])
    assert seen[1][2] == net.accuracy((X, y))
