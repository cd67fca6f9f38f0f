"""Time one epoch of the models people train on MNIST-size images, through the public ``fit``.

Cases (issue 18), in float32, random data of the right shape:

- the deep autoencoder 784-1000-500-250-30 (Hinton and Salakhutdinov's
  sizes; ReLU, linear code and output, MSE) on 60,000 rows at batch 128;
- ``ConvAutoencoder()`` (channels 16, 32, code 16) on 10,000 images of
  1 x 28 x 28 at batch 64;
- the MLP ``VAE`` 784-400-20 (Bernoulli likelihood) on 60,000 rows at
  batch 64;
- ``UNet(depth=2, base_channels=8)`` on 1,000 images of 1 x 64 x 64 at
  batch 16, masks as targets.

Contenders take turns in one process, each run after a pause that lets the
previous one's threads stop spinning (``bench_dense.time_in_turns``):
``fit`` with ``epochs=1`` (a fresh model each run: validation, building,
the epoch and what ``fit`` does after it; for the two convolutional models
also with the opt-in ``conv_algorithm="auto"``, ``npae_fit_auto``), the same epoch as a bare step
loop over the same shuffled batches (``loop``: zero_grad, the model's
``_step`` and the optimizer; the difference to ``fit`` is what ``fit``
adds), and a PyTorch CPU twin: the same layers, the same starting weights
(copied from the npae model ``fit`` builds), Adam with the same learning
rate, the same batches in a shuffled order. Before timing, each twin's
output is checked equal to npae's within 1e-6 (float64 copies of both,
on 32 rows), so the two compute the same function.

Writes ``benchmarks/results/realsize.json`` and ``realsize.md``.

    python benchmarks/bench_realsize.py [--repeats 3] [--threads N] [--quick]
        [--only deep_ae conv_ae vae unet] [--cpu-time]
"""

import argparse
import time

import numpy as np
from bench_dense import set_threads, time_in_turns

from benchmarks_common import environment, pause, write_results
from npae import VAE, Autoencoder, ConvAutoencoder, UNet
from npae.layers import Dense

# name -> (rows, rows in a --quick run, batch size, issue 18's bound on npae's time / torch's)
CASES = {"deep_ae": (60_000, 512, 128, 0.8), "conv_ae": (10_000, 256, 64, 1.2),
         "vae": (60_000, 512, 64, 0.8), "unet": (1_000, 32, 16, 1.0)}
UNET = dict(depth=2, base_channels=8, kernel_size=3, padding=1, up="transposed")


#: The cases whose convolutions also run with ``conv_algorithm="auto"``.
CONV_CASES = ("conv_ae", "unet")


def make_model(name, dtype, epochs=1, conv_algorithm=None):
    batch = CASES[name][2]
    common = dict(epochs=epochs, batch_size=batch, dtype=dtype, random_state=0)
    if conv_algorithm is not None:
        common["conv_algorithm"] = conv_algorithm
    if name == "deep_ae":
        return Autoencoder(hidden_sizes=(1000, 500, 250), code_size=30, **common)
    if name == "conv_ae":
        return ConvAutoencoder(**common)
    if name == "vae":
        return VAE(hidden_sizes=(400,), latent_dim=20, **common)
    return UNet(**UNET, learning_rate=1e-3, **common)


def make_data(name, n, dtype, seed=0):
    """Inputs in [0, 1] and targets (the inputs, or U-Net masks)."""
    rng = np.random.default_rng(seed)
    shape = {"deep_ae": (784,), "vae": (784,), "conv_ae": (1, 28, 28), "unet": (1, 64, 64)}
    X = rng.random((n, *shape[name])).astype(dtype)
    Y = (rng.random(X.shape) > 0.5).astype(dtype) if name == "unet" else None
    return X, Y


# -- the PyTorch twins --------------------------------------------------------------------
def torch_twin(name, model):
    """The torch network of ``model`` (an initialized npae model), its weights copied.

    Returns ``(net, loss)``: ``loss(net, xb, yb)`` is the training loss of
    the batch as npae defines it.
    """
    import torch
    from torch import nn

    tdtype = torch.float32 if model.dtype_ == np.float32 else torch.float64
    VAETwin, TorchUNet = twin_classes()
    if name == "unet":
        net = TorchUNet(tdtype)
        modules = net.in_npae_order()
    else:
        modules, net = [], []
        for layer in model.network_.layers:
            module = _torch_layer(layer, tdtype)
            if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                modules.append(module)
            net.append(module)
        if name == "vae":
            n_encoder = len(model.encoder_.layers)
            net = VAETwin(nn.Sequential(*net[:n_encoder]), nn.Sequential(*net[n_encoder:]))
        else:
            net = nn.Sequential(*net)
    layers = [layer for layer in model.network_.layers if layer.params]
    with torch.no_grad():
        for layer, module in zip(layers, modules, strict=True):
            W = layer.params["W"].T if isinstance(layer, Dense) else layer.params["W"]
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(W)))
            module.bias.copy_(torch.from_numpy(layer.params["b"]))
    losses = {"deep_ae": lambda net, x, y: nn.functional.mse_loss(net(x), x),
              "conv_ae": lambda net, x, y: nn.functional.mse_loss(net(x), x),
              "vae": lambda net, x, y: net.loss(x),
              "unet": lambda net, x, y: nn.functional.binary_cross_entropy_with_logits(net(x),
                                                                                       y)}
    return net, losses[name]


def _torch_layer(layer, tdtype):
    """The torch module computing what the npae ``layer`` computes."""
    from torch import nn

    kind = type(layer).__name__
    if kind == "Dense":
        return nn.Linear(layer.in_features, layer.out_features, dtype=tdtype)
    if kind == "Conv2D":
        return nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                         layer.stride, layer.padding, dtype=tdtype)
    if kind == "ConvTranspose2D":
        return nn.ConvTranspose2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                                  layer.stride, layer.padding, layer.output_padding,
                                  dtype=tdtype)
    if kind == "MaxPool2D":
        if any(layer.padding):
            raise ValueError("the twins cover even image sizes only")
        return nn.MaxPool2d(layer.kernel_size, layer.stride)
    if kind == "Upsample2D":
        return nn.Upsample(scale_factor=tuple(map(float, layer.scale)), mode=layer.mode)
    if kind == "Flatten":
        return nn.Flatten()
    if kind == "Reshape":
        return nn.Unflatten(1, tuple(layer.shape))
    return {"ReLU": nn.ReLU, "Sigmoid": nn.Sigmoid, "Identity": nn.Identity}[kind]()


def twin_classes():
    """``(VAETwin, TorchUNet)``, defined on first use (torch is optional)."""
    global _CLASSES
    if _CLASSES is None:
        _CLASSES = _define_twin_classes()
    return _CLASSES


_CLASSES = None


def _define_twin_classes():
    import torch
    from torch import nn

    class VAETwin(nn.Module):
        """The MLP VAE: encoder to (mu, log var), z = mu + exp(log var / 2) eps, decoder logits."""

        def __init__(self, encoder, decoder):
            super().__init__()
            self.encoder, self.decoder = encoder, decoder

        def forward(self, x):
            mu, _ = self.encoder(x).chunk(2, dim=1)
            return self.decoder(mu)

        def loss(self, x):
            mu, logvar = self.encoder(x).chunk(2, dim=1)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            nll = nn.functional.binary_cross_entropy_with_logits(self.decoder(z), x,
                                                                 reduction="sum")
            kl = 0.5 * torch.sum(mu * mu + logvar.exp() - 1 - logvar)
            return (nll + kl) / x.shape[0]

    class TorchUNet(nn.Module):
        """``UNet(depth=2, base_channels=8, padding=1, up="transposed")`` in PyTorch."""

        def __init__(self, tdtype):
            super().__init__()
            base = UNET["base_channels"]

            def block(c_in, c_out):
                return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, dtype=tdtype),
                                     nn.ReLU(),
                                     nn.Conv2d(c_out, c_out, 3, padding=1, dtype=tdtype),
                                     nn.ReLU())

            self.enc = nn.ModuleList([block(1, base), block(base, 2 * base),
                                      block(2 * base, 4 * base)])
            self.ups = nn.ModuleList([nn.ConvTranspose2d(2 * base, base, 2, 2, dtype=tdtype),
                                      nn.ConvTranspose2d(4 * base, 2 * base, 2, 2,
                                                         dtype=tdtype)])
            self.dec = nn.ModuleList([block(2 * base, base), block(4 * base, 2 * base)])
            self.head = nn.Conv2d(base, 1, 1, dtype=tdtype)

        def forward(self, x):
            skips = []
            for d in range(2):
                x = self.enc[d](x)
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
            x = self.enc[2](x)
            for d in (1, 0):
                x = self.dec[d](torch.cat([self.ups[d](x), skips[d]], dim=1))
            return self.head(x)

        def in_npae_order(self):
            """Modules with weights in the order of ``UNetNetwork.layers``."""
            convs = [block[i] for block in self.enc for i in (0, 2)]
            for d in (1, 0):
                convs += [self.ups[d], self.dec[d][0], self.dec[d][2]]
            return [*convs, self.head]

    return VAETwin, TorchUNet


def check_twin(name):
    """Largest |npae - torch| of the outputs on 32 rows, both in float64 (must be <= 1e-6)."""
    import torch

    X, Y = make_data(name, 32, "float64", seed=1)
    model = make_model(name, "float64")
    model._initialize(X)
    net, _ = torch_twin(name, model)
    if name == "vae":
        ours = model.decoder_.forward(model.transform(X), training=False)
    elif name == "unet":
        ours = model.decision_function(X)
    else:
        ours = model.reconstruct(X)
    with torch.no_grad():
        theirs = net(torch.from_numpy(X)).numpy()
    error = float(np.max(np.abs(ours - theirs)))
    if not error <= 1e-6:
        raise AssertionError(f"{name}: the torch twin differs from npae by {error:.3g}")
    return error


# -- the contenders ------------------------------------------------------------------------
def npae_fit(name, X, Y, conv_algorithm=None):
    def fit():
        model = make_model(name, X.dtype.name, conv_algorithm=conv_algorithm)
        model.fit(X, Y) if name == "unet" else model.fit(X)
    return fit


def npae_loop(name, X, Y):
    """The epoch as a bare step loop: the batches ``fit`` would draw, the model's own step."""
    model = make_model(name, X.dtype.name)
    X = model._initialize(X)
    Y = model._check_targets(Y, len(X)) if name == "unet" else X
    rng = np.random.default_rng(0)
    batch = CASES[name][2]

    def epoch():
        optimizer = model._make_optimizer(model.network_)
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch):
            idx = order[start:start + batch]
            model.network_.zero_grad()
            model._step(X[idx], Y[idx])
            optimizer.step()
    return epoch


def torch_fit(name, X, Y):
    import torch

    model = make_model(name, X.dtype.name)
    model._initialize(X[:CASES[name][2]])
    net, loss = torch_twin(name, model)
    start = {k: v.clone() for k, v in net.state_dict().items()}
    data = torch.from_numpy(X)
    targets = data if Y is None else torch.from_numpy(Y)
    generator = torch.Generator().manual_seed(0)
    batch = CASES[name][2]

    def fit():
        net.load_state_dict(start)
        optimizer = torch.optim.Adam(net.parameters(), lr=model.learning_rate)
        order = torch.randperm(len(data), generator=generator)
        for first in range(0, len(data), batch):
            idx = order[first:first + batch]
            optimizer.zero_grad()
            loss(net, data[idx], targets[idx]).backward()
            optimizer.step()
    return fit


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS and PyTorch threads (default: leave as they are)")
    parser.add_argument("--quick", action="store_true",
                        help="a few hundred rows, one timed run: a smoke run")
    parser.add_argument("--only", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by the process's CPU time (steadier on a busy machine; "
                             "meaningful with --threads 1 only)")
    args = parser.parse_args()
    set_threads(args.threads)
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    repeats, warmup = (1, 0) if args.quick else (args.repeats, 1)
    rows = []
    for name in args.only:
        n, n_quick, batch, bound = CASES[name]
        n = n_quick if args.quick else n
        X, Y = make_data(name, n, "float32")
        runners = {"npae_fit": npae_fit(name, X, Y), "npae_loop": npae_loop(name, X, Y)}
        if name in CONV_CASES:
            runners["npae_fit_auto"] = npae_fit(name, X, Y, conv_algorithm="auto")
        row = {"case": name, "rows": n, "input": "x".join(map(str, X.shape[1:])),
               "batch": batch, "dtype": "float32"}
        if have_torch:
            row["twin_max_abs_diff"] = check_twin(name)
            runners["torch"] = torch_fit(name, X, Y)
        clock = time.process_time if args.cpu_time else time.perf_counter
        times = time_in_turns(runners, repeats=repeats, warmup=warmup, gap=0.3, clock=clock)
        pause()
        # one column order for every case (a dense case has no "auto" fit)
        row.update({f"{k}_s": times.get(k, "n/a") for k in ("npae_fit", "npae_loop",
                                                             "npae_fit_auto", "torch")})
        row["fit_over_loop"] = times["npae_fit"] / times["npae_loop"]
        if have_torch:
            row["ratio_to_torch"] = times["npae_fit"] / times["torch"]
            row["loop_ratio_to_torch"] = times["npae_loop"] / times["torch"]
            row["auto_ratio_to_torch"] = (times["npae_fit_auto"] / times["torch"]
                                          if name in CONV_CASES else "n/a")
        else:
            row["ratio_to_torch"] = row["loop_ratio_to_torch"] = "n/a"
            row["auto_ratio_to_torch"] = "n/a"
        row["target"] = bound
        rows.append(row)
        print(row, flush=True)
    env = environment(skipped=[] if have_torch else ["torch"])
    env["threads_option"] = args.threads
    env["repeats"] = repeats
    env["clock"] = "process CPU time" if args.cpu_time else "wall time"
    write_results("realsize", rows, env)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"done in {time.perf_counter() - start:.1f} s")
