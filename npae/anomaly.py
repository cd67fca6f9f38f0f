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
"""

import numbers
from contextlib import contextmanager

import numpy as np
from sklearn.base import OutlierMixin
from sklearn.utils.validation import check_is_fitted

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


def offset_from_scores(scores, contamination):
    """The threshold below which a training row's score makes it an outlier (module docstring)."""
    fraction = AUTO_FRACTION if contamination == "auto" else contamination
    return float(np.percentile(scores, 100 * fraction))


class ReconstructionOutlierMixin(OutlierMixin):
    """Outlier detection from reconstruction error; see the module docstring.

    The class provides ``_validate(X)`` (fitted check and validated array)
    and ``reconstruct(X)``, stores ``contamination`` in ``__init__`` and
    calls ``_set_offset(X)`` with the training data at the end of ``fit``
    (or trains inside ``with self._setting_offset(X):``).
    """

    def reconstruction_error_map(self, X):
        """Squared reconstruction error ``(x_hat - x)^2`` of every entry, the shape of ``X``.

        For images (N, C, H, W) it is the per-pixel error map that
        ``score_samples`` averages.
        """
        X = self._validate(X)
        return (self.reconstruct(X) - X) ** 2

    def score_samples(self, X):
        """Minus the mean squared reconstruction error of each row (image); higher is more normal.

        Returns
        -------
        ndarray of shape (n_samples,), float64
        """
        errors = self.reconstruction_error_map(X)
        return -np.mean(errors, axis=tuple(range(1, errors.ndim)), dtype=np.float64)

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers."""
        check_is_fitted(self, "offset_")
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """+1 for an inlier, -1 for an outlier (``decision_function(X) < 0``)."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    def _set_offset(self, X):
        """Set ``offset_`` from the scores of the training rows ``X`` (``contamination``)."""
        self.offset_ = offset_from_scores(self.score_samples(X), self.contamination)

    @contextmanager
    def _setting_offset(self, X):
        """Set ``offset_`` from ``X`` once the training in the block ends.

        Also when it stops early: after Ctrl-C or a divergence the model
        keeps its last good weights and stays usable, ``predict`` included.
        """
        try:
            yield
        except (KeyboardInterrupt, TrainingDivergedError):
            self._set_offset(X)
            raise
        self._set_offset(X)
