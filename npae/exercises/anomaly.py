"""Exercise on anomaly detection from reconstruction error: scores, threshold, labels.

Conventions of ``npae.anomaly`` (and scikit-learn's outlier detectors): a
higher score is more normal, the threshold is the ``contamination``
quantile of the training scores, and ``predict`` says +1 for an inlier and
-1 for an outlier.
"""

import numpy as np

from npae.exercises.grading import Case, Exercise, Mistake, random_sizes


def outlier_scores(X, X_hat, train_scores, contamination):
    """Anomaly scores, threshold and labels from an autoencoder's reconstructions.

    Write ``outlier_scores(X, X_hat, train_scores, contamination)`` returning
    ``(scores, offset, labels)``.

    Parameters
    ----------
    X : ndarray (N, D)
        The rows to score.
    X_hat : ndarray (N, D)
        Their reconstructions by the model.
    train_scores : ndarray (M,)
        The scores of the training rows (computed the same way).
    contamination : float
        The fraction of training rows to call outliers, in (0, 0.5].

    Returns
    -------
    scores : ndarray (N,)
        Minus each row's mean squared reconstruction error: higher is more normal.
    offset : float
        The threshold: the ``contamination`` quantile of ``train_scores``
        (``np.percentile`` with its default linear interpolation).
    labels : ndarray (N,)
        +1 where ``scores - offset >= 0`` (inlier), -1 below (outlier).

    Notes
    -----
    ``score_samples(x) = -(1/D) sum_j (x_j - x_hat_j)^2``: rows the model
    reconstructs badly were unlike its training data. ``decision_function
    = score_samples - offset`` is negative for an outlier; setting
    ``offset`` at the ``contamination`` quantile of the training scores
    makes exactly that fraction of the training rows (up to ties and
    interpolation) fall below it.
    """
    scores = -np.mean((X - X_hat) ** 2, axis=1)
    offset = float(np.percentile(train_scores, 100 * contamination))
    labels = np.where(scores - offset >= 0, 1, -1)
    return scores, offset, labels


def _outlier_cases(rng):
    cases = []
    n_random, d_random = random_sizes(rng, 2, low=2, high=12)
    for n, d, contamination in [(20, 5, 0.1), (7, 3, 0.25), (1, 4, 0.05), (30, 8, 0.5),
                                (n_random, d_random, 0.2)]:
        X = rng.normal(size=(n, d))
        X_hat = X + rng.normal(scale=rng.uniform(0.1, 1.0, size=(n, 1)), size=(n, d))
        train_scores = -rng.gamma(2.0, 0.1, size=int(rng.integers(20, 60)))
        cases.append(Case({"X": X, "X_hat": X_hat, "train_scores": train_scores,
                           "contamination": contamination}))
    return cases


# Typical wrong answers, recognised in the hints.
def _positive_error(X, X_hat, train_scores, contamination):
    scores, offset, labels = outlier_scores(X, X_hat, train_scores, contamination)
    return -scores, offset, labels


def _upper_quantile(X, X_hat, train_scores, contamination):
    scores, _, _ = outlier_scores(X, X_hat, train_scores, contamination)
    offset = float(np.percentile(train_scores, 100 * (1 - contamination)))
    return scores, offset, np.where(scores - offset >= 0, 1, -1)


def _zero_one_labels(X, X_hat, train_scores, contamination):
    scores, offset, labels = outlier_scores(X, X_hat, train_scores, contamination)
    return scores, offset, (labels > 0).astype(labels.dtype)


OUTLIER_SCORES = Exercise(
    "outlier_scores", outlier_scores, ("X", "X_hat", "train_scores", "contamination"),
    ("scores", "offset", "labels"), _outlier_cases,
    mistakes=(
        Mistake("a score is higher for more normal rows: minus the reconstruction error, "
                "not the error itself", _positive_error),
        Mistake("the threshold is the contamination quantile of the training scores (the "
                "low end, where outliers score), not 1 - contamination", _upper_quantile),
        Mistake("labels are +1 (inlier) and -1 (outlier), scikit-learn's convention, not "
                "1 and 0", _zero_one_labels),
    ),
)

EXERCISES = (OUTLIER_SCORES,)
