"""Scores the estimators report that are not a loss: ``iou_score`` for segmentation masks."""

import numpy as np

from npae._validation import check_choice

AVERAGES = ("binary", "macro")


def iou_score(y_true, y_pred, average="binary"):
    """Intersection over union ``|T and P| / |T or P|`` of segmentation masks.

    Pixels of all images are pooled (as ``sklearn.metrics.jaccard_score`` on
    the flattened arrays), so large and small images weigh by their pixels.

    Parameters
    ----------
    y_true, y_pred : array-like of the same shape
        Binary masks (values 0 and 1) for ``average="binary"``; class labels
        (integers >= 0) for ``average="macro"``.
    average : {"binary", "macro"}, default "binary"
        ``"binary"``: the IoU of the foreground (label 1); if neither mask
        has a foreground pixel they agree perfectly and the score is 1.
        ``"macro"``: the mean of the per-class IoUs over the classes present
        in ``y_true`` or ``y_pred`` (a class absent from both has an undefined
        0 / 0 IoU and is left out; one predicted but absent counts as 0).

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> iou_score([[1, 1, 0, 0]], [[1, 0, 1, 0]])  # 1 pixel in common, 3 in the union
    0.3333333333333333
    """
    check_choice(average, "average", "iou_score", AVERAGES)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"iou_score expected y_true and y_pred of the same shape, got {y_true.shape} "
            f"and {y_pred.shape}"
        )
    if y_true.size == 0:
        raise ValueError("iou_score expected non-empty masks, got size 0")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if average == "binary" and not np.all((y == 0) | (y == 1)):
            raise ValueError(f"iou_score(average='binary') expected {name} of 0s and 1s")
        if average == "macro" and not np.all((y >= 0) & (y == np.round(y))):
            raise ValueError(f"iou_score(average='macro') expected {name} of integer labels >= 0")
    if average == "binary":
        t, p = y_true == 1, y_pred == 1
        union = np.count_nonzero(t | p)
        return 1.0 if union == 0 else float(np.count_nonzero(t & p) / union)
    t, p = y_true.astype(np.int64).ravel(), y_pred.astype(np.int64).ravel()
    k = int(max(t.max(), p.max())) + 1
    # confusion[i, j] = pixels of true class i predicted as j
    confusion = np.bincount(t * k + p, minlength=k * k).reshape(k, k)
    intersection = np.diag(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - intersection
    present = union > 0
    return float(np.mean(intersection[present] / union[present]))
