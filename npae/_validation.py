"""Input and hyperparameter checks with messages naming expected vs received."""

import numbers

import numpy as np
import scipy.sparse

FLOAT_DTYPES = (np.dtype("float64"), np.dtype("float32"))


class NonFiniteInputError(ValueError):
    """An array that must be finite holds NaN or inf.

    Inside a training step this means the model diverged, so the training
    loop turns it into a ``TrainingDivergedError``.
    """


def check_float_dtype(dtype, owner="npae"):
    """Return ``dtype`` as a numpy dtype if it is float32 or float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"{owner} expected dtype float32 or float64, got {dtype!r}"
        ) from None
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"{owner} expected dtype float32 or float64, got {dt}")
    return dt


def check_array(X, owner, ndim=2, dtype=None, n_features=None, allow_empty=False):
    """Validate estimator input and return it as a C-contiguous float array.

    Lists and integer or boolean arrays are converted (to ``dtype``, or
    float64 if None); complex, object and string arrays are refused. NaN and
    inf are refused. ``ndim`` may be an int or a tuple of allowed values.
    ``n_features`` checks the per-example shape (an int for 2-d input, a
    tuple for images).
    """
    if scipy.sparse.issparse(X):
        raise TypeError(
            f"{owner} expected a dense array, got sparse input ({type(X).__name__}): "
            "sparse data is not supported, convert it with X.toarray()"
        )
    if hasattr(X, "__array__") and not isinstance(X, np.ndarray):
        X = np.asarray(X)
    if not isinstance(X, np.ndarray):
        if isinstance(X, (str, bytes)) or not hasattr(X, "__len__"):
            raise TypeError(
                f"{owner} expected an array-like of numbers, got {type(X).__name__}"
            )
        try:
            X = np.asarray(X)
        except ValueError as err:
            raise ValueError(
                f"{owner} expected a rectangular array-like of numbers: {err}"
            ) from None
    if X.dtype.kind == "O":
        missing = sum(1 for v in X.flat if v is None or type(v).__name__ == "NAType")
        if missing:
            raise ValueError(
                f"{owner} expected numeric data, got {missing} missing value(s) (None or pandas' "
                "pd.NA): fill or drop them first"
            )
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"{owner} expected numeric data, got an object array that is not: {err}"
            ) from None
    if X.dtype.kind == "c":
        # "Complex data not supported" is scikit-learn's wording, which its checks look for.
        raise ValueError(f"{owner}: Complex data not supported, got dtype {X.dtype}")
    if X.dtype.kind not in "fiub":
        raise TypeError(
            f"{owner} expected a real numeric array, got dtype {X.dtype}"
        )
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if X.ndim not in allowed:
        want = " or ".join(f"{d}-d" for d in allowed)
        hint = ""
        if X.ndim == 1 and 2 in allowed:
            hint = (": Reshape your data either using X.reshape(-1, 1) if it has a single "
                    "feature or X.reshape(1, -1) if it contains a single sample")
        raise ValueError(f"{owner} expected a {want} array, got shape {X.shape}{hint}")
    if not allow_empty and X.shape[0] == 0:
        raise ValueError(
            f"{owner} expected at least one sample, got 0 sample(s) (shape={X.shape}) "
            "while a minimum of 1 is required."
        )
    if not allow_empty and X.size == 0:
        raise ValueError(
            f"{owner} expected at least one feature, got 0 feature(s) (shape={X.shape}) "
            "while a minimum of 1 is required."
        )
    if n_features is not None:
        want = (n_features,) if isinstance(n_features, numbers.Integral) else tuple(n_features)
        if X.ndim == 2 and len(want) == 1 and X.shape[1] != want[0]:
            # scikit-learn's wording, which its estimator checks look for.
            raise ValueError(
                f"X has {X.shape[1]} features, but {owner} is expecting "
                f"{want[0]} features as input"
            )
        if tuple(X.shape[1:]) != want:
            raise ValueError(
                f"{owner} expected input with per-sample shape {want} "
                f"(as seen in fit), got shape {X.shape}"
            )
    out_dtype = np.float64 if dtype is None else check_float_dtype(dtype, owner)
    if dtype is None and X.dtype in FLOAT_DTYPES:
        out_dtype = X.dtype
    X = np.ascontiguousarray(X, dtype=out_dtype)
    if not np.isfinite(X).all():
        raise NonFiniteInputError(f"{owner} expected finite input, got input containing NaN or inf")
    return X


def check_int(value, name, owner, minimum=1):
    """Require an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return int(value)


def check_number(value, name, owner, low=None, high=None, low_open=False, high_open=False):
    """Require a finite real number in [low, high]; ``low_open``/``high_open`` exclude an end."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        bound = f"> {low}" if low_open else f">= {low}"
        raise ValueError(f"{owner}: {name} must be {bound}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        bound = f"< {high}" if high_open else f"<= {high}"
        raise ValueError(f"{owner}: {name} must be {bound}, got {value}")
    return value


def check_choice(value, name, owner, choices):
    """Require ``value`` to be one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        opts = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{owner}: {name} must be one of {opts}, got {value!r}")
    return value


def check_sizes(sizes, name, owner, allow_empty=True):
    """Require a sequence of positive ints (layer widths)."""
    if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
        sizes = (sizes,)
    if isinstance(sizes, (str, bytes)) and sizes:
        # tuple() would take it apart, "64" -> ("6", "4"): refuse it as its first item
        raise TypeError(f"{owner}: each of {name} must be an int, got {sizes[:1]!r} "
                        f"({name}={sizes!r} is a string, not a sequence of ints)")
    if isinstance(sizes, (str, bytes, dict, set, frozenset)):
        raise TypeError(f"{owner}: {name} must be a sequence of ints, got {sizes!r}")
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise TypeError(f"{owner}: {name} must be a sequence of ints, got {sizes!r}") from None
    if not sizes and not allow_empty:
        raise ValueError(f"{owner}: {name} must not be empty")
    for s in sizes:
        check_int(s, f"each of {name}", owner)
    return tuple(int(s) for s in sizes)


def check_float_batch(array, arg, name):
    """Require a non-empty float32/float64 ndarray (a gradient comes back in its dtype)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} expected {arg} as a numpy array, got {type(array).__name__}")
    if array.dtype.kind != "f":
        raise TypeError(f"{name} expected {arg} of dtype float32 or float64, got {array.dtype}")
    if array.ndim == 0 or array.size == 0:
        raise ValueError(f"{name} expected a non-empty batch for {arg}, got shape {array.shape}")
