"""The book's own call sequences, run unchanged with batchprop's modules standing in for
mnist_loader, network and network2 (on Fashion-MNIST, which Debian packages)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import batchprop

CHAPTER_1 = """
import mnist_loader
training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
import network
net = network.Network([784, 30, 10])
net.SGD(training_data, 30, 10, 3.0, test_data=test_data)
"""

CHAPTER_3 = """
import mnist_loader
training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
import network2
net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
net.large_weight_initializer()
evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = net.SGD(
    training_data, 30, 10, 0.5, lmbda=5.0, evaluation_data=validation_data,
    monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
    monitor_training_cost=True, monitor_training_accuracy=True)
net.save("net.json")
net = network2.load("net.json")
"""


def run_book(code, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("mnist_loader", "network", "network2"):
        monkeypatch.setitem(sys.modules, name, getattr(batchprop, name))
    scope = {}
    exec(compile(code, "book", "exec"), scope)
    return scope


def test_chapter_1(fashion, monkeypatch, tmp_path, capsys):
    run_book(CHAPTER_1, monkeypatch, tmp_path)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 30 and lines[0].startswith("Epoch 0: ") and lines[-1].startswith("Epoch 29: ")
    correct = int(lines[-1].split()[2])
    assert lines[-1].endswith(" / 10000") and correct > 8000  # ~85% on Fashion-MNIST


def test_chapter_3(fashion, monkeypatch, tmp_path, capsys):
    scope = run_book(CHAPTER_3, monkeypatch, tmp_path)
    for name in ("evaluation_cost", "evaluation_accuracy", "training_cost", "training_accuracy"):
        assert len(scope[name]) == 30, name
    assert scope["evaluation_accuracy"][-1] > 8000
    assert scope["training_accuracy"][-1] > 40000
    assert scope["training_cost"][-1] < scope["training_cost"][0]
    out = capsys.readouterr().out
    assert out.count("training complete") == 30 and "Accuracy on evaluation data: " in out
    assert scope["net"].accuracy(scope["validation_data"]) == scope["evaluation_accuracy"][-1]


CTRL_C_CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    import batchprop
    (X, y), _, _ = batchprop.mnist_loader.load_data()
    # A wide network in double: an epoch takes many seconds, so stopping "after the current
    # mini-batch" is told apart from stopping at the end of the epoch.
    net = batchprop.Network([784, 2000, 10], device="cpu", dtype="f64", seed=1)
    before = net.weights[0].copy()
    print("training", flush=True)
    try:
        # no progress callback: a Python callback would let the interpreter itself notice the
        # signal; this checks that training looks for it on its own
        net.SGD((X, y), 50, 10, 0.5, verbose=False)
        print("finished")
    except KeyboardInterrupt:
        w = net.weights[0]
        print("interrupted", bool(np.all(np.isfinite(w))), not np.array_equal(w, before), flush=True)
""")


def test_ctrl_c_raises_keyboard_interrupt_and_keeps_the_parameters(fashion, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CTRL_C_CHILD)
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=os.environ)
    try:
        assert child.stdout.readline().strip() == "training"
        time.sleep(0.5)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=120)
        assert time.monotonic() - sent < 3  # polled every 50 ms; an epoch here takes far longer
    finally:
        child.kill()
    assert out.strip() == "interrupted True True"
    assert child.returncode == 0
