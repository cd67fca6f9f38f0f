"""Reproduce three classic autoencoder results on MNIST and set ours beside the paper's numbers.

``run(name)`` trains what a paper trained (as closely as npae and a laptop
allow), measures what the paper measured and returns a ``Reproduction``:
rows of (measure, paper, ours), the protocol, how it differs from the
paper's, and the seconds it took. ``npae reproduce NAME`` prints that table
and writes a figure. The experiments:

- ``hinton2006``: deep autoencoder 784-1000-500-250-30 against PCA-30,
  squared reconstruction error per test image (Hinton & Salakhutdinov, 2006);
- ``kingma2014``: a VAE on binarized MNIST, negative ELBO and an
  importance-weighted estimate of ``-log p(x)`` in nats (Kingma & Welling,
  2014; the estimator of Burda et al., 2016);
- ``vincent2010``: accuracy of a linear classifier on the codes of a
  denoising autoencoder, against raw pixels and PCA codes (Vincent et al.,
  2010).

By default they run on the 5,000-digit MNIST sample (``load_mnist_sample``,
4,000 to train, 1,000 to test), offline; ``dataset="mnist"`` uses the full
60,000 / 10,000 MNIST files when they are in the npae data home (see
``npae.datasets.load_mnist``), and never downloads them. ``quick=True``
trains on a few hundred images for an epoch or two: it checks that the
pipeline runs, not the numbers.
"""

import dataclasses
import time
import warnings

import numpy as np

#: The datasets ``run`` accepts.
DATASETS = ("mnist-sample", "mnist")


@dataclasses.dataclass
class Reproduction:
    """The outcome of one reproduction: paper vs ours, protocol, differences, time.

    Attributes
    ----------
    name : str
        The experiment, e.g. ``"hinton2006"``.
    title : str
        The paper and what is reproduced.
    dataset : str
        ``"mnist-sample"`` or ``"mnist"``.
    quick : bool
        True for the smoke-test sizes (numbers not comparable to the paper).
    rows : list of dict
        One per measure: ``{"measure", "paper", "ours", "unit"}``; ``paper``
        is None where the paper reports no such number.
    protocol : str
        What we ran: data sizes, architecture, epochs.
    differences : list of str
        How our protocol differs from the paper's.
    seconds : float
        Wall time of the whole run (data, training and measures).
    figure : matplotlib.figure.Figure or None
        The experiment's figure (not serialized by ``to_dict``).
    """

    name: str
    title: str
    dataset: str
    quick: bool
    rows: list
    protocol: str
    differences: list
    seconds: float = 0.0
    figure: object = None

    def to_dict(self):
        """Every field but the figure, as JSON-ready Python values."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                if field.name != "figure"}

    def table(self):
        """Paper vs ours as aligned text lines, then the protocol and its differences."""
        width = max(len(row["measure"]) for row in self.rows)
        lines = [f"{self.name}: {self.title}",
                 f"dataset {self.dataset}{' (quick mode: not comparable)' if self.quick else ''}",
                 "", f"{'measure':<{width}}  {'paper':>10}  {'ours':>10}  unit"]
        for row in self.rows:
            paper = "-" if row["paper"] is None else f"{row['paper']:.2f}"
            lines.append(f"{row['measure']:<{width}}  {paper:>10}  {row['ours']:>10.2f}  "
                         f"{row['unit']}")
        lines += ["", f"protocol: {self.protocol}", "differences from the paper:"]
        lines += [f"  - {difference}" for difference in self.differences]
        lines.append(f"time: {self.seconds:.1f} s")
        return "\n".join(lines)


def _row(measure, paper, ours, unit):
    return {"measure": measure, "paper": paper, "ours": float(ours), "unit": unit}


def load_data(dataset="mnist-sample", quick=False, random_state=0):
    """Train and test rows of MNIST, pixels in [0, 1]: ``(X_train, X_test, y_train, y_test)``.

    ``"mnist-sample"``: the 5,000-digit sample split 4,000 / 1,000.
    ``"mnist"``: the official 60,000 / 10,000 split, read from the npae data
    home; a ``FileNotFoundError`` says how to download it when it is absent.
    ``quick`` keeps the first 300 training and 100 test rows.
    """
    from npae import datasets

    if dataset == "mnist-sample":
        X, y, _ = datasets.load_mnist_sample(random_state=random_state)
        X_train, X_test, y_train, y_test = datasets.train_test_split(
            X, y, test_size=0.2, random_state=random_state)
    elif dataset == "mnist":
        try:
            X_train, y_train, _ = datasets.load_mnist(split="train")
            X_test, y_test, _ = datasets.load_mnist(split="test")
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f"full MNIST is not in the npae data home ({datasets.get_data_home()}): "
                f"{error}. Download it once with "
                "`python -c \"from npae.datasets import load_mnist; "
                "load_mnist(download=True); load_mnist(split='test', download=True)\"` "
                "or use --dataset mnist-sample") from None
    else:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    if quick:
        X_train, y_train, X_test, y_test = X_train[:300], y_train[:300], X_test[:100], y_test[:100]
    return X_train, X_test, y_train, y_test


def _squared_error_per_image(model, X):
    return float(np.mean(np.sum((model.inverse_transform(model.transform(X)) - X) ** 2, axis=1)))


# -- Hinton & Salakhutdinov (2006) ---------------------------------------------------

def hinton2006(dataset="mnist-sample", quick=False, random_state=0):
    """Deep autoencoder 784-1000-500-250-30 against PCA-30 (Science 313, 504-507).

    The paper pretrains each layer as an RBM, unrolls the stack and
    fine-tunes it with cross-entropy by conjugate gradients; on the 10,000
    MNIST test images the squared reconstruction error per image is 3.00 for
    the deep autoencoder and 13.87 for PCA with 30 components. Here the
    greedy layer-wise pretraining is npae's ``StackedAutoencoder`` (each
    layer a small autoencoder trained by Adam), fine-tuned end to end with
    cross-entropy: logistic hidden and output units, linear code units, as
    in the paper.
    """
    from npae import PCA, StackedAutoencoder, plot

    X_train, X_test, _, _ = load_data(dataset, quick, random_state)
    pretrain_epochs, finetune_epochs = (1, 1) if quick else (10, 50)
    deep = StackedAutoencoder(layer_sizes=(1000, 500, 250, 30), pretrain_epochs=pretrain_epochs,
                              finetune_epochs=finetune_epochs, code_activation="identity",
                              loss="bce", learning_rate=1e-3, dtype="float32",
                              random_state=random_state).fit(X_train)
    pca = PCA(n_components=30).fit(X_train)
    deep_error = _squared_error_per_image(deep, X_test.astype(np.float32))
    pca_error = _squared_error_per_image(pca, X_test)
    shown = X_test[:10]
    figure = plot.plot_reconstructions(
        shown, {"deep AE-30": deep.inverse_transform(deep.transform(shown.astype(np.float32))),
                "PCA-30": pca.inverse_transform(pca.transform(shown))}, (28, 28))
    figure.suptitle(f"hinton2006 on {dataset}: test error per image, deep AE "
                    f"{deep_error:.2f}, PCA {pca_error:.2f}", fontsize=9)
    figure.tight_layout()
    return Reproduction(
        name="hinton2006",
        title="Hinton & Salakhutdinov (2006), deep autoencoder 784-1000-500-250-30 vs PCA-30",
        dataset=dataset, quick=quick,
        rows=[_row("deep autoencoder, squared error per test image", 3.00, deep_error, "pixels^2"),
              _row("PCA-30, squared error per test image", 13.87, pca_error, "pixels^2")],
        protocol=(f"{len(X_train)} training and {len(X_test)} test images; StackedAutoencoder "
                  f"(1000, 500, 250, 30), {pretrain_epochs} pretraining epochs per layer, "
                  f"{finetune_epochs} fine-tuning epochs, Adam 1e-3, cross-entropy, float32; "
                  "PCA with 30 components on the same training images"),
        differences=[
            "greedy pretraining by autoencoders (Adam), not by RBMs with contrastive divergence",
            "fine-tuning by Adam on minibatches, not conjugate gradients",
            "the paper trains on all 60,000 MNIST images for 200 fine-tuning epochs"
            + ("" if dataset == "mnist" else f"; here {len(X_train):,} images of the sample"),
        ],
        figure=figure)


# -- Kingma & Welling (2014) ---------------------------------------------------------

def kingma2014(dataset="mnist-sample", quick=False, random_state=0):
    """A VAE on binarized MNIST: negative ELBO and ``-log p(x)`` in nats per test image.

    Kingma & Welling (ICLR 2014) train an MLP encoder and decoder with 500
    tanh units and a Bernoulli likelihood; their Figure 2 shows the test
    lower bound of the 20-dimensional latent model near -100 nats after
    about 10^8 training examples (read off the figure: the paper has no
    table). Burda, Grosse & Salakhutdinov (ICLR 2016, Table 1) report
    ``-log p(x)`` = 86.76 nats for a VAE with one stochastic layer (50
    latents, two hidden layers of 200), estimated with 5,000 importance
    samples. We estimate ``-log p(x)`` the same way (``VAE.log_likelihood``)
    with fewer samples.
    """
    from npae import VAE, plot

    X_train, X_test, _, _ = load_data(dataset, quick, random_state)
    X_train, X_test = ((X > 0.5).astype(np.float64) for X in (X_train, X_test))
    epochs, n_importance = (2, 10) if quick else (50, 200)
    vae = VAE(hidden_sizes=(500,), latent_dim=20, activation="tanh", epochs=epochs,
              batch_size=100, learning_rate=1e-3, dtype="float32",
              random_state=random_state).fit(X_train)
    negative_elbo = -float(np.mean(vae.elbo(X_test, n_samples=1, random_state=random_state)))
    negative_log_likelihood = -float(np.mean(
        vae.log_likelihood(X_test, n_samples=n_importance, random_state=random_state)))
    figure = plot.plot_image_grid(
        np.concatenate([X_test[:10], vae.reconstruct(X_test[:10]),
                        vae.sample(20, random_state=random_state)]),
        (28, 28), ncols=10, value_range=(0, 1))
    figure.suptitle(f"kingma2014 on binarized {dataset}: test digits, their reconstructions "
                    "(means of p(x|z)), 20 samples", fontsize=9)
    figure.tight_layout()
    return Reproduction(
        name="kingma2014",
        title="Kingma & Welling (2014), VAE on binarized MNIST (IWAE estimate of Burda et al.)",
        dataset=dataset, quick=quick,
        rows=[_row("negative ELBO per test image", 100.0, negative_elbo, "nats"),
              _row(f"-log p(x), importance sampled (K = {n_importance})", 86.76,
                   negative_log_likelihood, "nats")],
        protocol=(f"{len(X_train)} training and {len(X_test)} test images, pixels > 0.5 set to 1; "
                  f"VAE 784-500-20 with tanh, Bernoulli likelihood, {epochs} epochs of Adam 1e-3, "
                  f"batch 100, float32; ELBO with one sample per image, -log p(x) with "
                  f"{n_importance} importance samples"),
        differences=[
            "paper ELBO (about -100 nats for 20 latents) is read off Figure 2 of Kingma & "
            "Welling: no table in the paper",
            "the -log p(x) of 86.76 nats is Burda et al.'s VAE (two hidden layers of 200, 50 "
            "latents, 3,280 passes, K = 5,000 importance samples, stochastic binarization); ours "
            f"has one hidden layer of 500, 20 latents and K = {n_importance}",
            "binarized once by a 0.5 threshold, not resampled each epoch",
            f"{epochs} epochs over {len(X_train)} images instead of about 10^8 examples seen"
            + ("" if dataset == "mnist" else "; a small training set overfits, raising the "
               "test numbers"),
        ],
        figure=figure)


# -- Vincent et al. (2010) -----------------------------------------------------------

def _probe_accuracy(Z_train, y_train, Z_test, y_test, quick, random_state):
    """Test accuracy of a logistic regression on standardized features.

    ``quick`` stops L-BFGS after 30 iterations (and silences the warning
    that it has not converged): the quick mode checks the pipeline only.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(
        C=0.1, max_iter=30 if quick else 500, random_state=random_state))
    with warnings.catch_warnings():
        if quick:
            warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(Z_train, y_train)
    return float(probe.score(Z_test, y_test))


def vincent2010(dataset="mnist-sample", quick=False, random_state=0):
    """Linear-probe accuracy of denoising-autoencoder codes against raw pixels and PCA codes.

    Vincent et al. (JMLR 11, 2010) show that denoising autoencoders learn
    useful features: a three-layer stacked denoising autoencoder, fine-tuned,
    reaches 1.28% test error on MNIST (Table 3, SdA-3), where an RBF SVM on
    raw pixels has 1.40%. The linear-probe version asked here trains one
    denoising layer (masking noise 25%, 500 sigmoid units, cross-entropy)
    without labels, then fits the same logistic regression on its codes, on
    the raw pixels and on 100 PCA codes, and compares the test accuracies.
    """
    from npae import PCA, DenoisingAutoencoder, plot

    X_train, X_test, y_train, y_test = load_data(dataset, quick, random_state)
    epochs, n_units = (2, 100) if quick else (30, 500)
    dae = DenoisingAutoencoder(hidden_sizes=(), code_size=n_units, noise="masking",
                               noise_level=0.25, code_activation="sigmoid",
                               output_activation="sigmoid", loss="bce", epochs=epochs,
                               batch_size=50, learning_rate=1e-3,
                               random_state=random_state).fit(X_train)
    n_components = min(100, len(X_train))
    pca = PCA(n_components=n_components).fit(X_train)
    representations = {
        "raw pixels (784)": lambda X: X,
        f"PCA codes ({n_components})": pca.transform,
        f"denoising AE codes ({n_units})": dae.transform,
    }
    accuracies = {name: _probe_accuracy(encode(X_train), y_train, encode(X_test), y_test, quick,
                                        random_state)
                  for name, encode in representations.items()}
    figure = plot.plot_filters(dae.filters()[:50], (28, 28), ncols=10)
    figure.suptitle(f"vincent2010 on {dataset}: 50 of the denoising autoencoder's filters; "
                    "probe accuracy " + ", ".join(f"{k} {v:.1%}" for k, v in accuracies.items()),
                    fontsize=8)
    figure.tight_layout()
    paper = {"raw pixels (784)": 100 - 1.40, f"denoising AE codes ({n_units})": 100 - 1.28}
    return Reproduction(
        name="vincent2010",
        title="Vincent et al. (2010), stacked denoising autoencoders: are the codes useful?",
        dataset=dataset, quick=quick,
        rows=[_row(f"test accuracy, linear probe on {name}", paper.get(name), 100 * accuracy,
                   "%") for name, accuracy in accuracies.items()],
        protocol=(f"{len(X_train)} training and {len(X_test)} test images; one denoising layer "
                  f"784-{n_units} (sigmoid, masking noise 25%, cross-entropy, {epochs} epochs of "
                  f"Adam 1e-3); PCA with {n_components} components; the same standardized "
                  "logistic regression (C = 0.1) on each representation"),
        differences=[
            "the paper's 98.72% is a 3-layer stacked denoising autoencoder fine-tuned with "
            "labels (SdA-3, Table 3), ours is a linear classifier on one frozen layer",
            "the paper's 98.60% on raw pixels is an RBF SVM, ours is a linear classifier",
            "the paper trains on 50,000 images (10,000 for validation)"
            + ("" if dataset == "mnist" else f"; here {len(X_train):,}"),
        ],
        figure=figure)


#: Experiment name -> function(dataset, quick, random_state) returning a ``Reproduction``.
EXPERIMENTS = {"hinton2006": hinton2006, "kingma2014": kingma2014, "vincent2010": vincent2010}


def names():
    """The names of the reproductions, in order."""
    return list(EXPERIMENTS)


def run(name, dataset="mnist-sample", quick=False, random_state=0):
    """Run reproduction ``name``; return its ``Reproduction`` with the time it took.

    Raises
    ------
    ValueError
        Unknown ``name`` or ``dataset``.
    FileNotFoundError
        ``dataset="mnist"`` and the MNIST files are not in the data home.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown reproduction {name!r}; choose from {', '.join(names())}")
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    start = time.perf_counter()
    result = EXPERIMENTS[name](dataset=dataset, quick=quick, random_state=random_state)
    result.seconds = time.perf_counter() - start
    return result
