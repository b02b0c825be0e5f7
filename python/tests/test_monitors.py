"""network2's four monitor flags (SGD's monitor_evaluation_cost, monitor_evaluation_accuracy,
monitor_training_cost, monitor_training_accuracy): each on its own reports what network2.py
reports (the accuracy and total_cost of the data after each epoch), and over all 16 on/off
combinations every list asked for has one entry per epoch, every other list is empty, and the
book's printed lines follow the same flags."""

import itertools

import pytest

import batchprop

# SGD returns (evaluation_cost, evaluation_accuracy, training_cost, training_accuracy): this order.
FLAGS = ("monitor_evaluation_cost", "monitor_evaluation_accuracy", "monitor_training_cost",
         "monitor_training_accuracy")
# The line network2.py prints for each, after every epoch.
LINES = ("Cost on evaluation data: ", "Accuracy on evaluation data: ", "Cost on training data: ",
         "Accuracy on training data: ")
EPOCHS, LMBDA = 2, 1.0


def train(small, **flags):
    (X, y), (Xt, yt) = small
    net = batchprop.Network([784, 10, 10], cost=batchprop.CrossEntropyCost, device="cpu", seed=3)
    lists = net.SGD((X, y), EPOCHS, 10, 0.5, lmbda=LMBDA, evaluation_data=(Xt, yt), **flags)
    return net, lists


@pytest.mark.parametrize("flag", FLAGS)
def test_each_monitor_on_its_own(small, flag):
    (X, y), (Xt, yt) = small
    net, lists = train(small, verbose=False, **{flag: True})
    got = lists[FLAGS.index(flag)]
    assert len(got) == EPOCHS, flag
    assert [len(other) for f, other in zip(FLAGS, lists) if f != flag] == [0, 0, 0], flag
    data = (Xt, yt) if "evaluation" in flag else (X, y)
    if flag.endswith("accuracy"):  # counts, as network2.py's accuracy()
        assert all(isinstance(v, int) and 0 <= v <= len(data[1]) for v in got), got
        assert got[-1] == net.accuracy(data)
    else:  # network2.py's total_cost(data, lmbda): the L2 term over len(data)
        assert all(isinstance(v, float) and v > 0 for v in got), got
        assert got[-1] == pytest.approx(net.total_cost(data, LMBDA), rel=1e-6)


@pytest.mark.parametrize("on", list(itertools.product((False, True), repeat=4)),
                         ids=lambda on: "".join("1" if o else "0" for o in on))
def test_every_on_off_combination(small, on, capsys):
    _, lists = train(small, verbose=True, **dict(zip(FLAGS, on)))
    out = capsys.readouterr().out
    assert out.count(" training complete") == EPOCHS
    for flag, wanted, got, line in zip(FLAGS, on, lists, LINES):
        assert len(got) == (EPOCHS if wanted else 0), f"{flag}={wanted}: {got}"
        assert out.count(line) == (EPOCHS if wanted else 0), f"{flag}={wanted}:\n{out}"
