"""Closed-form principal component analysis, the baseline every autoencoder meets.

PCA is the optimal linear autoencoder: among all rank-k linear maps it has the
smallest squared reconstruction error, and that error is the sum of the
discarded eigenvalues of the covariance. It is computed here in closed form,
from either the SVD of the centred data or the eigendecomposition of the
covariance, with the same sign convention as scikit-learn.

The covariance also comes from mergeable statistics: the count, the mean and
the centred scatter matrix of each block of rows, merged with the parallel
formula of Chan, Golub and LeVeque. That is how ``PCA`` reads data larger
than memory (memory maps, ``npae.ScaledArray``; ``npae.streaming``), learns
from one block at a time (``partial_fit``) and runs on a Dask cluster (each
chunk's statistics are a Dask task), all exactly.
"""

import numbers

import numpy as np
import scipy.linalg
import scipy.linalg.blas
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from npae._validation import NonFiniteInputError, check_array, check_choice
from npae.anomaly import ReconstructionOutlierMixin, check_contamination, offset_from_scores
from npae.io import SaveLoadMixin
from npae.streaming import Rows, _is_dask, as_rows, require_dask

SOLVERS = ("auto", "svd", "covariance_eigh")


def _choose_solver(n_samples, n_features):
    """The rule of scikit-learn's ``svd_solver="auto"`` for an exact fit.

    Tall, narrow data: the (d, d) covariance is cheap to form and its eigh is
    about 8 x faster than an SVD of X; otherwise the SVD of X.
    """
    if n_features <= 1_000 and n_samples >= 10 * n_features:
        return "covariance_eigh"
    return "svd"


def _flip_signs(Vt):
    """Make the largest-magnitude entry of each row of ``Vt`` positive.

    The sign of a singular vector is arbitrary; this is scikit-learn's
    ``svd_flip(u_based_decision=False)``, so components agree with its PCA.
    """
    rows = np.arange(Vt.shape[0])
    signs = np.sign(Vt[rows, np.argmax(np.abs(Vt), axis=1)])
    return Vt * signs[:, np.newaxis]


def _centred_gram(X, mean, block_rows=1024):
    """Lower triangle of ``Xc^T Xc`` (d, d), ``Xc = X - mean``, one block of rows at a time.

    ``Xc^T Xc = sum_b Xc_b^T Xc_b`` over row blocks: each block is centred
    into one reused buffer and added with BLAS SYRK, which computes a single
    triangle. Centring first keeps full precision far from the origin (unlike
    ``X^T X - n m m^T``) without a centred copy of all of X. The strict upper
    triangle is zero; pass ``lower=True`` to ``eigh``.
    """
    n_samples, n_features = X.shape
    syrk = scipy.linalg.blas.dsyrk if X.dtype == np.float64 else scipy.linalg.blas.ssyrk
    buffer = np.empty((min(block_rows, n_samples), n_features), dtype=X.dtype)
    gram = np.zeros((n_features, n_features), dtype=X.dtype, order="F")
    for start in range(0, n_samples, block_rows):
        block = buffer[:min(block_rows, n_samples - start)]
        np.subtract(X[start:start + block_rows], mean, out=block)
        # block.T is Fortran-ordered (d, b): gram += block.T @ block, in place
        gram = syrk(1.0, block.T, beta=1.0, c=gram, lower=1, overwrite_c=1)
    return gram


def _symmetric(lower):
    """The full symmetric matrix of which ``lower`` holds the lower triangle."""
    return np.tril(lower) + np.tril(lower, -1).T


def block_statistics(block):
    """``(count, mean, scatter)`` of a block of rows, ``scatter = (X - mean)^T (X - mean)``.

    The statistics ``merge_statistics`` combines; ``block`` is converted
    to float64 unless it is float32, and must be finite.
    """
    block = np.asarray(block)
    block = block if block.dtype in (np.float32, np.float64) else block.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        total = block.sum()
    if not (np.isfinite(total) or np.isfinite(block).all()):
        raise NonFiniteInputError("PCA expected finite input, got input containing NaN or inf")
    if len(block) == 0:
        d = block.shape[1]
        return 0, np.zeros(d, block.dtype), np.zeros((d, d), block.dtype)
    mean = block.mean(axis=0)
    return len(block), mean, _symmetric(_centred_gram(block, mean))


def merge_statistics(a, b):
    """The statistics of two blocks of rows together (Chan, Golub and LeVeque, 1979).

    With ``delta = mean_b - mean_a`` and ``n = n_a + n_b``:
    ``mean = mean_a + delta n_b / n`` and
    ``scatter = scatter_a + scatter_b + delta delta^T n_a n_b / n``, exact
    (no sum of squares about the origin, so no loss of digits far from it).
    """
    (n_a, mean_a, scatter_a), (n_b, mean_b, scatter_b) = a, b
    if n_a == 0 or n_b == 0:
        return b if n_a == 0 else a
    n = n_a + n_b
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / n)
    scatter = scatter_a + scatter_b + np.outer(delta, delta) * (n_a * n_b / n)
    return n, mean, scatter


def _rows_statistics(X):
    """The statistics of ``Rows``, block by block."""
    total = (0, None, None)
    for block in X.blocks():
        total = merge_statistics(total, block_statistics(block))
    return total


def _dask_statistics(X):
    """The statistics of a Dask array: one Dask task per chunk of rows, merged as a tree."""
    import dask

    parts = [dask.delayed(block_statistics)(chunk) for chunk in X.to_delayed().ravel()]
    while len(parts) > 1:
        merged = [dask.delayed(merge_statistics)(a, b) for a, b in zip(parts[::2], parts[1::2])]
        parts = merged + parts[len(merged) * 2:]
    return dask.compute(parts[0])[0]


def squared_residuals(block, mean, components):
    """``||x - mean||^2 - ||z||^2`` per row, ``z = (x - mean) V_k^T``: the squared distance
    of each row to the principal subspace (Pythagoras), in float64.
    """
    block = np.asarray(block)
    centred = block.astype(mean.dtype, copy=False) - mean
    z = centred @ components.T
    squared = np.einsum("ij,ij->i", centred, centred, dtype=np.float64)
    return np.maximum(squared - np.einsum("ij,ij->i", z, z, dtype=np.float64), 0)


def _spectrum_of_scatter(scatter, n_samples):
    """Variances and axes, largest first, from the centred scatter matrix (its eigh)."""
    eigenvalues, V = scipy.linalg.eigh(scatter / (n_samples - 1), lower=True, driver="evd")
    # round-off can leave the smallest eigenvalues slightly negative
    return np.maximum(eigenvalues[::-1], 0), _flip_signs(V[:, ::-1].T)


def _spectrum(X, mean, solver):
    """All variances and principal axes of ``X - mean``, largest first.

    Returns ``variances`` (r,), ``Vt`` (r, d) and the scatter ``Xc^T Xc``
    (d, d; None from the SVD of wide data), with r = min(n, d) for the SVD
    and r = d for the covariance eigh, where ``variances = S**2 / (n - 1)``
    are the eigenvalues of the covariance ``C = Xc^T Xc / (n - 1)`` of
    ``Xc = X - mean`` and the rows of ``Vt`` its eigenvectors.
    """
    n_samples = X.shape[0]
    if solver == "svd":
        # Xc = U S Vt,  C = V S^2 Vt / (n - 1)
        _, S, Vt = scipy.linalg.svd(X - mean, full_matrices=False)
        variances = S**2 / (n_samples - 1)
        # Xc^T Xc = V S^2 Vt: cheaper than the SVD for tall data; for wide data it
        # would cost more than the SVD (and d x d memory), so it is not formed.
        scatter = (Vt.T * S**2) @ Vt if n_samples >= X.shape[1] else None
        return variances, _flip_signs(Vt), scatter
    # C = V diag(lambda) Vt; eigh returns ascending eigenvalues
    scatter = _symmetric(_centred_gram(X, mean))
    return (*_spectrum_of_scatter(scatter, n_samples), scatter)


def _dask_rows(X, width):
    """A Dask array checked as PCA's input, one chunk across the features."""
    require_dask("PCA on a Dask array")
    if X.ndim != 2:
        raise ValueError(f"PCA expected a 2-d array, got shape {X.shape}")
    if np.dtype(X.dtype).kind not in "fiub":
        raise TypeError(f"PCA expected a real numeric array, got dtype {X.dtype}")
    if width is not None and X.shape[1] != width:
        raise ValueError(f"X has {X.shape[1]} features, but PCA is expecting {width} features "
                         "as input")
    return X.rechunk({1: -1})


def _check_2d(X, dtype=None, width=None):
    """``check_array`` for a (n_samples, n_features) matrix of ``width`` features."""
    return check_array(X, "PCA", ndim=2, dtype=dtype, n_features=width)


def discarded_variance(explained_variance, n_components):
    """Sum of the covariance eigenvalues beyond the first ``n_components``.

    This is the optimal rank-k reconstruction error: for the training data
    (n samples), ``sum_i ||x_i - x_hat_i||^2 / n`` equals
    ``(n - 1) / n * discarded_variance(all_variances, k)``, the factor
    because variances use ``n - 1`` degrees of freedom.

    Parameters
    ----------
    explained_variance : array-like of shape (r,)
        All eigenvalues of the covariance, largest first.
    n_components : int
        Number of kept components, 0 <= k <= r.

    Returns
    -------
    float

    Examples
    --------
    >>> discarded_variance([3.0, 2.0, 0.5], 1)
    2.5
    """
    explained_variance = np.asarray(explained_variance, dtype=np.float64)
    if not 0 <= n_components <= explained_variance.shape[0]:
        raise ValueError(
            f"n_components must be in [0, {explained_variance.shape[0]}], got {n_components}"
        )
    return float(explained_variance[n_components:].sum())


class PCA(SaveLoadMixin, ReconstructionOutlierMixin, ClassNamePrefixFeaturesOutMixin,
          TransformerMixin, BaseEstimator):
    """Principal component analysis: ``z = (x - mean) V_k``, ``x_hat = z V_k^T + mean``.

    Closed form: the rows of ``components_`` are the top-k eigenvectors of
    the sample covariance ``C = Xc^T Xc / (n - 1)`` of the centred data Xc.
    They come from the SVD ``Xc = U S Vt`` or, for tall data, from ``eigh(C)``
    (same result, about 8 x faster); signs follow scikit-learn's
    ``svd_flip``, so ``components_`` agree with
    ``sklearn.decomposition.PCA(svd_solver="full")`` entry for entry.

    Parameters
    ----------
    n_components : int or None, default=None
        Number of components k, 1 <= k <= min(n_samples, n_features);
        None keeps all min(n_samples, n_features).
    solver : {"auto", "svd", "covariance_eigh"}, default="auto"
        "auto" picks "covariance_eigh" when n_features <= 1000 and
        n_samples >= 10 * n_features (scikit-learn's rule), else "svd".
    contamination : "auto" or float in (0, 0.5], default="auto"
        Sets ``offset_``, the threshold of ``predict``, from the training
        rows' reconstruction errors (see ``npae.anomaly``): PCA is an
        anomaly detector through ``score_samples``, ``decision_function``
        and ``predict``, like every npae autoencoder.

    Shape
    -----
    X : (n_samples, n_features) -> Z : ``(n_samples, n_components_)``.
    float32 input gives float32 attributes and output (computed with
    ``scipy.linalg`` in float32); anything else is computed in float64.

    Attributes
    ----------
    components_ : ndarray of shape ``(n_components_, n_features)``
        Principal axes, orthonormal rows, by decreasing variance.
    mean_ : ndarray of shape (n_features,)
        Per-feature mean of the training data.
    explained_variance_ : ndarray of shape ``(n_components_,)``
        Eigenvalues of the covariance (``n - 1`` degrees of freedom).
    explained_variance_ratio_ : ndarray of shape ``(n_components_,)``
        ``explained_variance_ / total variance``.
    singular_values_ : ndarray of shape ``(n_components_,)``
        Singular values of the centred data, ``sqrt((n - 1) variance)``.
    noise_variance_ : float
        Mean of the discarded eigenvalues (probabilistic PCA's sigma^2;
        0 when nothing is discarded).
    discarded_variance_ : float
        Sum of the discarded eigenvalues. The mean squared reconstruction
        error per training sample is ``(n - 1) / n * discarded_variance_``.
    n_components_ : int
    n_features_in_ : int
    n_samples_ : int
    scatter_ : ndarray of shape (n_features, n_features)
        The centred scatter matrix ``sum_i (x_i - mean_)(x_i - mean_)^T`` of
        the training rows (``(n_samples_ - 1)`` times their covariance):
        with ``n_samples_`` and ``mean_``, what ``partial_fit`` merges new
        rows into. Not set by an SVD fit of wide data (n_samples <
        n_features: forming it would cost more than the SVD).
    offset_ : float
        ``decision_function = score_samples - offset_``. Set by ``fit``
        from the training rows' squared distances to the principal
        subspace, ``||x - mean||^2 - ||z||^2`` per row divided by
        ``n_features`` (the SVD gives them without another pass over X);
        after ``partial_fit``, from the rows of the latest call.

    Notes
    -----
    Why the error is the discarded variance: with ``Xc = U S Vt``,
    ``Xc - Xc V_k V_k^T = sum_{j>k} s_j u_j v_j^T``, so
    ``||Xc - Xc V_k V_k^T||_F^2 = sum_{j>k} s_j^2 = (n - 1) sum_{j>k} lambda_j``
    (Eckart-Young: no rank-k map does better).

    The covariance is formed from centred data, centred in blocks of rows so
    that no centred copy of X is made. scikit-learn's "covariance_eigh" forms
    ``X^T X - n m m^T`` instead, which loses digits when the mean is large
    against the spread: for data offset by 1e6, its components are off by
    about 1e-3 where npae's agree with the SVD to 1e-14.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 5))
    >>> pca = PCA(n_components=2).fit(X)
    >>> pca.transform(X).shape
    (100, 2)
    >>> n = X.shape[0]
    >>> mse = np.sum((X - pca.inverse_transform(pca.transform(X))) ** 2) / n
    >>> bool(np.isclose(mse, (n - 1) / n * pca.discarded_variance_))
    True
    """

    def __init__(self, n_components=None, solver="auto", contamination="auto"):
        self.n_components = n_components
        self.solver = solver
        self.contamination = contamination

    def _check_n_components(self, n_samples, n_features):
        limit = min(n_samples, n_features)
        if self.n_components is None:
            return limit
        k = self.n_components
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise TypeError(f"PCA: n_components must be an int or None, got {k!r}")
        if not 1 <= k <= limit:
            raise ValueError(
                f"PCA: n_components must be between 1 and min(n_samples, n_features)"
                f"={limit}, got {k}"
            )
        return int(k)

    def fit(self, X, y=None):
        """Fit the principal axes to ``X`` of shape (n_samples, n_features).

        ``X`` may be an array, a ``np.memmap`` or ``npae.ScaledArray`` (read
        block by block, through the covariance) or a Dask array (each
        chunk's statistics computed as a Dask task, on a cluster if a
        ``dask.distributed`` client is active; needs ``pip install 'npae[dask]'``).

        Returns
        -------
        self : PCA
        """
        check_choice(self.solver, "solver", "PCA", SOLVERS)
        check_contamination(self.contamination, "PCA")
        if _is_dask(X):
            return self._fit_dask(X)
        X = as_rows(X, "PCA")
        n_samples, n_features = X.shape
        self._check_enough_samples(n_samples)
        k = self._check_n_components(n_samples, n_features)
        solver = self.solver
        if solver == "auto":
            solver = "covariance_eigh" if isinstance(X, Rows) else _choose_solver(*X.shape)
        if isinstance(X, Rows) and solver == "svd":
            X = np.asarray(X)  # the SVD needs all of the centred data at once
        with np.errstate(over="ignore", invalid="ignore"):
            if isinstance(X, Rows):
                _, mean, scatter = _rows_statistics(X)
                variances, Vt = _spectrum_of_scatter(scatter, n_samples)
            else:
                mean = X.mean(axis=0)
                variances, Vt, scatter = _spectrum(X, mean, solver)
        self._set_spectrum(k, n_samples, mean, scatter, variances, Vt, lambda: "" if isinstance(
            X, Rows) else f"values up to {np.abs(X).max():.3g}")
        self._set_offset(X)
        return self

    def partial_fit(self, X, y=None):
        """Add the rows of ``X`` to what the model has seen; returns ``self``.

        Exact: the statistics of ``X`` (count, mean, centred scatter) are
        merged into ``n_samples_``, ``mean_`` and ``scatter_``
        (``merge_statistics``) and the axes recomputed from the merged
        covariance, so after any sequence of calls the model equals a
        ``fit`` on all the rows, to round-off. The first call on an
        unfitted model starts from nothing (scikit-learn's convention, as in
        ``IncrementalPCA``); ``n_components`` must then not exceed the
        features; ``X`` may be a memory map, a ``ScaledArray`` or a Dask
        array, as in ``fit``.

        ``offset_`` afterwards is the ``contamination`` quantile of the
        scores of this call's rows under the updated axes: a threshold from
        the newest block. For one over more rows, use
        ``np.percentile(pca.score_samples(X_ref), 100 * contamination)``.
        """
        check_choice(self.solver, "solver", "PCA", SOLVERS)
        check_contamination(self.contamination, "PCA")
        first = not hasattr(self, "components_")
        if not first and not hasattr(self, "scatter_"):
            raise ValueError(
                "PCA.partial_fit continues a model fitted through the covariance, by an "
                "SVD of tall data or by partial_fit; this one was fitted by the SVD of "
                "wide data (fewer samples than features), which keeps no scatter matrix: "
                "fit it with solver='covariance_eigh', or start a new PCA"
            )
        dtype = None if first else self.scatter_.dtype
        width = None if first else self.n_features_in_
        if _is_dask(X):
            X = _dask_rows(X, width)
            statistics = _dask_statistics(X)
        else:
            X = as_rows(X, "PCA", dtype=dtype, n_features=width)
            statistics = _rows_statistics(X) if isinstance(X, Rows) else block_statistics(X)
        if not first:
            statistics = merge_statistics((self.n_samples_, self.mean_, self.scatter_),
                                          statistics)
        n_samples, mean, scatter = statistics
        self._check_enough_samples(n_samples)
        k = self._check_n_components(n_samples, X.shape[1])
        variances, Vt = _spectrum_of_scatter(scatter, n_samples)
        self._set_spectrum(k, n_samples, mean, scatter, variances, Vt, lambda: "")
        self._set_offset(X)
        return self

    def _fit_dask(self, X):
        """``fit`` on a Dask array: per-chunk statistics and residuals as Dask tasks."""
        X = _dask_rows(X, None)
        n_samples, n_features = X.shape
        self._check_enough_samples(n_samples)
        k = self._check_n_components(n_samples, n_features)
        _, mean, scatter = _dask_statistics(X)
        variances, Vt = _spectrum_of_scatter(scatter, n_samples)
        self._set_spectrum(k, n_samples, mean, scatter, variances, Vt, lambda: "")
        self._set_offset(X)
        return self

    @staticmethod
    def _check_enough_samples(n_samples):
        if n_samples < 2:
            raise ValueError(
                f"PCA needs at least 2 samples to estimate a variance, got n_samples = "
                f"{n_samples}"
            )

    def _set_spectrum(self, k, n_samples, mean, scatter, variances, Vt, values):
        """Set the fitted attributes from the mean, scatter and spectrum of ``n_samples`` rows.

        ``values()`` describes the data for the overflow message.
        """
        if not (np.isfinite(mean).all() and np.isfinite(variances).all()
                and np.isfinite(Vt).all()):
            described = values()
            raise ValueError(
                f"PCA: the data's mean or variance overflows {mean.dtype}"
                f"{f' ({described})' if described else ''}: scale the data "
                "(e.g. divide by its largest value)"
            )
        n_features = mean.shape[0]
        self.mean_ = mean
        if scatter is not None:
            self.scatter_ = scatter
        elif hasattr(self, "scatter_"):  # a refit by SVD: the old one is not of these rows
            del self.scatter_
        self.n_features_in_ = n_features
        self.n_samples_ = n_samples
        self.n_components_ = k
        self.components_ = np.ascontiguousarray(Vt[:k])
        self.explained_variance_ = variances[:k].copy()
        ev = self.explained_variance_
        total = variances.sum()
        # constant data has no variance to explain: ratios 0, not 0 / 0
        self.explained_variance_ratio_ = ev / total if total > 0 else np.zeros_like(ev)
        self.singular_values_ = np.sqrt(self.explained_variance_ * (n_samples - 1))
        n_discarded = min(n_samples, n_features) - k
        self.discarded_variance_ = discarded_variance(variances, k)
        self.noise_variance_ = self.discarded_variance_ / n_discarded if n_discarded else 0.0

    def _residuals(self, X):
        """``squared_residuals`` of every row of ``X``: an array, ``Rows`` or a Dask array.

        In blocks (no centred copy of X); a Dask array's as Dask tasks.
        """
        mean, components = self.mean_, self.components_
        if _is_dask(X):
            return X.map_blocks(squared_residuals, mean, components, drop_axis=1,
                                dtype=np.float64).compute()
        chunks = X.blocks() if isinstance(X, Rows) else (
            X[start:start + 1024] for start in range(0, len(X), 1024))
        return np.concatenate([squared_residuals(block, mean, components) for block in chunks])

    def score_samples(self, X):
        """Minus the mean squared reconstruction error of each row; higher is more normal.

        In closed form, ``-(||x - mean||^2 - ||z||^2) / n_features`` with
        ``z = transform(x)`` (Pythagoras: ``x_hat - mean`` is the projection
        of ``x - mean``), without reconstructing X; ``fit`` scores its
        training rows the same way for ``offset_``. ``X`` may be a memory
        map, ``ScaledArray`` or Dask array (scored block by block).

        Returns
        -------
        ndarray of shape (n_samples,), float64
        """
        check_is_fitted(self)
        if _is_dask(X):
            X = _dask_rows(X, self.n_features_in_)
        else:
            X = as_rows(X, "PCA", dtype=self.components_.dtype, n_features=self.n_features_in_)
        return -self._residuals(X) / self.n_features_in_

    def _set_offset(self, X):
        """``offset_`` from the scores of the training rows ``X`` (validated; one pass)."""
        scores = -self._residuals(X) / self.n_features_in_
        self.offset_ = offset_from_scores(scores, self.contamination)

    def _validate(self, X):
        """Check that PCA is fitted and ``X`` has its features; the array in its dtype."""
        check_is_fitted(self)
        return _check_2d(X, self.components_.dtype, self.n_features_in_)

    def transform(self, X):
        """Project onto the principal axes: ``Z = (X - mean_) @ components_.T``.

        Returns
        -------
        Z : ndarray of shape ``(n_samples, n_components_)``
        """
        check_is_fitted(self)
        X = _check_2d(X, self.components_.dtype, self.n_features_in_)
        # X_new = Xc V = U S Vt V = U S
        return (X - self.mean_) @ self.components_.T

    def inverse_transform(self, Z):
        """Map codes back to input space: ``X_hat = Z @ components_ + mean_``.

        Returns
        -------
        X_hat : ndarray of shape ``(n_samples, n_features_in_)``
        """
        check_is_fitted(self)
        Z = _check_2d(Z, self.components_.dtype, self.n_components_)
        return Z @ self.components_ + self.mean_

    def reconstruct(self, X):
        """Project and map back: ``inverse_transform(transform(X))``."""
        return self.inverse_transform(self.transform(X))

    def score(self, X, y=None):
        """Negative mean squared reconstruction error per entry of ``X``.

        On the training data this is ``-(n - 1) / (n d) * discarded_variance_``.
        Higher is better, as scikit-learn's model selection expects.
        """
        check_is_fitted(self)
        X = _check_2d(X, self.components_.dtype, self.n_features_in_)
        return -float(np.mean((X - self.reconstruct(X)) ** 2))

    @property
    def _n_features_out(self):
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
