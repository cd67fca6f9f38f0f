"""Center crop and concatenation: the plumbing of U-Net skip connections.

A U-Net encoder feature map is (center-)cropped to the size of the decoder
feature map it joins, then the two are concatenated along the channels:

    skip = Crop2D.to_match(up).forward(skip)      # (N, C1, H, W)
    z = Concat(axis=1).forward([up, skip])        # (N, C0 + C1, H, W)
    d_up, d_skip = concat.backward(g)             # one gradient per input
"""

import numbers

import numpy as np

from npae._validation import check_float_dtype, check_int
from npae.layers._geometry import as_pair, check_example_shape, check_images, crop_offsets
from npae.layers.base import Layer


def center_crop(x, height, width):
    """The centred (height, width) window of the last two axes of ``x`` (a view).

    When the difference in size is odd, the extra row (column) is removed at
    the bottom (right).
    """
    h, w = x.shape[-2:]
    if height > h or width > w:
        raise ValueError(f"center_crop: cannot crop size {(h, w)} to a larger {(height, width)}")
    top, bottom = crop_offsets(h, height)
    left, right = crop_offsets(w, width)
    return x[..., top:bottom, left:right]


class Crop2D(Layer):
    """Center crop of NCHW feature maps to ``target_size`` ``(h, w)``.

    ``y = x[:, :, top:top + h, left:left + w]`` with ``top = (H - h) // 2`` and
    ``left = (W - w) // 2``: when ``H - h`` (or ``W - w``) is odd, the extra
    row (column) comes off the bottom (right). ``offset=(top, left)`` places
    the window explicitly instead (a decoder undoing padding that an encoder
    added at the top and left).

    Parameters
    ----------
    target_size : int or (int, int)
        Output height and width (one int for a square).
    offset : (int, int) or None, default None
        Top-left corner of the window; None centres it.
    dtype, rng : see ``Layer``.

    Shape
    -----
    x : (N, C, H, W) with H >= h, W >= w -> y : (N, C, h, w)

    Notes
    -----
    Backward pads with zeros: ``dL/dx`` is zero everywhere except the
    cropped window, which receives ``g``. ``Crop2D.to_match(ref)`` builds the
    crop to ``ref``'s spatial size; ``center_crop(x, h, w)`` is the plain
    function.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(25.0).reshape(1, 1, 5, 5)
    >>> Crop2D(2).forward(x)[0, 0]
    array([[ 6.,  7.],
           [11., 12.]])
    """

    trainable = False

    def __init__(self, target_size, offset=None, dtype="float64", rng=None):
        super().__init__(dtype=dtype, rng=rng)
        self.target_size = as_pair(target_size, "target_size", self.name)
        self.offset = None if offset is None else as_pair(offset, "offset", self.name, minimum=0)

    @classmethod
    def to_match(cls, ref):
        """A ``Crop2D`` to the spatial size (and dtype) of the (N, C, H, W) array ``ref``."""
        if not isinstance(ref, np.ndarray) or ref.ndim != 4:
            got = getattr(ref, "shape", type(ref).__name__)
            raise ValueError(f"Crop2D.to_match expected an (N, C, H, W) array, got {got}")
        return cls(tuple(ref.shape[2:]), dtype=ref.dtype)

    def _check_fits(self, hw):
        corner = self.offset or (0, 0)
        if any(size < start + target for size, start, target in zip(hw, corner, self.target_size)):
            at = "" if self.offset is None else f" at offset {self.offset}"
            raise ValueError(
                f"{self.name}: cannot crop spatial size {tuple(hw)} to the larger "
                f"target_size {self.target_size}{at}"
            )

    def _crop(self, x):
        """The window of ``x`` this layer keeps (a view)."""
        if self.offset is None:
            return center_crop(x, *self.target_size)
        (top, left), (h, w) = self.offset, self.target_size
        return x[..., top:top + h, left:left + w]

    def forward(self, x, training=True):
        x = check_images(self, x)
        self._check_fits(x.shape[2:])
        if training:
            self._cache = x.shape
        return np.ascontiguousarray(self._crop(x))

    def backward(self, grad_out):
        x_shape = self._saved()
        self._check_grad(grad_out, x_shape[:2] + self.target_size)
        dx = np.zeros(x_shape, dtype=self.dtype)
        self._crop(dx)[...] = grad_out
        return dx

    def output_shape(self, input_shape):
        c, h, w = check_example_shape(self, input_shape)
        self._check_fits((h, w))
        return (c, *self.target_size)

    def get_config(self):
        offset = None if self.offset is None else list(self.offset)
        return {"target_size": list(self.target_size), "offset": offset, **super().get_config()}


class Concat:
    """Join several arrays along ``axis`` (the channels by default): a graph node, not a Layer.

    A ``Layer`` maps one array to one array. Concat has several inputs, so
    it has its own protocol, the one a graph that routes several arrays
    (the U-Net's skip connections, ``npae.models.unet.UNetNetwork``) calls:

    - ``forward(xs, training=True)`` takes a list (or tuple) of arrays
      ``[a, b, ...]`` and returns their concatenation;
    - ``backward(grad_out)`` returns the list ``[da, db, ...]`` of their
      gradients, in the same order;
    - ``output_shape(shapes)`` takes the list of per-example input shapes.

    Not being a ``Layer``, it cannot sit in a ``Sequential`` (which hands
    each layer one array). It has no parameters: ``params`` and ``grads``
    are empty and ``trainable`` is False, so a network can list it among
    its layers (the order that names their parameters, and the specs
    ``npae.save`` records from each entry's ``name`` and ``get_config()``).

    Parameters
    ----------
    axis : int
        Axis to join along, >= 1 (axis 0 is the batch). The inputs must
        agree on every other axis.
    dtype : {"float64", "float32"}
        Floating type of inputs and outputs.

    Shape
    -----
    [(N, C_1, H, W), (N, C_2, H, W), ...] -> (N, C_1 + C_2 + ..., H, W) for
    ``axis=1``.

    Notes
    -----
    Backward splits ``g`` where the inputs were joined: input ``k`` receives
    the slice of ``g`` at its own position along ``axis``. Concat does not
    test its inputs for NaN or inf: the layer that reads its output does.

    Examples
    --------
    >>> import numpy as np
    >>> concat = Concat()
    >>> concat.forward([np.ones((2, 3, 4, 4)), np.zeros((2, 5, 4, 4))]).shape
    (2, 8, 4, 4)
    >>> [g.shape for g in concat.backward(np.ones((2, 8, 4, 4)))]
    [(2, 3, 4, 4), (2, 5, 4, 4)]
    """

    trainable = False

    def __init__(self, axis=1, dtype="float64"):
        self.axis = check_int(axis, "axis", "Concat", minimum=1)
        self.dtype = check_float_dtype(dtype, "Concat")
        self.params, self.grads = {}, {}
        self._shapes = None

    @property
    def name(self):
        return type(self).__name__

    def _check_inputs(self, xs):
        if not isinstance(xs, (list, tuple)):
            raise TypeError(
                f"{self.name}.forward expected a list of arrays, got {type(xs).__name__}"
            )
        if len(xs) < 2:
            raise ValueError(f"{self.name}.forward expected at least two arrays, got {len(xs)}")
        for x in xs:
            if not isinstance(x, np.ndarray):
                raise TypeError(f"{self.name} expected numpy arrays, got {type(x).__name__}")
            if x.dtype != self.dtype:
                raise ValueError(
                    f"{self.name} expected inputs of dtype {self.dtype.name}, got {x.dtype}"
                )
        shapes = [x.shape for x in xs]
        if min(len(s) for s in shapes) <= self.axis:
            raise ValueError(
                f"{self.name}: axis {self.axis} needs inputs with at least {self.axis + 1} "
                f"dimensions, got shapes {shapes}"
            )
        others = {s[:self.axis] + s[self.axis + 1:] for s in shapes}
        if len(others) > 1:
            raise ValueError(
                f"{self.name} expected inputs that agree on every axis but {self.axis}, "
                f"got shapes {shapes}"
            )
        if shapes[0][0] == 0:
            raise ValueError(f"{self.name} expected a non-empty batch, got shapes {shapes}")

    def forward(self, xs, training=True):
        """``y = [a, b, ...]`` joined along ``axis``; ``training=True`` keeps the input shapes."""
        self._check_inputs(xs)
        if training:
            self._shapes = [x.shape for x in xs]
        return np.concatenate(xs, axis=self.axis)

    def backward(self, grad_out):
        """Split dL/dy into ``[da, db, ...]``, one C-contiguous slice per input."""
        shapes = self._shapes
        if shapes is None:
            raise RuntimeError(
                f"{self.name}.backward called before forward: run forward(xs) "
                "with training=True first"
            )
        out_shape = list(shapes[0])
        out_shape[self.axis] = sum(s[self.axis] for s in shapes)
        if not isinstance(grad_out, np.ndarray) or grad_out.shape != tuple(out_shape):
            got = getattr(grad_out, "shape", type(grad_out).__name__)
            raise ValueError(
                f"{self.name}.backward expected grad_out of shape {tuple(out_shape)}, got {got}"
            )
        if grad_out.dtype != self.dtype:
            raise ValueError(
                f"{self.name}.backward expected grad_out of dtype {self.dtype.name}, "
                f"got {grad_out.dtype}"
            )
        ends = np.cumsum([s[self.axis] for s in shapes])[:-1]
        return [np.ascontiguousarray(g) for g in np.split(grad_out, ends, axis=self.axis)]

    def output_shape(self, input_shape):
        """Per-example output shape for a list of per-example input shapes."""
        if len(input_shape) < 2 or any(isinstance(s, numbers.Integral) for s in input_shape):
            raise ValueError(
                f"{self.name}.output_shape expected a list of per-example shapes, "
                f"got {input_shape!r}"
            )
        shapes = [tuple(s) for s in input_shape]
        k = self.axis - 1
        others = {s[:k] + s[k + 1:] for s in shapes}
        if len(others) > 1 or any(len(s) <= k for s in shapes):
            raise ValueError(
                f"{self.name} expected shapes that agree on every axis but {self.axis}, "
                f"got {shapes}"
            )
        return shapes[0][:k] + (sum(s[k] for s in shapes),) + shapes[0][k + 1:]

    def get_config(self):
        """Constructor arguments that rebuild this node (JSON-able)."""
        return {"axis": self.axis, "dtype": self.dtype.name}

    def __repr__(self):
        return f"{self.name}(axis={self.axis}, dtype={self.dtype.name!r})"
