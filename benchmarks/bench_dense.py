"""Time one dense autoencoder training step (forward + backward + Adam).

Cases: 784-256-64-256-784 at batch 128 and 64-32-8-32-64 at batch 64, in
float32 and float64; npae beside PyTorch CPU (when installed) in the same
process, taking turns, and beside the BLAS GEMM rate for the same matrix
products. Medians of repeated runs after warm-up. Writes
``benchmarks/results/dense.json`` and prints a Markdown table.

    python benchmarks/bench_dense.py [--repeats 200]
"""

import argparse
import os
import time

import numpy as np

from benchmarks_common import environment, median_time, pause, write_results
from npae.layers import Dense, ReLU, Sigmoid
from npae.losses import mean_squared_error
from npae.network import Sequential
from npae.optim import Adam

CASES = [((784, 256, 64, 256, 784), 128), ((64, 32, 8, 32, 64), 64)]


def npae_step(sizes, batch, dtype, rng):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Dense(a, b, dtype=dtype, rng=rng))
        layers.append(ReLU(dtype=dtype) if i < len(sizes) - 2 else Sigmoid(dtype=dtype))
    net = Sequential(layers)
    opt = Adam(net.params(), net.grads(), lr=1e-3)
    x = rng.uniform(size=(batch, sizes[0])).astype(dtype)

    def step():
        net.zero_grad()
        loss, grad = mean_squared_error(net.forward(x), x)
        net.backward(grad)
        opt.step()

    return step


def torch_step(sizes, batch, dtype, rng):
    import torch

    tdtype = torch.float32 if dtype == "float32" else torch.float64
    mods = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods.append(torch.nn.Linear(a, b, dtype=tdtype))
        mods.append(torch.nn.ReLU() if i < len(sizes) - 2 else torch.nn.Sigmoid())
    net = torch.nn.Sequential(*mods)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.from_numpy(rng.uniform(size=(batch, sizes[0])).astype(dtype))

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x), x)
        loss.backward()
        opt.step()

    return step


def gemm_flops(sizes, batch):
    """FLOPs of the step's matrix products: 3 GEMMs (fwd, dx, dW) per layer."""
    return sum(3 * 2 * batch * a * b for a, b in zip(sizes[:-1], sizes[1:]))


def gemm_step(sizes, batch, dtype, rng):
    """The same matrix products alone: the BLAS limit of this step."""
    mats = [(rng.uniform(size=(batch, a)).astype(dtype), rng.uniform(size=(a, b)).astype(dtype),
             rng.uniform(size=(batch, b)).astype(dtype)) for a, b in zip(sizes[:-1], sizes[1:])]

    def step():
        for x, W, g in mats:
            x @ W
            g @ W.T
            x.T @ g

    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()
    try:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        have_torch = True
    except ImportError:
        have_torch = False
    rng = np.random.default_rng(0)
    rows = []
    for sizes, batch in CASES:
        for dtype in ("float32", "float64"):
            runners = {"npae": npae_step(sizes, batch, dtype, rng),
                       "gemm": gemm_step(sizes, batch, dtype, rng)}
            if have_torch:
                runners["torch"] = torch_step(sizes, batch, dtype, rng)
            times = median_time(runners, repeats=args.repeats)
            pause()
            row = {"case": "-".join(map(str, sizes)), "batch": batch, "dtype": dtype,
                   **{f"{k}_ms": v * 1e3 for k, v in times.items()},
                   "npae_gflops": gemm_flops(sizes, batch) / times["npae"] / 1e9,
                   "gemm_gflops": gemm_flops(sizes, batch) / times["gemm"] / 1e9,
                   "npae_steps_per_s": 1 / times["npae"]}
            if have_torch:
                row["ratio_to_torch"] = times["npae"] / times["torch"]
            rows.append(row)
            print(row, flush=True)
    write_results("dense", rows, environment(skipped=[] if have_torch else ["torch"]))


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"done in {time.perf_counter() - start:.1f} s")
