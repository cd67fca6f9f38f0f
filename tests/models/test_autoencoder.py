"""Autoencoder: the estimator contract, reproducibility, errors, gradients, digits vs PCA."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA as SklearnPCA
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from npae import Autoencoder
from npae.datasets import load_digits, train_test_split
from npae.gradcheck import check_model
from npae.train import Callback, TrainingDivergedError

SMALL = {"hidden_sizes": (8,), "code_size": 3, "epochs": 3, "batch_size": 16, "random_state": 0}


def low_rank_data(n=60, n_features=10, rank=3, seed=0):
    """Rows near a ``rank``-dimensional subspace, in [0, 1]."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, n_features))
    return 1 / (1 + np.exp(-X)) + 0.01 * rng.normal(size=(n, n_features))


def params_of(model):
    return [p.copy() for p in model.network_.params()]


# -- shapes, dtypes, fitted attributes -----------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shapes_and_dtypes(dtype):
    X = low_rank_data().astype(dtype)
    model = Autoencoder(**SMALL)
    assert model.fit(X) is model
    Z = model.transform(X)
    assert Z.shape == (60, 3) and Z.dtype == dtype
    X_hat = model.inverse_transform(Z)
    assert X_hat.shape == X.shape and X_hat.dtype == dtype
    R = model.reconstruct(X)
    assert R.dtype == dtype
    np.testing.assert_array_equal(R, X_hat)
    assert all(p.dtype == dtype for p in model.network_.params())
    assert model.dtype_ == dtype
    score = model.score(X)
    assert isinstance(score, float)
    assert score == pytest.approx(-np.mean((R.astype(np.float64) - X) ** 2), rel=1e-5)
    assert model.fit_transform(X).dtype == dtype


def test_integer_and_list_input_become_float64():
    X = (low_rank_data() * 10).astype(int)
    model = Autoencoder(**SMALL).fit(X)
    assert model.dtype_ == np.float64
    assert model.transform(X.tolist()).dtype == np.float64


def test_float32_model_converts_float64_input():
    X = low_rank_data()
    model = Autoencoder(**SMALL).fit(X.astype(np.float32))
    assert model.transform(X).dtype == np.float32


def test_dtype_hyperparameter_overrides_the_input():
    X = low_rank_data()
    model = Autoencoder(**SMALL, dtype="float32").fit(X)
    assert model.transform(X).dtype == np.float32


def test_fitted_attributes():
    X = low_rank_data()
    model = Autoencoder(hidden_sizes=(7, 5), code_size=2, epochs=2, random_state=0).fit(X)
    assert model.n_features_in_ == 10
    assert model.input_shape_ == (10,)
    assert model.code_shape_ == (2,)
    dense = [(layer.in_features, layer.out_features) for layer in model.network_.layers
             if hasattr(layer, "in_features")]
    assert dense == [(10, 7), (7, 5), (5, 2), (2, 5), (5, 7), (7, 10)]
    assert model.network_.layers == model.encoder_.layers + model.decoder_.layers


def test_activations_are_placed_as_asked():
    model = Autoencoder(hidden_sizes=(6,), code_size=2, activation="tanh",
                        code_activation="sigmoid", output_activation="sigmoid", epochs=1,
                        random_state=0).fit(low_rank_data())
    kinds = [type(layer).__name__ for layer in model.network_.layers]
    assert kinds == ["Dense", "Tanh", "Dense", "Sigmoid", "Dense", "Tanh", "Dense", "Sigmoid"]
    Z = model.transform(low_rank_data())
    assert (Z > 0).all() and (Z < 1).all()


def test_history_has_one_entry_per_epoch():
    X = low_rank_data()
    model = Autoencoder(**{**SMALL, "epochs": 5}).fit(X)
    assert list(model.history_) == ["loss"]
    assert len(model.history_["loss"]) == 5
    model = Autoencoder(**{**SMALL, "epochs": 4}, validation_fraction=0.25).fit(X)
    assert len(model.history_["loss"]) == len(model.history_["val_loss"]) == 4
    assert all(np.isfinite(model.history_["val_loss"]))


def test_refit_starts_over():
    X = low_rank_data()
    model = Autoencoder(**SMALL).fit(X)
    first = params_of(model), list(model.history_["loss"])
    model.fit(X)
    assert len(model.history_["loss"]) == SMALL["epochs"]
    assert model.history_["loss"] == first[1]
    assert all(np.array_equal(a, b) for a, b in zip(params_of(model), first[0]))


def test_training_reduces_the_loss():
    X = low_rank_data(n=200)
    model = Autoencoder(hidden_sizes=(16,), code_size=3, epochs=60, learning_rate=1e-2,
                        batch_size=32, random_state=0).fit(X)
    loss = model.history_["loss"]
    assert loss[-1] < 0.3 * loss[0]
    assert -model.score(X) == pytest.approx(loss[-1], rel=0.3)


def test_loss_bce_trains_with_sigmoid_output():
    X = low_rank_data(n=200).clip(0, 1)
    model = Autoencoder(hidden_sizes=(16,), code_size=3, loss="bce", output_activation="sigmoid",
                        epochs=40, learning_rate=1e-2, random_state=0).fit(X)
    assert model.history_["loss"][-1] < model.history_["loss"][0]


class _ConfidentlyWrongOutput(Callback):
    """Set the output bias to -20 before training: sigmoid(-20) ~ 2e-9 where targets are ~1."""

    def __init__(self, model):
        self.model = model

    def on_train_begin(self, trainer, X, Y):
        self.model.decoder_.layers[-2].params["b"][...] = -20.0


def test_bce_recovers_from_a_confidently_wrong_output():
    # Through a clipped probability BCE the gradient at sigmoid(-20) is zero and the
    # loss stays at -log(1e-7) ~ 16; from the logits the gradient is (sigmoid(l) - x) / n.
    X = np.full((64, 5), 0.99)
    model = Autoencoder(hidden_sizes=(), code_size=2, loss="bce", output_activation="sigmoid",
                        epochs=40, learning_rate=0.3, batch_size=16, random_state=0)
    model.fit(X, callbacks=[_ConfidentlyWrongOutput(model)])
    floor = -(0.99 * np.log(0.99) + 0.01 * np.log(0.01))  # the BCE of a perfect output
    assert model.history_["loss"][0] > 5
    assert model.history_["loss"][-1] == pytest.approx(floor, abs=1e-3)
    assert np.all(model.reconstruct(X) > 0.98)


def test_bce_gradient_equals_torch_bce_with_logits():
    torch = pytest.importorskip("torch")
    X = np.full((4, 5), 0.99)
    model = Autoencoder(hidden_sizes=(3,), code_size=2, activation="tanh", loss="bce",
                        output_activation="sigmoid", random_state=0)
    model._initialize(X)
    model.decoder_.layers[-2].params["b"][...] = -20.0
    model.network_.zero_grad()
    loss = model._step(X, X)

    h = torch.tensor(X)
    params = []
    for i, layer in enumerate(model.network_.layers):
        if layer.params:
            W = torch.tensor(layer.params["W"], requires_grad=True)
            b = torch.tensor(layer.params["b"], requires_grad=True)
            params.append((layer, W, b))
            h = h @ W + b
        elif i < len(model.network_.layers) - 1:  # the final Sigmoid is in the loss
            h = torch.tanh(h) if layer.name == "Tanh" else h
    expected = torch.nn.BCEWithLogitsLoss()(h, torch.tensor(X))
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-14)
    for layer, W, b in params:
        np.testing.assert_allclose(layer.grads["W"], W.grad.numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(layer.grads["b"], b.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert model.decoder_.layers[-2].grads["b"] == pytest.approx([-0.198] * 5, rel=1e-6)


def test_weight_decay_shrinks_the_weights():
    X = low_rank_data(n=100)
    kw = {**SMALL, "epochs": 40, "learning_rate": 1e-2}
    plain = Autoencoder(**kw).fit(X)
    decayed = Autoencoder(**kw, weight_decay=0.5).fit(X)

    def norm(m):
        return sum(float(np.sum(p**2)) for p in m.network_.params())

    assert norm(decayed) < 0.5 * norm(plain)


def test_early_stopping_stops_early():
    X = low_rank_data(n=100)
    kw = {**SMALL, "epochs": 200, "learning_rate": 0.05, "validation_fraction": 0.3}
    model = Autoencoder(**kw, early_stopping=True, patience=3).fit(X)
    n = len(model.history_["loss"])
    assert n < 200
    # the kept weights are those of the best validation epoch
    best = int(np.argmin(model.history_["val_loss"]))
    assert best == n - 1 - 3


def test_callbacks_are_called():
    class Count(Callback):
        batches = epochs = 0

        def on_batch_end(self, trainer, logs):
            Count.batches += 1

        def on_epoch_end(self, trainer, logs):
            Count.epochs += 1

    Autoencoder(**SMALL).fit(low_rank_data(n=40), callbacks=[Count()])
    assert (Count.epochs, Count.batches) == (3, 3 * 3)  # 40 rows in batches of 16


def test_divergence_keeps_finite_weights():
    X = low_rank_data()
    model = Autoencoder(**{**SMALL, "epochs": 20}, optimizer="sgd", learning_rate=1e6)
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError, match="epoch"):
        model.fit(X * 100)
    assert all(np.isfinite(p).all() for p in model.network_.params())


# -- reproducibility --------------------------------------------------------------------

def test_same_random_state_is_bit_identical():
    X = low_rank_data()
    kw = {**SMALL, "validation_fraction": 0.2}
    a, b = Autoencoder(**kw).fit(X), Autoencoder(**kw).fit(X)
    assert a.history_ == b.history_
    assert all(np.array_equal(p, q) for p, q in zip(params_of(a), params_of(b)))
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


def test_different_random_states_differ():
    X = low_rank_data()
    a = Autoencoder(**SMALL).fit(X)
    b = Autoencoder(**{**SMALL, "random_state": 1}).fit(X)
    assert a.history_ != b.history_
    assert not np.array_equal(a.transform(X), b.transform(X))


def test_random_state_generator_is_accepted():
    X = low_rank_data()
    a = Autoencoder(**{**SMALL, "random_state": np.random.default_rng(5)}).fit(X)
    b = Autoencoder(**{**SMALL, "random_state": 5}).fit(X)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


# -- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("method", [
    "transform", "inverse_transform", "score",
    "reconstruct",
])
def test_not_fitted(method):
    with pytest.raises(NotFittedError, match="not fitted"):
        getattr(Autoencoder(), method)(np.ones((2, 3)))


def test_wrong_feature_count_names_the_numbers():
    model = Autoencoder(**SMALL).fit(low_rank_data())
    with pytest.raises(ValueError, match="X has 5 features, but Autoencoder is expecting 10 "
                                         "features as input"):
        model.transform(np.ones((2, 5)))
    with pytest.raises(ValueError, match="X has 4 features, but Autoencoder is expecting 3"):
        model.inverse_transform(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"expected a 2-d array, got shape \(10,\)"):
        model.transform(np.ones(10))


@pytest.mark.parametrize("X, error, message", [
    (np.array([[1.0, np.nan]]), ValueError, "Autoencoder expected finite input"),
    (np.ones((0, 4)), ValueError, r"0 sample\(s\)"),
    ("data", TypeError, "expected an array-like of numbers, got str"),
    (np.ones((2, 2), dtype=complex), ValueError, "Complex data not supported"),
])
def test_bad_data_at_fit(X, error, message):
    with pytest.raises(error, match=message):
        Autoencoder(**SMALL).fit(X)


@pytest.mark.parametrize("params, error, message", [
    ({"epochs": -1}, ValueError, "epochs must be >= 0, got -1"),
    ({"epochs": 2.0}, TypeError, "epochs must be an int, got 2.0"),
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
    ({"activation": "swish"}, ValueError, "activation must be one of .*got 'swish'"),
    ({"output_activation": "softmax"}, ValueError, "output_activation must be one of"),
    ({"loss": "mae"}, ValueError, "loss must be one of 'mse', 'bce', got 'mae'"),
    ({"loss": "bce"}, ValueError, "loss='bce' .* output_activation='sigmoid', got 'identity'"),
    ({"optimizer": "rmsprop"}, ValueError, "optimizer must be one of .*got 'rmsprop'"),
    ({"hidden_sizes": (8, 0)}, ValueError, "each of hidden_sizes must be >= 1, got 0"),
    ({"hidden_sizes": "64"}, TypeError, "each of hidden_sizes must be an int"),
    ({"code_size": 0}, ValueError, "code_size must be >= 1, got 0"),
    ({"learning_rate": 0}, ValueError, "learning_rate must be > 0, got 0"),
    ({"learning_rate": "fast"}, TypeError, "learning_rate must be a number, got 'fast'"),
    ({"weight_decay": -1}, ValueError, "weight_decay must be >= 0"),
    ({"validation_fraction": 1.0}, ValueError, "validation_fraction must be <= 0.9, got 1.0"),
    ({"patience": 0}, ValueError, "patience must be >= 1, got 0"),
    ({"dtype": "float16"}, ValueError, "expected dtype float32 or float64, got float16"),
    ({"random_state": -3}, ValueError, "random_state must be a non-negative int, got -3"),
])
def test_bad_hyperparameters_raise_at_fit(params, error, message):
    model = Autoencoder(**{**SMALL, **params})  # __init__ only stores
    assert model.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises(error, match=message):
        model.fit(low_rank_data())


# -- gradients -------------------------------------------------------------------------------

@pytest.mark.parametrize("loss, output", [("mse", "identity"), ("bce", "sigmoid")])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_check_model(loss, output, activation):
    X = low_rank_data(n=6, n_features=7).clip(0.02, 0.98)
    model = Autoencoder(hidden_sizes=(5,), code_size=2, activation=activation, loss=loss,
                        output_activation=output, random_state=0)
    result = check_model(model, X)
    assert len(result) == 8
    assert result.max_error < 1e-6, result.table()


# -- scikit-learn compatibility -----------------------------------------------------------------

@parametrize_with_checks([Autoencoder(hidden_sizes=(4,), code_size=2, epochs=2,
                                      random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_clone_pipeline_and_grid_search():
    X = low_rank_data(n=120, rank=3) * 10
    model = Autoencoder(hidden_sizes=(16,), code_size=1, epochs=60, learning_rate=1e-2,
                        random_state=0)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "network_")
    pipe = make_pipeline(MinMaxScaler(), model).fit(X)
    assert pipe.transform(X).shape == (120, 1)
    search = GridSearchCV(pipe, {"autoencoder__code_size": [1, 3]}, cv=3).fit(X)
    # a larger code reconstructs held-out rows better, and score() says so
    assert search.best_params_ == {"autoencoder__code_size": 3}
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] > scores[0]
    assert search.best_estimator_.transform(X).shape == (120, 3)


# -- the digits claim: better than PCA at the same code size -------------------------------------

def digits_vs_pca(code_size):
    X, _, _ = load_digits()
    X_train, X_test = train_test_split(X, test_size=0.2, random_state=0)
    model = Autoencoder(hidden_sizes=(128, 64), code_size=code_size, output_activation="sigmoid",
                        epochs=300, batch_size=32, learning_rate=1e-3, random_state=0)
    model.fit(X_train)
    pca = SklearnPCA(code_size).fit(X_train)
    pca_mse = float(np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2))
    return -model.score(X_test), pca_mse


@pytest.mark.slow
@pytest.mark.parametrize("code_size, ratio", [(8, 0.6), (2, 0.7)])
def test_digits_autoencoder_beats_pca(code_size, ratio):
    ae_mse, pca_mse = digits_vs_pca(code_size)
    assert ae_mse <= ratio * pca_mse, (ae_mse, pca_mse)
