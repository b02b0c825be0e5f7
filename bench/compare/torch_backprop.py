#!/usr/bin/env python3
"""The peer in PyTorch: the same network, cost and SGD as batchprop's defaults, written the way
people write it today: nn.Linear + sigmoid layers, autograd, torch.optim.SGD. Mini-batch
(matrix) form only: a per-example loop through autograd would measure Python overhead.

  torch_backprop.py --device cpu --epochs 3 --out run.jsonl
  torch_backprop.py --device cuda --graphs       # each SGD step replayed as one CUDA graph

Same data (gzip IDX, loaded by numpy_backprop.load), same hyper-parameters: N(0, 1) weights and
biases, quadratic cost C = (1/2m) sum |a - y|^2 over the mini-batch (i.e. MSE with reduction
"sum", times 0.5/m), plain SGD with lr = eta. Per epoch it writes {"impl", "mode", "dtype",
"device", "epoch", "seconds", "eval_accuracy", "blas_core", "threads", "version"}; "seconds" is
the training time of the epoch (on CUDA, synchronised before the clock stops).

With --graphs (CUDA only) the whole step, forward, backward and optimizer update, is captured
once with torch.cuda.graph on static input tensors, as PyTorch's documentation shows for
whole-network capture; each mini-batch is then copied into those tensors and the graph
replayed (the last, partial batch runs eagerly). "impl" is then "torch-graphs".
"""

import argparse
import json
import os
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from numpy_backprop import DEFAULT_DATA, blas_info, load  # noqa: E402


def build(sizes):
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        lin = nn.Linear(n_in, n_out)
        nn.init.normal_(lin.weight, 0.0, 1.0)  # the book's N(0, 1), weights and biases alike
        nn.init.normal_(lin.bias, 0.0, 1.0)
        layers += [lin, nn.Sigmoid()]
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--sizes", default="784,30,10")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--eta", type=float, default=3.0)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--train-limit", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int,
                    help="intra-op threads on the CPU (default: torch's own choice, recorded in the output)")
    ap.add_argument("--graphs", action="store_true", help="replay each step as a captured CUDA graph (CUDA only)")
    ap.add_argument("--out", help="append one JSON object per epoch here")
    args = ap.parse_args()
    if args.device not in ("cpu", "cuda"):
        ap.error(f"--device {args.device!r}: use cpu or cuda")
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: this torch sees no usable GPU")
    if args.graphs and args.device != "cuda":
        ap.error("--graphs needs --device cuda")

    torch.manual_seed(args.seed)
    if args.device == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    sizes = [int(s) for s in args.sizes.split(",")]
    x_train, y_train, x_test, y_test = load(args.data, args.train_limit)
    # torch's convention is one row per example: (n x 784).
    xt = torch.from_numpy(x_train.T.copy()).float().to(dev)
    yt = nn.functional.one_hot(torch.from_numpy(y_train), sizes[-1]).float().to(dev)
    xe = torch.from_numpy(x_test.T.copy()).float().to(dev)
    ye = torch.from_numpy(y_test).to(dev)
    n = xt.shape[0]
    model = build(sizes).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=args.eta)
    core, _ = blas_info()
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def cost(xb, yb):
        return 0.5 * nn.functional.mse_loss(model(xb), yb, reduction="sum") / xb.shape[0]

    def eager_step(xb, yb):
        loss = cost(xb, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    graph = None
    if args.graphs:
        # Static batch tensors the graph reads; warm-up on a side stream (as the documentation
        # asks), then the parameters are put back so the timed run starts where the others do.
        static_x, static_y = xt[:args.batch].clone(), yt[:args.batch].clone()
        saved = [p.detach().clone() for p in model.parameters()]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                eager_step(static_x, static_y)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            static_loss = cost(static_x, static_y)
            static_loss.backward()
            opt.step()
        with torch.no_grad():
            for p, q in zip(model.parameters(), saved):
                p.copy_(q)

    for epoch in range(1, args.epochs + 1):
        sync()
        t0 = time.perf_counter()
        order = torch.randperm(n, device=dev)
        for first in range(0, n, args.batch):
            idx = order[first:first + args.batch]
            if graph is not None and idx.shape[0] == args.batch:
                static_x.copy_(xt[idx])
                static_y.copy_(yt[idx])
                graph.replay()
            else:
                eager_step(xt[idx], yt[idx])
        sync()
        seconds = time.perf_counter() - t0
        with torch.no_grad():
            correct = int((model(xe).argmax(dim=1) == ye).sum())
        print(f"Epoch {epoch}: {correct} / {len(ye)} ({100 * correct / len(ye):.2f}%)  "
              f"train {seconds:.3f} s  {n / seconds:.0f} examples/s", flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps({"impl": "torch-graphs" if args.graphs else "torch", "mode": "matrix", "dtype": "f32", "device": args.device,
                                    "epoch": epoch, "seconds": seconds, "eval_accuracy": correct / len(ye),
                                    "blas_core": core, "threads": torch.get_num_threads(),
                                    "version": torch.__version__}) + "\n")


if __name__ == "__main__":
    main()
