"""The ``npae`` command: compare autoencoders with PCA, train one model, check gradients.

    npae compare                      # digits, code sizes 2..32, figures + summary
    npae compare --dataset mnist-sample   # the same on 5,000 real MNIST digits (npae[mnist])
    npae train autoencoder --code-size 8
    npae gradcheck                    # the gradient-check table of every layer and loss
    npae detect autoencoder           # anomaly scores: a digit held out of training
    npae reproduce hinton2006         # a classic result, paper vs ours, on the MNIST sample

Run ``npae COMMAND --help`` for the options of each command.
"""

import argparse
import ast
import json
import os
import sys
import tempfile
import time
import warnings

import numpy as np

#: Model name on the command line -> (estimator class name, defaults for digits,
#: hyperparameters that set a code size k).
_DIGITS_MLP = {"hidden_sizes": (128, 64), "output_activation": "sigmoid", "epochs": 300,
               "batch_size": 32}
MODELS = {
    "pca": ("PCA", {}, lambda k: {"n_components": k}),
    "linear": ("LinearAutoencoder", {"solver": "gd"}, lambda k: {"n_components": k}),
    "autoencoder": ("Autoencoder", _DIGITS_MLP, lambda k: {"code_size": k}),
    "sparse": ("SparseAutoencoder", {"epochs": 200}, lambda k: {"code_size": k}),
    "denoising": ("DenoisingAutoencoder", _DIGITS_MLP, lambda k: {"code_size": k}),
    "contractive": ("ContractiveAutoencoder", {"hidden_sizes": (128,), "epochs": 200},
                    lambda k: {"code_size": k}),
    "stacked": ("StackedAutoencoder", {"pretrain_epochs": 30, "finetune_epochs": 200},
                lambda k: {"layer_sizes": (128, 64, k)}),
    "vae": ("VAE", {"hidden_sizes": (256,), "epochs": 200}, lambda k: {"latent_dim": k}),
    "cvae": ("ConditionalVAE", {"hidden_sizes": (256,), "epochs": 200},
             lambda k: {"latent_dim": k}),
    "conv": ("ConvAutoencoder", {"epochs": 60}, lambda k: {"code_size": k}),
    "unet": ("UNet", {}, None),
}

#: Models whose input is an image tensor (N, C, H, W) rather than rows.
IMAGE_MODELS = {"conv", "unet"}

#: Models that ``npae train`` alone runs: the U-Net (images and masks) and the
#: conditional VAE (rows and their class labels), not ``compare`` or ``detect``.
TRAIN_ONLY_MODELS = {"unet", "cvae"}


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


def _estimator_class(name):
    import npae

    if name not in MODELS:
        raise CLIError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    class_name = MODELS[name][0]
    cls = getattr(npae, class_name, None)
    if cls is None:
        raise CLIError(f"model {name!r} ({class_name}) is not available in this npae")
    return cls


def make_model(name, code_size=None, seed=0, overrides=None):
    """Build the estimator ``name`` with digits defaults, a code size and overrides."""
    cls = _estimator_class(name)
    _, defaults, code_params = MODELS[name]
    params = dict(defaults)
    if code_size is not None and code_params is not None:
        params.update(code_params(code_size))
    params.update(overrides or {})
    accepted = cls().get_params()
    if "epochs" in params and "epochs" not in accepted and "finetune_epochs" in accepted:
        params["finetune_epochs"] = params.pop("epochs")
    if "random_state" in accepted:
        params.setdefault("random_state", seed)
    try:
        return cls(**params)
    except TypeError as err:
        raise CLIError(f"bad option for {name}: {err}") from None


def _parse_overrides(pairs):
    """``["epochs=10", "hidden_sizes=(32,)"]`` -> ``{"epochs": 10, "hidden_sizes": (32,)}``."""
    out = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise CLIError(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def _load_npy(path, test_size):
    """A ``.npy`` file as memory-mapped rows, split by position: the last rows are held out.

    Nothing is read until training reads it, batch by batch (``npae.streaming``);
    uint8 data is scaled to [0, 1] as it is read (``npae.ScaledArray``). The
    held-out rows (``test_size``) are read into memory to be scored. The rows
    are not shuffled here (the estimators shuffle their batches): shuffle a
    file sorted by class before. There are no labels.
    """
    from npae.streaming import ScaledArray

    try:
        X = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise CLIError(f"cannot read {path!r} as a .npy array: {error}") from None
    if X.ndim not in (2, 3, 4) or len(X) < 2:
        raise CLIError(f"{path!r} holds an array of shape {X.shape}; expected rows "
                       "(N, features), images (N, H, W) or (N, C, H, W), N >= 2")
    n_test = min(len(X) - 1, max(1, int(np.ceil(test_size * len(X)))))
    if X.ndim == 2:
        side = int(np.sqrt(X.shape[1]))
        image_shape = (1, side, side) if side * side == X.shape[1] else (1, 1, X.shape[1])
    else:
        image_shape = (1, *X.shape[1:]) if X.ndim == 3 else X.shape[1:]
    X = X.reshape(len(X), -1)
    train, test = X[:len(X) - n_test], np.array(X[len(X) - n_test:])
    if X.dtype == np.uint8:
        train, test = ScaledArray(train, 1 / 255), test * (1 / 255)
    return train, test, None, None, tuple(image_shape)


def _load_data(name, seed, test_size, download=False):
    """Train/test split of a dataset as flat rows plus labels and image shape.

    A path ending in ``.npy`` is a user's array, memory-mapped (``_load_npy``).
    """
    from npae import datasets

    if name.endswith(".npy"):
        return _load_npy(name, test_size)
    if name == "digits":
        X, y, image_shape = datasets.load_digits()
    elif name == "mnist-sample":
        try:
            X, y, image_shape = datasets.load_mnist_sample(random_state=seed)
        except ImportError as error:
            raise CLIError(str(error)) from error
    elif name in ("mnist", "fashion"):
        X, y, image_shape = datasets.load_mnist(kind="digits" if name == "mnist" else "fashion",
                                                download=download)
    else:
        raise CLIError(f"unknown dataset {name!r}; choose digits, mnist-sample, mnist or fashion")
    X_train, X_test, y_train, y_test = datasets.train_test_split(
        X, y, test_size=test_size, random_state=seed)
    return X_train, X_test, y_train, y_test, tuple(image_shape)


def _as_images(image_shape):
    """Reshape rows into (N, *image_shape) tensors for the convolutional models."""
    return lambda X: np.asarray(X).reshape((-1, *image_shape))


def _as_rows(X):
    """Rows as they are: an array, or a memory map that training reads batch by batch."""
    return X


def _held_out_mse(model, X):
    return float(np.mean((model.inverse_transform(model.transform(X)) - X) ** 2))


def _out_dir(path):
    """Create the output folder and make sure files can be written in it (before any training)."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise CLIError(f"--out {path!r} is a file, not a folder")
    os.makedirs(path, exist_ok=True)
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise CLIError(f"--out {path!r} is not writable: {err.strerror or err}") from None
    return path


# -- npae compare ----------------------------------------------------------------

def cmd_compare(args):
    """Fit every model at every code size; table, figures and summary files."""
    import matplotlib

    matplotlib.use("Agg")
    from npae import plot

    overrides = _parse_overrides(args.set)
    X_train, X_test, y_train, y_test, image_shape = _load_data(args.dataset, args.seed,
                                                               args.test_size, args.download)
    out = _out_dir(args.out)
    print(f"npae compare: {args.dataset}, {X_train.shape[0]} train / {X_test.shape[0]} test "
          f"rows of {X_train.shape[1]} features, seed {args.seed}")
    print(f"{'model':<14} {'code':>5} {'test MSE':>10} {'vs PCA':>7} {'fit s':>7}")
    rows, fitted = [], {}
    for k in args.code_sizes:
        pca_mse = None
        for name in args.models:
            params = dict(overrides)
            if args.epochs is not None and name != "pca":
                params["epochs"] = args.epochs
            model = make_model(name, k, args.seed, params)
            as_input = _as_images(image_shape) if name in IMAGE_MODELS else _as_rows
            start = time.perf_counter()
            model.fit(as_input(X_train))
            seconds = time.perf_counter() - start
            mse = _held_out_mse(model, as_input(X_test))
            if name == "pca":
                pca_mse = mse
            ratio = mse / pca_mse if pca_mse else float("nan")
            rows.append({"model": name, "code_size": k, "test_mse": mse,
                         "ratio_to_pca": ratio, "fit_seconds": seconds})
            fitted[name, k] = model
            print(f"{name:<14} {k:>5} {mse:>10.5f} {ratio:>7.3f} {seconds:>7.2f}", flush=True)
    _write_compare_outputs(out, args, rows, fitted, X_test, y_test, image_shape, plot)
    return 0


def _write_compare_outputs(out, args, rows, fitted, X_test, y_test, image_shape, plot):
    sizes = list(args.code_sizes)
    errors = {m: [r["test_mse"] for r in rows if r["model"] == m] for m in args.models}
    figures = {"error_vs_code_size.png": plot.plot_error_vs_code_size(sizes, errors)}
    k_show = 8 if 8 in sizes else sizes[len(sizes) // 2]
    recon = {}
    for m in args.models:
        shown = _as_images(image_shape)(X_test[:10]) if m in IMAGE_MODELS else X_test[:10]
        model = fitted[m, k_show]
        recon[f"{m} ({k_show})"] = model.inverse_transform(model.transform(shown))
    figures["reconstructions.png"] = plot.plot_reconstructions(X_test[:10], recon, image_shape)
    histories = {f"{m} ({k_show})": fitted[m, k_show].history_ for m in args.models
                 if getattr(fitted[m, k_show], "history_", None)}
    if histories:
        figures["loss_curves.png"] = plot.plot_loss_curves(histories)
    if 2 in sizes:
        for m in args.models:
            shown = _as_images(image_shape)(X_test) if m in IMAGE_MODELS else X_test
            figures[f"codes_2d_{m}.png"] = plot.plot_codes(
                fitted[m, 2].transform(shown), y_test, title=f"{m}: 2-D code of test digits")
    for filename, fig in figures.items():
        fig.savefig(os.path.join(out, filename), dpi=110)
    summary = {"dataset": args.dataset, "seed": args.seed, "test_size": args.test_size,
               "code_sizes": sizes, "models": list(args.models), "results": rows,
               "figures": sorted(figures)}
    with open(os.path.join(out, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    lines = [f"# npae compare: {args.dataset}, seed {args.seed}", "",
             "Held-out mean squared reconstruction error per entry "
             "(lower is better) and ratio to PCA at the same code size.", "",
             "| model | code size | test MSE | vs PCA | fit seconds |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['code_size']} | {r['test_mse']:.5f} | "
              f"{r['ratio_to_pca']:.3f} | {r['fit_seconds']:.2f} |" for r in rows]
    lines += ["", *[f"![{f}]({f})" for f in sorted(figures)], ""]
    with open(os.path.join(out, "summary.md"), "w") as fh:
        fh.write("\n".join(lines))
    print(f"wrote {len(figures)} figures, summary.md and summary.json to {out}")


# -- npae train ------------------------------------------------------------------

def cmd_train(args):
    """Train one model on a dataset, report its held-out error, save it."""
    import matplotlib

    matplotlib.use("Agg")
    from npae import plot

    overrides = _parse_overrides(args.set)
    for key in ("epochs", "learning_rate", "batch_size"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.hidden_sizes is not None:
        overrides["hidden_sizes"] = tuple(args.hidden_sizes)
    if args.verbose:
        overrides["verbose"] = 1
    _refuse_ignored_options(args)
    if args.model == "unet":
        args.samples = 600 if args.samples is None else args.samples
        args.size = 32 if args.size is None else args.size
        return _train_unet(args, overrides, plot)
    X_train, X_test, y_train, y_test, image_shape = _load_data(
        args.dataset, args.seed, args.test_size, args.download)
    if args.model == "cvae":
        return _train_cvae(args, overrides, plot, X_train, X_test, y_train, y_test, image_shape)
    if args.model in IMAGE_MODELS:
        X_train, X_test = _as_images(image_shape)(X_train), _as_images(image_shape)(X_test)
    model = make_model(args.model, args.code_size, args.seed, overrides)
    out = _out_dir(args.out)
    print(f"npae train {args.model}: {model!r}")
    start = time.perf_counter()
    model.fit(X_train)
    seconds = time.perf_counter() - start
    mse = _held_out_mse(model, X_test)
    figures = _train_figures(args.model, model, X_test, y_test, image_shape, args.seed, plot)
    return _save_run(model, args.model, out, figures, f"held-out MSE {mse:.5f}", seconds)


def _save_run(model, name, out, figures, result, seconds, about=""):
    """Save ``model`` as ``out``/NAME.npz, write its ``figures``, say so; exit status 0."""
    path = os.path.join(out, f"{name}.npz")
    model.save(path)
    for filename, fig in figures.items():
        fig.savefig(os.path.join(out, filename), dpi=110)
    print(f"{result} after {seconds:.1f} s; saved {path}")
    print(f"wrote {', '.join(figures)} to {out}{about}")
    return 0


def _train_figures(name, model, X_test, y_test, image_shape, seed, plot):
    """The lecture notes' figures of a trained model, by file name.

    Always reconstructions.png, filters.png (first-layer weights as images,
    UFLDL-style) and loss_curve.png when there is a history; codes_2d.png
    (test codes coloured by class) and a decoded grid over the code space
    (latent_manifold.png for a VAE, code_grid.png otherwise) when the code
    has two units; denoising.png for the denoising autoencoder: test images,
    the same corrupted by the model's own noise (clipped to [0, 1]) and
    their reconstructions.
    """
    from npae import noise
    from npae.layers import Conv2D, Dense

    shown = X_test[:10]
    flat = shown.reshape(len(shown), -1)
    figures = {"reconstructions.png": plot.plot_reconstructions(
        flat, {name: model.inverse_transform(model.transform(shown)).reshape(len(shown), -1)},
        image_shape)}
    if hasattr(model, "components_"):
        figures["filters.png"] = plot.plot_filters(model.components_, image_shape)
    else:
        first = model.encoder_.layers[0]
        if isinstance(first, Conv2D):
            figures["filters.png"] = plot.plot_conv_filters(first.params["W"])
        elif isinstance(first, Dense):
            figures["filters.png"] = plot.plot_filters(first.params["W"].T[:100], image_shape)
    if getattr(model, "history_", None):
        figures["loss_curve.png"] = plot.plot_loss_curves({name: model.history_})
    if model.transform(X_test[:1]).shape[1:] == (2,):
        figures["codes_2d.png"] = plot.plot_codes(model.transform(X_test), y_test,
                                                  title=f"{name}: 2-D code of test images")
        if name == "vae":
            figures["latent_manifold.png"] = plot.plot_latent_manifold(
                model, image_shape=image_shape)
        else:
            figures["code_grid.png"] = plot.plot_code_grid(model, X_test, image_shape=image_shape)
    if name == "denoising":
        noisy = np.clip(noise.corrupt(shown, model.noise, model.noise_level, random_state=seed),
                        0, 1)
        figures["denoising.png"] = plot.plot_reconstructions(
            flat, {f"{model.noise} {model.noise_level}": noisy.reshape(len(shown), -1),
                   "denoised": model.reconstruct(noisy).reshape(len(shown), -1)}, image_shape)
    return figures


def _train_cvae(args, overrides, plot, X_train, X_test, y_train, y_test, image_shape):
    """``npae train cvae``: fit the conditional VAE on the rows and their class labels; writes
    cvae.npz, reconstructions.png, samples_by_class.png (a row of new samples per class) and
    loss_curve.png."""
    if y_train is None:
        raise CLIError(f"cvae needs class labels, and --dataset {args.dataset} has none")
    model = make_model("cvae", args.code_size, args.seed, overrides)
    out = _out_dir(args.out)
    print(f"npae train cvae: {model!r}")
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    mse = -model.score(X_test, y_test)
    shown, per_class = X_test[:10], 10
    samples = np.concatenate([model.sample(per_class, y=label, random_state=args.seed)
                              for label in model.classes_])
    figures = {
        "reconstructions.png": plot.plot_reconstructions(
            shown, {"cvae": model.reconstruct(shown, y_test[:10])}, image_shape),
        "samples_by_class.png": plot.plot_image_grid(samples, image_shape, ncols=per_class,
                                                     value_range=(0, 1)),
        "loss_curve.png": plot.plot_loss_curves({"cvae": model.history_}),
    }
    return _save_run(model, "cvae", out, figures, f"held-out MSE {mse:.5f}", seconds,
                     f"; samples_by_class.png has a row per class "
                     f"({', '.join(str(c) for c in model.classes_)})")


def _refuse_ignored_options(args):
    """An option the chosen model would ignore is a mistake: say so rather than ignore it."""
    ignored = {"unet": [("--code-size", args.code_size), ("--hidden-sizes", args.hidden_sizes)],
               "pca": [("--hidden-sizes", args.hidden_sizes), ("--epochs", args.epochs),
                       ("--learning-rate", args.learning_rate),
                       ("--batch-size", args.batch_size), ("--verbose", args.verbose or None)]}
    given = [option for option, value in ignored.get(args.model, ()) if value is not None]
    if args.model != "unet":
        given += [option for option, value in (("--samples", args.samples),
                                                ("--size", args.size)) if value is not None]
    if given:
        raise CLIError(f"{', '.join(given)} does not apply to model {args.model}")


def _train_unet(args, overrides, plot):
    """Segmentation on the synthetic shapes set: fit, held-out IoU, figure, save."""
    from npae import datasets

    if args.dataset not in ("digits", "shapes"):
        raise CLIError("unet trains on the synthetic shapes set only (--dataset shapes)")
    images, masks = datasets.make_shapes(args.samples, size=args.size, random_state=args.seed)
    X_train, X_test, Y_train, Y_test = datasets.train_test_split(
        images, masks, test_size=args.test_size, random_state=args.seed)
    model = make_model("unet", None, args.seed, overrides)
    out = _out_dir(args.out)
    print(f"npae train unet: {len(X_train)} shapes images of {args.size}x{args.size}; {model!r}")
    start = time.perf_counter()
    model.fit(X_train, Y_train)
    seconds = time.perf_counter() - start
    iou = model.score(X_test, Y_test)
    path = os.path.join(out, "unet.npz")
    model.save(path)
    plot.plot_segmentation(X_test, Y_test, model.predict(X_test)).savefig(
        os.path.join(out, "segmentation.png"))
    plot.plot_loss_curves({"unet": model.history_}).savefig(os.path.join(out, "loss_curve.png"))
    print(f"held-out mean IoU {iou:.3f} after {seconds:.1f} s; saved {path}")
    return 0


# -- npae detect -----------------------------------------------------------------

def _read_array(path, option):
    """The array in a .npy file, or the rows of numbers in a .csv file."""
    if path.endswith(".npy"):
        return np.load(path, allow_pickle=False)
    if path.endswith(".csv"):
        return np.loadtxt(path, delimiter=",", ndmin=2)
    raise CLIError(f"{option} expects a .npy or .csv file, got {path!r}")


def _detect_data(args):
    """``(X_fit, X_score, is_outlier or None, image_shape or None, description)``."""
    if args.fit is None:
        if args.score is not None or args.labels is not None:
            raise CLIError("--score and --labels need --fit (the rows to fit on)")
        if not 0 <= args.held_out <= 9:
            raise CLIError(f"--held-out expects a class from 0 to 9, got {args.held_out}")
        if args.dataset.endswith(".npy"):
            raise CLIError("detect --dataset needs a labelled dataset; give your own rows "
                           "with --fit FILE.npy (and --score, --labels)")
        X_train, X_test, y_train, y_test, image_shape = _load_data(
            args.dataset, args.seed, args.test_size, args.download)
        description = (f"{args.dataset}: fit on the training rows of every class but "
                       f"{args.held_out}; score the test rows ({args.held_out} = outlier)")
        return (X_train[y_train != args.held_out], X_test,
                (y_test == args.held_out).astype(np.int64), image_shape, description)
    X_fit = _read_array(args.fit, "--fit")
    X_score = X_fit if args.score is None else _read_array(args.score, "--score")
    is_outlier = None
    if args.labels is not None:
        is_outlier = _read_array(args.labels, "--labels").ravel()
        if is_outlier.shape != (len(X_score),) or not np.isin(is_outlier, (0, 1)).all():
            raise CLIError(f"--labels expects {len(X_score)} values, 1 for an outlier and 0 "
                           f"for an inlier, got {is_outlier.size} values "
                           f"{np.unique(is_outlier)[:5].tolist()}")
        is_outlier = is_outlier.astype(np.int64)
    image_shape = tuple(X_fit.shape[1:]) if X_fit.ndim == 4 else None
    description = f"fit on {args.fit}; score {args.score or args.fit}"
    return X_fit, X_score, is_outlier, image_shape, description


def cmd_detect(args):
    """Fit a model on normal rows, score others, threshold, write scores and curves."""
    import matplotlib

    matplotlib.use("Agg")
    from sklearn.metrics import average_precision_score, roc_auc_score

    from npae import plot

    overrides = _parse_overrides(args.set)
    overrides["contamination"] = args.contamination
    if args.epochs is not None and args.model != "pca":
        overrides["epochs"] = args.epochs
    X_fit, X_score, is_outlier, image_shape, description = _detect_data(args)
    if args.model in IMAGE_MODELS and X_fit.ndim == 2:
        if image_shape is None:
            raise CLIError(f"{args.model} takes images: give --fit and --score as .npy "
                           "arrays of shape (N, C, H, W)")
        X_fit, X_score = (X.reshape((-1, *image_shape)) for X in (X_fit, X_score))
    model = make_model(args.model, args.code_size, args.seed, overrides)
    print(f"npae detect {args.model}: {description}")
    model.fit(X_fit)
    scores = model.score_samples(X_score)
    decision = scores - model.offset_
    flagged = decision < 0
    out = _out_dir(args.out)
    columns = [scores, decision, np.where(flagged, -1, 1)]
    names = ["score", "decision", "prediction"]
    if is_outlier is not None:
        columns.append(is_outlier)
        names.append("is_outlier")
    table = np.column_stack(columns)
    if args.format == "npy":
        scores_path = os.path.join(out, "scores.npy")
        np.save(scores_path, table)
    else:
        scores_path = os.path.join(out, "scores.csv")
        np.savetxt(scores_path, table, delimiter=",", header=",".join(names), comments="",
                   fmt=["%.10g", "%.10g", "%d"] + ["%d"] * (len(names) - 3))
    summary = {"model": args.model, "description": description,
               "contamination": args.contamination, "threshold": model.offset_,
               "rule": "outlier when score < threshold (score: higher is more normal)",
               "columns": names, "n_fit": len(X_fit), "n_scored": len(X_score),
               "n_flagged": int(flagged.sum()), "scores": os.path.basename(scores_path)}
    print(f"threshold on the score (offset_) {model.offset_:.6g} from contamination "
          f"{args.contamination!r}: {int(flagged.sum())} of {len(X_score)} rows flagged")
    if is_outlier is not None and 0 < is_outlier.sum() < len(is_outlier):
        outliers = is_outlier == 1
        summary.update(
            roc_auc=float(roc_auc_score(is_outlier, -scores)),
            average_precision=float(average_precision_score(is_outlier, -scores)),
            true_positive_rate=float(flagged[outliers].mean()),
            false_positive_rate=float(flagged[~outliers].mean()),
            figure="roc.png")
        plot.plot_roc_and_precision_recall(is_outlier, {args.model: scores},
                                           {args.model: model.offset_}).savefig(
            os.path.join(out, "roc.png"), dpi=110)
        print(f"ROC AUC {summary['roc_auc']:.3f}, average precision "
              f"{summary['average_precision']:.3f}; at the threshold: "
              f"{summary['true_positive_rate']:.1%} of outliers and "
              f"{summary['false_positive_rate']:.1%} of inliers flagged")
    with open(os.path.join(out, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    print(f"wrote {summary['scores']}{', roc.png' if 'figure' in summary else ''} and "
          f"summary.json to {out}")
    return 0


def _contamination(text):
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 'auto' or a fraction in (0, 0.5], got {text!r}") from None
    if not 0 < value <= 0.5:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a fraction in (0, 0.5], got {value}")
    return value


# -- npae reproduce -----------------------------------------------------------------

def cmd_reproduce(args):
    """Run one reproduction (or list them); print paper vs ours, write figure and results."""
    import matplotlib

    matplotlib.use("Agg")
    from npae import reproduce

    if args.list:
        for name in reproduce.names():
            summary = (reproduce.EXPERIMENTS[name].__doc__ or "").strip().splitlines()[0]
            print(f"{name:<12} {summary}")
        return 0
    if args.name is None:
        raise CLIError(f"name a reproduction ({', '.join(reproduce.names())}) or give --list")
    if args.name not in reproduce.EXPERIMENTS:
        raise CLIError(f"unknown reproduction {args.name!r}; choose from "
                       f"{', '.join(reproduce.names())}")
    if args.dataset not in reproduce.DATASETS:
        raise CLIError(f"unknown dataset {args.dataset!r}; reproductions run on "
                       f"{' or '.join(reproduce.DATASETS)}")
    out = _out_dir(args.out)
    result = reproduce.run(args.name, dataset=args.dataset, quick=args.quick,
                           random_state=args.seed)
    print(result.table(), flush=True)
    stem = os.path.join(out, args.name)
    result.figure.savefig(f"{stem}.png", dpi=110)
    with open(f"{stem}.json", "w") as fh:
        json.dump(result.to_dict(), fh, indent=2)
    with open(f"{stem}.txt", "w") as fh:
        fh.write(result.table() + "\n")
    print(f"wrote {args.name}.png, {args.name}.json and {args.name}.txt to {out}")
    return 0


# -- npae gradcheck ----------------------------------------------------------------

def cmd_gradcheck(args):
    """Print the float64 gradient-check table of every layer and loss."""
    from npae import gradcheck, layers, losses, regularizers

    rng = np.random.default_rng(args.seed)
    x = rng.normal(size=(4, 6))
    checks = [gradcheck.check_layer(layers.Dense(6, 5, rng=rng), x)]
    for name in ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "softplus"):
        checks.append(gradcheck.check_layer(layers.get_activation(name), x))
    checks.append(gradcheck.check_layer(layers.Flatten(), rng.normal(size=(2, 2, 3))))
    checks.append(gradcheck.check_layer(layers.Reshape((2, 3)), x))
    probs, targets = rng.uniform(0.1, 0.9, size=(4, 6)), rng.uniform(size=(4, 6))
    checks += [
        gradcheck.check_loss(losses.mean_squared_error, x, targets),
        gradcheck.check_loss(losses.binary_cross_entropy, probs, targets),
        gradcheck.check_loss(losses.binary_cross_entropy_with_logits, x, targets),
        gradcheck.check_loss(losses.softmax_cross_entropy, x, rng.integers(0, 6, size=4)),
        gradcheck.check_loss(regularizers.l1_activity, x, 0.1),
        gradcheck.check_loss(regularizers.sparsity_kl, probs, 0.05, 3.0),
    ]
    worst = 0.0
    for result in checks:
        print(result.table(args.tol))
        print()
        worst = max(worst, result.max_error)
    status = "all passed" if worst < args.tol else "FAILED"
    print(f"{len(checks)} checks, largest relative error {worst:.2e} (tolerance {args.tol:g}): "
          f"{status}")
    return 0 if worst < args.tol else 1


# -- argument parsing ----------------------------------------------------------------

def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _fraction(text):
    value = _positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {value}")
    return value


def _model_list(text):
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in MODELS or n in TRAIN_ONLY_MODELS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown model(s) {', '.join(unknown) or text!r}; choose from "
            f"{', '.join(m for m in MODELS if m not in TRAIN_ONLY_MODELS)}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(f"model(s) listed more than once: {', '.join(repeated)}")
    return names


def build_parser():
    """The ``npae`` argument parser, with every subcommand and option."""
    import npae

    parser = argparse.ArgumentParser(
        prog="npae", description="Autoencoders in pure NumPy: compare with PCA, train, check.")
    parser.add_argument("--version", action="version", version=f"npae {npae.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def common(p, out):
        p.add_argument("--dataset", default="digits",
                       help="digits (bundled, default), mnist-sample (5,000 real MNIST "
                            "digits, offline, needs the extra npae[mnist]), mnist or fashion "
                            "(IDX files in the npae cache; see npae.datasets.load_mnist); "
                            "shapes for unet; or a .npy file of rows or images, memory-"
                            "mapped and read batch by batch (uint8 scaled to [0, 1]; the "
                            "last --test-size rows held out)")
        p.add_argument("--download", action="store_true",
                       help="fetch missing MNIST files (checksum-verified) into the cache")
        p.add_argument("--seed", type=int, default=0, help="random_state of everything (0)")
        p.add_argument("--test-size", type=_fraction, default=0.2,
                       help="held-out fraction (0.2)")
        p.add_argument("--out", default=out, help=f"output folder ({out})")
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="any estimator hyperparameter, e.g. --set weight_decay=1e-4 "
                            "(repeatable; values are Python literals)")

    p = sub.add_parser("compare", help="autoencoders against PCA across code sizes (main job)",
                       description="Fit PCA, the linear autoencoder and the nonlinear "
                                   "autoencoder at each code size; print held-out MSE and fit "
                                   "time; write figures and summary.md/summary.json.")
    common(p, os.path.join("npae-out", "compare"))
    p.add_argument("--code-sizes", type=_positive_int, nargs="+", default=[2, 4, 8, 16, 32],
                   metavar="K", help="code sizes to compare (2 4 8 16 32)")
    p.add_argument("--models", type=_model_list, default=["pca", "linear", "autoencoder"],
                   help="comma-separated models (pca,linear,autoencoder); any of "
                        + ", ".join(m for m in MODELS if m not in TRAIN_ONLY_MODELS))
    p.add_argument("--epochs", type=_positive_int, default=None,
                   help="override training epochs of every trained model")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("train", help="train one model, report held-out error, save it",
                       description="Train one model on a dataset; writes MODEL.npz, "
                                   "reconstructions.png, filters.png (first-layer weights), "
                                   "loss_curve.png; with --code-size 2 also codes_2d.png and "
                                   "latent_manifold.png (vae) or code_grid.png; denoising.png "
                                   "for the denoising model (e.g. --set noise=gaussian --set "
                                   "noise_level=0.5); cvae (the conditional VAE, trained on "
                                   "the labels too) writes samples_by_class.png instead of "
                                   "filters.png.")
    p.add_argument("model", choices=list(MODELS), help="which model")
    common(p, os.path.join("npae-out", "train"))
    p.add_argument("--code-size", type=_positive_int, default=None,
                   help="code size (latent_dim for vae)")
    p.add_argument("--hidden-sizes", type=_positive_int, nargs="+", default=None, metavar="H")
    p.add_argument("--epochs", type=_positive_int, default=None)
    p.add_argument("--learning-rate", type=_positive_float, default=None)
    p.add_argument("--batch-size", type=_positive_int, default=None)
    p.add_argument("--verbose", action="store_true", help="show a progress bar")
    p.add_argument("--samples", type=_positive_int, default=None,
                   help="unet: number of synthetic shapes images (600)")
    p.add_argument("--size", type=_positive_int, default=None,
                   help="unet: image size of the shapes set (32)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("detect", help="anomaly scores: fit on normal rows, score others",
                       description="Fit a model on normal rows and score other rows by "
                                   "reconstruction (higher is more normal); threshold the "
                                   "scores by --contamination. Without --fit: the digits with "
                                   "one class (--held-out) left out of training, scored as "
                                   "outliers. Writes scores.csv (or .npy; columns score, "
                                   "decision, prediction [, is_outlier]), summary.json with "
                                   "the threshold and, when labels are known, roc.png.")
    p.add_argument("model", choices=[m for m in MODELS if m not in TRAIN_ONLY_MODELS],
                   help="which model")
    common(p, os.path.join("npae-out", "detect"))
    p.add_argument("--fit", default=None, metavar="FILE",
                   help="rows to fit on (.npy or .csv; .npy of shape (N, C, H, W) for conv)")
    p.add_argument("--score", default=None, metavar="FILE",
                   help="rows to score (.npy or .csv; default: the --fit rows)")
    p.add_argument("--labels", default=None, metavar="FILE",
                   help="1 (outlier) or 0 (inlier) per scored row: adds ROC AUC and roc.png")
    p.add_argument("--held-out", type=int, default=4, metavar="CLASS",
                   help="without --fit: the digit class treated as the anomaly (4)")
    p.add_argument("--contamination", type=_contamination, default="auto",
                   help="fraction of the fitted rows to flag, in (0, 0.5], or auto (0.05)")
    p.add_argument("--code-size", type=_positive_int, default=8,
                   help="code size (n_components for pca, latent_dim for vae; 8)")
    p.add_argument("--epochs", type=_positive_int, default=None)
    p.add_argument("--format", choices=("csv", "npy"), default="csv",
                   help="file format of the scores (csv)")
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("reproduce", help="a classic paper's result, paper vs ours, with a figure",
                       description="Reproduce hinton2006 (deep autoencoder vs PCA-30), "
                                   "kingma2014 (VAE nats on binarized MNIST) or vincent2010 "
                                   "(linear probe on denoising-autoencoder codes); print the "
                                   "paper's numbers beside ours, the protocol and how it "
                                   "differs; write NAME.png, NAME.json and NAME.txt.")
    p.add_argument("name", nargs="?", default=None, help="which reproduction (see --list)")
    p.add_argument("--list", action="store_true", help="list the reproductions and exit")
    p.add_argument("--dataset", default="mnist-sample",
                   help="mnist-sample (5,000 real digits, offline, default) or mnist (the full "
                        "IDX files, already in the npae data home: never downloaded here)")
    p.add_argument("--quick", action="store_true",
                   help="a few hundred images, an epoch or two: checks the pipeline in "
                        "seconds; the numbers are not comparable to the paper's")
    p.add_argument("--seed", type=int, default=0, help="random_state of everything (0)")
    p.add_argument("--out", default=os.path.join("npae-out", "reproduce"),
                   help="output folder (npae-out/reproduce)")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("gradcheck", help="gradient-check table of every layer and loss",
                       description="Central-difference gradient checks in float64.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tol", type=_positive_float, default=1e-6, help="tolerance (1e-6)")
    p.set_defaults(func=cmd_gradcheck)
    return parser


def main(argv=None):
    """Run the ``npae`` command on ``argv`` (default ``sys.argv[1:]``); return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)

    def one_line(message, category, *_):
        print(f"npae {args.command}: {category.__name__}: {message}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = one_line  # a warning is a line, not a source listing
            return args.func(args)
    except (CLIError, ValueError, TypeError, OSError, FloatingPointError) as err:
        print(f"npae {args.command}: error: {err}", file=sys.stderr)
        return 2
    except MemoryError as err:
        print(f"npae {args.command}: error: not enough memory ({err or 'MemoryError'}); "
              "choose smaller sizes", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"npae {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
