"""Do the defaults converge? Each estimator's default fit against a long run, on the digits.

The digits (1,797 images in [0, 1], 64 pixels) are split 80/20 with a fixed
seed. Each estimator is fitted twice: with its defaults (only the sizes
named below set), and with ``--factor`` (default 10) times the epochs and
everything else the same (the "long run"; the Autoencoder also with the
README's recipe). Each row reports the held-out error and the fitting time;
the held-out error is the mean squared reconstruction error of
``reconstruct``, also as a ratio to PCA's with as many components as the
code has units (PCA is the closed-form reference; no ratio for a code as
wide as the data, where PCA's error is 0). The linear autoencoder
also reports the largest principal angle (radians) between its subspace
and PCA's; the VAEs also the held-out negative ELBO (10 samples); the
U-Net, on synthetic shapes, the held-out IoU (higher is better). Writes
``benchmarks/results/defaults.json`` (and ``defaults.md``).

    python benchmarks/bench_defaults.py [--factor 10] [--only Autoencoder VAE] [--quick]
"""

import argparse
import time

import numpy as np
from scipy.linalg import subspace_angles

import npae
from benchmarks_common import environment, write_results
from npae.datasets import load_digits, make_shapes, train_test_split

SEED = 0


def estimators():
    """name -> (factory taking overrides, the size of the code, whether it takes images)."""
    return {
        "LinearAutoencoder(8, gd)": (
            lambda **k: npae.LinearAutoencoder(8, solver="gd", **k), 8, False),
        "Autoencoder((128, 64), 8)": (
            lambda **k: npae.Autoencoder(hidden_sizes=(128, 64), code_size=8, **k), 8, False),
        "Autoencoder README recipe": (
            lambda **k: npae.Autoencoder(hidden_sizes=(128, 64), code_size=8,
                                         output_activation="sigmoid", batch_size=32,
                                         **{"epochs": 300, **k}), 8, False),
        "SparseAutoencoder kl": (lambda **k: npae.SparseAutoencoder(**k), 64, False),
        "SparseAutoencoder l1": (lambda **k: npae.SparseAutoencoder(penalty="l1", **k), 64,
                                 False),
        "DenoisingAutoencoder": (lambda **k: npae.DenoisingAutoencoder(**k), 16, False),
        "ContractiveAutoencoder": (lambda **k: npae.ContractiveAutoencoder(**k), 32, False),
        "StackedAutoencoder": (lambda **k: npae.StackedAutoencoder(**k), 8, False),
        "VAE(latent 8)": (lambda **k: npae.VAE(latent_dim=8, **k), 8, False),
        "ConditionalVAE(latent 8)": (lambda **k: npae.ConditionalVAE(latent_dim=8, **k), 8,
                                     False),
        "ConvAutoencoder": (lambda **k: npae.ConvAutoencoder(**k), 16, True),
    }


def _epochs(model):
    """The epoch settings of ``model`` and how to multiply them."""
    if isinstance(model, npae.StackedAutoencoder):
        return {"pretrain_epochs": model.pretrain_epochs, "finetune_epochs": model.finetune_epochs}
    return {"epochs": model.epochs}


def _epochs_text(model):
    return "+".join(str(v) for v in _epochs(model).values())


def _fit(model, X, y):
    start = time.perf_counter()
    if isinstance(model, npae.ConditionalVAE):
        model.fit(X, y)
    else:
        model.fit(X)
    return time.perf_counter() - start


def _measures(model, X_test, y_test, pca_error, pca):
    """Held-out error, its ratio to PCA's (None for a code as wide as the data: PCA's error
    is then 0), and the model's own measure."""
    if isinstance(model, npae.ConditionalVAE):
        error = -model.score(X_test, y_test)
        own = -float(model.elbo(X_test, y_test, n_samples=10, random_state=1).mean())
    else:
        error = -model.score(X_test)
        own = float("nan")
        if isinstance(model, npae.VAE):
            own = -float(model.elbo(X_test, n_samples=10, random_state=1).mean())
        if isinstance(model, npae.LinearAutoencoder):
            own = float(np.max(subspace_angles(model.components_.T, pca.components_.T)))
    ratio = error / pca_error if pca.n_components < pca.n_features_in_ else float("nan")
    return error, ratio, own


def _row(name, default, long, k, data, pca):
    X_train, X_test, y_train, y_test = data
    pca_error = -pca.score(X_test.reshape(len(X_test), -1))
    t_default = _fit(default, X_train, y_train)
    t_long = _fit(long, X_train, y_train)
    error_d, ratio_d, own_d = _measures(default, X_test, y_test, pca_error, pca)
    error_l, ratio_l, own_l = _measures(long, X_test, y_test, pca_error, pca)
    return {
        "estimator": name, "code": k, "default epochs": _epochs_text(default),
        "default MSE": error_d, "default / PCA": ratio_d, "default s": t_default,
        "long epochs": _epochs_text(long), "long MSE": error_l, "long / PCA": ratio_l,
        "long s": t_long,
        "own measure default": own_d, "own measure long": own_l,
    }


def unet_row(factor, quick):
    X, Y = make_shapes(200 if quick else 400, size=32, random_state=SEED)
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, test_size=0.25, random_state=0)
    default = npae.UNet(random_state=SEED)
    long = npae.UNet(random_state=SEED, epochs=default.epochs * factor)
    times = []
    for model in (default, long):
        start = time.perf_counter()
        model.fit(X_train, Y_train)
        times.append(time.perf_counter() - start)
    return {
        "estimator": "UNet (shapes, IoU)", "code": "-", "default epochs": _epochs_text(default),
        "default MSE": float("nan"), "default / PCA": float("nan"), "default s": times[0],
        "long epochs": _epochs_text(long), "long MSE": float("nan"), "long / PCA": float("nan"),
        "long s": times[1],
        "own measure default": float(default.score(X_test, Y_test)),
        "own measure long": float(long.score(X_test, Y_test)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factor", type=int, default=10, help="epochs of the long run, times")
    parser.add_argument("--only", nargs="*", help="estimator names (prefixes) to run")
    parser.add_argument("--quick", action="store_true", help="factor 2, smaller U-Net data")
    args = parser.parse_args()
    factor = 2 if args.quick else args.factor

    vectors, y, _ = load_digits()
    images, _, _ = load_digits(return_images=True)
    splits = {flag: train_test_split(data, y, test_size=0.2, random_state=0)
              for flag, data in ((False, vectors), (True, images))}
    rows = []
    for name, (make, k, takes_images) in estimators().items():
        if args.only and not any(name.startswith(p) for p in args.only):
            continue
        data = splits[takes_images]
        pca = npae.PCA(k).fit(data[0].reshape(len(data[0]), -1))
        default = make(random_state=SEED)
        long = make(random_state=SEED, **{key: value * factor
                                          for key, value in _epochs(default).items()})
        rows.append(_row(name, default, long, k, data, pca))
        print(rows[-1], flush=True)
    if not args.only or any("UNet".startswith(p) for p in args.only):
        rows.append(unet_row(factor, args.quick))
    env = environment()
    env.update(data="digits 8x8 in [0, 1], train_test_split(test_size=0.2, random_state=0); "
                    "UNet: make_shapes 32x32", seed=SEED, long_factor=factor,
               measures="held-out MSE / PCA's at the code size; own: largest principal angle "
                        "(linear AE, rad), held-out negative ELBO (VAEs, nats), IoU (UNet)")
    write_results("defaults", rows, env)


if __name__ == "__main__":
    main()
