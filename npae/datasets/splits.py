"""Shuffle aligned arrays and split them into train and test parts."""

import math
import numbers

import numpy as np

from npae._validation import check_number
from npae.utils import as_generator


def train_test_split(*arrays, test_size=0.2, random_state=0):
    """Shuffle and split arrays into train and test parts, like scikit-learn's.

    The same permutation is applied to every array, so rows stay aligned.

    Parameters
    ----------
    *arrays : array-likes with the same first dimension n
    test_size : float in (0, 1) or int, default=0.2
        A fraction of n (rounded up) or a number of test samples; both parts
        must get at least one sample.
    random_state : int, numpy.random.Generator or None, default=0
        Seeds the shuffle; the default makes the split reproducible.

    Returns
    -------
    list of ndarray
        ``[a_train, a_test, b_train, b_test, ...]``, two per input array.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.arange(20).reshape(10, 2), np.arange(10)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3)
    >>> X_train.shape, X_test.shape
    ((7, 2), (3, 2))
    >>> bool(np.all(X_test[:, 0] == 2 * y_test))
    True
    """
    owner = "train_test_split"
    if not arrays:
        raise ValueError(f"{owner} expected at least one array, got none")
    arrays = [np.asarray(a) for a in arrays]
    for a in arrays:
        if a.ndim == 0:
            raise ValueError(f"{owner} expected arrays with a first dimension, got a scalar {a}")
    lengths = [a.shape[0] for a in arrays]
    if len(set(lengths)) > 1:
        raise ValueError(
            f"{owner} expected arrays with the same number of samples, got lengths {lengths}"
        )
    n = lengths[0]
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        n_test = int(test_size)
    else:
        fraction = check_number(test_size, "test_size", owner, low=0.0, high=1.0, low_open=True)
        n_test = math.ceil(fraction * n)
    if not 1 <= n_test <= n - 1:
        raise ValueError(
            f"{owner}: test_size={test_size!r} with n_samples={n} gives {n_test} test and "
            f"{n - n_test} train samples; both need at least 1"
        )
    order = as_generator(random_state).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return [part for a in arrays for part in (a[train], a[test])]
