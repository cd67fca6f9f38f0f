"""Where the time of the small dense step (case b, 64-32-8-32-64, batch 64) goes.

The step runs through each layer's own ``forward`` and ``backward``; this
profile times its parts one by one, in this process, with the same network
and data as ``bench_dense.py``: the phases of the step (``zero_grad``,
``forward``, the loss, ``backward``, ``Adam.step``), every layer's
``forward`` and ``backward`` alone, and the step's matrix products alone
(in one compiled call: what is left is Python and per-layer work). Medians
of blocks of calls; microseconds per call. Writes
``benchmarks/results/profile_small_step.json`` and ``.md``.

    python benchmarks/profile_small_step.py [--repeats 15]
"""

import argparse
import statistics
import time

import numpy as np
from bench_dense import npae_step
from numba import njit

from benchmarks_common import environment, write_results
from npae.layers import Dense
from npae.losses import mean_squared_error

SIZES, BATCH, BLOCK = (64, 32, 8, 32, 64), 64, 200


@njit(cache=True)
def products_only(inputs, weights, grads_out):
    """The step's 4 forward and 7 backward products (the first layer's dL/dx is skipped)."""
    for l in range(len(weights)):
        np.dot(inputs[l], weights[l])
        np.dot(inputs[l].T, grads_out[l])
        if l > 0:
            np.dot(grads_out[l], weights[l].T)


def per_call_us(fn, repeats):
    for _ in range(BLOCK):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(BLOCK):
            fn()
        samples.append((time.perf_counter() - start) / BLOCK)
    return statistics.median(samples) * 1e6


def parts(dtype, repeats):
    step, net, opt, x = npae_step(SIZES, BATCH, dtype, np.random.default_rng(0), parts=True)
    y = net.forward(x)
    _, grad = mean_squared_error(y, x)
    # Each layer's input and the gradient it receives, from one pass each way.
    inputs, h = [], x
    for layer in net.layers:
        inputs.append(h)
        h = layer.forward(h)
    grads_in, g = [], grad
    for layer in reversed(net.layers):
        grads_in.insert(0, g)
        g = layer.backward(g)
    denses = [i for i, layer in enumerate(net.layers) if isinstance(layer, Dense)]
    timings = {
        "whole step": step,
        "zero_grad": net.zero_grad,
        "forward": lambda: net.forward(x),
        "loss": lambda: mean_squared_error(y, x),
        "backward": lambda: net.backward(grad, input_grad=False),
        "Adam.step": opt.step,
    }
    for i, layer in enumerate(net.layers):
        timings[f"{i}: {layer.name}.forward"] = lambda layer=layer, h=inputs[i]: layer.forward(h)
        timings[f"{i}: {layer.name}.backward"] = (lambda layer=layer, g=grads_in[i]:
                                                  layer.backward(g))
    timings["matrix products alone"] = lambda: products_only(
        tuple(inputs[i] for i in denses), tuple(net.layers[i].params["W"] for i in denses),
        tuple(grads_in[i + 1] for i in denses))
    return [{"dtype": dtype, "part": name, "us_per_call": per_call_us(fn, repeats)}
            for name, fn in timings.items()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # OpenBLAS runs products this small on one thread anyway
        rows = [row for dtype in ("float32", "float64") for row in parts(dtype, args.repeats)]
    write_results("profile_small_step", rows, environment())


if __name__ == "__main__":
    main()
