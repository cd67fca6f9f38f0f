"""Matplotlib figures: reconstructions, codes, decoded grids, filters, losses, ROC curves.

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
                    normalize=False, value_range=None):
    """Show the rows of ``images`` as a grid of small images.

    ``normalize=True`` rescales each image to its own [min, max] (for
    weights and filters, which are not in [0, 1]); otherwise
    ``value_range=(low, high)`` fixes the grey scale shared by all images
    (None: each image spans the full scale).
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
            low, high = value_range or (None, None)
            ax.imshow(img, cmap=cmap, vmin=low, vmax=high)
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
    validated = False
    for name, history in histories.items():
        line, = ax.plot(np.arange(1, len(history["loss"]) + 1), history["loss"], label=name)
        if history.get("val_loss"):
            validated = True
            ax.plot(np.arange(1, len(history["val_loss"]) + 1), history["val_loss"], "--",
                    color=line.get_color())
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    ax.set_title("training loss (dashed: validation)" if validated else "training loss")
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


def plot_filters(filters, image_shape, ncols=10, scale=0.8):
    """Each filter, one row of ``filters`` (n_filters, n_features), as an image.

    Takes ``model.filters()`` as it is returned (the sparse, denoising and
    contractive autoencoders: one unit-norm row per code unit), and any
    matrix with one filter per row, such as ``PCA.components_`` or a decoder
    weight ``W`` (code units, pixels). Each image is scaled to its own
    [min, max]. An encoder weight matrix ``W`` (n_features, k) has its
    filters in the columns: pass ``W.T``.
    """
    F = np.asarray(filters)
    n_pixels = int(np.prod(image_shape))
    if F.ndim != 2 or F.shape[1] != n_pixels:
        raise ValueError(
            f"plot_filters expected filters of shape (n_filters, {n_pixels}) for images of "
            f"shape {tuple(image_shape)}, one filter per row as model.filters() returns them, "
            f"got shape {F.shape}"
        )
    return plot_image_grid(F, image_shape, ncols=ncols, scale=scale, normalize=True)


# -- decoded codes: VAE grids and traversals, any 2-D code (a scatter is ``plot_codes``) --

def _vae_image_shape(vae, image_shape):
    """``image_shape`` if given, else the model's (C, H, W), else a square of its features."""
    if image_shape is not None:
        return tuple(image_shape)
    shape = tuple(vae.input_shape_)
    if len(shape) == 3:
        return shape
    side = int(round(np.sqrt(shape[0])))
    if side * side != shape[0]:
        raise ValueError(
            f"pass image_shape: {shape[0]} features do not make a square image"
        )
    return (side, side)


def plot_latent_manifold(vae, n=15, image_shape=None, dims=(0, 1), cmap="gray", size=6.0):
    """Decode an ``n`` x ``n`` grid of latent points into one mosaic of images.

    The grid runs through the 5%...95% quantiles of N(0, 1) along the latent
    dimensions ``dims`` (``z[dims[0]]`` left to right, ``z[dims[1]]`` bottom
    to top), evenly spaced in probability as in Kingma & Welling (2014),
    with every other latent dimension at 0, the prior mean.
    """
    from scipy.stats import norm

    shape = _vae_image_shape(vae, image_shape)
    latent_dim = vae.code_shape_[0]
    i, j = dims
    if not (0 <= i < latent_dim and 0 <= j < latent_dim and i != j):
        raise ValueError(
            f"plot_latent_manifold expected two different dims in [0, {latent_dim}), got {dims}"
        )
    grid = norm.ppf(np.linspace(0.05, 0.95, n))
    fig = _decoded_mosaic(vae, grid, grid, (i, j), latent_dim, shape, cmap, size)
    fig.axes[0].set_title("decoded latent grid")
    return fig


def _decoded_mosaic(model, x_values, y_values, dims, code_size, shape, cmap, size):
    """Decode ``z[dims] = (x, y)`` over a grid (other entries 0) and draw one mosaic.

    ``x_values`` run left to right, ``y_values`` bottom to top.
    """
    plt = _pyplot()
    h, w = shape[-2:]
    nx, ny = len(x_values), len(y_values)
    rows, cols = np.meshgrid(y_values[::-1], x_values, indexing="ij")  # top row: largest y
    Z = np.zeros((nx * ny, code_size), dtype=getattr(model, "dtype_", np.float64))
    Z[:, dims[0]], Z[:, dims[1]] = cols.ravel(), rows.ravel()
    images = _as_images(model.inverse_transform(Z), shape).reshape(ny, nx, h, w)
    # one image per cell, a 1-pixel NaN (blank) line between cells
    mosaic = np.full((ny * (h + 1) - 1, nx * (w + 1) - 1), np.nan)
    for r in range(ny):
        for c in range(nx):
            mosaic[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = images[r, c]
    fig, ax = plt.subplots(figsize=(size, size * ny / nx))
    ax.imshow(mosaic, cmap=cmap, vmin=0, vmax=1)
    x_ticks = np.unique(np.linspace(0, nx - 1, min(nx, 5)).round().astype(int))
    y_ticks = np.unique(np.linspace(0, ny - 1, min(ny, 5)).round().astype(int))
    ax.set_xticks(x_ticks * (w + 1) + (w - 1) / 2, [f"{x_values[t]:+.2f}" for t in x_ticks])
    ax.set_yticks(y_ticks * (h + 1) + (h - 1) / 2,
                  [f"{y_values[::-1][t]:+.2f}" for t in y_ticks])
    ax.set_xlabel(f"z{dims[0] + 1}")
    ax.set_ylabel(f"z{dims[1] + 1}")
    return fig


def _code_shape(model):
    """A fitted model's code shape: ``code_shape_``, or ``(n_components_,)`` for PCA."""
    if hasattr(model, "code_shape_"):
        return tuple(model.code_shape_)
    return (model.n_components_,)


def plot_code_grid(model, X=None, n=15, limits=None, image_shape=None, cmap="gray", size=6.0):
    """Decode an ``n`` x ``n`` grid over the 2-D code space of any autoencoder.

    A VAE's grid follows its prior (``plot_latent_manifold``); a plain
    autoencoder has no prior, so the grid spans a box: ``limits`` =
    ``((x_low, x_high), (y_low, y_high))``, or by default the range of the
    codes of ``X`` (``model.transform(X)``), so the decoded grid shows what
    the decoder makes of the codes between and around the data's.

    Parameters
    ----------
    model : fitted autoencoder (or PCA) with a code of size 2
    X : ndarray, optional
        Rows whose codes set the box when ``limits`` is None.
    n : int, default 15
    limits : pair of (low, high), optional
    image_shape : tuple, optional
        Default: the model's input shape when it is (C, H, W), else a square.
    """
    code_shape = _code_shape(model)
    if code_shape != (2,):
        raise ValueError(f"plot_code_grid expected a model with a 2-D code, got code shape "
                         f"{code_shape}")
    if limits is None:
        if X is None:
            raise ValueError("plot_code_grid needs X (rows whose codes set the box) or limits")
        Z = model.transform(X)
        limits = tuple(zip(Z.min(axis=0), Z.max(axis=0)))
    (x_low, x_high), (y_low, y_high) = limits
    shape = _vae_image_shape(model, image_shape)
    fig = _decoded_mosaic(model, np.linspace(x_low, x_high, n), np.linspace(y_low, y_high, n),
                          (0, 1), 2, shape, cmap, size)
    fig.axes[0].set_title("decoded grid over the code space")
    return fig


def plot_latent_traversal(model, x, values=None, dims=None, image_shape=None, cmap="gray"):
    """One row per code unit: the code of ``x`` with that unit set to each of ``values``.

    The classic picture of disentanglement (Higgins et al., 2017): each row
    changes one latent unit of ``model.transform(x)`` and decodes; a unit
    that the model does not use leaves its row constant.

    Parameters
    ----------
    model : fitted autoencoder (VAE or any other)
    x : ndarray, one input (n_features,) or (C, H, W)
    values : sequence of float, default ``np.linspace(-3, 3, 9)``
    dims : sequence of int, default every code unit
    """
    values = np.linspace(-3.0, 3.0, 9) if values is None else np.asarray(values, dtype=float)
    shape = _vae_image_shape(model, image_shape)
    code = model.transform(np.asarray(x).reshape(1, *model.input_shape_))[0]
    dims = range(len(code)) if dims is None else dims
    Z = np.repeat(code[None], len(dims) * len(values), axis=0)
    for r, dim in enumerate(dims):
        Z[r * len(values):(r + 1) * len(values), dim] = values
    fig = plot_image_grid(model.inverse_transform(Z), shape, ncols=len(values),
                          value_range=(0, 1), cmap=cmap)
    for r, dim in enumerate(dims):
        fig.axes[r * len(values)].set_title(f"z{dim + 1}", fontsize=8, loc="left")
    return fig


def plot_vector_field(points, reconstructions, data=None, ax=None, title=None):
    """Arrows ``r(x) - x`` from each 2-D point to its reconstruction.

    For a denoising autoencoder with small Gaussian noise, ``r(x) - x``
    estimates ``sigma^2`` times the gradient of the log-density of the data
    (Alain & Bengio, 2014): the arrows point toward the data manifold.
    ``data`` (optional, (n, 2)) is drawn as grey dots beneath.
    """
    plt = _pyplot()
    points, reconstructions = np.asarray(points), np.asarray(reconstructions)
    if points.ndim != 2 or points.shape[1] != 2 or reconstructions.shape != points.shape:
        raise ValueError(f"plot_vector_field expected points and reconstructions of the same "
                         f"shape (n, 2), got {points.shape} and {reconstructions.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 5))
    else:
        fig = ax.figure
    if data is not None:
        data = np.asarray(data)
        ax.scatter(data[:, 0], data[:, 1], s=3, color="0.6", label="data")
    delta = reconstructions - points
    ax.quiver(points[:, 0], points[:, 1], delta[:, 0], delta[:, 1], angles="xy",
              scale_units="xy", scale=1, color="C3", width=0.004)
    ax.set_aspect("equal")
    ax.set_title(title or "reconstruction minus input, r(x) - x")
    return fig


def plot_conv_filters(W, ncols=8, scale=0.8):
    """A convolution's filters ``W`` (c_out, c_in, kh, kw): one image per (output, input) pair.

    Rows of the grid run over output channels; for a first layer on grey
    images (``c_in = 1``) that is one small image per filter, each scaled to
    its own [min, max].
    """
    W = np.asarray(W)
    if W.ndim != 4:
        raise ValueError(f"plot_conv_filters expected weights of shape (c_out, c_in, kh, kw), "
                         f"got {W.shape}")
    c_out, c_in, kh, kw = W.shape
    return plot_image_grid(W.reshape(c_out * c_in, kh * kw), (kh, kw),
                           ncols=c_in if c_in > 1 else ncols, scale=scale, normalize=True)


def plot_interpolation(vae, x0, x1, n_steps=10, image_shape=None, cmap="gray"):
    """Decode the straight line between the posterior means of ``x0`` and ``x1``.

    Panel k shows the decoded ``(1 - a) mu(x0) + a mu(x1)``, ``a = k / (n_steps - 1)``.
    """
    shape = _vae_image_shape(vae, image_shape)
    ends = np.concatenate([np.asarray(x, dtype=vae.dtype_).reshape(1, *vae.input_shape_)
                           for x in (x0, x1)])
    mu0, mu1 = vae.transform(ends)
    alphas = np.linspace(0.0, 1.0, n_steps)
    Z = ((1 - alphas)[:, None] * mu0 + alphas[:, None] * mu1).astype(vae.dtype_)
    return plot_image_grid(vae.inverse_transform(Z), shape, ncols=n_steps, cmap=cmap,
                           titles=[f"{a:.2f}" for a in alphas])


def plot_samples(vae, n, image_shape=None, random_state=None, ncols=10, cmap="gray"):
    """``n`` new images from the VAE: decoded ``z ~ N(0, I)`` (see ``VAE.sample``)."""
    shape = _vae_image_shape(vae, image_shape)
    return plot_image_grid(vae.sample(n, random_state=random_state), shape, ncols=ncols,
                           cmap=cmap, value_range=(0, 1))


def plot_segmentation(images, masks, predictions, n=8, cmap="gray", label_cmap="viridis"):
    """Images (top row), true masks (middle) and predicted masks (bottom), ``n`` columns.

    Parameters
    ----------
    images : ndarray (N, C, H, W)
        The first channel is shown.
    masks, predictions : ndarray (N, 1, h, w) binary masks or (N, h, w) class labels
        ``predictions`` as from ``UNet.predict``; ``masks`` may be at the
        input size or already cropped to the output size (``UNet.crop_to_output``).
        All labels share one colour scale.
    n : int
        Number of images shown (the first ``n``).
    """
    plt = _pyplot()
    images, masks, predictions = (np.asarray(a)[:n] for a in (images, masks, predictions))
    masks, predictions = (a[:, 0] if a.ndim == 4 else a for a in (masks, predictions))
    n = len(images)
    top = max(1, int(max(masks.max(), predictions.max())))
    fig, axes = plt.subplots(3, n, figsize=(1.3 * n, 4.2), squeeze=False)
    rows = [(images[:, 0], cmap, None), (masks, label_cmap, top), (predictions, label_cmap, top)]
    for r, (row, row_cmap, vmax) in enumerate(rows):
        for i in range(n):
            ax = axes[r, i]
            ax.imshow(row[i], cmap=row_cmap, vmin=0 if vmax else None, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(("image", "true", "predicted")[r])
    fig.tight_layout()
    return fig


def plot_roc_and_precision_recall(is_outlier, scores, thresholds=None):
    """ROC (left) and precision-recall (right) curves of anomaly detectors.

    Parameters
    ----------
    is_outlier : array of shape (n,)
        1 (or True) for an outlier, 0 for an inlier.
    scores : dict name -> array of shape (n,)
        ``score_samples`` of each detector: higher is more normal, so the
        curves rank rows by ``-score``.
    thresholds : dict name -> float, optional
        A detector's threshold on its score (``offset_``): its operating
        point (rows with ``score < threshold`` flagged) is marked on both
        curves.
    """
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_curve,
        roc_auc_score,
        roc_curve,
    )

    plt = _pyplot()
    is_outlier = np.asarray(is_outlier).astype(bool)
    fig, (roc, pr) = plt.subplots(1, 2, figsize=(10, 4.2))
    for name, score in scores.items():
        anomaly = -np.asarray(score, dtype=np.float64)
        fpr, tpr, _ = roc_curve(is_outlier, anomaly)
        precision, recall, _ = precision_recall_curve(is_outlier, anomaly)
        auc = roc_auc_score(is_outlier, anomaly)
        ap = average_precision_score(is_outlier, anomaly)
        line, = roc.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
        pr.plot(recall, precision, color=line.get_color(), label=f"{name} (AP {ap:.3f})")
        if thresholds and name in thresholds:
            flagged = np.asarray(score) < thresholds[name]
            tp = np.sum(flagged & is_outlier)
            roc.plot(np.sum(flagged & ~is_outlier) / max(1, np.sum(~is_outlier)),
                     tp / max(1, np.sum(is_outlier)), "o", color=line.get_color())
            pr.plot(tp / max(1, np.sum(is_outlier)), tp / max(1, np.sum(flagged)), "o",
                    color=line.get_color())
    roc.plot([0, 1], [0, 1], ":", color="grey")
    roc.set(xlabel="false positive rate (inliers flagged)",
            ylabel="true positive rate (outliers flagged)", title="ROC")
    pr.axhline(is_outlier.mean(), ls=":", color="grey")
    pr.set(xlabel="recall", ylabel="precision", title="precision-recall", ylim=(0, 1.02))
    roc.legend(fontsize=8, loc="lower right")
    pr.legend(fontsize=8)
    fig.tight_layout()
    return fig
