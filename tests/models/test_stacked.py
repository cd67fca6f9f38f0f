"""StackedAutoencoder: greedy stages, history, vanishing gradients, interface."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.utils.estimator_checks import parametrize_with_checks

import npae
from npae import GradientNormLogger, StackedAutoencoder
from npae.datasets import load_digits, train_test_split
from npae.gradcheck import check_model
from npae.layers import Dense
from npae.network import Sequential

DEEP = (32, 32, 32, 32, 8)  # a deep sigmoid net: 10 Dense layers end to end


@pytest.fixture(scope="module")
def digits():
    return load_digits()[0]


# The loss of a deep sigmoid net barely depends on its first layers (their gradients
# vanish: the point of this model), so central differences there are dominated by
# round-off (~1e-16 L / eps). Layers of width >= 2 and eps = 1e-5 keep the check sharp.
@given(n=st.integers(1, 5), d=st.integers(2, 5),
       sizes=st.lists(st.integers(2, 4), min_size=1, max_size=2),
       activation=st.sampled_from(["sigmoid", "tanh"]), seed=st.integers(0, 99))
def test_full_loss_gradient(n, d, sizes, activation, seed):
    X = np.random.default_rng(seed).random((n, d))
    model = StackedAutoencoder(sizes, activation=activation, code_activation="identity",
                               random_state=seed)
    result = check_model(model, X, eps=1e-5)
    assert result.max_error < 1e-6, result.table()


def test_full_loss_gradient_of_a_deeper_sigmoid_net(rng):
    model = StackedAutoencoder((4, 4, 3), random_state=0)  # 6 Dense layers, all sigmoid
    result = check_model(model, rng.random((5, 6)), eps=1e-5)
    assert result.max_error < 1e-6, result.table()


def test_stages_are_the_layers_of_the_final_network(rng):
    X = rng.random((10, 7))
    model = StackedAutoencoder((5, 4, 3), code_activation="identity", random_state=0)
    model._initialize(X)
    stages = model.stages()
    widths = []
    for stage in stages:
        dense = [layer for layer in stage.layers if isinstance(layer, Dense)]
        widths.append((dense[0].in_features, dense[0].out_features, dense[1].out_features))
    assert widths == [(7, 5, 7), (5, 4, 5), (4, 3, 4)]
    shared = [layer for s in stages for layer in s.layers]
    assert sorted(map(id, shared)) == sorted(map(id, model.network_.layers))
    # the code layer has no activation ("identity"); its mirror keeps the hidden sigmoid
    assert [type(layer).__name__ for layer in stages[2].layers] == ["Dense", "Dense", "Sigmoid"]


def test_history_keeps_every_stage_and_is_json(digits):
    model = StackedAutoencoder((16, 8, 4), pretrain_epochs=3, finetune_epochs=2,
                               validation_fraction=0.2, random_state=0).fit(digits[:300])
    assert list(model.history_) == [
        "pretrain_0", "pretrain_0_val_loss", "pretrain_1", "pretrain_1_val_loss",
        "pretrain_2", "pretrain_2_val_loss", "loss", "val_loss"]
    assert all(len(v) == 3 for k, v in model.history_.items() if k.startswith("pretrain"))
    assert len(model.history_["loss"]) == 2
    assert json.loads(json.dumps(model.history_)) == model.history_
    assert all(type(v) is float for values in model.history_.values() for v in values)


def test_each_stage_learns_to_reconstruct_the_codes_before_it(digits):
    X = digits[:400]
    params = {"layer_sizes": (16, 8), "pretrain_epochs": 30, "finetune_epochs": 0,
              "random_state": 0}
    untrained = StackedAutoencoder(**params)
    untrained._initialize(X)
    model = StackedAutoencoder(**params).fit(X)
    codes = Sequential(model.stages()[0].layers[:2]).forward(X)  # Dense, Sigmoid

    def error(stage, inputs):
        return np.mean((stage.forward(inputs, training=False) - inputs) ** 2)

    for trained, fresh, inputs in zip(model.stages(), untrained.stages(), [X, codes]):
        assert error(trained, inputs) < 0.5 * error(fresh, inputs)
    for i in range(2):
        losses = model.history_[f"pretrain_{i}"]
        assert losses[-1] < losses[0]


def test_pretrain_false_trains_end_to_end_only(digits):
    model = StackedAutoencoder((16, 8), pretrain=False, pretrain_epochs=5, finetune_epochs=3,
                               random_state=0).fit(digits[:200])
    assert list(model.history_) == ["loss"] and len(model.history_["loss"]) == 3
    initial = StackedAutoencoder((16, 8), random_state=0)
    initial._initialize(digits[:200])
    untouched = StackedAutoencoder((16, 8), pretrain=False, finetune_epochs=0,
                                   random_state=0).fit(digits[:200])
    pretrained = StackedAutoencoder((16, 8), pretrain_epochs=5, finetune_epochs=0,
                                    random_state=0).fit(digits[:200])
    # both start from the same random initialization, which only pretraining moves
    for a, b, c in zip(untouched.network_.params(), initial.network_.params(),
                       pretrained.network_.params()):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


# -- gradient norms: vanishing without pretraining ---------------------------------------

def test_gradient_norm_logger_records_every_layer(digits):
    logger, every_other = GradientNormLogger(), GradientNormLogger(every=2)
    model = StackedAutoencoder((16, 8), pretrain=False, finetune_epochs=2, batch_size=50,
                               random_state=0).fit(digits[:200], callbacks=[logger, every_other])
    dense = [f"{i}.Dense" for i, layer in enumerate(model.network_.layers)
             if isinstance(layer, Dense)]
    assert list(logger.norms) == dense == ["0.Dense", "2.Dense", "4.Dense", "6.Dense"]
    assert all(len(v) == 8 for v in logger.norms.values())  # 2 epochs x 4 batches
    assert all(len(v) == 4 for v in every_other.norms.values())
    assert every_other.norms["0.Dense"] == logger.norms["0.Dense"][::2]
    assert list(logger.mean_norms()) == dense


def test_gradient_norm_logger_measures_this_batchs_gradient(rng):
    X = rng.random((8, 5))
    logger = GradientNormLogger()
    model = StackedAutoencoder((3,), pretrain=False, finetune_epochs=1, batch_size=8,
                               optimizer="sgd", random_state=0)
    model._initialize(X)
    weights = [p.copy() for p in model.network_.params()]
    model._train(model.network_, model._step, model._evaluate, X, epochs=1, callbacks=[logger])
    # with plain SGD, the update is -lr * grad: the step recovers the gradient
    moved = [(w - p) / model.learning_rate for w, p in zip(weights, model.network_.params())]
    expected = np.sqrt(np.sum(moved[0] ** 2) + np.sum(moved[1] ** 2))
    assert logger.norms["0.Dense"][0] == pytest.approx(expected, rel=1e-9)


def test_gradients_vanish_in_early_layers_of_a_deep_sigmoid_net(digits):
    logger = GradientNormLogger()
    StackedAutoencoder(DEEP, pretrain=False, finetune_epochs=1, random_state=0).fit(
        digits, callbacks=[logger])
    first_batch = [values[0] for values in logger.norms.values()]
    print("first-batch gradient norms, input to output:",
          " ".join(f"{v:.1e}" for v in first_batch))
    assert all(a < b for a, b in zip(first_batch, first_batch[1:]))
    assert first_batch[0] < 1e-3 * first_batch[-1]


def test_pretraining_keeps_gradients_balanced_and_reconstructs_better(digits):
    X_train, X_test = train_test_split(digits, test_size=0.2, random_state=0)
    results = {}
    for pretrain in (True, False):
        logger = GradientNormLogger()
        model = StackedAutoencoder(DEEP, pretrain=pretrain, pretrain_epochs=10, finetune_epochs=20,
                                   random_state=0).fit(X_train, callbacks=[logger])
        norms = list(logger.mean_norms().values())
        results[pretrain] = (max(norms) / min(norms), -model.score(X_test))
        print(f"pretrain={pretrain}: max/min mean gradient norm {results[pretrain][0]:.3g}, "
              f"test MSE {results[pretrain][1]:.4f}")
    assert results[True][0] < 10 < 1e4 < results[False][0]
    assert results[True][1] < 0.5 * results[False][1]


# -- the common interface ---------------------------------------------------------------

def test_interface(digits):
    X = digits[:200]
    model = StackedAutoencoder((16, 8), pretrain_epochs=1, finetune_epochs=3, random_state=0)
    assert model.fit(X) is model
    Z = model.transform(X)
    assert Z.shape == (200, 8) and model.code_shape_ == (8,)
    np.testing.assert_array_equal(model.inverse_transform(Z), model.reconstruct(X))
    assert model.score(X) == pytest.approx(-np.mean((model.reconstruct(X) - X) ** 2))
    assert model.network_.layers == model.encoder_.layers + model.decoder_.layers


def test_same_seed_same_model(digits):
    fits = [StackedAutoencoder((16, 8), pretrain_epochs=2, finetune_epochs=2,
                               random_state=seed).fit(digits[:300]) for seed in (3, 3, 4)]
    for a, b in zip(fits[0].network_.params(), fits[1].network_.params()):
        np.testing.assert_array_equal(a, b)
    assert fits[0].history_ == fits[1].history_
    assert fits[0].history_ != fits[2].history_


def test_rebuilt_from_hyperparameters_and_saved(digits, tmp_path):
    model = StackedAutoencoder((16, 8, 4), pretrain_epochs=1, finetune_epochs=1,
                               random_state=0).fit(digits)
    twin = type(model)(**model.get_params())
    twin._initialize(digits)
    twin.network_.load_state_dict(model.network_.state_dict())
    np.testing.assert_array_equal(twin.reconstruct(digits), model.reconstruct(digits))
    loaded = npae.load(model.save(tmp_path / "stacked.npz"))
    np.testing.assert_array_equal(loaded.reconstruct(digits), model.reconstruct(digits))
    assert loaded.history_ == model.history_


@pytest.mark.parametrize("params, error, match", [
    ({"layer_sizes": ()}, ValueError, "layer_sizes must not be empty"),
    ({"layer_sizes": (8, 0)}, ValueError, "each of layer_sizes must be >= 1, got 0"),
    ({"layer_sizes": "8"}, TypeError, "each of layer_sizes must be an int, got '8'"),
    ({"pretrain_epochs": -1}, ValueError, "pretrain_epochs must be >= 0, got -1"),
    ({"finetune_epochs": 2.5}, TypeError, "finetune_epochs must be an int, got 2.5"),
    ({"pretrain": "yes"}, TypeError, "pretrain must be True or False, got 'yes'"),
    ({"activation": "gelu"}, ValueError, "activation must be one of"),
    ({"loss": "l1"}, ValueError, "loss must be one of"),
    ({"optimizer": "rmsprop"}, ValueError, "optimizer must be one of"),
    ({"learning_rate": -1}, ValueError, "learning_rate must be > 0"),
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
    ({"validation_fraction": 0.95}, ValueError, "validation_fraction must be <= 0.9"),
    ({"dtype": "int32"}, ValueError, "dtype float32 or float64, got int32"),
    ({"early_stopping": "no"}, TypeError, "early_stopping must be a bool, got 'no'"),
])
def test_bad_hyperparameters(params, error, match):
    with pytest.raises(error, match=match):
        StackedAutoencoder(**params).fit(np.ones((4, 3)))


@parametrize_with_checks([StackedAutoencoder((4, 2), pretrain_epochs=1, finetune_epochs=1,
                                             random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
