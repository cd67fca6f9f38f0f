"""Time one U-Net training step, and train U-Nets on the synthetic shapes.

Step: forward, binary cross-entropy from logits, backward and Adam on a
batch of (16, 1, 64, 64) images, ``UNet(depth=2, base_channels=8,
padding=1, up="transposed")``, in float32 and float64; npae beside the same
network in PyTorch CPU (when installed) in the same process, taking turns.
npae runs twice: as built (every convolution by im2col) and with its 3x3
convolutions by Winograd (``conv_algorithm="winograd"``, "npae_winograd").
Medians of repeated runs after warm-up.

Training (``--train``): ``npae.datasets.make_shapes`` images of 32 x 32,
held-out mean IoU and wall time for a binary mask (noise 0.1, the default,
and 0.3) and for the 3 shape classes, with the IoU of the best global
threshold of the pixel values beside the binary ones.

Writes ``benchmarks/results/unet.json`` and ``unet.md`` (steps) and, with
``--train``, ``unet_train.json`` and ``unet_train.md``; prints the tables.

    python benchmarks/bench_unet.py [--repeats 30] [--train] [--threads 1 2]
"""

import argparse
import os
import time

import numpy as np
from bench_realsize import UNET, twin_classes
from threadpoolctl import threadpool_limits

from benchmarks_common import environment, median_time, pause, write_results
from npae import UNet, iou_score
from npae.datasets import make_shapes, train_test_split

SHAPE = (16, 1, 64, 64)
ARCH = UNET


def npae_step(dtype, rng, algorithm="im2col"):
    """One training step of the U-Net, its 3x3 stride-1 convolutions run by ``algorithm``."""
    X = rng.random(SHAPE).astype(dtype)
    Y = (rng.random(SHAPE) > 0.5).astype(dtype)
    model = UNet(**ARCH, conv_algorithm=algorithm, random_state=0)
    X = model._initialize(X)
    optimizer = model._make_optimizer(model.network_)

    def step():
        model.network_.zero_grad()
        model._step(X, Y)
        optimizer.step()

    return step


def torch_step(dtype, rng):
    import torch
    from torch import nn

    tdtype = torch.float32 if dtype == "float32" else torch.float64
    # The twin bench_realsize checks against npae's UNet (the same ARCH) to 1e-6.
    _, TorchUNet = twin_classes()
    net = TorchUNet(tdtype)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    x = torch.from_numpy(rng.random(SHAPE).astype(dtype))
    y = torch.from_numpy((rng.random(SHAPE) > 0.5).astype(dtype))

    def step():
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(net(x), y)
        loss.backward()
        opt.step()

    return step


def step_rows(repeats, have_torch, threads):
    rng = np.random.default_rng(0)
    rows = []
    for dtype in ("float32", "float64"):
        runners = {"npae": npae_step(dtype, rng),
                   "npae_winograd": npae_step(dtype, rng, algorithm="winograd")}
        if have_torch:
            runners["torch"] = torch_step(dtype, rng)
        times = median_time(runners, repeats=repeats, warmup=3)
        pause()
        row = {"case": "U-Net step (16,1,64,64) depth 2 base 8", "dtype": dtype,
               "threads": threads,
               **{f"{k}_ms": v * 1e3 for k, v in times.items()},
               "npae_images_per_s": SHAPE[0] / times["npae"]}
        if have_torch:
            row["ratio_to_torch"] = times["npae"] / times["torch"]
            row["winograd_ratio_to_torch"] = times["npae_winograd"] / times["torch"]
        rows.append(row)
        print(row, flush=True)
    return rows


def best_threshold_iou(X, masks):
    return max(iou_score(masks, (X > t).astype(int)) for t in np.linspace(0.05, 0.95, 19))


def train_rows(threads):
    """Held-out IoU after training on 2,000 images of 32 x 32 (500 held out)."""
    rows = []
    cases = [("binary", 0.1, 1, 15), ("binary", 0.3, 1, 15), ("3 classes", 0.1, 4, 25)]
    for task, noise, out_channels, epochs in cases:
        X, masks, labels = make_shapes(2500, size=32, noise=noise, return_labels=True,
                                       random_state=0, dtype="float32")
        Y = masks if out_channels == 1 else labels
        X_train, X_test, Y_train, Y_test = train_test_split(X, Y, test_size=500, random_state=0)
        start = time.perf_counter()
        model = UNet(**ARCH, out_channels=out_channels, epochs=epochs, random_state=0)
        model.fit(X_train, Y_train)
        seconds = time.perf_counter() - start
        row = {"case": f"shapes 32x32, {task}, noise {noise}", "threads": threads,
               "epochs": epochs,
               "train_s": seconds, "test_iou": model.score(X_test, Y_test),
               "train_iou": model.score(X_train, Y_train),
               "threshold_iou": best_threshold_iou(X_test, Y_test) if out_channels == 1 else ""}
        rows.append(row)
        print(row, flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--train", action="store_true", help="also train on the shapes")
    parser.add_argument("--threads", type=int, nargs="+", default=[os.cpu_count() or 1],
                        help="BLAS and PyTorch thread counts to time the step with "
                             "(default: one per core); training uses the first")
    args = parser.parse_args()
    try:
        import torch

        have_torch = True
    except ImportError:
        have_torch = False
    env = environment(skipped=[] if have_torch else ["torch"])
    rows = []
    for threads in args.threads:
        with threadpool_limits(threads, user_api="blas"):
            if have_torch:
                torch.set_num_threads(threads)
            rows += step_rows(args.repeats, have_torch, threads)
    write_results("unet", rows, env)
    if args.train:
        with threadpool_limits(args.threads[0], user_api="blas"):
            write_results("unet_train", train_rows(args.threads[0]), env)


if __name__ == "__main__":
    main()
