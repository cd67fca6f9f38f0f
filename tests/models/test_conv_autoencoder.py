"""Tests of npae.models.conv: the convolutional autoencoder on (N, C, H, W) images."""

import numpy as np
import pytest

import npae
from npae import ConvAutoencoder
from npae.datasets import load_digits, train_test_split
from npae.gradcheck import check_model
from npae.layers.crop import Crop2D


def _images(rng, shape):
    return rng.random(shape)


# -- gradients of the full training loss --------------------------------------------------

@pytest.mark.parametrize("decoder", ["upsample", "transposed"])
@pytest.mark.parametrize("hw", [(4, 4), (5, 5), (6, 7)])
def test_full_loss_gradient(rng, decoder, hw):
    # tanh, not relu: at initialization (zero biases) some pre-activations are
    # exactly 0, where a relu has a kink that central differences straddle.
    model = ConvAutoencoder(channels=(2, 3), code_size=3, decoder=decoder, activation="tanh",
                            random_state=0)
    result = check_model(model, _images(rng, (3, 2, *hw)))
    assert result.max_error < 1e-6, result.table()


def test_full_loss_gradient_with_bce_and_code_activation(rng):
    model = ConvAutoencoder(channels=(2,), code_size=2, activation="tanh", loss="bce",
                            code_activation="sigmoid", random_state=0)
    result = check_model(model, _images(rng, (3, 1, 5, 4)))
    assert result.max_error < 1e-6, result.table()


# -- architecture and shapes ------------------------------------------------------------------

def test_layers_and_sizes_for_28x28():
    ae = ConvAutoencoder(channels=(16, 32), code_size=10, epochs=0, random_state=0)
    ae.fit(np.zeros((2, 1, 28, 28)))
    shapes = [(1, 28, 28)]
    for layer in ae.network_.layers:
        shapes.append(layer.output_shape(shapes[-1]))
    assert (32, 7, 7) in shapes  # two poolings: 28 -> 14 -> 7
    assert shapes[len(ae.encoder_.layers)] == (10,)
    assert shapes[-1] == (1, 28, 28)
    assert not any(isinstance(layer, Crop2D) for layer in ae.network_.layers)
    assert ae.code_shape_ == (10,)


def test_odd_sizes_pool_in_ceil_mode_and_crop_back(rng):
    # 7 -> 4 -> 2 on the way down; 2 -> 4 and 4 -> 8, cropped to 7, on the way up
    ae = ConvAutoencoder(channels=(3, 4), code_size=5, epochs=1, random_state=0)
    X = _images(rng, (6, 2, 7, 9))
    ae.fit(X)
    crops = [layer for layer in ae.decoder_.layers if isinstance(layer, Crop2D)]
    assert [c.target_size for c in crops] == [(4, 5), (7, 9)]
    assert ae.reconstruct(X).shape == X.shape


@pytest.mark.parametrize("decoder", ["upsample", "transposed"])
def test_odd_sizes_keep_content_in_place(decoder):
    # The model's own pooling, up-sampling and crop layers, the convolutions and dense
    # layers left out: each pixel's value must come back where it was. The pooled
    # windows start in the top (left) padding, so the decoder crops the top row (left
    # column); a centred crop takes off the bottom and shifts the content by one pixel.
    ae = ConvAutoencoder(channels=(1, 1), code_size=2, decoder=decoder, epochs=0,
                         random_state=0).fit(np.zeros((1, 1, 7, 9)))
    pools = [layer for layer in ae.encoder_.layers if isinstance(layer, npae.layers.MaxPool2D)]
    ups = [layer for layer in ae.decoder_.layers
           if isinstance(layer, (npae.layers.Upsample2D, npae.layers.ConvTranspose2D, Crop2D))]
    for layer in ups:
        if isinstance(layer, npae.layers.ConvTranspose2D):
            layer.params["W"][...] = 1.0  # a 2x2 stride-2 kernel of ones: nearest up-sampling
            layer.params["b"][...] = 0.0
    for row in range(7):
        for col in range(9):
            x = np.zeros((1, 1, 7, 9))
            x[0, 0, row, col] = 1.0
            y = npae.network.Sequential(pools + ups).forward(x, training=False)
            assert y.shape == x.shape
            assert y[0, 0, row, col] == 1.0, (row, col)


@pytest.mark.parametrize("decoder", ["upsample", "transposed"])
def test_mnist_sized_random_images(rng, decoder):
    X = _images(rng, (40, 1, 28, 28))
    ae = ConvAutoencoder(channels=(4, 8), code_size=6, decoder=decoder, epochs=2,
                         batch_size=20, random_state=0).fit(X)
    Z = ae.transform(X)
    assert Z.shape == (40, 6)
    R = ae.inverse_transform(Z)
    assert R.shape == (40, 1, 28, 28)
    assert np.all((R > 0) & (R < 1))  # sigmoid output
    np.testing.assert_array_equal(ae.reconstruct(X), R)
    assert len(ae.history_["loss"]) == 2
    assert np.isfinite(ae.score(X))


def test_float32_stays_float32(rng):
    X = _images(rng, (10, 1, 8, 8)).astype(np.float32)
    ae = ConvAutoencoder(channels=(2,), code_size=3, epochs=1, random_state=0).fit(X)
    assert ae.transform(X).dtype == np.float32
    assert all(p.dtype == np.float32 for p in ae.network_.params())


# -- learning ---------------------------------------------------------------------------------

@pytest.mark.parametrize("decoder", ["upsample", "transposed"])
def test_learns_digits_better_than_the_mean_image(decoder):
    X, _, _ = load_digits(return_images=True)
    X_train, X_test = train_test_split(X, test_size=0.2, random_state=0)
    ae = ConvAutoencoder(channels=(8, 16), code_size=8, decoder=decoder, epochs=6,
                         learning_rate=3e-3, random_state=0).fit(X_train)
    loss = ae.history_["loss"]
    assert loss[-1] < 0.5 * loss[0]
    mse = np.mean((ae.reconstruct(X_test) - X_test) ** 2)
    mse_mean_image = np.mean((X_train.mean(axis=0) - X_test) ** 2)
    # measured: about 0.032-0.036 against 0.074 for the mean image
    assert mse < 0.6 * mse_mean_image


# -- saving and reproducibility ----------------------------------------------------------------

@pytest.mark.parametrize("decoder", ["upsample", "transposed"])
def test_save_load_round_trip_is_bit_exact(rng, tmp_path, decoder):
    X = _images(rng, (12, 1, 9, 7))
    ae = ConvAutoencoder(channels=(2, 3), code_size=4, decoder=decoder, epochs=2,
                         random_state=0).fit(X)
    path = ae.save(tmp_path / "conv.npz")
    loaded = npae.load(path)
    assert type(loaded) is ConvAutoencoder
    assert loaded.get_params() == ae.get_params()
    assert loaded.history_ == ae.history_
    assert loaded.input_shape_ == ae.input_shape_
    np.testing.assert_array_equal(loaded.transform(X), ae.transform(X))
    np.testing.assert_array_equal(loaded.reconstruct(X), ae.reconstruct(X))
    for a, b in zip(loaded.network_.params(), ae.network_.params()):
        np.testing.assert_array_equal(a, b)
    assert ConvAutoencoder.load(path).score(X) == ae.score(X)


def test_same_seed_same_model_other_seed_other_model(rng):
    X = _images(rng, (16, 1, 6, 6))

    def fit(seed):
        return ConvAutoencoder(channels=(2,), code_size=3, epochs=2, batch_size=5,
                               random_state=seed).fit(X)

    a, b, c = fit(0), fit(0), fit(1)
    for p, q in zip(a.network_.params(), b.network_.params()):
        np.testing.assert_array_equal(p, q)
    assert a.history_ == b.history_
    assert not np.array_equal(a.transform(X), c.transform(X))


# -- errors ---------------------------------------------------------------------------------------

def test_flat_input_is_refused_naming_nchw():
    X, _, _ = load_digits()
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got shape \(1797, 64\).*reshape"):
        ConvAutoencoder(epochs=1).fit(X)


def test_three_dimensional_input_is_refused(rng):
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got shape \(4, 8, 8\)"):
        ConvAutoencoder(epochs=1).fit(_images(rng, (4, 8, 8)))


def test_other_image_size_after_fit_is_refused(rng):
    ae = ConvAutoencoder(channels=(2,), code_size=2, epochs=0).fit(_images(rng, (3, 1, 8, 8)))
    with pytest.raises(ValueError, match=r"per-sample shape \(1, 8, 8\)"):
        ae.transform(_images(rng, (3, 1, 9, 8)))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ae.transform(_images(rng, (3, 64)))
    with pytest.raises(ValueError, match="expecting 2 features"):
        ae.inverse_transform(np.zeros((3, 5)))


@pytest.mark.parametrize("params, match", [
    ({"channels": ()}, "channels must not be empty"),
    ({"channels": (4, 0)}, "channels must be >= 1"),
    ({"code_size": 0}, "code_size must be >= 1"),
    ({"kernel_size": 4}, "kernel_size must be odd, got 4"),
    ({"decoder": "deconv"}, "decoder must be one of 'upsample', 'transposed', got 'deconv'"),
    ({"activation": "swish"}, "activation must be one of"),
    ({"loss": "l1"}, "loss must be one of"),
])
def test_bad_hyperparameters_raise_at_fit(rng, params, match):
    ae = ConvAutoencoder(epochs=1, **params)  # __init__ only stores
    with pytest.raises(ValueError, match=match):
        ae.fit(_images(rng, (2, 1, 4, 4)))


def test_unfitted_model_refuses_transform(rng):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        ConvAutoencoder().transform(_images(rng, (2, 1, 4, 4)))


# -- the convolution algorithm ------------------------------------------------------------------

def test_conv_algorithm_winograd_reaches_every_same_convolution_and_trains_alike(rng, tmp_path):
    """conv_algorithm="winograd" runs every 3x3 Conv2D by Winograd (the 2x2 transposed ones
    stay im2col), gives the im2col fit up to rounding, and survives save/load."""
    from npae.layers import Conv2D

    X = _images(rng, (10, 1, 8, 6))
    fits = {algorithm: ConvAutoencoder(channels=(2, 3), code_size=3, decoder="transposed",
                                       conv_algorithm=algorithm, epochs=2, batch_size=4,
                                       random_state=0).fit(X)
            for algorithm in ("im2col", "winograd")}
    convs = [layer for layer in fits["winograd"].network_.layers if isinstance(layer, Conv2D)]
    assert len(convs) == 4 and {layer.algorithm for layer in convs} == {"winograd"}
    assert {layer.algorithm for layer in fits["im2col"].network_.layers
            if hasattr(layer, "algorithm")} == {"im2col"}
    for a, b in zip(fits["winograd"].network_.params(), fits["im2col"].network_.params()):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    loaded = npae.load(fits["winograd"].save(tmp_path / "winograd.npz"))
    assert loaded.conv_algorithm == "winograd"
    assert {layer.algorithm for layer in loaded.network_.layers
            if isinstance(layer, Conv2D)} == {"winograd"}
    np.testing.assert_array_equal(loaded.reconstruct(X), fits["winograd"].reconstruct(X))


def test_full_loss_gradient_with_winograd(rng):
    model = ConvAutoencoder(channels=(2,), code_size=2, activation="tanh",
                            conv_algorithm="winograd", random_state=0)
    result = check_model(model, _images(rng, (3, 1, 5, 4)))
    assert result.max_error < 1e-6, result.table()


@pytest.mark.parametrize("params, message", [
    ({"conv_algorithm": "fft"}, "conv_algorithm must be one of"),
    ({"conv_algorithm": "winograd", "kernel_size": 5},
     "conv_algorithm='winograd' needs kernel_size=3, got 5"),
])
def test_bad_conv_algorithm_is_refused(rng, params, message):
    with pytest.raises(ValueError, match=message):
        ConvAutoencoder(epochs=1, **params).fit(_images(rng, (4, 1, 6, 6)))


@pytest.mark.parametrize("conv_algorithm, expected", [
    ("auto", ["im2col", "im2col", "col2im", "col2im"]),  # 1->2, 2->3 | 3->2, 2->1
    ("col2im", ["col2im"] * 4),
])
def test_conv_algorithm_auto_folds_the_narrowing_convolutions_and_trains_alike(
        rng, tmp_path, conv_algorithm, expected):
    """"auto" runs the decoder's convolutions, which narrow the channels, by col2im and the
    encoder's by im2col; the fit equals the im2col fit up to rounding and survives save/load."""
    from npae.layers import Conv2D

    X = _images(rng, (10, 1, 8, 6))
    fits = {algorithm: ConvAutoencoder(channels=(2, 3), code_size=3, conv_algorithm=algorithm,
                                       epochs=2, batch_size=4, random_state=0).fit(X)
            for algorithm in ("im2col", conv_algorithm)}
    convs = [layer for layer in fits[conv_algorithm].network_.layers
             if isinstance(layer, Conv2D)]
    assert [layer.algorithm for layer in convs] == expected
    for a, b in zip(fits[conv_algorithm].network_.params(), fits["im2col"].network_.params()):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    loaded = npae.load(fits[conv_algorithm].save(tmp_path / "model.npz"))
    assert loaded.conv_algorithm == conv_algorithm
    assert [layer.algorithm for layer in loaded.network_.layers
            if isinstance(layer, Conv2D)] == expected
    np.testing.assert_array_equal(loaded.reconstruct(X), fits[conv_algorithm].reconstruct(X))


def test_full_loss_gradient_with_conv_algorithm_auto(rng):
    model = ConvAutoencoder(channels=(3,), code_size=2, activation="tanh",
                            conv_algorithm="auto", random_state=0)
    result = check_model(model, _images(rng, (3, 1, 5, 4)))
    assert result.max_error < 1e-6, result.table()
