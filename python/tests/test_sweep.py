"""batchprop.sweep: one Network per combination of a grid, trained at once, each bit for bit the
network its own SGD trains; the grid's and the combinations' errors; divergence kept to its
network; help()."""

import numpy as np
import pytest

import batchprop


def params_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.weights + a.biases, b.weights + b.biases))


GRID = {"sizes": [[784, 20, 10], [784, 12, 8, 10]], "eta": [0.5, 3.0], "lmbda": [0.0, 5.0],
        "mini_batch_size": [10, 25], "seed": [1, 2]}


def test_each_network_equals_its_own_sgd(small):
    (X, y), (Xt, yt) = small
    X, y = X[:1500], y[:1500]  # not the evaluation set's 1,000: the L2 term of its cost is over len(evaluation_data)
    seen = []
    records = batchprop.sweep((X, y), 2, GRID, (Xt, yt), device="cpu", jobs=2, monitor_training_accuracy=True,
                              progress=lambda *a: seen.append(a))
    assert len(records) == 32
    assert [r["run"] for r in records] == list(range(32))
    for r in records:
        assert r["status"] == "done", r["error"]
        net = batchprop.Network(r["sizes"], device="cpu", seed=r["seed"])
        ec, ea, tc, ta = net.SGD((X, y), 2, r["mini_batch_size"], r["eta"], lmbda=r["lmbda"],
                                 evaluation_data=(Xt, yt), monitor_evaluation_cost=True,
                                 monitor_evaluation_accuracy=True, monitor_training_accuracy=True, verbose=False)
        assert params_equal(r["net"], net), r["run"]
        assert (r["evaluation_cost"], r["evaluation_accuracy"], r["training_cost"], r["training_accuracy"]) == \
            (ec, ea, [], ta)
        assert r["epochs"] == 2 and r["seconds"] > 0
    # the grid's order: the seed fastest, sizes slowest
    assert (records[1]["seed"], records[2]["mini_batch_size"], records[4]["lmbda"], records[8]["eta"]) == (2, 25, 5.0, 3.0)
    assert records[16]["sizes"] == [784, 12, 8, 10]
    # a trained network is a Network like any other: it predicts, saves, trains on
    best = max(records, key=lambda r: max(r["evaluation_accuracy"]))
    assert best["net"].accuracy((Xt, yt)) == best["evaluation_accuracy"][-1]
    assert all(0 <= p[0] <= p[1] == 32 and p[3] == 64 for p in seen)


def test_grid_and_combination_errors(small):
    (X, y), (Xt, yt) = small
    with pytest.raises(ValueError, match="grid has 'lambda', which is not one of sizes, eta, lmbda"):
        batchprop.sweep((X, y), 1, {"sizes": [784, 30, 10], "eta": 1, "lambda": 5}, (Xt, yt))
    with pytest.raises(ValueError, match="grid needs 'eta'"):
        batchprop.sweep((X, y), 1, {"sizes": [784, 30, 10]}, (Xt, yt))
    with pytest.raises(TypeError, match=r"grid\['eta'\]\[1\] must be a number"):
        batchprop.sweep((X, y), 1, {"sizes": [784, 30, 10], "eta": [1, "x"]}, (Xt, yt))
    with pytest.raises(batchprop.Error, match="seed 2 is given twice"):
        batchprop.sweep((X, y), 1, {"sizes": [784, 30, 10], "eta": 1, "seed": [1, 2, 2]}, (Xt, yt), device="cpu")
    with pytest.raises(batchprop.Error, match="eta -1 must be a finite number > 0"):
        batchprop.sweep((X, y), 1, {"sizes": [784, 30, 10], "eta": [1, -1]}, (Xt, yt), device="cpu")
    with pytest.raises(batchprop.Error, match=r"eta \* lmbda / n = 300 \* 10 / 2000 = 1.5 >= 1: .*in the combination "
                                              r"sizes 784,30,10 eta 300 lmbda 10 mini_batch_size 10 \(run 3\)"):
        batchprop.sweep((X, y), 1, {"sizes": [784, 30, 10], "eta": [1, 300], "lmbda": [0, 10]}, (Xt, yt),
                        device="cpu")
    with pytest.raises(batchprop.Error, match=r"label 9 is beyond the network's 5 outputs, for the network "
                                              r"784,30,5 \(run 1\)"):
        batchprop.sweep((X, y), 1, {"sizes": [[784, 30, 10], [784, 30, 5]], "eta": 1}, (Xt, yt), device="cpu")
    with pytest.raises(batchprop.Error, match="mini_batch_size 5000 is larger than the training set"):
        batchprop.sweep((X, y), 1, {"sizes": [784, 30, 10], "eta": 1, "mini_batch_size": [10, 5000]}, (Xt, yt),
                        device="cpu")


def test_a_diverging_network_is_reported_and_the_others_train_on(small):
    (X, y), (Xt, yt) = small
    records = batchprop.sweep((X, y), 2, {"sizes": [784, 16, 10], "eta": [0.5, 3e38], "seed": 3}, (Xt, yt),
                              device="cpu")
    assert records[1]["status"] == "diverged" and records[1]["net"] is None
    assert "training diverged in epoch 1" in records[1]["error"]
    assert records[0]["status"] == "done" and len(records[0]["evaluation_accuracy"]) == 2


def test_help_documents_the_grid():
    doc = batchprop.sweep.__doc__
    for word in ("grid", "lmbda", "mini_batch_size", "seed", "jobs", "evaluation_accuracy", "KeyboardInterrupt"):
        assert word in doc
