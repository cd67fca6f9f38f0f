"""Where the time of the small dense step (case b, 64-32-8-32-64, batch 64) goes.

The step runs layer by layer, each layer's own ``forward`` and ``backward``
(the code a student reads), so this profile times the parts of it one by
one, in this process, with the same network and data as ``bench_dense.py``:
the phases of the step (``zero_grad``, ``forward``, the loss, ``backward``,
``Adam.step``), every layer's ``forward`` and ``backward`` alone, and the
step's matrix products alone (NumPy's ``np.dot`` on the same arrays: what is
left when every Python call and elementwise pass is taken away). Medians of
blocks of calls; microseconds per call. Writes
``benchmarks/results/profile_small_step.json`` and ``.md``.

    python benchmarks/profile_small_step.py [--repeats 15]
"""

import argparse
import statistics
import time

import numpy as np
from bench_dense import npae_step

from benchmarks_common import environment, write_results
from npae.layers import Dense
from npae.losses import mean_squared_error

SIZES, BATCH, BLOCK = (64, 32, 8, 32, 64), 64, 200


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


def products_only(net, x, grad):
    """The step's 4 forward and 7 backward products (the first layer's dL/dx is skipped)."""
    denses = [layer for layer in net.layers if isinstance(layer, Dense)]
    inputs = [x] + [np.empty((BATCH, d.out_features), dtype=x.dtype) for d in denses[:-1]]
    grads_out = [np.empty((BATCH, d.out_features), dtype=x.dtype) for d in denses]

    def run():
        for l, dense in enumerate(denses):
            W = dense.params["W"]
            np.dot(inputs[l], W)
            np.dot(inputs[l].T, grads_out[l])
            if l > 0:
                np.dot(grads_out[l], W.T)

    return run


def layer_parts(net, x):
    """``forward`` and ``backward`` of each layer alone, on the inputs the step gives it."""
    timings = {}
    h = x
    for i, layer in enumerate(net.layers):
        y = layer.forward(h)
        g = np.ones_like(y)
        timings[f"{i}: {layer.name}.forward"] = (lambda layer=layer, h=h: layer.forward(h))
        timings[f"{i}: {layer.name}.backward"] = (
            lambda layer=layer, h=h, g=g: (layer.forward(h), layer.backward(g)))
        h = y
    return timings


def parts(dtype, repeats):
    step, net, opt, x = npae_step(SIZES, BATCH, dtype, np.random.default_rng(0), parts=True)
    y = net.forward(x)
    _, grad = mean_squared_error(y, x)
    timings = {
        "whole step": step,
        "zero_grad": net.zero_grad,
        "forward": lambda: net.forward(x),
        "loss": lambda: mean_squared_error(y, x),
        "forward + backward": lambda: (net.forward(x), net.backward(grad, input_grad=False)),
        "Adam.step": opt.step,
        "matrix products alone": products_only(net, x, grad),
        **layer_parts(net, x),
    }
    rows = [{"dtype": dtype, "part": name, "us_per_call": per_call_us(fn, repeats), "note": ""}
            for name, fn in timings.items()]
    forward = next(r["us_per_call"] for r in rows if r["part"] == "forward")
    for row in rows:  # a layer's backward alone: its forward + backward less its forward
        if row["part"].endswith(".backward"):
            own_forward = next(r["us_per_call"] for r in rows
                               if r["part"] == row["part"].replace(".backward", ".forward"))
            row["note"] = f"{row['us_per_call'] - own_forward:.1f} us without its forward"
    rows.append({"dtype": dtype, "part": "backward (forward + backward less forward)",
                 "us_per_call": next(r["us_per_call"] for r in rows
                                     if r["part"] == "forward + backward") - forward,
                 "note": ""})
    return rows


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
