"""Exercises on image layers: col2im (the convolution's backward), max pooling, bilinear upsampling.

Images are NCHW batches, as everywhere in npae. Window ``(oh, ow)`` of a
layer with kernel ``(kh, kw)``, stride ``(sh, sw)`` and padding
``(ph, pw)`` reads the padded input at rows ``oh sh + i`` and columns
``ow sw + j``; the output size is ``(H + 2 ph - kh) // sh + 1`` (likewise
in width), and rows or columns left over at the end are never read.
"""

import numpy as np

from npae.exercises.grading import Case, Exercise, Mistake, random_sizes


def _output_hw(x_shape, kernel_size, stride, padding):
    return tuple((size + 2 * p - k) // s + 1
                 for size, k, s, p in zip(x_shape[2:], kernel_size, stride, padding))


# -- im2col and its adjoint ---------------------------------------------------------------
def im2col(x, kernel_size, stride, padding):
    """cols[(c, i, j), (n, oh, ow)] = x_pad[n, c, oh sh + i, ow sw + j].

    x (N, C, H, W) -> cols (C kh kw, N h_out w_out), the layout of ``npae.layers.conv``.
    """
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    h_out, w_out = _output_hw(x.shape, kernel_size, stride, padding)
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = np.empty((c, kh, kw, n, h_out, w_out), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            window = x_pad[:, :, i:i + sh * h_out:sh, j:j + sw * w_out:sw]
            cols[:, i, j] = window.transpose(1, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * h_out * w_out)


def col2im(cols, x_shape, kernel_size, stride, padding):
    """The adjoint of im2col: add every column entry back onto the pixel it was read from.

    Write ``col2im(cols, x_shape, kernel_size, stride, padding)`` returning ``dx``.

    Parameters
    ----------
    cols : ndarray (C kh kw, N h_out w_out)
        Gradients of the columns of ``im2col(x)``, in its layout:
        row ``(c, i, j)`` = ``c kh kw + i kw + j``, column ``(n, oh, ow)`` =
        ``n h_out w_out + oh w_out + ow``, holding the entry read from
        ``x_pad[n, c, oh sh + i, ow sw + j]`` (``x_pad``: x zero-padded by
        ``(ph, pw)`` on every side).
    x_shape : tuple (N, C, H, W)
        The shape of the image batch x.
    kernel_size, stride, padding : tuples (kh, kw), (sh, sw), (ph, pw)

    Returns
    -------
    dx : ndarray (N, C, H, W)
        ``dx[n, c, r, q] = sum of cols[(c, i, j), (n, oh, ow)]`` over all
        ``(i, j, oh, ow)`` with ``oh sh + i - ph = r`` and ``ow sw + j - pw = q``.

    Notes
    -----
    ``im2col`` is linear, ``cols = A x``, and ``col2im`` is ``A^T``: a pixel
    read by several overlapping windows gets the sum of their entries, and
    entries read from the padding go nowhere. With ``g = dL/dy`` of a
    convolution ``y = W2 im2col(x)``, ``dL/dx = col2im(W2^T g)``: this is
    the layout of npae's ``Conv2D`` and of its col2im kernel.
    Graded against ``L = sum(im2col(x) * cols)``, whose gradient in x is
    exactly ``col2im(cols)``.
    """
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    h_out, w_out = _output_hw(x_shape, kernel_size, stride, padding)
    cols = cols.reshape(c, kh, kw, n, h_out, w_out)
    x_pad = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            x_pad[:, :, i:i + sh * h_out:sh, j:j + sw * w_out:sw] += cols[:, i, j].transpose(
                1, 0, 2, 3)
    return x_pad[:, :, ph:ph + h, pw:pw + w]


COL2IM_GEOMETRIES = [  # x_shape, kernel_size, stride, padding
    ((2, 3, 5, 5), (3, 3), (1, 1), (0, 0)),
    ((1, 1, 4, 4), (2, 2), (2, 2), (0, 0)),
    ((2, 2, 5, 6), (3, 2), (2, 1), (1, 1)),
    ((1, 2, 7, 5), (3, 3), (2, 2), (1, 0)),
    ((3, 1, 6, 6), (4, 4), (3, 3), (2, 2)),
]


def _random_col2im_geometry(rng):
    kh, kw = random_sizes(rng, 2, high=4)
    padding = tuple(int(rng.integers(0, k)) for k in (kh, kw))
    x_shape = (*random_sizes(rng, 2, high=3), *(k + int(rng.integers(0, 5)) for k in (kh, kw)))
    return x_shape, (kh, kw), random_sizes(rng, 2, high=3), padding


def _col2im_cases(rng):
    cases = []
    for x_shape, kernel_size, stride, padding in [*COL2IM_GEOMETRIES,
                                                  _random_col2im_geometry(rng)]:
        x = rng.normal(size=x_shape)
        n_rows, n_cols = im2col(x, kernel_size, stride, padding).shape
        cases.append(Case({"cols": rng.normal(size=(n_rows, n_cols)), "x_shape": x_shape,
                           "kernel_size": kernel_size, "stride": stride, "padding": padding,
                           "x": x}))
    return cases


def _col2im_objective(v):
    """L = sum(im2col(x) * cols)"""
    return float(np.sum(im2col(v["x"], v["kernel_size"], v["stride"], v["padding"]) * v["cols"]))


# Typical wrong answers, recognised in the hints.
def _col2im_overwrite(cols, x_shape, kernel_size, stride, padding):
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    h_out, w_out = _output_hw(x_shape, kernel_size, stride, padding)
    cols = cols.reshape(c, kh, kw, n, h_out, w_out)
    x_pad = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    for i in range(kh):
        for j in range(kw):
            x_pad[:, :, i:i + sh * h_out:sh, j:j + sw * w_out:sw] = cols[:, i, j].transpose(
                1, 0, 2, 3)
    return x_pad[:, :, ph:ph + h, pw:pw + w]


def _col2im_padded(cols, x_shape, kernel_size, stride, padding):
    (ph, pw) = padding
    n, c, h, w = x_shape
    padded = (n, c, h + 2 * ph, w + 2 * pw)
    return col2im(cols, padded, kernel_size, stride, (0, 0))


COL2IM = Exercise(
    "col2im", col2im, ("cols", "x_shape", "kernel_size", "stride", "padding"), ("dx",),
    _col2im_cases, _col2im_objective, {"dx": "x"}, batch_arg="x_shape",
    mistakes=(
        Mistake("overlapping windows must add up (+=): a pixel read by several windows "
                "gets the sum of their entries, not the last one", _col2im_overwrite),
        Mistake("this is the padded image: crop the padding off (entries read from the "
                "padding go nowhere)", _col2im_padded),
    ),
)


# -- max pooling --------------------------------------------------------------------------
def max_pool(x, kernel_size, stride):
    """y[n, c, oh, ow] = max of x[n, c, oh s : oh s + k, ow s : ow s + k]."""
    n, c, h, w = x.shape
    h_out, w_out = (h - kernel_size) // stride + 1, (w - kernel_size) // stride + 1
    y = np.empty((n, c, h_out, w_out))
    for oh in range(h_out):
        for ow in range(w_out):
            r, q = oh * stride, ow * stride
            y[:, :, oh, ow] = x[:, :, r:r + kernel_size, q:q + kernel_size].max(axis=(2, 3))
    return y


def max_pool_backward(grad_out, x, kernel_size, stride):
    """Backward pass of max pooling over square windows, no padding.

    Write ``max_pool_backward(grad_out, x, kernel_size, stride)`` returning ``dx``.

    Parameters
    ----------
    grad_out : ndarray (N, C, H_out, W_out)
        ``g = dL/dy`` with ``H_out = (H - kernel_size) // stride + 1``
        (likewise ``W_out``).
    x : ndarray (N, C, H, W)
        The forward pass's input.
    kernel_size, stride : int
        Window ``k x k``, moved by ``stride`` (overlapping when stride < k).

    Returns
    -------
    dx : ndarray (N, C, H, W)

    Notes
    -----
    ``y[n, c, oh, ow] = max of window (oh, ow)``, rows
    ``oh stride .. oh stride + k - 1`` and columns likewise. Its derivative
    is 1 for the maximum and 0 for every other pixel of the window, so
    ``g[n, c, oh, ow]`` goes whole to the maximum: ``dx[argmax] += g``.
    Overlapping windows add up. On ties only the first maximum in row-major
    order gets it (``argmax`` of the flattened window), as in
    ``npae.layers.MaxPool2D`` and PyTorch; some cases test ties.
    """
    n, c = x.shape[:2]
    h_out, w_out = grad_out.shape[2:]
    dx = np.zeros_like(x)
    nn, cc = np.indices((n, c))
    for oh in range(h_out):
        for ow in range(w_out):
            r, q = oh * stride, ow * stride
            window = x[:, :, r:r + kernel_size, q:q + kernel_size].reshape(n, c, -1)
            i, j = np.divmod(window.argmax(axis=2), kernel_size)
            dx[nn, cc, r + i, q + j] += grad_out[:, :, oh, ow]
    return dx


MAX_POOL_GEOMETRIES = [  # x_shape, kernel_size, stride, ties
    ((2, 3, 4, 4), 2, 2, False),
    ((1, 1, 5, 5), 2, 2, False),
    ((2, 2, 5, 6), 3, 1, False),
    ((1, 2, 4, 6), 2, 2, True),
    ((2, 1, 7, 5), 3, 2, True),
]


def _random_max_pool_geometry(rng):
    kernel_size, stride = int(rng.integers(2, 4)), int(rng.integers(1, 4))
    hw = (kernel_size + int(rng.integers(0, 5)) for _ in range(2))
    return (*random_sizes(rng, 2, high=3), *hw), kernel_size, stride, False


def _max_pool_cases(rng):
    cases = []
    for x_shape, kernel_size, stride, ties in [*MAX_POOL_GEOMETRIES,
                                               _random_max_pool_geometry(rng)]:
        x = rng.integers(0, 3, size=x_shape).astype(np.float64) if ties else rng.normal(
            size=x_shape)
        y_shape = max_pool(x, kernel_size, stride).shape
        cases.append(Case({"grad_out": rng.normal(size=y_shape), "x": x,
                           "kernel_size": kernel_size, "stride": stride}, smooth=not ties))
    return cases


def _max_pool_objective(v):
    """L = sum(max_pool(x) * grad_out)"""
    return float(np.sum(max_pool(v["x"], v["kernel_size"], v["stride"]) * v["grad_out"]))


# Typical wrong answers, recognised in the hints.
def _window_loop(grad_out, x, kernel_size, stride, share):
    """dx from ``dx[window] += share(window) * g`` over all windows (wrong answers below)."""
    dx = np.zeros_like(x)
    for oh in range(grad_out.shape[2]):
        for ow in range(grad_out.shape[3]):
            r, q = oh * stride, ow * stride
            window = x[:, :, r:r + kernel_size, q:q + kernel_size]
            g = grad_out[:, :, oh, ow][:, :, None, None]
            dx[:, :, r:r + kernel_size, q:q + kernel_size] += share(window) * g
    return dx


def _every_maximum(grad_out, x, kernel_size, stride):
    return _window_loop(grad_out, x, kernel_size, stride,
                        lambda w: w == w.max(axis=(2, 3), keepdims=True))


def _average(grad_out, x, kernel_size, stride):
    return _window_loop(grad_out, x, kernel_size, stride,
                        lambda w: np.full(w.shape, 1.0 / kernel_size**2))


def _max_pool_overwrite(grad_out, x, kernel_size, stride):
    n, c = x.shape[:2]
    dx = np.zeros_like(x)
    nn, cc = np.indices((n, c))
    for oh in range(grad_out.shape[2]):
        for ow in range(grad_out.shape[3]):
            r, q = oh * stride, ow * stride
            window = x[:, :, r:r + kernel_size, q:q + kernel_size].reshape(n, c, -1)
            i, j = np.divmod(window.argmax(axis=2), kernel_size)
            dx[nn, cc, r + i, q + j] = grad_out[:, :, oh, ow]
    return dx


MAX_POOL = Exercise(
    "max_pool_backward", max_pool_backward, ("grad_out", "x", "kernel_size", "stride"),
    ("dx",), _max_pool_cases, _max_pool_objective, {"dx": "x"},
    mistakes=(
        Mistake("on ties only the first maximum (row-major) gets the gradient, not every "
                "maximum", _every_maximum),
        Mistake("that is average pooling's backward: max pooling sends all of g to the "
                "window's maximum", _average),
        Mistake("overlapping windows must add up (+=) where they share a maximum",
                _max_pool_overwrite),
    ),
)


# -- bilinear upsampling -----------------------------------------------------------------
def interpolation_matrix(size_in, scale):
    """The (size_in scale, size_in) matrix of 1-d bilinear upsampling, half-pixel centres.

    Output o reads the source coordinate ``src = max((o + 1/2) / scale - 1/2, 0)``,
    between ``i0 = floor(src)`` and ``i1 = min(i0 + 1, size_in - 1)``, with
    weights ``1 - t`` and ``t``, ``t = src - i0``.
    """
    out = np.arange(size_in * scale)
    src = np.maximum((out + 0.5) / scale - 0.5, 0.0)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, size_in - 1)
    t = src - i0
    A = np.zeros((size_in * scale, size_in))
    np.add.at(A, (out, i0), 1 - t)
    np.add.at(A, (out, i1), t)
    return A


def bilinear_upsample(x, scale):
    """y = A_h x A_w^T: bilinear upsampling by an integer ``scale``, align_corners=False."""
    return interpolation_matrix(x.shape[2], scale) @ x @ interpolation_matrix(x.shape[3],
                                                                            scale).T


def bilinear_upsample_backward(grad_out, scale):
    """Backward pass of bilinear upsampling by an integer factor (``align_corners=False``).

    Write ``bilinear_upsample_backward(grad_out, scale)`` returning ``dx``.

    Parameters
    ----------
    grad_out : ndarray (N, C, scale H, scale W)
        ``g = dL/dy``.
    scale : int
        The upsampling factor of both axes.

    Returns
    -------
    dx : ndarray (N, C, H, W)

    Notes
    -----
    Forward (``npae.layers.Upsample2D(scale, mode="bilinear")``, equal to
    PyTorch's ``align_corners=False``): along each axis, output ``o`` reads
    the source coordinate ``src = max((o + 1/2) / scale - 1/2, 0)`` (pixel
    centres at half-integers, clamped at 0), which lies between
    ``i0 = floor(src)`` and ``i1 = min(i0 + 1, size - 1)`` (clamped at the
    last pixel), with weights ``1 - t`` and ``t``, ``t = src - i0``. That is
    a matrix ``A`` (scale size, size), the same for every image and channel,
    and ``y = A_h x A_w^T``. The map is linear, so backward is its
    transpose: ``dx = A_h^T g A_w``; each output gradient flows back to its
    four source pixels times their interpolation weights.
    """
    h, w = grad_out.shape[2] // scale, grad_out.shape[3] // scale
    return interpolation_matrix(h, scale).T @ grad_out @ interpolation_matrix(w, scale)


def upsample_cases(rng, upsample):
    """Cases of an upsampling backward: four fixed geometries and one random, x and grad_out
    drawn from ``rng`` (``upsample(x, scale)`` gives grad_out's shape)."""
    cases = []
    random_geometry = (random_sizes(rng, 4, high=4), int(rng.integers(2, 5)))
    for x_shape, scale in [((2, 3, 3, 4), 2), ((1, 1, 2, 5), 3), ((1, 2, 1, 1), 2),
                           ((2, 1, 3, 2), 4), random_geometry]:
        x = rng.normal(size=x_shape)
        grad_out = rng.normal(size=upsample(x, scale).shape)
        cases.append(Case({"grad_out": grad_out, "scale": scale, "x": x}))
    return cases


def upsample_objective(upsample):
    """The objective whose gradient in x an upsampling backward returns."""
    def objective(v):
        """L = sum(upsample(x) * grad_out)"""
        return float(np.sum(upsample(v["x"], v["scale"]) * v["grad_out"]))
    return objective


# Typical wrong answers, recognised in the hints.
def _nearest_backward(grad_out, scale):
    n, c, h_out, w_out = grad_out.shape
    blocks = grad_out.reshape(n, c, h_out // scale, scale, w_out // scale, scale)
    return blocks.sum(axis=(3, 5))


def _align_corners_matrix(size_in, scale):
    size_out = size_in * scale
    src = np.arange(size_out) * ((size_in - 1) / (size_out - 1) if size_out > 1 else 0.0)
    i0 = np.minimum(np.floor(src).astype(int), size_in - 1)
    i1 = np.minimum(i0 + 1, size_in - 1)
    t = src - i0
    A = np.zeros((size_out, size_in))
    np.add.at(A, (np.arange(size_out), i0), 1 - t)
    np.add.at(A, (np.arange(size_out), i1), t)
    return A


def _align_corners_backward(grad_out, scale):
    h, w = grad_out.shape[2] // scale, grad_out.shape[3] // scale
    return _align_corners_matrix(h, scale).T @ grad_out @ _align_corners_matrix(w, scale)


BILINEAR = Exercise(
    "bilinear_upsample_backward", bilinear_upsample_backward, ("grad_out", "scale"),
    ("dx",), lambda rng: upsample_cases(rng, bilinear_upsample),
    upsample_objective(bilinear_upsample), {"dx": "x"},
    mistakes=(
        Mistake("that is nearest-neighbour upsampling's backward (block sums): bilinear "
                "sends each output gradient to four source pixels with weights",
                _nearest_backward),
        Mistake("that is align_corners=True; npae uses half-pixel centres, "
                "src = (o + 1/2) / scale - 1/2 clamped at 0", _align_corners_backward),
    ),
)

EXERCISES = (COL2IM, MAX_POOL, BILINEAR)
