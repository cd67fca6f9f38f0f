"""Anomaly detection from reconstruction error: scikit-learn's outlier-detector interface.

A model trained to reconstruct normal data reconstructs unusual rows badly,
so the reconstruction error is an anomaly score. ``ReconstructionOutlierMixin``
gives every npae autoencoder and ``npae.PCA`` the interface of scikit-learn's
outlier detectors (``IsolationForest``, ``LocalOutlierFactor``):

- ``score_samples(X)``: one score per row, higher is more normal: minus the
  mean squared reconstruction error of the row (of the image, for image
  models; the VAE uses its ELBO instead);
- ``decision_function(X) = score_samples(X) - offset_``: negative for outliers;
- ``predict(X)``: +1 for inliers, -1 for outliers (``decision_function < 0``);
- ``fit_predict(X)`` (scikit-learn's ``OutlierMixin``);
- ``reconstruction_error_map(X)``: the squared error of every entry, the
  shape of ``X``: for images, a per-pixel map of where the model fails.

The ``contamination`` hyperparameter sets ``offset_`` from the scores of the
training rows at the end of ``fit``:

- a fraction ``c`` in (0, 0.5]: ``offset_`` is the ``c`` quantile of the
  training scores (``np.percentile``, linear interpolation, as
  ``IsolationForest``), so ``predict`` flags a fraction ``c`` of the
  training rows (to within ``1 / n``);
- ``"auto"``: the fraction ``AUTO_FRACTION`` = 0.05, a threshold at the
  95th percentile of the training rows' reconstruction errors, the usual
  starting point for reconstruction-based detectors. (``IsolationForest``'s
  "auto" is a fixed threshold on its score, which is normalized to (0, 1]; a
  reconstruction error has no such natural scale, so npae's "auto" is a
  quantile.) Choose the threshold from labelled validation data when you
  have some (``notebooks/10_anomaly_detection.ipynb`` shows how).

The training rows are the reference, so a model fitted on data that holds
outliers learns to reconstruct some of them: fit on clean data when you can.

Scoring the training rows is a pass over them, and the training loop's
divergence guard needs one too, to test the final weights: ``TrainingScores``
is that one pass for both. It scores the rows in blocks when they are
streamed (``npae.streaming``), and after ``partial_fit`` the reference is
the rows of the latest call.
"""

import numbers
from contextlib import contextmanager

import numpy as np
from sklearn.base import OutlierMixin
from sklearn.utils.validation import check_is_fitted

from npae.streaming import map_rows
from npae.train import TrainingDivergedError

#: The fraction of training rows ``contamination="auto"`` flags.
AUTO_FRACTION = 0.05


def check_contamination(contamination, owner):
    """``"auto"`` or a fraction in (0, 0.5], as scikit-learn's ``IsolationForest`` accepts."""
    if isinstance(contamination, str) and contamination == "auto":
        return contamination
    if (isinstance(contamination, bool) or not isinstance(contamination, numbers.Real)
            or not 0 < contamination <= 0.5):
        raise ValueError(
            f"{owner}: contamination must be 'auto' or a fraction in (0, 0.5], "
            f"got {contamination!r}"
        )
    return float(contamination)


def score_rows(model, X):
    """The scores of the training rows ``X`` (``model._training_scores``): an array at once,
    ``Rows`` block by block."""
    return map_rows(X, model._training_scores)


class TrainingScores:
    """The scores of the training rows ``X`` under the current weights, from one pass.

    Called (as the ``Trainer``'s ``check_final``), it scores every row and
    returns minus their mean: a loss that is finite only if every score is,
    with which the ``DivergenceGuard`` tests the final weights. ``scores()``
    then hands those scores to ``offset_`` without a second pass, unless
    the weights have changed since (early stopping restored better ones, a
    divergence rolled back, no test was needed): then it scores anew.
    """

    def __init__(self, model, X):
        self.model, self.X = model, X
        self._scores = self._weights = None

    def __call__(self):
        self._scores = score_rows(self.model, self.X)
        self._weights = [p.copy() for p in self.model.network_.params()]
        with np.errstate(over="ignore", invalid="ignore"):
            return -float(np.mean(self._scores))

    def scores(self):
        """The training rows' scores under the current weights."""
        weights = self.model.network_.params()
        if self._weights is None or not all(np.array_equal(a, b)
                                            for a, b in zip(self._weights, weights)):
            return score_rows(self.model, self.X)
        return self._scores


def offset_from_scores(scores, contamination):
    """The threshold below which a training row's score makes it an outlier (module docstring)."""
    fraction = AUTO_FRACTION if contamination == "auto" else contamination
    return float(np.percentile(scores, 100 * fraction))


class ReconstructionOutlierMixin(OutlierMixin):
    """Outlier detection from reconstruction error; see the module docstring.

    The class provides ``_validate(X)`` (fitted check and validated array)
    and ``reconstruct(X)``, stores ``contamination`` in ``__init__`` and
    calls ``_set_offset(X)`` with the training data (an array or ``Rows``)
    at the end of ``fit`` (or trains inside ``with self._setting_offset(X):``,
    whose ``TrainingScores`` the training loop uses as its final check).
    """

    def reconstruction_error_map(self, X):
        """Squared reconstruction error ``(x_hat - x)^2`` of every entry, the shape of ``X``.

        For images (N, C, H, W) it is the per-pixel error map that
        ``score_samples`` averages.
        """
        return map_rows(self._validate(X), self._error_map)

    def score_samples(self, X):
        """Minus the mean squared reconstruction error of each row (image); higher is more normal.

        Returns
        -------
        ndarray of shape (n_samples,), float64
        """
        def scores(rows):
            errors = self._error_map(rows)
            return -np.mean(errors, axis=tuple(range(1, errors.ndim)), dtype=np.float64)
        return map_rows(self._validate(X), scores)

    def _error_map(self, X):
        """``reconstruction_error_map`` of validated rows ``X`` (an array)."""
        return (self.reconstruct(X) - X) ** 2

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers."""
        check_is_fitted(self, "offset_")
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """+1 for an inlier, -1 for an outlier (``decision_function(X) < 0``)."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    def _training_scores(self, X):
        """``score_samples`` of training rows as ``fit`` holds them (a conditional model's
        rows carry their labels)."""
        return self.score_samples(X)

    def _set_offset(self, X):
        """Set ``offset_`` from the scores of the training rows ``X`` (``contamination``)."""
        self.offset_ = offset_from_scores(score_rows(self, X), self.contamination)

    @contextmanager
    def _setting_offset(self, X):
        """Set ``offset_`` from ``X`` once the training in the block ends.

        The training loop scores ``X`` for its final check through
        ``self._scoring`` (``TrainingScores``), and ``offset_`` takes those
        scores. Also when training stops early: after Ctrl-C or a divergence
        the model keeps its last good weights and stays usable, ``predict``
        included.
        """
        scoring = self._scoring = TrainingScores(self, X)
        try:
            yield
        except (KeyboardInterrupt, TrainingDivergedError):
            self.offset_ = offset_from_scores(scoring.scores(), self.contamination)
            raise
        finally:
            del self._scoring
        self.offset_ = offset_from_scores(scoring.scores(), self.contamination)
