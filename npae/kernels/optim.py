"""Fused optimizer updates: one pass over a parameter instead of a dozen.

The NumPy updates in ``npae.optim`` (``OPTIM_KERNELS``, the twins of
these loops) sweep the parameter, its gradient and its state once per
arithmetic operation; these loops read each entry once and write it back
once. Arrays are flat: 1-d views of C-contiguous arrays of one dtype.
Scalars arrive as Python floats and are cast to the arrays' dtype, so
float32 arithmetic stays float32 (as NumPy computes it) and the loops
vectorize. ``error_model="numpy"`` makes a division by zero give inf as in
NumPy instead of raising, which is also what lets LLVM vectorize the
division; there is no ``fastmath``.
"""

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def adam_update(param, grad, m, v, beta1, beta2, step_size, eps_hat, weight_decay):
    """One Adam step, in place, with both bias corrections folded into the scalars.

    With g = grad + weight_decay * param:

        m <- beta1 m + (1 - beta1) g,    v <- beta2 v + (1 - beta2) g^2,
        param <- param - step_size * m / (sqrt(v) + eps_hat)

    where ``step_size = lr sqrt(1 - beta2^t) / (1 - beta1^t)`` and
    ``eps_hat = eps sqrt(1 - beta2^t)``.
    """
    cast = param.dtype.type
    b1, b2, c1, c2 = cast(beta1), cast(beta2), cast(1.0 - beta1), cast(1.0 - beta2)
    step, eps, wd = cast(step_size), cast(eps_hat), cast(weight_decay)
    for i in range(param.size):
        g = grad[i] + wd * param[i]
        m_i = b1 * m[i] + c1 * g
        v_i = b2 * v[i] + c2 * (g * g)
        m[i] = m_i
        v[i] = v_i
        param[i] -= step * (m_i / (np.sqrt(v_i) + eps))


@njit(cache=True, error_model="numpy")
def sgd_update(param, grad, velocity, lr, momentum, weight_decay, nesterov):
    """One SGD step with momentum, in place.

    With g = grad + weight_decay * param: without momentum
    ``param <- param - lr g``; with it ``velocity <- momentum velocity + g``
    and ``param <- param - lr (g + momentum velocity)`` (Nesterov) or
    ``param <- param - lr velocity``.
    """
    cast = param.dtype.type
    step, mu, wd = cast(lr), cast(momentum), cast(weight_decay)
    for i in range(param.size):
        g = grad[i] + wd * param[i]
        if momentum != 0:
            v_i = mu * velocity[i] + g
            velocity[i] = v_i
            g = g + mu * v_i if nesterov else v_i
        param[i] -= step * g
