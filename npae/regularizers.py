"""Penalties on the code, each with its exact gradient: L1 activity, sparsity KL, contractive.

``l1_activity`` and ``sparsity_kl`` penalize the code ``h`` itself (sparse
autoencoders); they are summed over code units and averaged over the batch,
with their weight as an argument, and return ``(value, dR/dh)``.

The contractive autoencoder penalizes ``||J_f(x)||_F^2``, the squared
Frobenius norm of the Jacobian of the encoder ``f`` at each example. For one
dense layer it has a closed form (``contractive_penalty``). For an
encoder of L dense layers with elementwise activations,

    a_l = h_{l-1} W_l + b_l,    h_l = f_l(a_l),    h_0 = x,   code = h_L,

the Jacobian of example n is a product of L factors (D_l = f_l'(a_l)):

    J = dh_L/dx = diag(D_L) W_L^T diag(D_{L-1}) W_{L-1}^T ... diag(D_1) W_1^T    (k x d)

Here it is formed exactly by reverse-mode accumulation from the code side:
all k code units are backpropagated at once, as if each of the k one-hot
gradients were sent through the encoder, so every intermediate has shape
(N, k, width) with k the (small) code size, never (N, d, width). The
gradient of the penalty is then reverse mode through that computation, which
reaches the weights twice: directly through the W_l^T factors, and through
the slopes D_l = f_l'(a_l), whose derivative f_l'' sends a gradient back
along the ordinary forward pass.
"""

import numpy as np

from npae._validation import check_float_batch, check_number
from npae.layers.activations import Identity

# -- penalties on the code h = f(x) ---------------------------------------------

def l1_activity(a, lam):
    """L1 sparsity penalty: R = lam * mean over the batch of sum_j ``|a_j|``.

    dR/da = lam * sign(a) / N (0 at a = 0, a subgradient).
    """
    check_float_batch(a, "a", "l1_activity")
    lam = check_number(lam, "lam", "l1_activity", low=0)
    n = a.shape[0]
    value = lam * float(np.abs(a).sum()) / n
    grad = np.sign(a) * a.dtype.type(lam / n)
    return value, grad


def sparsity_kl(a, rho, beta):
    """KL sparsity penalty: R = beta * sum_j KL(rho || rho_hat_j).

    ``rho_hat_j = mean_n a_nj`` is the batch-mean activation of code unit j
    (in (0, 1), e.g. sigmoid codes), and
    ``KL(rho || r) = rho log(rho / r) + (1 - rho) log((1 - rho) / (1 - r))``.
    dR/da_nj = beta * (-rho / rho_hat_j + (1 - rho) / (1 - rho_hat_j)) / N.
    """
    check_float_batch(a, "a", "sparsity_kl")
    rho = check_number(rho, "rho", "sparsity_kl", low=0, high=1, low_open=True, high_open=True)
    beta = check_number(beta, "beta", "sparsity_kl", low=0)
    n = a.shape[0]
    eps = 1e-12
    rho_hat = np.clip(a.mean(axis=0), eps, 1 - eps)
    kl = rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))
    value = beta * float(kl.sum())
    dkl = -rho / rho_hat + (1 - rho) / (1 - rho_hat)
    grad = np.broadcast_to(beta * dkl / n, a.shape).astype(a.dtype)
    return value, grad


def contractive_penalty(x, W, b, activation, lam):
    """Contractive penalty of one dense layer ``h = f(x W + b)``, exact and in closed form.

    R = lam * mean_n ||J_n||_F^2, where J_n = dh/dx = diag(f'(a_n)) W^T is the
    Jacobian at example n (a = x W + b). Its squared Frobenius norm needs no
    Jacobian: ||J_n||_F^2 = sum_j f'(a_nj)^2 s_j with s_j = sum_i W_ij^2.

    With D = f'(a) and N the batch size, the gradient has two paths, through
    the column norms s and through the pre-activations a (which needs f''):

        dR/da_nj = (2 lam / N) D_nj f''(a_nj) s_j
        dR/dW_ij = (2 lam / N) W_ij sum_n D_nj^2  +  (x^T dR/da)_ij
        dR/db = sum_n dR/da_n,      dR/dx = dR/da W^T

    Parameters
    ----------
    x : ndarray (N, in_features)
    W : ndarray (in_features, out_features)
    b : ndarray (out_features,)
    activation : npae.layers.Activation
        The elementwise ``f``, e.g. ``Sigmoid()``; its ``derivative`` and
        ``second_derivative`` give f' and f''.
    lam : float >= 0

    Returns
    -------
    (value, dx, dW, db)

    See ``contractive_penalty_mlp`` for deeper encoders.
    """
    lam = check_number(lam, "lam", "contractive_penalty", low=0)
    n = x.shape[0]
    a = x @ W + b
    slope, curvature = activation.derivative(a), activation.second_derivative(a)
    col_norms = np.sum(W * W, axis=0)  # s_j
    value = lam * float(np.sum(slope * slope * col_norms)) / n
    scale = 2.0 * lam / n
    da = scale * slope * curvature * col_norms
    dW = scale * W * np.sum(slope * slope, axis=0) + x.T @ da
    db = da.sum(axis=0)
    dx = da @ W.T
    return value, dx, dW, db


# -- the contractive penalty of a deep encoder --------------------------------------

def block_arrays(blocks):
    """``(weights, biases, activations)`` lists from ``(dense, activation)`` blocks.

    ``blocks`` come from ``npae.network.dense_blocks``; a Dense with no
    activation after it gets ``Identity()``.
    """
    return ([d.params["W"] for d, _ in blocks], [d.params["b"] for d, _ in blocks],
            [Identity(dtype=d.dtype) if f is None else f for d, f in blocks])


def _forward(x, weights, biases, activations):
    """Inputs h_{l-1}, pre-activations a_l and slopes f_l'(a_l) of every layer."""
    inputs, pre, slopes = [], [], []
    h = x
    for W, b, f in zip(weights, biases, activations):
        a = h @ W + b
        inputs.append(h)
        pre.append(a)
        slopes.append(f.derivative(a))
        h = f.function(a)
    return inputs, pre, slopes


def _jacobian_chain(weights, slopes):
    """The factors of J = E_1, from the code back to the input.

    C_L = diag(D_L);  E_l = C_l W_l^T;  C_{l-1} = E_l * D_{l-1} (scaling columns).
    C_l (N, k, h_l) is d code / d a_l and E_l (N, k, h_{l-1}) is d code / d h_{l-1}.
    """
    n_layers = len(weights)
    k = weights[-1].shape[1]
    C, E = [None] * n_layers, [None] * n_layers
    C[-1] = np.eye(k, dtype=slopes[-1].dtype) * slopes[-1][:, None, :]
    for l in reversed(range(n_layers)):
        E[l] = C[l] @ weights[l].T
        if l > 0:
            C[l - 1] = E[l] * slopes[l - 1][:, None, :]
    return C, E


def encoder_jacobian(x, weights, biases, activations):
    """Exact Jacobian ``d code / d x`` of an MLP encoder at each row of ``x``.

    Parameters
    ----------
    x : ndarray (N, d)
    weights, biases : lists of ndarray, ``W_l`` (h_{l-1}, h_l) and ``b_l`` (h_l,)
    activations : list of npae.layers.Activation, one per layer

    Returns
    -------
    ndarray (N, k, d): ``J[n, j, i] = d code_j / d x_i`` at example n.
    """
    _, _, slopes = _forward(x, weights, biases, activations)
    return _jacobian_chain(weights, slopes)[1][0]


def jacobian_sq_norms(x, weights, biases, activations, chunk_size=256):
    """``||J_f(x_n)||_F^2`` for each row of ``x`` (N,), ``chunk_size`` rows at a time.

    Same arguments as ``encoder_jacobian``; the chunks bound the memory of
    the (chunk, k, d) Jacobians.
    """
    norms = [np.sum(encoder_jacobian(x[start:start + chunk_size], weights, biases,
                                     activations) ** 2, axis=(1, 2))
             for start in range(0, x.shape[0], chunk_size)]
    return np.concatenate(norms)


def contractive_penalty_mlp(x, weights, biases, activations, lam):
    """R = lam * mean_n ||J_f(x_n)||_F^2 for an MLP encoder ``f``, exact, with its gradient.

    The Jacobian is accumulated from the code side (see the module
    docstring). Backward, with G = dR/dJ = (2 lam / N) J, runs through the
    chain C_L = diag(D_L), E_l = C_l W_l^T, C_{l-1} = E_l * D_{l-1} from the
    input side up (for l = 1 .. L, starting at dE_1 = G):

        dW_l += sum_n dE_l[n]^T C_l[n]            dC_l = dE_l W_l
        dE_{l+1} = dC_l * D_l                     dD_l = sum over k of dC_l * E_{l+1}
        dD_L = diagonal of dC_L

    then down the ordinary forward pass, where the slopes D_l = f_l'(a_l)
    bring in f_l'' (for l = L .. 1, with dh_L = 0):

        da_l = dD_l f_l''(a_l) + dh_l D_l
        dW_l += h_{l-1}^T da_l,   db_l = sum_n da_l,   dh_{l-1} = da_l W_l^T

    For one layer this equals ``contractive_penalty``.

    Parameters
    ----------
    x : ndarray (N, d)
    weights, biases : lists of ndarray, ``W_l`` (h_{l-1}, h_l) and ``b_l`` (h_l,)
    activations : list of npae.layers.Activation, one per layer
    lam : float >= 0

    Returns
    -------
    (value, dx, dweights, dbiases), the last two lists aligned with the inputs.
    """
    lam = check_number(lam, "lam", "contractive_penalty_mlp", low=0)
    n, n_layers = x.shape[0], len(weights)
    inputs, pre, slopes = _forward(x, weights, biases, activations)
    C, E = _jacobian_chain(weights, slopes)
    J = E[0]
    value = lam * float(np.sum(J * J)) / n

    # Backward through the Jacobian chain: the direct dW_l and every dD_l.
    dweights = [np.zeros_like(W) for W in weights]
    dslopes = [None] * n_layers
    dE = (2.0 * lam / n) * J
    for l in range(n_layers):
        # Per-example products, summed: N small GEMMs stay fast on a busy machine,
        # where one large threaded BLAS call can stall.
        dweights[l] += np.sum(np.swapaxes(dE, 1, 2) @ C[l], axis=0)
        dC = dE @ weights[l]
        if l < n_layers - 1:
            dslopes[l] = np.sum(dC * E[l + 1], axis=1)
            dE = dC * slopes[l][:, None, :]
        else:
            dslopes[l] = np.diagonal(dC, axis1=1, axis2=2)

    # Backward through the forward pass that produced the slopes.
    dbiases = [None] * n_layers
    dh = None
    for l in reversed(range(n_layers)):
        da = dslopes[l] * activations[l].second_derivative(pre[l])
        if dh is not None:
            da += dh * slopes[l]
        dweights[l] += inputs[l].T @ da
        dbiases[l] = da.sum(axis=0)
        dh = da @ weights[l].T
    return value, dh, dweights, dbiases


def add_contractive_penalty(x, blocks, lam):
    """Add the gradient of ``lam * mean ||J_f(x)||_F^2`` into the dense layers' grads.

    ``blocks`` are the encoder's ``(dense, activation)`` pairs (see
    ``npae.network.dense_blocks``). One layer uses the closed form of
    ``contractive_penalty``; deeper encoders use
    ``contractive_penalty_mlp``. Returns the penalty's value.
    """
    weights, biases, activations = block_arrays(blocks)
    if len(blocks) == 1:
        value, _, dW, db = contractive_penalty(x, weights[0], biases[0], activations[0], lam)
        dweights, dbiases = [dW], [db]
    else:
        value, _, dweights, dbiases = contractive_penalty_mlp(x, weights, biases, activations,
                                                              lam)
    for (dense, _), dW, db in zip(blocks, dweights, dbiases):
        dense.grads["W"] += dW
        dense.grads["b"] += db
    return value
