"""Where the time of Conv2D and ConvTranspose2D forward + backward goes (cases d and e).

py-spy stops at the edge of a Numba kernel and at the BLAS call, so this
profile times the parts of each layer's step one by one, with the shapes of
``bench_conv.py``: the unfolding kernels (im2col, col2im), the layout copies
between images and GEMM rows, and the three matrix products alone, with one
BLAS thread and with two; then the whole layer step and PyTorch's whole
step, each on one thread and on two. The 3x3 layers also with the opt-in
``algorithm="winograd"``: its four tile transforms and its 48 small
products (16 transform entries, three products each) instead. Median milliseconds per call, in
turns of 3 calls after 0.12 s idle (spinning BLAS and OpenMP threads of
the previous turn slowed PyTorch's two-thread step up to 5 x at 0.05 s). Writes
``benchmarks/results/profile_conv.json`` and ``.md``.

``--cases TEXT ...`` keeps only the cases whose label contains one of the texts.

    python benchmarks/profile_conv.py [--repeats 7] [--cases TEXT ...]
"""

import argparse

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks_common import environment, median_time, selected, write_results
from npae.kernels import im2col as kernels
from npae.layers import Conv2D, ConvTranspose2D
from npae.layers.conv import (
    _as_convolution,
    _entry_matrices,
    _images_to_rows,
    _rows_to_images,
    _times_transpose,
    _winograd_tile_counts,
    _winograd_weights,
)

# (label, layer factory, torch factory, input shape); the products are named as in conv.py
CASES = [
    ("Conv2D 16->32 3x3 p1", lambda dt: Conv2D(16, 32, 3, padding=1, dtype=dt),
     lambda nn: nn.Conv2d(16, 32, 3, padding=1), (64, 16, 14, 14)),
    ("ConvT 32->16 3x3 p1", lambda dt: ConvTranspose2D(32, 16, 3, padding=1, dtype=dt),
     lambda nn: nn.ConvTranspose2d(32, 16, 3, padding=1), (64, 32, 14, 14)),
    ("ConvT 16->1 3x3 p1", lambda dt: ConvTranspose2D(16, 1, 3, padding=1, dtype=dt),
     lambda nn: nn.ConvTranspose2d(16, 1, 3, padding=1), (64, 16, 28, 28)),
    ("ConvT 32->16 2x2 s2", lambda dt: ConvTranspose2D(32, 16, 2, stride=2, dtype=dt),
     lambda nn: nn.ConvTranspose2d(32, 16, 2, stride=2), (64, 32, 14, 14)),
    ("Conv2D 16->32 3x3 p1 winograd",
     lambda dt: Conv2D(16, 32, 3, padding=1, dtype=dt, algorithm="winograd"),
     lambda nn: nn.Conv2d(16, 32, 3, padding=1), (64, 16, 14, 14)),
    ("ConvT 32->16 3x3 p1 winograd",
     lambda dt: ConvTranspose2D(32, 16, 3, padding=1, dtype=dt, algorithm="winograd"),
     lambda nn: nn.ConvTranspose2d(32, 16, 3, padding=1), (64, 32, 14, 14)),
]


def winograd_parts(layer, x, g):
    """Callables for the parts of a Winograd step: four transforms, 48 small products."""
    W, padding = layer.params["W"], layer.padding
    if isinstance(layer, ConvTranspose2D):  # the stride-1 Conv2D it equals
        W, padding = _as_convolution(W), layer._flipped_padding()
    U, n = _winograd_weights(W), x.shape[0]
    th, tw = _winograd_tile_counts(g.shape[2:])
    V = kernels.winograd_tiles(x, *padding, _entry_matrices(W.shape[1], n * th * tw, x.dtype))
    M = U @ V
    dM = kernels.winograd_outputs_adjoint(g, _entry_matrices(W.shape[0], V.shape[2], x.dtype))
    dV = U.transpose(0, 2, 1) @ dM
    b = layer.params["b"]

    def step():
        layer.forward(x)
        layer.backward(g)

    return {
        "tiles(x)": lambda: kernels.winograd_tiles(
            x, *padding, _entry_matrices(W.shape[1], V.shape[2], x.dtype)),
        "outputs(M)": lambda: kernels.winograd_outputs(M, b, n, *g.shape[2:]),
        "outputs_adjoint(g)": lambda: kernels.winograd_outputs_adjoint(
            g, _entry_matrices(W.shape[0], V.shape[2], x.dtype)),
        "tiles_adjoint(U^T dM)": lambda: kernels.winograd_tiles_adjoint(
            dV, n, *x.shape[2:], *padding),
        "48 small products": lambda: (U @ V, dM @ V.transpose(0, 2, 1), U.transpose(0, 2, 1) @ dM),
        "whole layer step": step}


def parts(layer, x, g):
    """Callables for each part of the layer's forward + backward, and the whole step."""
    if layer.algorithm == "winograd":
        return winograd_parts(layer, x, g)
    W2 = layer.params["W"].reshape(layer.params["W"].shape[0], -1)
    kh, kw = layer.kernel_size
    geometry = (kh, kw, *layer.stride, *layer.padding)
    if isinstance(layer, Conv2D):  # x is unfolded, g taken as rows
        cols, rows = kernels.im2col(x, *geometry), _images_to_rows(g)
        products = lambda: (W2 @ cols, _times_transpose(rows, cols), W2.T @ rows)  # noqa: E731
        d_cols = W2.T @ rows
        unfold = {"im2col(x)": lambda: kernels.im2col(x, *geometry),
                  "col2im(W2^T g)": lambda: kernels.col2im(d_cols, *x.shape[2:], *geometry)}
        as_rows = g  # the images that become rows (and the shape that rows return to)
    else:  # x taken as rows, g is unfolded
        cols, rows = kernels.im2col(g, *geometry), _images_to_rows(x)
        products = lambda: (W2.T @ rows, W2 @ cols, _times_transpose(rows, cols))  # noqa: E731
        y_cols = W2.T @ rows
        unfold = {"col2im(W2^T x)": lambda: kernels.col2im(y_cols, *g.shape[2:], *geometry),
                  "im2col(g)": lambda: kernels.im2col(g, *geometry)}
        as_rows = x
    out_rows = W2 @ cols
    copies = {"layout copies (images <-> rows)": lambda: (
        _images_to_rows(as_rows), _rows_to_images(out_rows, x.shape[0], as_rows.shape[2:]))}

    def step():
        layer.forward(x)
        layer.backward(g)

    return {**unfold, **copies, "3 matrix products": products, "whole layer step": step}


def torch_step(make, x, g):
    import torch

    module = make(torch.nn).to(torch.float32 if x.dtype == np.float32 else torch.float64)
    tx = torch.from_numpy(x).requires_grad_()
    tg = torch.from_numpy(g)

    def step():
        tx.grad = None
        module(tx).backward(tg)

    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cases", nargs="+", default=None,
                        help="only the cases whose label contains one of these texts")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    rows = []
    for label, make, make_torch, shape in selected(CASES, args.cases):
        for dtype in ("float32", "float64"):
            layer = make(dtype)
            x = rng.normal(size=shape).astype(dtype)
            g = rng.normal(size=(shape[0], *layer.output_shape(shape[1:]))).astype(dtype)
            runners = parts(layer, x, g)
            if torch is not None:
                runners["torch whole step"] = torch_step(make_torch, x, g)
            for threads in (2, 1):
                if torch is not None:
                    torch.set_num_threads(threads)
                with threadpool_limits(threads):
                    times = median_time(runners, args.repeats, warmup=2, gap=0.12, block=3)
                rows += [{"case": label, "dtype": dtype, "threads": threads, "part": part,
                          "ms": seconds * 1e3} for part, seconds in times.items()]
        if torch is not None:
            torch.set_num_threads(2)
    write_results("profile_conv", rows, environment(skipped=[] if torch else ["torch"]))


if __name__ == "__main__":
    main()
