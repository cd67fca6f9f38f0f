"""Tests of npae.metrics: iou_score by hand, against scikit-learn, and on bad input."""

import numpy as np
import pytest
from sklearn.metrics import jaccard_score

import npae
from npae.metrics import iou_score


def test_iou_score_is_exported_where_it_always_was():
    assert npae.iou_score is iou_score and npae.models.iou_score is iou_score


def test_iou_binary_by_hand():
    y_true = np.array([[1, 1, 0, 0], [0, 1, 1, 0]])
    y_pred = np.array([[1, 0, 0, 0], [0, 1, 1, 1]])
    # intersection {(0,0), (1,1), (1,2)} = 3; union adds (0,1), (1,3): 5
    assert iou_score(y_true, y_pred) == pytest.approx(3 / 5)
    assert type(iou_score(y_true, y_pred)) is float
    assert iou_score(y_true, y_true) == 1.0
    assert iou_score(y_true, 1 - y_true) == 0.0
    assert iou_score(np.zeros((2, 3)), np.zeros((2, 3))) == 1.0  # nothing to find, nothing found
    assert iou_score(np.zeros((2, 3)), np.ones((2, 3))) == 0.0


def test_iou_macro_by_hand():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    # class 0: I 1, U 3; class 1: I 2, U 3; class 2: I 1, U 2
    assert iou_score(y_true, y_pred, average="macro") == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    # class 3 absent from both is left out; class 4 predicted but absent counts as 0
    assert iou_score([0, 0, 1], [0, 0, 1], average="macro") == 1.0
    assert iou_score([0, 0, 1], [0, 4, 1], average="macro") == pytest.approx((1 / 2 + 1 + 0) / 3)


def test_iou_matches_sklearn_jaccard(rng):
    y_true = rng.integers(0, 4, (3, 5, 6))
    y_pred = rng.integers(0, 4, (3, 5, 6))
    want = jaccard_score(y_true.ravel(), y_pred.ravel(), average="macro")
    assert iou_score(y_true, y_pred, average="macro") == pytest.approx(want, rel=1e-12)
    t, p = y_true > 1, y_pred > 1
    assert iou_score(t, p) == pytest.approx(jaccard_score(t.ravel(), p.ravel()), rel=1e-12)


@pytest.mark.parametrize("args, match", [
    (([0, 1], [0, 1, 1]), "same shape"),
    (([0, 2], [0, 1]), "y_true of 0s and 1s"),
    (([0, 1], [0.5, 1]), "y_pred of 0s and 1s"),
    (([0, -1], [0, 1], "macro"), "integer labels >= 0"),
    (([0, 1], [0, 1], "micro"), "average must be one of"),
])
def test_iou_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        iou_score(*args)
