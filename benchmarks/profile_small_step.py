"""Where the time of the small dense step (case b, 64-32-8-32-64, batch 64) goes.

py-spy and line_profiler stop at the edge of a Numba kernel, so this profile
times the parts of the step one by one, in this process, with the same
network and data as ``bench_dense.py``: the Python-level phases of the step
(``zero_grad``, ``forward``, the loss, ``backward``, ``Adam.step``), the
one-call forward and backward kernels alone (their Python wrappers are the
difference), and inside the kernels the matrix products alone and the
sigmoid of the output layer alone. Medians of blocks of calls; microseconds
per call. Writes ``benchmarks/results/profile_small_step.json`` and ``.md``.

    python benchmarks/profile_small_step.py [--repeats 15]
"""

import argparse
import statistics
import time

import numpy as np
from bench_dense import npae_step
from numba import njit

from benchmarks_common import environment, write_results
from npae.kernels import dense as loops
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
    plan = net._plan  # the one-call plan, made on the first forward
    _, grad = mean_squared_error(y, x)
    weights = tuple(d.params["W"] for d in plan.denses)
    biases = tuple(d.params["b"] for d in plan.denses)
    pre = tuple(np.empty((BATCH, d.out_features), dtype=dtype) for d in plan.denses)
    post = tuple(np.empty_like(z) for z in pre)
    inputs, pre_saved, post_saved = plan.caches(grad)
    grad_w = tuple(d.grads["W"] for d in plan.denses)
    grad_b = tuple(d.grads["b"] for d in plan.denses)
    z_out = np.random.default_rng(1).normal(size=(BATCH, SIZES[-1])).astype(dtype)
    y_out = np.empty_like(z_out)
    timings = {
        "whole step": step,
        "zero_grad": net.zero_grad,
        "forward": lambda: net.forward(x),
        "loss": lambda: mean_squared_error(y, x),
        "backward": lambda: net.backward(grad, input_grad=False),
        "Adam.step": opt.step,
        "forward kernel": lambda: loops.mlp_forward(x, weights, biases, plan.kinds, plan.alphas,
                                                    pre, post, plan.check),
        "backward kernel": lambda: loops.mlp_backward(grad, inputs, weights, plan.kinds,
                                                      plan.alphas, pre_saved, post_saved,
                                                      grad_w, grad_b, False),
        "matrix products alone": lambda: products_only(inputs, weights, pre_saved),
        "output sigmoid alone (64 x 64)": lambda: loops.activation_forward(
            loops.SIGMOID, 0.0, z_out.ravel(), y_out.ravel()),
        "np.exp of the same (NumPy, SIMD)": lambda: np.exp(z_out, out=y_out),
    }
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
