"""Time one dense autoencoder training step (forward + backward + Adam).

Cases: 784-256-64-256-784 at batch 128 and 64-32-8-32-64 at batch 64, in
float32 and float64, ReLU hidden layers and a sigmoid output, MSE loss.
Contenders take turns in one process: npae (``Sequential`` + ``Adam``, the
parameter gradients only, as PyTorch computes them), PyTorch CPU and
numpy-ml (the pure-NumPy peer, float64 only: it keeps float64 weights) when
they are installed, and the same matrix products alone (the BLAS limit of
the step). A turn is a block of consecutive steps (10 of the large network,
100 of the small one), as training runs them, after a pause that lets the
previous contender's threads stop spinning (``time_in_turns``); the result
is the median over the turns, per step, after a warm-up turn. Writes
``benchmarks/results/dense.json`` and ``dense.md`` and prints the table.

    python benchmarks/bench_dense.py [--repeats 15] [--threads N] [--quick]
"""

import argparse
import statistics
import time

import numpy as np

from benchmarks_common import environment, import_numpy_ml, write_results
from npae.layers import Dense, ReLU, Sigmoid
from npae.losses import mean_squared_error
from npae.network import Sequential
from npae.optim import Adam

# (layer widths, batch size, steps per timed turn)
CASES = [((784, 256, 64, 256, 784), 128, 10), ((64, 32, 8, 32, 64), 64, 100)]


def npae_step(sizes, batch, dtype, rng, parts=False):
    """One training step as a function; with ``parts``, also the network, optimizer and batch."""
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
        net.backward(grad, input_grad=False)
        opt.step()

    return (step, net, opt, x) if parts else step


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


def numpy_ml_step(sizes, batch, dtype, rng, numpy_ml):
    FullyConnected, NumpyMLAdam = numpy_ml.layers.FullyConnected, numpy_ml.optimizers.Adam
    layers = [FullyConnected(b, act_fn="ReLU" if i < len(sizes) - 2 else "Sigmoid",
                             optimizer=NumpyMLAdam(lr=1e-3))
              for i, b in enumerate(sizes[1:])]
    x = rng.uniform(size=(batch, sizes[0])).astype(dtype)

    def step():
        y = x
        for layer in layers:
            y = layer.forward(y)
        grad = 2 * (y - x) / y.size
        for layer in reversed(layers):
            grad = layer.backward(grad)
        for layer in layers:
            layer.update()

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


def time_in_turns(runners, repeats, block=1, warmup=1, gap=0.15, clock=time.perf_counter):
    """Median seconds per call of each ``runners[name]()``, in turns of ``block`` calls.

    ``clock`` is wall time by default; ``time.process_time`` (the process's
    CPU time) is steadier on a loaded machine with one thread per contender.

    Before each turn the process idles ``gap`` seconds: OpenBLAS's threads
    spin for about 0.1 s after a product and PyTorch's OpenMP threads after
    an operation, so without the pause each contender would run on cores its
    rival still holds (``benchmarks_common.median_time`` has no pause; it
    suits single-threaded runs). The blocks time steps back to back, with
    their own data in cache, as training runs them.
    """
    samples = {name: [] for name in runners}
    for turn in range(warmup + repeats):
        for name, fn in runners.items():
            time.sleep(gap)
            start = clock()
            for _ in range(block):
                fn()
            if turn >= warmup:
                samples[name].append((clock() - start) / block)
    return {name: statistics.median(values) for name, values in samples.items()}


def set_threads(threads):
    """Limit BLAS (threadpoolctl) and PyTorch to ``threads``; None leaves them alone."""
    if threads is None:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed turns per contender")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS and PyTorch threads (default: leave as they are)")
    parser.add_argument("--quick", action="store_true", help="2 short turns: a smoke run")
    args = parser.parse_args()
    set_threads(args.threads)
    try:
        import torch  # noqa: F401  (only: is it there?)
    except ImportError:
        have_torch = False
    else:
        have_torch = True
    numpy_ml = import_numpy_ml()
    rng = np.random.default_rng(0)
    rows = []
    for sizes, batch, block in CASES:
        for dtype in ("float32", "float64"):
            steps = {"npae": npae_step(sizes, batch, dtype, rng),
                     "gemm": gemm_step(sizes, batch, dtype, rng)}
            if have_torch:
                steps["torch"] = torch_step(sizes, batch, dtype, rng)
            if numpy_ml is not None and dtype == "float64":
                steps["numpy_ml"] = numpy_ml_step(sizes, batch, dtype, rng, numpy_ml)
            times = (time_in_turns(steps, repeats=2, block=2, gap=0.01) if args.quick
                     else time_in_turns(steps, repeats=args.repeats, block=block))
            row = {"case": "-".join(map(str, sizes)), "batch": batch, "dtype": dtype,
                   **{f"{k}_ms": times[k] * 1e3 if k in times else "n/a"
                      for k in ("npae", "torch", "numpy_ml", "gemm")},
                   "npae_gflops": gemm_flops(sizes, batch) / times["npae"] / 1e9,
                   "gemm_gflops": gemm_flops(sizes, batch) / times["gemm"] / 1e9,
                   "npae_steps_per_s": 1 / times["npae"],
                   "ratio_to_gemm": times["npae"] / times["gemm"]}
            row["ratio_to_torch"] = times["npae"] / times["torch"] if have_torch else "n/a"
            row["ratio_to_numpy_ml"] = (times["npae"] / times["numpy_ml"]
                                        if "numpy_ml" in times else "n/a")
            rows.append(row)
            print(row, flush=True)
    skipped = [] if have_torch else ["torch"]
    skipped += ["numpy-ml (not installed)" if numpy_ml is None else "numpy-ml float32 (it "
                "computes in float64)"]
    env = environment(skipped=skipped)
    env["threads_option"] = args.threads
    env["protocol"] = ("median over turns of the per-step time of a block of consecutive "
                       "steps, after a warm-up turn, 0.15 s idle before each turn")
    env["turns"] = {"repeats": 2 if args.quick else args.repeats,
                    "steps_per_turn": {"-".join(map(str, s)): 2 if args.quick else block
                                       for s, _, block in CASES}}
    write_results("dense", rows, env)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"done in {time.perf_counter() - start:.1f} s")
