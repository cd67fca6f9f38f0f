"""Time npae's conv and pooling layers against numpy-ml, the closest pure-NumPy peer.

Cases (float64, forward + backward, the shapes of ``bench_conv.py``):
Conv2D 3x3 pad 1 (64,1,28,28)->16 and (64,16,14,14)->32, MaxPool2D 2x2
on (64,16,28,28) and (64,32,14,14), AvgPool2D 2x2 on (64,16,28,28).
numpy-ml 0.1.2 takes NHWC batches and computes in float64, so it gets the
same data transposed and only float64 is compared; it does not import on
Python 3.10+ (``collections.Hashable``), so the alias is patched here, in
this process only. Its pooling takes seconds a call, so the pooling cases
get one warm-up call and 3 timed calls per contender, the convolutions 15
(medians); npae runs first, then numpy-ml. The dense peer comparison is
in ``bench_dense.py``. Without numpy-ml the rows say so. Writes
``benchmarks/results/numpy_ml.json`` and ``.md``.

    python benchmarks/bench_numpy_ml.py [--repeats 3]  (turns of the pooling cases)
"""

import argparse

import numpy as np

from benchmarks_common import environment, import_numpy_ml, median_time, write_results
from npae.layers import AvgPool2D, Conv2D, MaxPool2D

# (label, npae layer, numpy-ml layer from its layers module, NCHW input shape)
CASES = [
    ("Conv2D 1->16 3x3 p1", lambda: Conv2D(1, 16, 3, padding=1),
     lambda nm: nm.Conv2D(16, (3, 3), pad=1, stride=1), (64, 1, 28, 28)),
    ("Conv2D 16->32 3x3 p1", lambda: Conv2D(16, 32, 3, padding=1),
     lambda nm: nm.Conv2D(32, (3, 3), pad=1, stride=1), (64, 16, 14, 14)),
    ("MaxPool2D 2x2", lambda: MaxPool2D(2), lambda nm: nm.Pool2D((2, 2), stride=2),
     (64, 16, 28, 28)),
    ("MaxPool2D 2x2", lambda: MaxPool2D(2), lambda nm: nm.Pool2D((2, 2), stride=2),
     (64, 32, 14, 14)),
    ("AvgPool2D 2x2", lambda: AvgPool2D(2),
     lambda nm: nm.Pool2D((2, 2), stride=2, mode="average"), (64, 16, 28, 28)),
]


def forward_backward(layer, x, g, **kwargs):
    def step():
        layer.forward(x, **kwargs)
        layer.backward(g)

    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    neural_nets = import_numpy_ml()
    numpy_ml = neural_nets.layers if neural_nets else None
    rng = np.random.default_rng(0)
    rows = []
    for label, make, make_peer, shape in CASES:
        layer = make()
        x = rng.normal(size=shape)
        g = rng.normal(size=(shape[0], *layer.output_shape(shape[1:])))
        runners = {"npae": forward_backward(layer, x, g)}
        if numpy_ml is not None:  # NHWC
            runners["numpy_ml"] = forward_backward(make_peer(numpy_ml), x.transpose(0, 2, 3, 1),
                                                   g.transpose(0, 2, 3, 1))
        repeats = args.repeats if "Pool" in label else 5 * args.repeats
        # One contender after the other, not in turns: numpy-ml allocates and frees
        # hundreds of MB a call, after which npae's arrays page-faulted (3 x slower).
        times = {}
        for name, runner in runners.items():
            times.update(median_time({name: runner}, repeats=repeats, warmup=1, gap=0.1))
        row = {"case": label, "input": "x".join(map(str, shape)), "dtype": "float64",
               "npae_ms": times["npae"] * 1e3,
               "numpy_ml_ms": times["numpy_ml"] * 1e3 if numpy_ml else "not installed",
               "numpy_ml_x_npae": times["numpy_ml"] / times["npae"] if numpy_ml else "n/a"}
        rows.append(row)
        print(row, flush=True)
    env = environment(skipped=[] if numpy_ml else ["numpy-ml (not installed)"])
    write_results("numpy_ml", rows, env)


if __name__ == "__main__":
    main()
