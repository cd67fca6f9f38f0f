"""Time the convolutional layers, forward + backward, Numba vs NumPy twin vs PyTorch.

Cases: Conv2D 3x3 pad 1 (64,1,28,28)->16 and (64,16,14,14)->32 channels;
ConvTranspose2D as their adjoints and as a 2x2 stride-2 upsampler; the 3x3
layers also with the opt-in ``algorithm="winograd"`` (rows "... winograd");
MaxPool2D 2x2, AvgPool2D 2x2 and Upsample2D x2 (nearest, bilinear) on the
conv outputs (64,16,28,28) and (64,32,14,14); each in float32 and float64.
The contenders take turns in one process, 5 calls a turn after 0.1 s of
idling (so that neither PyTorch's OpenMP threads nor OpenBLAS's, still
spinning from the previous turn, take the cores from the next contender),
and the medians after warm-up are reported, with ratios to PyTorch CPU when
``import torch`` works. The cold Numba compile time (an empty cache, in a
fresh process) and the cached first-call time are measured too. Writes
``benchmarks/results/conv.json`` (and ``conv.md``) and prints a Markdown
table. ``--threads N`` limits both BLAS (through threadpoolctl) and
PyTorch to N threads; on a busy machine
``--threads 1 --clock cpu`` (CPU time of this process instead of wall time)
gives the steadiest comparison.

``--cases TEXT ...`` keeps only the cases whose label contains one of the
texts (e.g. ``--cases "Conv2D 16->32 3x3 p1" "ConvT 32->16 3x3 p1"``, which
also keeps their winograd rows unless ``--exact`` is given), and
``--skip-compile`` leaves out the compile-time measurement: for a quick
look at a few cases.

    python benchmarks/bench_conv.py [--repeats 12] [--threads N] [--clock wall|cpu]
                                    [--cases TEXT ...] [--exact] [--skip-compile]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from bench_dense import set_threads

from benchmarks_common import environment, median_time, pause, selected, write_results
from npae.layers import AvgPool2D, Conv2D, ConvTranspose2D, MaxPool2D, Upsample2D

# (label, layer factory(**common), torch factory or None, input shape)
CASES = [
    ("Conv2D 1->16 3x3 p1", lambda **kw: Conv2D(1, 16, 3, padding=1, **kw),
     lambda nn: nn.Conv2d(1, 16, 3, padding=1), (64, 1, 28, 28)),
    ("Conv2D 16->32 3x3 p1", lambda **kw: Conv2D(16, 32, 3, padding=1, **kw),
     lambda nn: nn.Conv2d(16, 32, 3, padding=1), (64, 16, 14, 14)),
    ("ConvT 16->1 3x3 p1", lambda **kw: ConvTranspose2D(16, 1, 3, padding=1, **kw),
     lambda nn: nn.ConvTranspose2d(16, 1, 3, padding=1), (64, 16, 28, 28)),
    ("ConvT 32->16 3x3 p1", lambda **kw: ConvTranspose2D(32, 16, 3, padding=1, **kw),
     lambda nn: nn.ConvTranspose2d(32, 16, 3, padding=1), (64, 32, 14, 14)),
    ("ConvT 32->16 2x2 s2", lambda **kw: ConvTranspose2D(32, 16, 2, stride=2, **kw),
     lambda nn: nn.ConvTranspose2d(32, 16, 2, stride=2), (64, 32, 14, 14)),
    ("Conv2D 1->16 3x3 p1 winograd",
     lambda **kw: Conv2D(1, 16, 3, padding=1, algorithm="winograd", **kw),
     lambda nn: nn.Conv2d(1, 16, 3, padding=1), (64, 1, 28, 28)),
    ("Conv2D 16->32 3x3 p1 winograd",
     lambda **kw: Conv2D(16, 32, 3, padding=1, algorithm="winograd", **kw),
     lambda nn: nn.Conv2d(16, 32, 3, padding=1), (64, 16, 14, 14)),
    ("ConvT 16->1 3x3 p1 winograd",
     lambda **kw: ConvTranspose2D(16, 1, 3, padding=1, algorithm="winograd", **kw),
     lambda nn: nn.ConvTranspose2d(16, 1, 3, padding=1), (64, 16, 28, 28)),
    ("ConvT 32->16 3x3 p1 winograd",
     lambda **kw: ConvTranspose2D(32, 16, 3, padding=1, algorithm="winograd", **kw),
     lambda nn: nn.ConvTranspose2d(32, 16, 3, padding=1), (64, 32, 14, 14)),
    ("MaxPool2D 2x2", lambda **kw: MaxPool2D(2, **kw),
     lambda nn: nn.MaxPool2d(2), (64, 16, 28, 28)),
    ("MaxPool2D 2x2", lambda **kw: MaxPool2D(2, **kw),
     lambda nn: nn.MaxPool2d(2), (64, 32, 14, 14)),
    ("AvgPool2D 2x2", lambda **kw: AvgPool2D(2, **kw),
     lambda nn: nn.AvgPool2d(2), (64, 16, 28, 28)),
    ("Upsample2D x2 nearest", lambda **kw: Upsample2D(2, **kw),
     lambda nn: nn.Upsample(scale_factor=2), (64, 16, 28, 28)),
    ("Upsample2D x2 nearest", lambda **kw: Upsample2D(2, **kw),
     lambda nn: nn.Upsample(scale_factor=2), (64, 32, 14, 14)),
    ("Upsample2D x2 bilinear", lambda **kw: Upsample2D(2, "bilinear", **kw),
     lambda nn: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
     (64, 16, 28, 28)),
]

# Calls every kernel in both dtypes; run in a fresh process to time compilation.
# Prints the import time, then the wall and CPU seconds of the first calls.
COMPILE_SCRIPT = """
import time
start = time.perf_counter()
import numpy as np
from npae.layers import AvgPool2D, Conv2D, ConvTranspose2D, MaxPool2D, Upsample2D
imported, cpu = time.perf_counter(), time.process_time()
for dtype in ("float64", "float32"):
    x = np.ones((2, 2, 6, 6), dtype)
    for layer in (Conv2D(2, 2, 3, dtype=dtype), ConvTranspose2D(2, 2, 3, dtype=dtype),
                  Conv2D(2, 2, 3, dtype=dtype, algorithm="winograd"),
                  MaxPool2D(dtype=dtype), AvgPool2D(dtype=dtype), Upsample2D(dtype=dtype),
                  Upsample2D(mode="bilinear", dtype=dtype)):
        layer.backward(np.ones_like(layer.forward(x)))
print(imported - start, time.perf_counter() - imported, time.process_time() - cpu)
"""


def npae_step(make, shape, dtype, backend, rng):
    layer = make(dtype=dtype, rng=0, backend=backend)
    x = rng.normal(size=shape).astype(dtype)
    g = rng.normal(size=(shape[0], *layer.output_shape(shape[1:]))).astype(dtype)

    def step():
        layer.forward(x)
        layer.backward(g)

    return step


def torch_step(make, shape, dtype, rng):
    import torch

    module = make(torch.nn).to(torch.float32 if dtype == "float32" else torch.float64)
    x = torch.from_numpy(rng.normal(size=shape).astype(dtype)).requires_grad_()
    g = torch.from_numpy(rng.normal(size=tuple(module(x).shape)).astype(dtype))

    def step():
        x.grad = None
        module(x).backward(g)

    return step


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def compile_times():
    """Seconds to import, and to first call every kernel in both dtypes.

    Two fresh processes share an empty Numba cache: the first compiles
    (cold), the second loads from the cache. Wall and CPU time of each.
    """
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        runs = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", COMPILE_SCRIPT], env=env, check=True,
                                 capture_output=True, text=True).stdout.split()
            runs.append([float(v) for v in out])
    (import_s, cold_wall, cold_cpu), (_, cached_wall, cached_cpu) = runs
    return {"import_s": import_s, "cold_compile_wall_s": cold_wall,
            "cold_compile_cpu_s": cold_cpu, "cached_first_calls_wall_s": cached_wall,
            "cached_first_calls_cpu_s": cached_cpu}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=12,
                        help="turns of 5 calls per contender (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS and PyTorch threads (default: leave as they are)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall time, or CPU time of this process (with --threads 1)")
    parser.add_argument("--cases", nargs="+", default=None,
                        help="only the cases whose label contains one of these texts")
    parser.add_argument("--exact", action="store_true",
                        help="with --cases: only the cases whose label is one of the texts")
    parser.add_argument("--skip-compile", action="store_true",
                        help="do not measure the Numba compile and first-call times")
    args = parser.parse_args()
    try:
        import torch  # noqa: F401  (only: is it there?)
    except ImportError:
        have_torch = False
    else:
        have_torch = True
    cases = selected(CASES, args.cases, args.exact)
    set_threads(args.threads)
    compile_s = None if args.skip_compile else compile_times()
    print("first calls of every kernel in both dtypes, seconds:", compile_s, flush=True)
    rng = np.random.default_rng(0)
    rows = []
    for label, make, make_torch, shape in cases:
        for dtype in ("float32", "float64"):
            runners = {backend: npae_step(make, shape, dtype, backend, rng)
                       for backend in ("numba", "numpy")}
            if have_torch:
                runners["torch"] = torch_step(make_torch, shape, dtype, rng)
            times = median_time(runners, args.repeats, warmup=3, clock=CLOCKS[args.clock],
                                gap=0.1, block=5)
            pause()
            row = {"case": label, "input": "x".join(map(str, shape)), "dtype": dtype,
                   **{f"{k}_ms": v * 1e3 for k, v in times.items()}}
            if have_torch:
                row["numba_x_torch"] = times["numba"] / times["torch"]
                row["numpy_x_torch"] = times["numpy"] / times["torch"]
            rows.append(row)
            print(row, flush=True)
    env = environment(skipped=[] if have_torch else ["torch"])
    env["threads_option"] = args.threads
    env["clock"] = args.clock
    env["numba_compile"] = compile_s
    write_results("conv", rows, env)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"done in {time.perf_counter() - start:.1f} s")
