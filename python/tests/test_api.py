"""The book's network2.py API: attributes, initialisers, feedforward, costs, save and load."""

import copy
import json
import subprocess
import sys

import numpy as np
import pytest

import batchprop
from batchprop import network2


def numpy_feedforward(weights, biases, a):
    for w, b in zip(weights, biases):
        a = 1.0 / (1.0 + np.exp(-(w @ a + b)))
    return a


def test_attributes_and_shapes():
    net = batchprop.Network([5, 4, 3], device="cpu")
    assert net.sizes == [5, 4, 3] and net.num_layers == 3
    assert net.cost is batchprop.CrossEntropyCost
    assert [w.shape for w in net.weights] == [(4, 5), (3, 4)]
    assert [b.shape for b in net.biases] == [(4, 1), (3, 1)]
    assert net.dtype == "f32" and net.device.startswith("cpu")
    assert "Network([5, 4, 3]" in repr(net)


def test_initialisers_follow_the_seed_and_the_book_scales():
    net = batchprop.Network([400, 300, 10], device="cpu", dtype="f64", seed=3)
    w_scaled = net.weights
    # network2's default: w ~ N(0, 1/n_in); b ~ N(0, 1)
    assert abs(np.std(w_scaled[0]) - 1 / np.sqrt(400)) < 0.005
    assert abs(np.std(net.biases[0]) - 1.0) < 0.15
    net.large_weight_initializer()
    assert abs(np.std(net.weights[0]) - 1.0) < 0.01
    net.default_weight_initializer()
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, w_scaled))
    other = batchprop.Network([400, 300, 10], device="cpu", dtype="f64", seed=4)
    assert not np.array_equal(other.weights[0], w_scaled[0])


def test_feedforward_matches_numpy_in_double():
    rng = np.random.default_rng(5)
    net = batchprop.Network([6, 5, 4], device="cpu", dtype="f64", seed=2)
    a = rng.random((6, 7)).astype(np.float32)  # inputs are read as float32
    want = numpy_feedforward(net.weights, net.biases, a.astype(np.float64))
    got = net.feedforward(a)
    assert got.shape == (4, 7)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    assert net.feedforward(a[:, :1]).shape == (4, 1)


def test_weights_can_be_assigned_whole():
    net = batchprop.Network([3, 2, 2], device="cpu", dtype="f64")
    w = [np.full((2, 3), 0.25), np.array([[1.0, -1.0], [0.5, 0.5]])]
    net.weights = w
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, w))
    net.biases = [np.array([[0.1], [0.2]]), np.array([0.3, 0.4])]
    assert np.array_equal(net.biases[1], [[0.3], [0.4]])
    with pytest.raises(ValueError, match=r"weights\[0\] must have shape \(2, 3\)"):
        net.weights = [np.zeros((3, 2)), w[1]]
    with pytest.raises(ValueError, match="not finite"):
        net.weights = [np.full((2, 3), np.nan), w[1]]


def numpy_cost(weights, biases, X, y):
    """Mean cross-entropy over the examples (rows of X, k/255 inputs), in double."""
    a = numpy_feedforward(weights, biases, X.T / 255.0)
    onehot = np.eye(a.shape[0])[y].T
    return np.mean(np.sum(np.nan_to_num(-onehot * np.log(a) - (1 - onehot) * np.log(1 - a)), axis=0))


@pytest.fixture
def tiny():
    rng = np.random.default_rng(6)
    return rng.integers(1, 256, size=(30, 4), dtype=np.uint8), rng.integers(0, 3, size=30)


def test_a_hand_made_gradient_check_sees_its_changes(tiny):
    # Chapter 2's check by finite differences, as a reader writes it: in place, on net.weights.
    X, y = tiny
    net = batchprop.Network([4, 5, 3], device="cpu", dtype="f64", seed=2)
    w, b = [x.copy() for x in net.weights], [x.copy() for x in net.biases]
    eps = 1e-6
    for params, copies, at in ((net.weights, w, (0, 1, 2)), (net.biases, b, (1, 2, 0))):
        l, j, k = at
        params[l][j, k] += eps
        plus = net.total_cost((X, y), 0.0)
        params[l][j, k] -= 2 * eps
        minus = net.total_cost((X, y), 0.0)
        params[l][j, k] += eps
        numeric = (plus - minus) / (2 * eps)
        copies[l][j, k] += eps
        want_plus = numpy_cost(w, b, X, y)
        copies[l][j, k] -= 2 * eps
        want_minus = numpy_cost(w, b, X, y)
        copies[l][j, k] += eps
        assert plus == pytest.approx(want_plus, rel=1e-12) and minus == pytest.approx(want_minus, rel=1e-12)
        assert numeric != 0 and numeric == pytest.approx((want_plus - want_minus) / (2 * eps), rel=1e-5)
    assert net.total_cost((X, y), 0.0) == pytest.approx(numpy_cost(w, b, X, y), rel=1e-12)


def test_parameters_written_in_place_or_by_layer_are_what_the_network_uses(tiny, tmp_path):
    X, y = tiny
    a = batchprop.Network([4, 5, 3], device="cpu", dtype="f64", seed=3)
    b = batchprop.Network([4, 5, 3], device="cpu", dtype="f64", seed=4)
    w = [np.full((5, 4), 0.3), np.linspace(-1, 1, 15).reshape(3, 5)]
    bias = [np.linspace(0, 1, 5).reshape(5, 1), np.array([[0.5], [-0.5], [0.25]])]
    a.weights[0][...] = w[0]   # in place
    a.weights[1] = w[1]        # one layer
    a.biases[0] *= 0
    a.biases[0] += bias[0]
    a.biases[1] = bias[1].ravel()  # (n,) for (n, 1), as for a whole list
    b.weights, b.biases = w, bias  # whole lists
    x = X[:3].T
    np.testing.assert_allclose(a.feedforward(x), numpy_feedforward(w, bias, x / 255.0), rtol=1e-13)
    assert np.array_equal(a.predict(X), b.predict(X)) and a.accuracy((X, y)) == b.accuracy((X, y))
    a.save(tmp_path / "a.json")
    assert all(np.array_equal(p, q) for p, q in zip(batchprop.load(tmp_path / "a.json", device="cpu", dtype="f64").weights, w))
    held = a.weights
    a.SGD((X, y), 2, 10, 0.5, verbose=False)
    b.SGD((X, y), 2, 10, 0.5, verbose=False, seed=3)  # a's shuffle
    assert all(np.array_equal(p, q) for p, q in zip(a.weights + a.biases, b.weights + b.biases))
    # After SGD the network has fresh arrays, as the book's update makes them.
    assert np.array_equal(held[0], w[0])
    held[0][0, 0] = 9.0
    assert a.weights[0][0, 0] != 9.0


def test_a_float_network_shows_the_values_it_holds():
    net = batchprop.Network([3, 2], device="cpu", dtype="f32")
    net.weights[0][0, 0] = 0.1
    net.feedforward(np.ones((3, 1), np.float32))
    assert net.weights[0][0, 0] == np.float32(0.1) != 0.1


def test_writes_the_network_cannot_take_fail_loudly(tiny):
    X, y = tiny
    net = batchprop.Network([4, 5, 3], device="cpu", dtype="f64")
    with pytest.raises(ValueError, match=r"weights\[1\] must have shape \(3, 5\), got \(5, 3\)"):
        net.weights[1] = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"biases\[1\] holds a value that is not finite"):
        net.biases[-1] = [np.inf, 0, 0]
    with pytest.raises(TypeError, match="one array of weights per layer"):
        net.weights.append(np.zeros((3, 5)))
    with pytest.raises(IndexError):
        net.weights[2] = np.zeros((3, 5))
    net.weights[0][2, 1] = np.nan  # in place: refused where the network would compute with it
    with pytest.raises(ValueError, match=r"weights\[0\] holds a value that is not finite"):
        net.accuracy((X, y))
    net.weights[0][2, 1] = 0.5
    net.accuracy((X, y))
    snapshot = copy.deepcopy(net.weights)
    assert type(snapshot) is list
    snapshot[0][0, 0] = 7.0
    assert net.weights[0][0, 0] != 7.0

    def progress(epoch, done, total):  # the parameters are moving: a snapshot, read-only
        with pytest.raises(batchprop.Error, match="not while training"):
            net.SGD((X, y), 1, 10, 0.5, verbose=False)  # refused, and the outer SGD still trains
        with pytest.raises(ValueError, match="read-only"):
            net.weights[0][0, 0] += 1.0
        seen.append(net.weights[0][0, 0])

    seen = []
    net.SGD((X, y), 2, 10, 0.5, verbose=False, progress=progress)
    assert len(seen) >= 2 and seen[-1] == net.weights[0][0, 0]


def test_unseeded_networks_follow_numpys_global_generator(tmp_path):
    np.random.seed(4)
    a = batchprop.Network([6, 5, 3], device="cpu")
    np.random.seed(4)
    b = batchprop.Network([6, 5, 3], device="cpu")
    c = batchprop.Network([6, 5, 3], device="cpu")  # the generator has moved on
    assert a.seed == b.seed != c.seed
    assert np.array_equal(a.weights[0], b.weights[0]) and not np.array_equal(a.weights[0], c.weights[0])
    assert np.array_equal(batchprop.Network([6, 5, 3], device="cpu", seed=a.seed).weights[0], a.weights[0])
    np.random.seed(4)
    assert batchprop.network.Network([6, 5, 3], device="cpu").seed == a.seed
    a.save(tmp_path / "a.json")
    np.random.seed(4)
    assert batchprop.load(tmp_path / "a.json", device="cpu").seed == a.seed
    assert batchprop.load(tmp_path / "a.json", device="cpu", seed=7).seed == 7
    # Without np.random.seed, every process draws its own.
    code = "import batchprop; print(batchprop.Network([3, 2], device='cpu').seed)"
    seeds = {subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
             for _ in range(2)}
    assert len(seeds) == 2


def test_a_networks_repr_makes_the_same_network():
    for module in (batchprop.network2, batchprop.network):
        net = module.Network([5, 4, 3], device="cpu", dtype="f64", seed=11)
        again = eval(repr(net), vars(module))
        assert type(again) is type(net) and repr(again) == repr(net)
        assert all(np.array_equal(p, q) for p, q in zip(again.weights + again.biases, net.weights + net.biases))
    assert repr(net) == "Network([5, 4, 3], device='cpu', dtype='f64', seed=11)"


def test_data_says_what_it_is(tiny):
    X, y = tiny
    assert repr(batchprop.as_data((X, y), "training_data")) == (
        "<batchprop.Data 'training_data': 30 examples of 4 uint8 pixels (inputs k/255), labelled, "
        "borrowed from a numpy array>")
    assert repr(batchprop.as_data(X[:2] / 255.0, labels=False)) == (
        "<batchprop.Data 'data': 2 examples of 4 float32 inputs, no labels, borrowed from a numpy array>")


def test_total_cost_is_network2s_formula(small):
    (X, y), (Xt, yt) = small
    net = batchprop.Network([784, 30, 10], device="cpu", dtype="f64", seed=9)
    a = numpy_feedforward(net.weights, net.biases, Xt.T / 255.0)
    onehot = np.eye(10)[yt].T
    mean = np.mean(np.sum(np.nan_to_num(-onehot * np.log(a) - (1 - onehot) * np.log(1 - a)), axis=0))
    l2 = 0.5 * (5.0 / len(yt)) * sum(np.sum(w * w) for w in net.weights)
    assert net.total_cost((Xt, yt), 5.0) == pytest.approx(mean + l2, rel=1e-12)
    assert net.total_cost((Xt, yt), 0.0) == pytest.approx(mean, rel=1e-12)
    assert net.accuracy((Xt, yt)) == int(np.sum(np.argmax(a, axis=0) == yt))
    assert np.array_equal(net.predict(Xt), np.argmax(a, axis=0))


def test_save_and_load_round_trip(tmp_path, small):
    (X, y), (Xt, yt) = small
    net = batchprop.Network([784, 20, 10], device="cpu", seed=4)
    net.SGD((X, y), 1, 10, 0.5, verbose=False)
    path = tmp_path / "net.json"
    net.save(path)
    saved = json.loads(path.read_text())
    assert saved["sizes"] == [784, 20, 10] and saved["cost"] == "CrossEntropyCost"
    back = batchprop.load(path)
    assert back.cost is batchprop.CrossEntropyCost
    assert all(np.array_equal(a, b) for a, b in zip(back.weights, net.weights))
    assert back.accuracy((Xt, yt)) == net.accuracy((Xt, yt))


def test_loads_a_file_network2_py_wrote(tmp_path):
    # network2.py's save(): json.dump of sizes, weights and biases as nested lists, cost by name.
    rng = np.random.default_rng(1)
    w = [rng.standard_normal((3, 4)), rng.standard_normal((2, 3))]
    b = [rng.standard_normal((3, 1)), rng.standard_normal((2, 1))]
    path = tmp_path / "book.json"
    path.write_text(json.dumps({"sizes": [4, 3, 2], "weights": [x.tolist() for x in w],
                                "biases": [x.tolist() for x in b], "cost": "QuadraticCost"}))
    net = network2.load(str(path), dtype="f64")
    assert net.cost is network2.QuadraticCost
    assert all(np.array_equal(x, y) for x, y in zip(net.weights, w))
    a = rng.random((4, 1)).astype(np.float32)
    np.testing.assert_allclose(net.feedforward(a), numpy_feedforward(w, b, a.astype(np.float64)), rtol=1e-13)


def test_the_cost_classes_keep_the_book_formulas():
    a = np.array([[0.8], [0.3]])
    y = np.array([[1.0], [0.0]])
    assert network2.QuadraticCost.fn(a, y) == pytest.approx(0.5 * (0.04 + 0.09))
    assert network2.CrossEntropyCost.fn(a, y) == pytest.approx(-np.log(0.8) - np.log(0.7))
    np.testing.assert_allclose(network2.CrossEntropyCost.delta(None, a, y), a - y)


def test_help_documents_every_argument():
    doc = batchprop.Network.SGD.__doc__
    for arg in ("training_data", "epochs", "mini_batch_size", "eta", "lmbda", "evaluation_data", "monitor_",
                "mode", "seed", "shuffle", "progress", "verbose", "launch"):
        assert arg in doc, arg
    for name in ("device", "dtype", "seed", "cost", "sizes"):
        assert name in batchprop.Network.__doc__, name
