"""network2.py's algorithm in numpy, per example, as the book runs it in chapter 3: cross-entropy
(or quadratic) cost, L2 regularisation, mini-batches whose gradients are summed one example at
a time, and the four per-epoch monitors, each a per-example loop over its data set. Written for
the Python-module benchmark (python_module.py) from the book's equations; it takes its data in
the book's form (lists of (x, y) columns) and its initial parameters from the caller.
"""

import time

import numpy as np


def sigmoid(z):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


class Network2:
    def __init__(self, weights, biases, cross_entropy=True):
        self.weights = [np.array(w, dtype=np.float64) for w in weights]  # w^l: (n_l, n_{l-1})
        self.biases = [np.array(b, dtype=np.float64) for b in biases]    # b^l: (n_l, 1)
        self.cross_entropy = cross_entropy

    def feedforward(self, a):
        for w, b in zip(self.weights, self.biases):
            a = sigmoid(w @ a + b)
        return a

    def backprop(self, x, y):
        """dC_x/dw, dC_x/db for one example: forward, then BP1-BP4 backwards."""
        activations = [x]
        for w, b in zip(self.weights, self.biases):
            activations.append(sigmoid(w @ activations[-1] + b))
        a = activations[-1]
        delta = a - y if self.cross_entropy else (a - y) * a * (1 - a)  # BP1
        nabla_w = [None] * len(self.weights)
        nabla_b = [None] * len(self.biases)
        for l in range(len(self.weights) - 1, -1, -1):
            nabla_b[l] = delta                                          # BP3
            nabla_w[l] = delta @ activations[l].T                        # BP4
            if l:
                s = activations[l]
                delta = (self.weights[l].T @ delta) * s * (1 - s)       # BP2
        return nabla_w, nabla_b

    def update_mini_batch(self, batch, eta, lmbda, n):
        nabla_w = [np.zeros_like(w) for w in self.weights]
        nabla_b = [np.zeros_like(b) for b in self.biases]
        for x, y in batch:
            dw, db = self.backprop(x, y)
            for l in range(len(nabla_w)):
                nabla_w[l] += dw[l]
                nabla_b[l] += db[l]
        m = len(batch)
        decay = 1 - eta * lmbda / n
        self.weights = [decay * w - (eta / m) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / m) * nb for b, nb in zip(self.biases, nabla_b)]

    def accuracy(self, data, one_hot):
        if one_hot:
            return sum(int(np.argmax(self.feedforward(x)) == np.argmax(y)) for x, y in data)
        return sum(int(np.argmax(self.feedforward(x)) == y) for x, y in data)

    def total_cost(self, data, lmbda, one_hot):
        cost = 0.0
        for x, y in data:
            a = self.feedforward(x)
            if not one_hot:
                y = np.eye(len(a))[y].reshape(-1, 1)
            if self.cross_entropy:
                cost += np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a))) / len(data)
            else:
                cost += 0.5 * np.linalg.norm(a - y) ** 2 / len(data)
        return cost + 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2 for w in self.weights)

    def SGD(self, training_data, epochs, m, eta, lmbda, evaluation_data, all_monitors=True, seed=1):
        """Yields (seconds, evaluation_accuracy) per epoch: chapter 3's four monitors computed
        (all_monitors), or chapter 1's evaluation accuracy alone."""
        rng = np.random.default_rng(seed)
        data = list(training_data)
        n = len(data)
        for _ in range(epochs):
            start = time.perf_counter()
            order = rng.permutation(n)
            data = [data[i] for i in order]
            for k in range(0, n, m):
                self.update_mini_batch(data[k:k + m], eta, lmbda, n)
            if all_monitors:
                self.total_cost(data, lmbda, one_hot=True)
                self.accuracy(data, one_hot=True)
                self.total_cost(evaluation_data, lmbda, one_hot=False)
            correct = self.accuracy(evaluation_data, one_hot=False)
            yield time.perf_counter() - start, correct
