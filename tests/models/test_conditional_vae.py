"""ConditionalVAE: labels joined to both networks, the VAE's objective and methods given y."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import npae
from npae import VAE, ConditionalVAE
from npae.datasets import load_digits, train_test_split
from npae.gradcheck import check_arrays
from npae.losses import gaussian_kl
from npae.utils import as_generator


def _data(rng, n=30, n_features=5, classes=(0, 1, 2)):
    return rng.random((n, n_features)), np.asarray(classes)[np.arange(n) % len(classes)]


def _initialized(X, y, **params):
    """A float64 model with its networks built for (X, y), untrained, and its encoder inputs."""
    model = ConditionalVAE(random_state=params.pop("random_state", 0), **params)
    model._classes = np.unique(y)
    X = model._initialize(np.asarray(X, dtype=np.float64))
    inputs = np.concatenate([X, model._one_hot(y, len(X), "test")], axis=1)
    return model, inputs


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("extra", [{}, {"beta": 0.4, "free_bits": 0.05}])
def test_full_loss_gradient(likelihood, extra, rng):
    """Float64, end to end: every parameter of both networks, the labels held as data."""
    X, y = _data(rng, n=7, n_features=6)
    model, inputs = _initialized(X, y, hidden_sizes=(5, 4), latent_dim=3, likelihood=likelihood,
                                 sigma=0.7, activation="tanh", **extra)
    network = model.network_

    def loss():
        model._rng = as_generator(3)
        network.zero_grad()
        return float(model._step(inputs, X))

    loss()
    analytic = {name: grad.copy() for name, _, grad in network.named_parameters()}
    arrays = {name: param for name, param, _ in network.named_parameters()}
    result = check_arrays(loss, arrays, analytic, "ConditionalVAE loss gradient check")
    assert result.max_error < 1e-6, result.table()


def test_networks_read_the_one_hot_labels(rng):
    X, y = _data(rng, classes=("cat", "ant", "bee"))
    model = ConditionalVAE(hidden_sizes=(6,), latent_dim=2, epochs=1, random_state=0).fit(X, y)
    assert model.classes_.tolist() == ["ant", "bee", "cat"]
    assert model.encoder_.layers[0].in_features == 5 + 3
    assert model.decoder_.layers[0].in_features == 2 + 3
    onehot = model._one_hot(np.array(["bee", "cat"]), 2, "test")
    np.testing.assert_array_equal(onehot, [[0, 1, 0], [0, 0, 1]])
    # the same z decodes differently under each label; the label alone changes the code
    z = np.zeros((3, 2))
    decoded = model.inverse_transform(z, ["ant", "bee", "cat"])
    assert not np.allclose(decoded[0], decoded[1]) and not np.allclose(decoded[1], decoded[2])
    assert not np.allclose(model.transform(X[:1], ["ant"]), model.transform(X[:1], ["cat"]))


def test_the_loss_is_the_vae_loss_of_the_joined_inputs(rng):
    """One step: reconstruction of x from [z, onehot(y)] plus beta KL of q(z | x, y)."""
    X, y = _data(rng, n=9)
    model, inputs = _initialized(X, y, hidden_sizes=(5,), latent_dim=2, beta=2.5)
    model._rng = np.random.default_rng(1)
    loss = model._step(inputs, X)
    mu, logvar = model.transform_distribution(X, y)
    eps = np.random.default_rng(1).standard_normal(mu.shape)
    z = mu + np.exp(0.5 * logvar) * eps
    logits = model.decoder_.forward(np.concatenate([z, inputs[:, 5:]], axis=1), training=False)
    expected = (np.mean(np.sum(np.logaddexp(0, logits) - X * logits, axis=1))
                + 2.5 * gaussian_kl(mu, logvar)[0])
    assert loss == pytest.approx(expected, rel=1e-12)


def test_methods_take_the_labels_and_agree_with_their_parts(rng):
    X, y = _data(rng)
    model = ConditionalVAE(hidden_sizes=(6,), latent_dim=2, epochs=3, random_state=0).fit(X, y)
    mu, _ = model.transform_distribution(X, y)
    np.testing.assert_array_equal(model.transform(X, y), mu)
    np.testing.assert_allclose(model.reconstruct(X, y), model.inverse_transform(mu, y))
    assert model.score(X, y) == pytest.approx(-np.mean((model.reconstruct(X, y) - X) ** 2))
    np.testing.assert_allclose(model.reconstruction_error_map(X, y),
                               (model.reconstruct(X, y) - X) ** 2)
    scores = model.score_samples(X, y)
    np.testing.assert_allclose(model.decision_function(X, y), scores - model.offset_)
    assert np.mean(model.predict(X, y) == -1) == pytest.approx(0.05, abs=1 / len(X))
    assert np.all(model.elbo(X, y, n_samples=3, random_state=0) <= 0)
    assert model.log_likelihood(X, y, n_samples=5, random_state=0).shape == (30,)
    assert model.kl_per_dimension(X, y).shape == (2,)
    assert 0 <= model.active_units(X, y) <= 2
    assert model.fit_transform(X, y).shape == (30, 2)
    assert model.get_feature_names_out().tolist() == ["conditionalvae0", "conditionalvae1"]
    assert set(model.history_) >= {"loss", "beta", "active_units", "kl_0", "kl_1"}


def test_sample_one_label_or_one_per_draw(rng):
    X, y = _data(rng)
    model = ConditionalVAE(hidden_sizes=(6,), latent_dim=2, epochs=1, random_state=0).fit(X, y)
    one = model.sample(4, y=2, random_state=5)
    each = model.sample(4, y=[2, 2, 2, 2], random_state=5)
    np.testing.assert_array_equal(one, each)
    z = np.random.default_rng(5).standard_normal((4, 2))
    np.testing.assert_allclose(one, model.inverse_transform(z, [2] * 4), rtol=1e-12)
    assert one.shape == (4, 5)


def test_fit_is_reproducible_and_saves(rng, tmp_path):
    X, y = _data(rng)
    params = dict(hidden_sizes=(6,), latent_dim=2, epochs=3, kl_warmup=2, random_state=0)
    a, b = ConditionalVAE(**params).fit(X, y), ConditionalVAE(**params).fit(X, y)
    for p, q in zip(a.network_.params(), b.network_.params()):
        np.testing.assert_array_equal(p, q)
    path = tmp_path / "cvae.npz"
    a.save(path)
    loaded = npae.load(path)
    assert isinstance(loaded, ConditionalVAE)
    np.testing.assert_array_equal(loaded.classes_, a.classes_)
    np.testing.assert_array_equal(loaded.transform(X, y), a.transform(X, y))
    np.testing.assert_array_equal(loaded.sample(3, y=1, random_state=0),
                                  a.sample(3, y=1, random_state=0))
    assert loaded.history_ == a.history_


def test_a_single_class_fits_and_samples(rng):
    """One class: the one-hot column is a constant 1, one more bias input; nothing breaks."""
    X = rng.random((20, 4))
    model = ConditionalVAE(hidden_sizes=(5,), latent_dim=2, epochs=1, random_state=0)
    model.fit(X, np.zeros(20, dtype=int))
    assert model.classes_.tolist() == [0]
    assert model.encoder_.layers[0].in_features == 4 + 1
    assert model.sample(3, y=0, random_state=0).shape == (3, 4)
    assert isinstance(model, VAE)


@pytest.mark.parametrize("call, error, words", [
    (lambda m, X, y: m.fit(X, None), TypeError,
     "ConditionalVAE.fit needs the class labels y, got None"),
    (lambda m, X, y: m.fit(X, y[:4]), ValueError,
     "ConditionalVAE.fit: expected 30 labels (one per row of X), got 4"),
    (lambda m, X, y: m.fit(X, y[:, None]), ValueError,
     "ConditionalVAE.fit expected labels y of shape (n_samples,), got shape (30, 1)"),
])
def test_bad_labels_at_fit(call, error, words, rng):
    X, y = _data(rng)
    model = ConditionalVAE(epochs=1)
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        call(model, X, y)
    assert not hasattr(model, "classes_")


def test_bad_labels_after_fit(rng):
    X, y = _data(rng)
    model = ConditionalVAE(hidden_sizes=(4,), epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"ConditionalVAE.transform: labels must be among the "
                                         r"classes seen in fit \[0, 1, 2\], got \[7\]"):
        model.transform(X[:2], [1, 7])
    with pytest.raises(ValueError, match=r"ConditionalVAE.sample: labels must be among .* "
                                         r"got \['a'\]"):
        model.sample(2, y="a")
    with pytest.raises(ValueError, match="ConditionalVAE.reconstruct: expected 3 labels"):
        model.reconstruct(X[:3], [0, 1])
    with pytest.raises(TypeError, match="ConditionalVAE.score needs the class labels y"):
        model.score(X, None)


def test_samples_are_recognised_as_their_class_on_the_digits():
    """A classifier trained on real digits recognises the class of the generated ones."""
    X, y, _ = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    classifier = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    assert classifier.score(X_test, y_test) > 0.9
    model = ConditionalVAE(hidden_sizes=(128,), latent_dim=2, epochs=10, random_state=0)
    model.fit(X_train, y_train)
    labels = np.repeat(model.classes_, 50)
    accuracy = classifier.score(model.sample(len(labels), y=labels, random_state=1), labels)
    assert accuracy > 0.8, accuracy


def test_partial_fit_passes_equal_a_fit_and_keep_the_first_classes(rng):
    X, y = _data(rng, n=40)
    params = {"hidden_sizes": (6,), "latent_dim": 2, "epochs": 3, "batch_size": 8,
              "random_state": 0}
    fitted = ConditionalVAE(**params).fit(X, y)
    passes = ConditionalVAE(**params)
    for _ in range(3):
        passes.partial_fit(X, y)
    assert passes.n_iter_ == 3
    for a, b in zip(fitted.network_.params(), passes.network_.params()):
        np.testing.assert_array_equal(a, b)
    assert fitted.offset_ == passes.offset_
    # classes= on the first call admits labels the first block lacks; others are refused.
    model = ConditionalVAE(**params).partial_fit(X[y != 2], y[y != 2], classes=[0, 1, 2])
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    model.partial_fit(X[y == 2], y[y == 2])
    with pytest.raises(ValueError, match=r"among the classes seen.*got \[7\]"):
        model.partial_fit(X[:4], [7] * 4)
