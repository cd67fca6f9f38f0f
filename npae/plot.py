"""Matplotlib figures: reconstructions, codes, losses, error against code size.

Every function returns the ``matplotlib.figure.Figure`` it drew (and takes
an optional ``ax`` where one panel suffices), so notebooks show it and the
command line saves it with ``fig.savefig``.
"""

import numpy as np


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _as_images(X, image_shape):
    """Rows of ``X`` as 2-D images of ``image_shape`` ((h, w) or (1, h, w))."""
    h, w = image_shape[-2:]
    return np.asarray(X).reshape(len(X), h, w)


def plot_image_grid(images, image_shape, ncols=10, titles=None, cmap="gray", scale=1.0,
                    normalize=False):
    """Show the rows of ``images`` as a grid of small images.

    ``normalize=True`` rescales each image to its own [min, max] (for
    weights and filters, which are not in [0, 1]).
    """
    plt = _pyplot()
    imgs = _as_images(images, image_shape)
    n = len(imgs)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, scale * nrows),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = imgs[i]
        if normalize:
            lo, hi = img.min(), img.max()
            img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
            ax.imshow(img, cmap=cmap, vmin=0, vmax=1)
        else:
            ax.imshow(img, cmap=cmap)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    fig.tight_layout()
    return fig


def plot_reconstructions(X, reconstructions, image_shape, n=10, cmap="gray"):
    """Originals in the first row, each model's reconstructions below.

    Parameters
    ----------
    X : ndarray (n_samples, n_features)
    reconstructions : dict of str to ndarray
        Model name -> reconstructions of the same rows of ``X``.
    image_shape : tuple
        e.g. (8, 8) or (1, 28, 28).
    """
    plt = _pyplot()
    rows = {"original": X, **reconstructions}
    n = min(n, len(X))
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.9, len(rows) * 1.0), squeeze=False)
    for r, (name, images) in enumerate(rows.items()):
        imgs = _as_images(np.asarray(images)[:n], image_shape)
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(imgs[c], cmap=cmap, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return fig


def plot_codes(Z, labels=None, ax=None, title="code", cmap="tab10"):
    """Scatter a 2-D code, coloured by label (first two columns if wider)."""
    plt = _pyplot()
    Z = np.asarray(Z)
    if Z.ndim != 2 or Z.shape[1] < 2:
        raise ValueError(f"plot_codes expected codes of shape (n, >=2), got {Z.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 4.5))
    else:
        fig = ax.figure
    points = ax.scatter(Z[:, 0], Z[:, 1], c=labels, cmap=cmap, s=6, alpha=0.8)
    if labels is not None:
        fig.colorbar(points, ax=ax, label="label")
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title(title)
    return fig


def plot_loss_curves(histories, ax=None, log=True):
    """Training (solid) and validation (dashed) loss per epoch for each model.

    ``histories`` maps a name to a ``history_`` dict with ``"loss"`` (and
    optionally ``"val_loss"``).
    """
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    else:
        fig = ax.figure
    for name, history in histories.items():
        line, = ax.plot(np.arange(1, len(history["loss"]) + 1), history["loss"], label=name)
        if history.get("val_loss"):
            ax.plot(np.arange(1, len(history["val_loss"]) + 1), history["val_loss"], "--",
                    color=line.get_color())
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    ax.set_title("training loss (dashed: validation)")
    return fig


def plot_error_vs_code_size(code_sizes, errors, ax=None):
    """Held-out reconstruction MSE against code size, one line per model.

    ``errors`` maps a model name to its errors at ``code_sizes``.
    """
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    else:
        fig = ax.figure
    styles = ["o-", "s--", "^-.", "v:", "D-"]
    for i, (name, values) in enumerate(errors.items()):
        ax.plot(code_sizes, values, styles[i % len(styles)], label=name)
    ax.set_xscale("log", base=2)
    ax.set_xticks(code_sizes)
    ax.set_xticklabels([str(k) for k in code_sizes])
    ax.set_xlabel("code size")
    ax.set_ylabel("held-out MSE")
    ax.set_title("reconstruction error against code size")
    ax.legend()
    return fig


def plot_filters(weights, image_shape, ncols=10, scale=0.8):
    """Each column of an encoder weight matrix (n_features, k) as an image."""
    W = np.asarray(weights)
    return plot_image_grid(W.T, image_shape, ncols=ncols, scale=scale, normalize=True)
