"""Held-out bounds of VAEs on the 8x8 digits, in nats per image.

The digits (1,797 images in [0, 1], 64 pixels) are split 80/20 with a fixed
seed. For latent dimensions 2 and 8 (and a convolutional VAE with 8) the
script trains a VAE with a Bernoulli likelihood and reports on the held-out
images

- the negative ELBO, ``-E_q[log p(x|z)] + KL(q(z|x) || p(z))``, with the
  expectation averaged over 100 samples of ``z`` per image;
- the importance-weighted estimate of ``log p(x)`` with k = 100 samples
  (Burda et al., 2016), a tighter lower bound than the ELBO;

and the same negative ELBO on the training images (the generalization gap).
The Bernoulli likelihood of grey levels is the usual binary cross-entropy,
so these nats compare between models, not with binarized-MNIST figures.
Writes ``benchmarks/results/vae.json`` (and ``vae.md``) and prints a
Markdown table.

    python benchmarks/bench_vae.py [--epochs 200] [--figure samples.png]
"""

import argparse
import time

from benchmarks_common import environment, write_results
from npae import VAE
from npae.datasets import load_digits, train_test_split

K = 100


def models(epochs, seed):
    """(name, estimator, wants images) for each row of the table."""
    common = dict(epochs=epochs, batch_size=64, learning_rate=1e-3, random_state=seed)
    return [
        ("VAE mlp 64-256-128-2", VAE(hidden_sizes=(256, 128), latent_dim=2, **common), False),
        ("VAE mlp 64-256-128-8", VAE(hidden_sizes=(256, 128), latent_dim=8, **common), False),
        ("VAE conv 16-32ch, 128, 8", VAE(architecture="conv", channels=(16, 32),
                                         hidden_sizes=(128,), latent_dim=8, **common), True),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figure", help="save samples of the latent-8 MLP VAE to this PNG")
    args = parser.parse_args()

    rows, fitted = [], {}
    for name, vae, images in models(args.epochs, args.seed):
        X, _, _ = load_digits(return_images=images)
        X_train, X_test = train_test_split(X, test_size=0.2, random_state=0)
        start = time.perf_counter()
        vae.fit(X_train)
        seconds = time.perf_counter() - start
        test_elbo = vae.elbo(X_test, n_samples=K, random_state=1).mean()
        test_iwae = vae.log_likelihood(X_test, n_samples=K, random_state=1).mean()
        rows.append({
            "model": name,
            "latent_dim": vae.latent_dim,
            "epochs": args.epochs,
            "train_s": seconds,
            "train_neg_elbo": -float(vae.elbo(X_train, n_samples=K, random_state=1).mean()),
            "test_neg_elbo": -float(test_elbo),
            f"test_log_px_iwae_k{K}": float(test_iwae),
            "iwae_minus_elbo": float(test_iwae - test_elbo),
        })
        fitted[name] = vae
    env = environment()
    env.update(data="digits 8x8 in [0, 1], train_test_split(test_size=0.2, random_state=0)",
               likelihood="bernoulli", elbo_samples=K, iwae_samples=K, seed=args.seed,
               units="nats per image")
    write_results("vae", rows, env)
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        from npae.plot import plot_samples

        plot_samples(fitted["VAE mlp 64-256-128-8"], 50, (8, 8), random_state=0).savefig(
            args.figure, dpi=80)


if __name__ == "__main__":
    main()
