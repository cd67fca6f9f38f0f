"""Graded exercises: solutions pass, typical wrong answers fail with a useful message,
stubs are "not attempted yet", and every reference agrees with npae's own code."""

import dataclasses
import doctest

import numpy as np
import pytest
from scipy.special import expit

import npae
from npae import exercises, losses, regularizers
from npae.exercises.grading import grade
from npae.layers import Conv2D, Dense, MaxPool2D, ReLU, Sigmoid, Tanh, Upsample2D

ALL = exercises.names()


def solution(name):
    return exercises.solution(name)


def transformed(name, change):
    """The reference with ``change`` applied to its tuple of outputs."""
    def wrong(*args):
        out = solution(name)(*args)
        return change(out if isinstance(out, tuple) else (out,))
    return wrong


def scaled(name, factor, output=0):
    """The reference with one output multiplied by ``factor``."""
    def change(outs):
        outs = list(outs)
        outs[output] = factor * outs[output]
        return tuple(outs) if len(outs) > 1 else outs[0]
    return transformed(name, change)


def zeros(name):
    return transformed(name, lambda outs: tuple(np.zeros_like(o) for o in outs)
                       if len(outs) > 1 else np.zeros_like(outs[0]))


def flip_rows(V):
    rows = np.arange(V.shape[0])
    return V * np.sign(V[rows, np.argmax(np.abs(V), axis=1)])[:, None]


# name -> [(wrong function, output named in the message, hint in the message)]
WRONG = {
    "dense_backward": [
        (zeros("dense_backward"), "output dx", "returns zeros"),
        (lambda g, x, W: (g @ W.T, g.T @ x, g.sum(axis=0)), "output dW", "transposed?"),
        (lambda g, x, W: (g @ W.T, x.T @ g, g.mean(axis=0)), "output db",
         "divided by the batch size"),
        (scaled("dense_backward", 2.0, output=1), "output dW", "extra factor 2?"),
        (lambda g, x, W: (x.T @ g, g @ W.T, g.sum(axis=0)), "output dx", "this is dW"),
    ],
    "sigmoid_backward": [
        (lambda g, y: g * expit(y) * (1 - expit(y)), "output dx", "already sigmoid(x)"),
        (scaled("sigmoid_backward", 0.5), "output dx", "missing factor 2?"),
        (scaled("sigmoid_backward", -1.0), "output dx", "sign flipped?"),
    ],
    "tanh_backward": [
        (lambda g, y: g * (1 - y), "output dx", "1 - y^2"),
        (zeros("tanh_backward"), "output dx", "returns zeros"),
        (lambda g, y: 1 - y**2, "output dx", "missing grad_out"),
    ],
    "relu_backward": [
        (lambda g, x: np.where(x >= 0, g, 0.0), "output dx", "use x > 0, not x >= 0"),
        (scaled("relu_backward", -1.0), "output dx", "sign flipped?"),
    ],
    "mse_gradient": [
        (lambda p, t: (p - t) / p.size, "output dy_pred", "missing factor 2?"),
        (lambda p, t: 2 * (p - t), "output dy_pred", "missing mean over all 20 entries?"),
        (lambda p, t: 2 * (p - t) / len(p), "output dy_pred", "averaged over the batch only"),
        (lambda p, t: 2 * (t - p) / p.size, "output dy_pred", "sign flipped?"),
    ],
    "emphasized_mse_gradient": [
        (lambda p, t, c, a, b: 2 * np.where(c, b, a) * (p - t) / p.size, "output dy_pred",
         "alpha and beta swapped"),
        (lambda p, t, c, a, b: 2 * (p - t) / p.size, "output dy_pred", "plain MSE gradient"),
        (scaled("emphasized_mse_gradient", 0.5), "output dy_pred", "missing factor 2?"),
        (lambda p, t, c, a, b: 2 * np.where(c, a, b) * (p - t) / len(p), "output dy_pred",
         "averaged over the batch only"),
    ],
    "bce_gradient": [
        (lambda z, t: (z - t) / z.size, "output dlogits", "missing the sigmoid"),
        (lambda z, t: expit(z) - t, "output dlogits", "missing mean over all 20 entries?"),
        (lambda z, t: (expit(z) - t) / (expit(z) * (1 - expit(z))) / z.size,
         "output dlogits", "this is dL/dp"),
    ],
    "sparsity_kl_gradient": [
        (lambda a, rho, beta: a.shape[0] * solution("sparsity_kl_gradient")(a, rho, beta),
         "output da", "missing batch mean"),
        (lambda a, rho, beta: solution("sparsity_kl_gradient")(a, rho, 1.0), "output da",
         "missing beta"),
        (lambda a, rho, beta: beta * (-rho / a.mean(0) + (1 - rho) / (1 - a.mean(0))),
         "output da", "spread it over the rows"),
        (scaled("sparsity_kl_gradient", -1.0), "output da", "sign flipped?"),
    ],
    "contractive_sigmoid_gradient": [
        (lambda x, W, b, lam: (2 * lam / len(x) * W * np.sum(
            (expit(x @ W + b) * (1 - expit(x @ W + b))) ** 2, axis=0), np.zeros_like(b)),
         "output dW", "only the path through the column norms"),
        (transformed("contractive_sigmoid_gradient", lambda o: (o[0] / 2, o[1] / 2)),
         "output dW", "missing factor 2?"),
        (zeros("contractive_sigmoid_gradient"), "output dW", "returns zeros"),
    ],
    "reparameterization_backward": [
        (lambda dz, lv, eps: (dz, dz * 0.5 * eps * np.exp(lv)), "output dlogvar",
         "not exp(logvar)"),
        (scaled("reparameterization_backward", 2.0, output=1), "output dlogvar",
         "extra factor 2?"),
        (transformed("reparameterization_backward", lambda o: (0 * o[0], o[1])),
         "output dmu", "returns zeros"),
    ],
    "gaussian_kl_gradient": [
        (lambda mu, lv: (mu, 0.5 * (np.exp(lv) - 1)), "output dmu", "missing batch mean"),
        (scaled("gaussian_kl_gradient", 2.0, output=1), "output dlogvar", "extra factor 2?"),
        (lambda mu, lv: (mu / len(mu), 0.5 * np.exp(lv) / len(mu)), "output dlogvar",
         "the derivative of -logvar is -1"),
    ],
    "col2im": [
        (zeros("col2im"), "output dx", "returns zeros"),
        (lambda cols, shape, k, s, p: solution("col2im")(
            cols, (shape[0], shape[1], shape[2] + 2 * p[0], shape[3] + 2 * p[1]), k, s,
            (0, 0)), "output dx", "crop the padding off"),
        (scaled("col2im", -1.0), "output dx", "sign flipped?"),
    ],
    "max_pool_backward": [
        (zeros("max_pool_backward"), "output dx", "returns zeros"),
        (lambda g, x, k, s: exercises.images._every_maximum(g, x, k, s), "output dx",
         "first maximum"),
        (lambda g, x, k, s: exercises.images._average(g, x, k, s), "output dx",
         "average pooling"),
    ],
    "bilinear_upsample_backward": [
        (lambda g, s: g.reshape(g.shape[0], g.shape[1], g.shape[2] // s, s, g.shape[3] // s,
                                s).sum(axis=(3, 5)), "output dx", "nearest-neighbour"),
        (scaled("bilinear_upsample_backward", 0.5), "output dx", "missing factor 2?"),
        (lambda g, s: exercises.images._align_corners_backward(g, s), "output dx",
         "align_corners=True"),
    ],
    "nearest_upsample_backward": [
        (zeros("nearest_upsample_backward"), "output dx", "returns zeros"),
        (scaled("nearest_upsample_backward", 0.25), "output dx", "do not average"),
        (lambda g, s: g[:, :, ::s, ::s].copy(), "output dx", "not only the top-left"),
    ],
    "negative_elbo": [
        (lambda x, l, m, v, b: solution("negative_elbo")(x, l, m, v, b)[:2]
         + (solution("negative_elbo")(x, l, m, v, b)[0],), "output loss", ""),
        (lambda x, l, m, v, b: tuple(solution("negative_elbo")(x, -l, m, v, b)),
         "output reconstruction", ""),
        (lambda x, l, m, v, b: (solution("negative_elbo")(x, l, m, v, b)[0],
                                len(x) * solution("negative_elbo")(x, l, m, v, b)[1],
                                solution("negative_elbo")(x, l, m, v, b)[2]),
         "output kl", "batch"),
        (lambda x, l, m, v, b: (np.mean(np.logaddexp(0, l) - x * l),
                                *solution("negative_elbo")(x, l, m, v, b)[1:]),
         "output reconstruction", "sum the cross-entropy over the pixels"),
    ],
    "outlier_scores": [
        (lambda X, X_hat, t, c: (-np.sum((X - X_hat) ** 2, axis=1),
                                 *solution("outlier_scores")(X, X_hat, t, c)[1:]),
         "output scores", "a wrong constant factor?"),
        (lambda X, X_hat, t, c: (np.mean((X - X_hat) ** 2, axis=1),
                                 *solution("outlier_scores")(X, X_hat, t, c)[1:]),
         "output scores", "not the error itself"),
        (lambda X, X_hat, t, c: (solution("outlier_scores")(X, X_hat, t, c)[0],
                                 float(np.percentile(t, 100 * (1 - c))),
                                 solution("outlier_scores")(X, X_hat, t, c)[2]),
         "output offset", "not 1 - contamination"),
        (lambda X, X_hat, t, c: (*solution("outlier_scores")(X, X_hat, t, c)[:2],
                                 solution("outlier_scores")(X, X_hat, t, c)[2] > 0),
         "output labels", "not 1 and 0"),
    ],
    "pca_closed_form": [
        (lambda X, k: (-solution("pca_closed_form")(X, k)[0],
                       *solution("pca_closed_form")(X, k)[1:]), "output components",
         "opposite sign"),
        (lambda X, k: (solution("pca_closed_form")(X, k)[0].T,
                       *solution("pca_closed_form")(X, k)[1:]), "output components",
         "transposed?"),
        (lambda X, k: (flip_rows(np.linalg.svd(X, full_matrices=False)[2])[:k], X.mean(0),
                       np.linalg.svd(X, full_matrices=False)[1][:k] ** 2 / (len(X) - 1)),
         "output components", "centre the data first"),
        (lambda X, k: (*solution("pca_closed_form")(X, k)[:2],
                       np.var(X @ solution("pca_closed_form")(X, k)[0].T, axis=0)),
         "output explained_variance", "not by N"),
    ],
}


# -- the reference solutions ---------------------------------------------------------------
def test_there_are_the_exercises_of_the_issue():
    assert len(ALL) >= 10
    assert ALL == sorted(ALL)
    assert set(WRONG) == set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_every_solution_passes_its_own_check(name):
    result = exercises.check(name, exercises.solution(name))
    assert result.passed, result.message
    assert result.message.startswith(f"{name}: passed")


@pytest.mark.parametrize("name", ALL)
def test_describe_gives_the_signature_and_the_math(name):
    text = exercises.describe(name)
    assert f"Write ``{name}(" in text
    assert "Returns" in text and "Notes" in text


# -- wrong answers -------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "index"),
                         [(name, i) for name in ALL for i in range(len(WRONG[name]))])
def test_a_typical_wrong_answer_fails_with_a_useful_message(name, index):
    wrong, output, hint = WRONG[name][index]
    result = exercises.check(name, wrong)
    assert not result.passed
    assert f"{output} " in result.message or f"{output}:" in result.message, result.message
    assert hint in result.message, result.message


def test_a_wrong_value_names_the_worst_entry_and_the_errors():
    result = exercises.check("mse_gradient", lambda p, t: (p - t) / p.size)
    lines = result.message.splitlines()
    assert lines[0] == "mse_gradient: not passed"
    assert lines[1] == "case 1 of 5: y_pred (4, 5), y_true (4, 5)"
    assert lines[2].startswith("output dy_pred (4, 5): worst entry [")
    assert "expected" in lines[2] and "received" in lines[2]
    assert lines[3] == "relative error 5.0e-01 > tolerance 1e-07"
    assert lines[4].startswith("central differences of L = mean((y_pred - y_true)^2): yours "
                               "disagrees with them too")
    assert lines[5] == "hint: missing factor 2? (yours is 0.5 x the expected)"


def test_a_wrong_shape_says_expected_and_received():
    result = exercises.check("dense_backward", lambda g, x, W: (g @ W.T, x.T @ g, g.sum(1)))
    assert "output db: expected shape (3,), received (4,)" in result.message
    assert "hint: db sums over the batch (axis 0)" in result.message


def test_the_worst_entry_is_where_the_answer_is_wrong():
    def wrong(g, x, W):
        dx, dW, db = solution("dense_backward")(g, x, W)
        dW[3, 1] += 1.0
        return dx, dW, db

    message = exercises.check("dense_backward", wrong).message
    assert "output dW (5, 3): worst entry [3, 1]" in message


def test_relu_at_zero_is_graded_on_the_kink_case():
    """x >= 0 agrees with x > 0 except at 0: only the case with exact zeros catches it."""
    message = exercises.check("relu_backward", lambda g, x: np.where(x >= 0, g, 0.0)).message
    assert "case 5 of 5" in message


def test_max_pool_ties_are_graded():
    """Every maximum sharing the gradient is right except on ties: the tie cases catch it."""
    message = exercises.check("max_pool_backward", exercises.images._every_maximum).message
    assert "case 4 of 6" in message


def test_the_same_seed_gives_the_same_grade_and_another_seed_other_cases():
    wrong = WRONG["mse_gradient"][0][0]
    first = exercises.check("mse_gradient", wrong, seed=3)
    assert first == exercises.check("mse_gradient", wrong, seed=3)
    assert first.message != exercises.check("mse_gradient", wrong, seed=4).message
    assert exercises.check("mse_gradient", solution("mse_gradient"), seed=4).passed


@pytest.mark.parametrize(("name", "index"), [
    (name, i) for name in ALL
    for i in range(len(exercises._EXERCISES[name].mistakes))])
def test_every_known_mistake_is_recognised(name, index):
    mistake = exercises._EXERCISES[name].mistakes[index]
    result = exercises.check(name, mistake.function)
    assert not result.passed
    assert f"hint: {mistake.hint}" in result.message, result.message


@pytest.mark.parametrize("seed", range(5))
def test_solutions_pass_on_other_seeds(seed):
    """Other seeds draw other values and another random shape per exercise."""
    for name in ALL:
        result = exercises.check(name, solution(name), seed=seed)
        assert result.passed, result.message


def test_a_reference_that_central_differences_contradict_is_reported():
    """The second, independent check: a wrong reference cannot pass a right-looking answer."""
    def broken(mu, logvar):
        dmu, dlogvar = solution("gaussian_kl_gradient")(mu, logvar)
        return dmu, len(mu) * dlogvar

    exercise = dataclasses.replace(exercises._EXERCISES["gaussian_kl_gradient"],
                                   solution=broken)
    result = grade(exercise, broken)
    assert not result.passed
    assert "output dlogvar (4, 3): worst entry" in result.message
    assert "relative error 7.5e-01 > tolerance 1e-06" in result.message
    assert "yours agrees with the reference solution, which central differences contradict"\
        in result.message


# -- stubs, errors, bad return values ------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_a_stub_is_not_attempted_yet(name):
    def stub(*args):
        raise NotImplementedError

    result = exercises.check(name, stub)
    assert not result.passed
    assert result.message == f"{name}: not attempted yet"


def test_another_error_is_reported_not_raised():
    def broken(grad_out, x, W):
        return grad_out @ W, None, None  # shapes do not fit: matmul raises

    result = exercises.check("dense_backward", broken)
    assert not result.passed
    assert "your function raised ValueError: matmul" in result.message
    assert "case 1 of 5: grad_out (4, 3), x (4, 5), W (5, 3)" in result.message


@pytest.mark.parametrize(("returned", "text"), [
    (None, "returned None: a missing `return`?"),
    ((1.0, 2.0), "expected 3 outputs (dx, dW, db), received 2 (tuple)"),
    ("abc", "expected 3 outputs (dx, dW, db), received 1 (str)"),
    (("a", "b", "c"), "output dx is not an array of numbers: received str"),
])
def test_a_malformed_return_value_is_reported(returned, text):
    result = exercises.check("dense_backward", lambda g, x, W: returned)
    assert not result.passed
    assert text in result.message


def test_the_learners_function_cannot_change_the_cases():
    """Inputs are copies: a function that scribbles on them is graded on clean ones."""
    def scribbles(grad_out, x, W):
        out = solution("dense_backward")(grad_out, x, W)
        grad_out[...] = 0
        x[...] = 0
        W[...] = 0
        return out

    assert exercises.check("dense_backward", scribbles).passed


def test_nan_is_named():
    result = exercises.check("mse_gradient", lambda p, t: np.full_like(p, np.nan))
    assert "contains NaN or inf" in result.message


# -- the interface ---------------------------------------------------------------------------
def test_unknown_names_list_the_exercises():
    for call in (lambda: exercises.check("dense", lambda: None),
                 lambda: exercises.solution("dense"), lambda: exercises.describe("dense")):
        with pytest.raises(ValueError, match="unknown exercise 'dense'.*dense_backward, "):
            call()


def test_check_needs_a_function():
    with pytest.raises(TypeError, match="check expected a function for 'col2im', got int"):
        exercises.check("col2im", 3)


def test_the_result_prints_its_message_and_is_true_when_passed():
    result = exercises.check("tanh_backward", solution("tanh_backward"))
    assert result and not exercises.check("tanh_backward", zeros("tanh_backward"))
    assert str(result) == result.message
    assert repr(result).startswith("CheckResult(name='tanh_backward', passed=True)\n")
    assert result.message in repr(result)


def test_exported_from_npae():
    assert npae.exercises is exercises
    assert "exercises" in npae.__all__


def test_the_module_examples_run():
    failures, tried = doctest.testmod(exercises)
    assert tried >= 2 and failures == 0


# -- the references agree with npae's own implementation ------------------------------------
def layer_backward(layer, x, g):
    layer.zero_grad()
    layer.forward(x, training=True)
    return layer.backward(g)


def test_dense_backward_is_the_dense_layers(rng):
    layer = Dense(5, 3, rng=0)
    layer.params["b"][:] = rng.normal(size=3)
    x, g = rng.normal(size=(4, 5)), rng.normal(size=(4, 3))
    dx = layer_backward(layer, x, g)
    ours = solution("dense_backward")(g, x, layer.params["W"])
    for mine, theirs in zip(ours, (dx, layer.grads["W"], layer.grads["b"])):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("name", "layer", "takes"), [
    ("sigmoid_backward", Sigmoid, "y"), ("tanh_backward", Tanh, "y"),
    ("relu_backward", ReLU, "x"),
])
def test_activation_backward_is_the_layers(rng, name, layer, takes):
    x, g = 3 * rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    x[0, :2] = 0.0
    layer = layer()
    y = layer.forward(x)
    dx = layer_backward(layer, x, g)
    ours = solution(name)(g, y if takes == "y" else x)
    np.testing.assert_allclose(ours, dx, rtol=1e-10, atol=1e-14)


def test_mse_and_bce_gradients_are_npae_losses(rng):
    p, t, z = rng.normal(size=(5, 7)), rng.uniform(size=(5, 7)), 3 * rng.normal(size=(5, 7))
    np.testing.assert_allclose(solution("mse_gradient")(p, t),
                               losses.mean_squared_error(p, t)[1], rtol=1e-10)
    np.testing.assert_allclose(solution("bce_gradient")(z, t),
                               losses.binary_cross_entropy_with_logits(z, t)[1], rtol=1e-10)


def test_emphasized_mse_gradient_weighs_what_the_noise_touched(rng):
    """With alpha = beta = 1 it is npae's MSE; on masking noise only the masked pixels
    (the ones npae.noise.corrupt set to 0) get alpha."""
    x = rng.uniform(0.1, 1, size=(6, 10))
    x_hat = rng.uniform(0, 1, size=x.shape)
    corrupted = npae.noise.corrupt(x, "masking", 0.5, random_state=0) != x
    assert 0 < corrupted.sum() < corrupted.size
    grad = solution("emphasized_mse_gradient")
    np.testing.assert_allclose(grad(x_hat, x, corrupted, 1.0, 1.0),
                               losses.mean_squared_error(x_hat, x)[1])
    only_masked = grad(x_hat, x, corrupted, 1.0, 0.0)
    assert np.all(only_masked[~corrupted] == 0) and np.all(only_masked[corrupted] != 0)


def test_sparsity_kl_gradient_is_npae_losses(rng):
    a = expit(rng.normal(size=(9, 4)) - 1)
    np.testing.assert_allclose(solution("sparsity_kl_gradient")(a, 0.05, 3.0),
                               regularizers.sparsity_kl(a, 0.05, 3.0)[1], rtol=1e-10)


def test_contractive_gradient_is_npae_losses(rng):
    x, W, b = rng.normal(size=(6, 4)), 0.5 * rng.normal(size=(4, 3)), rng.normal(size=3)
    _, _, dW, db = regularizers.contractive_penalty(x, W, b, Sigmoid(), 0.4)
    ours = solution("contractive_sigmoid_gradient")(x, W, b, 0.4)
    np.testing.assert_allclose(ours[0], dW, rtol=1e-10)
    np.testing.assert_allclose(ours[1], db, rtol=1e-10)


def test_gaussian_kl_gradient_is_npae_losses(rng):
    mu, logvar = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    _, dmu, dlogvar = losses.gaussian_kl(mu, logvar)
    ours = solution("gaussian_kl_gradient")(mu, logvar)
    np.testing.assert_allclose(ours[0], dmu, rtol=1e-10)
    np.testing.assert_allclose(ours[1], dlogvar, rtol=1e-10)


def test_reparameterization_backward_is_autograd(rng):
    torch = pytest.importorskip("torch")
    dz, mu, logvar, eps = (rng.normal(size=(4, 3)) for _ in range(4))
    mu_t = torch.tensor(mu, requires_grad=True)
    logvar_t = torch.tensor(logvar, requires_grad=True)
    z = mu_t + torch.exp(0.5 * logvar_t) * torch.tensor(eps)
    z.backward(torch.tensor(dz))
    dmu, dlogvar = solution("reparameterization_backward")(dz, logvar, eps)
    np.testing.assert_allclose(dmu, mu_t.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(dlogvar, logvar_t.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize(("x_shape", "kernel_size", "stride", "padding"),
                         exercises.images.COL2IM_GEOMETRIES)
def test_col2im_is_the_conv_layers_backward(rng, x_shape, kernel_size, stride, padding):
    """Conv2D's dx = col2im(W2^T g), with the reference col2im in the same layout."""
    n, c_in = x_shape[:2]
    layer = Conv2D(c_in, 2, kernel_size, stride=stride, padding=padding, rng=0)
    x = rng.normal(size=x_shape)
    g = rng.normal(size=layer.forward(x).shape)
    dx = layer_backward(layer, x, g)
    g_rows = g.transpose(1, 0, 2, 3).reshape(2, -1)
    cols = layer.params["W"].reshape(2, -1).T @ g_rows
    ours = solution("col2im")(cols, x_shape, kernel_size, stride, padding)
    np.testing.assert_allclose(ours, dx, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("x_shape", "kernel_size", "stride", "ties"),
                         exercises.images.MAX_POOL_GEOMETRIES)
def test_max_pool_backward_is_the_pool_layers(rng, x_shape, kernel_size, stride, ties):
    x = rng.integers(0, 3, size=x_shape).astype(float) if ties else rng.normal(size=x_shape)
    layer = MaxPool2D(kernel_size, stride=stride)
    g = rng.normal(size=layer.forward(x).shape)
    dx = layer_backward(layer, x, g)
    np.testing.assert_allclose(solution("max_pool_backward")(g, x, kernel_size, stride), dx,
                               rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(("x_shape", "scale"), [((2, 3, 3, 4), 2), ((1, 2, 1, 5), 3),
                                                ((1, 1, 4, 2), 4)])
def test_bilinear_backward_is_the_upsample_layers(rng, x_shape, scale):
    layer = Upsample2D(scale, mode="bilinear")
    x = rng.normal(size=x_shape)
    g = rng.normal(size=layer.forward(x).shape)
    dx = layer_backward(layer, x, g)
    np.testing.assert_allclose(solution("bilinear_upsample_backward")(g, scale), dx,
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("n", "d", "k"), [(40, 6, 3), (9, 12, 4)])
def test_pca_closed_form_is_npae_pca(rng, n, d, k):
    X = rng.normal(size=(n, d)) * 2.0 ** -np.arange(d) + 5.0
    pca = npae.PCA(n_components=k).fit(X)
    components, mean, variance = solution("pca_closed_form")(X, k)
    np.testing.assert_allclose(components, pca.components_, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(mean, pca.mean_, rtol=1e-10)
    np.testing.assert_allclose(variance, pca.explained_variance_, rtol=1e-10)


def test_outlier_scores_are_npae_anomaly_scores(rng):
    X = rng.random((120, 10))
    pca = npae.PCA(3, contamination=0.15).fit(X[:90])
    X_new = X[90:]
    scores, offset, labels = solution("outlier_scores")(
        X_new, pca.inverse_transform(pca.transform(X_new)), pca.score_samples(X[:90]), 0.15)
    np.testing.assert_allclose(scores, pca.score_samples(X_new), rtol=1e-10)
    assert offset == pytest.approx(pca.offset_, rel=1e-12)
    np.testing.assert_array_equal(labels, pca.predict(X_new))


@pytest.mark.parametrize(("x_shape", "scale"), [((2, 3, 3, 4), 2), ((1, 2, 1, 5), 3)])
def test_nearest_backward_is_the_upsample_layers(rng, x_shape, scale):
    layer = Upsample2D(scale, mode="nearest")
    x = rng.normal(size=x_shape)
    g = rng.normal(size=layer.forward(x).shape)
    np.testing.assert_allclose(solution("nearest_upsample_backward")(g, scale),
                               layer_backward(layer, x, g), rtol=1e-12)


def test_negative_elbo_is_npae_losses(rng):
    x, logits = rng.uniform(size=(5, 7)), rng.normal(size=(5, 7))
    mu, logvar = rng.normal(size=(5, 3)), rng.uniform(-1, 1, size=(5, 3))
    reconstruction, kl, loss = solution("negative_elbo")(x, logits, mu, logvar, 4.0)
    per_entry, _ = losses.binary_cross_entropy_with_logits(logits, x)
    assert reconstruction == pytest.approx(per_entry * x.shape[1], rel=1e-12)
    assert kl == pytest.approx(np.mean(losses.gaussian_kl_per_example(mu, logvar)), rel=1e-12)
    assert loss == pytest.approx(reconstruction + 4.0 * kl, rel=1e-12)
