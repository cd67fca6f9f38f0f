"""Central-difference gradient checks for layers, losses and whole networks.

For each array ``p`` the numerical gradient is
``(L(p + eps e_i) - L(p - eps e_i)) / (2 eps)`` for every entry ``i``, and
the error reported is the scaled maximum difference

    err(p) = max_i |analytic_i - numeric_i| / max(max_i |analytic_i|, max_i |numeric_i|)

which is 0 for a perfect gradient, about 1e-9 or less for a correct one in
float64, and of order 1 for a wrong one. Scaling by the largest entry (not
entry by entry) keeps near-zero entries from drowning the report in noise.

Examples
--------
>>> import numpy as np
>>> from npae.layers import Dense
>>> result = check_layer(Dense(3, 2, rng=0), np.random.default_rng(0).normal(size=(4, 3)))
>>> result.max_error < 1e-7
True
"""

import inspect
import numbers

import numpy as np

from npae.utils import as_generator


def numerical_gradient(f, array, eps=1e-6):
    """dF/d(array) by central differences; ``f()`` reads ``array`` in place."""
    grad = np.zeros_like(array, dtype=np.float64)
    flat = array.reshape(-1)
    gflat = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        f_plus = f()
        flat[i] = old - eps
        f_minus = f()
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(analytic, numeric):
    """max ``|a - n|`` scaled by the largest magnitude in either (see module doc)."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise ValueError(
            f"gradient shapes differ: analytic {analytic.shape}, numeric {numeric.shape}"
        )
    if analytic.size == 0:
        return 0.0
    scale = max(np.abs(analytic).max(), np.abs(numeric).max())
    if scale == 0:
        return 0.0
    return float(np.abs(analytic - numeric).max() / scale)


class GradCheckResult(dict):
    """``{name: max relative error}`` with a readable table.

    Attributes
    ----------
    max_error : float
        The largest error over all checked arrays.
    """

    def __init__(self, title, errors, shapes):
        super().__init__(errors)
        self.title = title
        self.shapes = dict(shapes)

    @property
    def max_error(self):
        return max(self.values(), default=0.0)

    def passed(self, tol=1e-6):
        """True if every error is below ``tol``."""
        return self.max_error < tol

    def table(self, tol=1e-6):
        """The result as a fixed-width text table."""
        width = max([len(k) for k in self] + [9])
        lines = [self.title, f"  {'array':<{width}}  {'shape':<18} {'rel. error':>10}  ok"]
        for key, err in self.items():
            shape = str(tuple(self.shapes.get(key, ())))
            mark = "yes" if err < tol else "NO"
            lines.append(f"  {key:<{width}}  {shape:<18} {err:>10.2e}  {mark}")
        return "\n".join(lines)

    def __str__(self):
        return self.table()

    def _repr_pretty_(self, p, cycle):
        p.text(self.table())


def check_arrays(f, arrays, analytic, title="gradient check", eps=1e-6):
    """Compare ``analytic[name]`` with the numerical gradient of ``f()``.

    Parameters
    ----------
    f : callable
        Returns the scalar loss, reading the arrays in ``arrays`` in place.
    arrays : dict of str to ndarray
        The float64 arrays to perturb.
    analytic : dict of str to ndarray
        The gradients to check, same keys and shapes.
    """
    errors, shapes = {}, {}
    for name, array in arrays.items():
        if array.dtype != np.float64:
            raise ValueError(
                f"gradient checks need float64 arrays, got {array.dtype} for {name!r}"
            )
        numeric = numerical_gradient(f, array, eps)
        errors[name] = relative_error(analytic[name], numeric)
        shapes[name] = array.shape
    return GradCheckResult(title, errors, shapes)


_SALT = 0x5EED


def check_layer(layer, x, seed=0, eps=1e-6):
    """Gradient check of ``layer`` for its input and every parameter.

    Uses the scalar ``L = sum(forward(x) * r)`` with a fixed random ``r``,
    so ``dL/dy = r`` exercises every output.
    """
    if layer.dtype != np.float64:
        raise ValueError(f"gradient checks need a float64 layer, got {layer.name} in {layer.dtype}")
    x = np.array(x, dtype=np.float64)
    y = layer.forward(x, training=True)
    # Salted, so that r never equals an x drawn with the same seed: with x = r a
    # transposed dW = (x^T r)^T of a square layer would pass unnoticed.
    if isinstance(seed, numbers.Integral) and seed >= 0:
        rng = np.random.default_rng([_SALT, int(seed)])
    else:
        rng = as_generator(seed)
    r = rng.normal(size=y.shape)

    def loss():
        return float(np.sum(layer.forward(x, training=True) * r))

    layer.zero_grad()
    layer.forward(x, training=True)
    analytic = {"x": layer.backward(r.copy())}
    analytic.update({k: g.copy() for k, g in layer.grads.items()})
    arrays = {"x": x, **layer.params}
    return check_arrays(loss, arrays, analytic, f"{layer.name} gradient check", eps)


def check_loss(loss_fn, y_pred, *args, eps=1e-6, **kwargs):
    """Gradient check of a loss or regularizer ``loss_fn(y_pred, *args, **kwargs)``.

    ``loss_fn`` returns ``(value, grad)``, or ``(value, grad_1, ..., grad_k)``
    for the first k positional inputs (``gaussian_kl(mu, logvar)`` returns
    ``(value, dmu, dlogvar)``); every returned gradient is checked, each
    under the name of its parameter.
    """
    # Float arrays are checked in float64 (copies, perturbed in place); integer
    # arrays (class labels) and other arguments pass as given.
    inputs = [np.array(y_pred, dtype=np.float64)]
    inputs += [np.array(a, dtype=np.float64)
               if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]
    _, *grads = loss_fn(*inputs, **kwargs)

    def loss():
        return float(loss_fn(*inputs, **kwargs)[0])

    try:
        names = list(inspect.signature(loss_fn).parameters)[:len(grads)]
    except (TypeError, ValueError):
        names = []
    if len(names) != len(grads) or len(set(names)) != len(names):
        names = ["y_pred"] + [f"arg{i}" for i in range(1, len(grads))]
    arrays = dict(zip(names, inputs))
    analytic = dict(zip(names, grads))
    title = getattr(loss_fn, "__name__", type(loss_fn).__name__)
    return check_arrays(loss, arrays, analytic, f"{title} gradient check", eps)


def check_network(network, loss_fn, x, target=None, eps=1e-6):
    """End-to-end check of ``loss_fn(network(x), target)`` w.r.t. x and all params.

    ``loss_fn(y_pred, target)`` returns ``(value, dvalue/dy_pred)``; if
    ``target`` is None the input ``x`` is the target (an autoencoder).
    """
    x = np.array(x, dtype=np.float64)
    tgt = x.copy() if target is None else np.asarray(target, dtype=np.float64)

    def loss():
        return float(loss_fn(network.forward(x, training=True), tgt)[0])

    network.zero_grad()
    _, grad = loss_fn(network.forward(x, training=True), tgt)
    analytic = {"x": network.backward(grad)}
    arrays = {"x": x}
    for name, param, g in network.named_parameters():
        arrays[name] = param
        analytic[name] = g.copy()
    return check_arrays(loss, arrays, analytic, "network + loss gradient check", eps)


def check_model(model, X, Y=None, seed=0, eps=1e-6):
    """End-to-end check of an estimator's full training loss w.r.t. every parameter.

    Builds the model's networks for ``X`` (float64) without training, then
    compares the gradients one training step (``model._step``) leaves in
    the network with central differences of the loss that step returns.
    The model's generator is reset to ``seed`` before every evaluation, so
    noise and sampling (denoising, VAE) are the same in each.
    """
    X = model._initialize(np.asarray(X, dtype=np.float64))
    Y = X if Y is None else np.asarray(Y, dtype=np.float64)
    network = model.network_

    def loss():
        model._rng = as_generator(seed)
        network.zero_grad()
        return float(model._step(X, Y))

    loss()
    analytic, arrays = {}, {}
    for name, param, grad in network.named_parameters():
        analytic[name] = grad.copy()
        arrays[name] = param
    return check_arrays(loss, arrays, analytic, f"{type(model).__name__} loss gradient check", eps)
