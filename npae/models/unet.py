"""U-Net: per-pixel segmentation with an encoder, a decoder and skip connections.

The network (Ronneberger, Fischer and Brox, 2015) is a contracting path of
convolution blocks and 2x2 max-pools, a bottleneck block, and an expanding
path that doubles the size at each level, concatenates the encoder's map of
that level (the skip connection, center-cropped if it is larger) and applies
another block; a final 1x1 convolution gives one logit per class and pixel.

Its graph is not a chain, so ``UNetNetwork`` writes out forward and backward
by hand. The rule the skips add to backpropagation: an encoder block's output
feeds two consumers (the next max-pool and the skip), so its gradient is the
SUM of the gradients coming back along both paths.
"""

import numpy as np
from scipy.special import expit, softmax
from sklearn.utils.validation import check_is_fitted

from npae import losses
from npae._validation import check_array, check_choice, check_int
from npae.layers.activations import ACTIVATIONS, get_activation
from npae.layers.conv import Conv2D, ConvTranspose2D
from npae.layers.crop import Concat, Crop2D, center_crop
from npae.layers.initializers import init_for
from npae.layers.pool import MaxPool2D
from npae.layers.upsample import Upsample2D
from npae.metrics import iou_score
from npae.models.base import TrainedEstimator
from npae.models.conv import check_conv_algorithm, check_image_ndim, conv_algorithm_for
from npae.network import Network, Sequential

UPS = ("transposed", "upsample")


# -- sizes -------------------------------------------------------------------------
def unet_sizes(size, depth, kernel_size, padding, axis="height"):
    """Sizes along one axis: (encoder block outputs, up-sampled maps, output), by level.

    A block's two convolutions each change the size by ``2 p - k + 1``
    (nothing for "same" padding, -2 for 3x3 "valid" ones), a max-pool
    halves it (rounding down) and an up-sampling doubles it. ``encoder[d]``
    is the size after encoder block ``d`` (``encoder[depth]``: the
    bottleneck), ``up[d]`` the size of the up-sampled map that joins the
    skip of level ``d``. Raises a ValueError naming where a map would vanish.
    """
    change = 2 * (2 * padding - kernel_size + 1)

    def block(s, where):
        if s + change < 1:
            raise ValueError(
                f"UNet: input {axis} {size} is too small for depth={depth}, "
                f"kernel_size={kernel_size}, padding={padding}: the map after {where} would "
                f"have {axis} {s + change}; use larger images, more padding or a smaller depth"
            )
        return s + change

    encoder, s = [], size
    for d in range(depth + 1):
        s = block(s, f"encoder block {d}")
        encoder.append(s)
        if d < depth and s < 2:
            raise ValueError(
                f"UNet: input {axis} {size} is too small for depth={depth}: the map before "
                f"max-pool {d} has {axis} {s}; use larger images or a smaller depth"
            )
        s //= 2
    up, s = [0] * depth, encoder[depth]
    for d in reversed(range(depth)):
        up[d] = 2 * s
        s = block(up[d], f"decoder block {d}")
    return encoder, up, s


# -- the network ---------------------------------------------------------------------
class UNetNetwork(Network):
    """The U-Net graph, with its forward and backward pass written out.

    Level ``d = 0`` is the top (full size), ``d = depth`` the bottleneck.

    Parameters
    ----------
    encoder_blocks : list of Sequential, length depth + 1
        ``encoder_blocks[d]``: two convolutions with activations at level ``d``;
        the last one is the bottleneck.
    pools : list of MaxPool2D, length depth
        ``pools[d]`` takes level ``d`` down to ``d + 1``.
    ups : list of Sequential, length depth
        ``ups[d]`` takes level ``d + 1`` up to level ``d`` (doubling the size,
        halving the channels).
    crops : list of Crop2D, length depth
        ``crops[d]`` center-crops the skip of level ``d`` to the size of ``ups[d]``'s output.
    concats : list of Concat, length depth
        ``concats[d]`` joins ``[up, cropped skip]`` along the channels.
    decoder_blocks : list of Sequential, length depth
        ``decoder_blocks[d]``: two convolutions with activations after ``concats[d]``.
    head : Sequential
        The final 1x1 convolution to one logit per class.

    Notes
    -----
    A ``Network`` but not a ``Sequential``: ``layers`` (hence ``params()``,
    ``state_dict()``, the optimizer and ``npae.save``) holds every layer and
    ``Concat`` node once, in a fixed order: each encoder block and its pool,
    the bottleneck, then per decoder level (deepest first) up, crop, concat
    and block, then the head. ``forward`` and ``backward`` follow the graph,
    not that list.
    """

    def __init__(self, encoder_blocks, pools, ups, crops, concats, decoder_blocks, head):
        self.depth = len(pools)
        self.encoder_blocks = list(encoder_blocks)
        self.pools = list(pools)
        self.ups = list(ups)
        self.crops = list(crops)
        self.concats = list(concats)
        self.decoder_blocks = list(decoder_blocks)
        self.head = head
        layers = []
        for d in range(self.depth):
            layers += self.encoder_blocks[d].layers + [self.pools[d]]
        layers += self.encoder_blocks[self.depth].layers
        for d in reversed(range(self.depth)):
            layers += self.ups[d].layers + [self.crops[d], self.concats[d]]
            layers += self.decoder_blocks[d].layers
        self.layers = layers + head.layers

    def encode(self, x, training=True):
        """The contracting path: the bottleneck map and the skip maps (top level first)."""
        skips = []
        for d in range(self.depth):
            x = self.encoder_blocks[d].forward(x, training)
            skips.append(x)
            x = self.pools[d].forward(x, training)
        return self.encoder_blocks[self.depth].forward(x, training), skips

    def forward(self, x, training=True):
        """Logits ``(N, out_channels, h, w)`` for images ``x`` ``(N, in_channels, H, W)``."""
        x, skips = self.encode(x, training)
        for d in reversed(range(self.depth)):
            up = self.ups[d].forward(x, training)
            skip = self.crops[d].forward(skips[d], training)
            x = self.concats[d].forward([up, skip], training)
            x = self.decoder_blocks[d].forward(x, training)
        return self.head.forward(x, training)

    def backward(self, grad_out):
        """Backpropagate dL/dlogits through the graph; returns dL/dx.

        At each concatenation the gradient splits by channels: the up-sampled
        part goes back down the expanding path, the skip part back to the
        encoder (the crop's backward pads it with zeros to the skip's full
        size). An encoder block's output fed both its max-pool and its skip,
        so its gradient is the SUM of what comes back along the two.
        """
        g = self.head.backward(grad_out)
        grad_skips = [None] * self.depth
        for d in range(self.depth):  # the expanding path, top level first
            g = self.decoder_blocks[d].backward(g)
            g_up, g_skip = self.concats[d].backward(g)
            grad_skips[d] = self.crops[d].backward(g_skip)
            g = self.ups[d].backward(g_up)
        g = self.encoder_blocks[self.depth].backward(g)
        for d in reversed(range(self.depth)):  # the contracting path, bottom up
            g = self.pools[d].backward(g) + grad_skips[d]  # two consumers: gradients add
            g = self.encoder_blocks[d].backward(g)
        return g

    def _stages(self, input_shape):
        """(name, per-example output shape, parameter count) of every stage."""
        shape, skips = tuple(input_shape), []
        for d in range(self.depth):
            shape = self.encoder_blocks[d].output_shape(shape)
            skips.append(shape)
            yield f"encoder {d}", shape, self.encoder_blocks[d].n_params
            shape = self.pools[d].output_shape(shape)
            yield f"max-pool {d}", shape, 0
        shape = self.encoder_blocks[self.depth].output_shape(shape)
        yield f"bottleneck {self.depth}", shape, self.encoder_blocks[self.depth].n_params
        for d in reversed(range(self.depth)):
            shape = self.ups[d].output_shape(shape)
            yield f"up {d}", shape, self.ups[d].n_params
            skip = self.crops[d].output_shape(skips[d])
            shape = self.concats[d].output_shape([shape, skip])
            yield f"concat {d} (skip {skips[d][1:]} -> {skip[1:]})", shape, 0
            shape = self.decoder_blocks[d].output_shape(shape)
            yield f"decoder {d}", shape, self.decoder_blocks[d].n_params
        yield "head", self.head.output_shape(shape), self.head.n_params

    def output_shape(self, input_shape):
        """Per-example logits shape for a per-example input shape ``(C, H, W)``."""
        return list(self._stages(input_shape))[-1][1]

    def _summary_rows(self, shape):
        """``summary`` lists the stages of the U-shaped graph, not the flat layer list."""
        return "stage", [(name, str(out), str(n) if n else "-")
                         for name, out, n in self._stages(shape)]


# -- the estimator -----------------------------------------------------------------------
class UNet(TrainedEstimator):
    """U-Net for per-pixel segmentation: ``fit(X, Y)`` with masks, ``predict(X)``.

    Level ``d`` (``d = 0, ..., depth``) works with ``base_channels 2^d``
    channels. Each block is two ``Conv2D`` (``kernel_size``, ``padding``)
    each followed by the activation. The contracting path runs a block and
    a 2x2 ``MaxPool2D`` per level; the bottleneck is the block at level
    ``depth``. The expanding path, per level from the deepest up, doubles the
    size and halves the channels (``up``), center-crops the encoder block's
    output of that level to the same size (``Crop2D``), concatenates the two
    along the channels (``Concat``) and runs a block. A 1x1 ``Conv2D`` gives
    ``out_channels`` logits per pixel.

    The loss is the mean over pixels of the stable binary cross-entropy of
    ``sigmoid(logit)`` (``out_channels=1``, masks ``Y`` of 0 and 1) or the
    cross-entropy of ``softmax(logits)`` (``out_channels > 1``, integer labels
    ``Y`` in ``[0, out_channels)``).

    Sizes: with ``padding=0`` ("valid" convolutions, as in the original
    U-Net) every 3x3 convolution trims 2 pixels, so the output is smaller
    than the input; a max-pool of an odd size drops the last row or column,
    so with ``padding=1`` the output has the input's size only when
    ``2^depth`` divides H and W. Whenever the output is smaller, the masks
    are center-cropped to it (give ``Y`` at the input's size or already at
    the output's): pixel ``(i, j)`` of the output is pixel
    ``(i + top, j + left)`` of the input, ``top = (H - h) // 2``. Fitted models
    take images of the size seen in ``fit``; ``output_shape_`` is their
    output shape.

    Parameters
    ----------
    in_channels : int, default 1
        Channels C of the images X (N, C, H, W).
    out_channels : int, default 1
        1 for a binary mask (sigmoid), or the number of classes (softmax).
    depth : int, default 2
        Number of max-pools (the bottleneck is ``2^depth`` times smaller).
    base_channels : int, default 8
        Channels of the top level; they double at each level down.
    kernel_size : int, default 3
        Side of the blocks' square convolution kernels.
    padding : int, default 1
        Zero padding of the blocks' convolutions: 1 keeps the size of 3x3
        convolutions ("same"), 0 is "valid". At most ``(kernel_size - 1) // 2``.
    activation : str, default "relu"
        Activation after each block convolution.
    up : {"transposed", "upsample"}, default "transposed"
        Up-sampling of the expanding path: a learned 2x2 ``ConvTranspose2D``
        with stride 2, or a bilinear ``Upsample2D`` then a 1x1 ``Conv2D``.
    conv_algorithm : {"im2col", "col2im", "winograd", "auto"}, default "im2col"
        The ``algorithm`` of the blocks' convolutions (``Conv2D``), as in
        ``npae.ConvAutoencoder``: "auto" runs the convolutions that narrow
        the channels (the first of each expanding block, which reads the
        skip connection and the up-sampled map) by "col2im".
    optimizer : {"adam", "sgd"}, default "adam"
    learning_rate : float, default 3e-3
    momentum : float, default 0.0
        ``optimizer="sgd"`` only: the velocity kept between steps
        (``npae.optim.SGD``); 0 is plain gradient descent.
    nesterov : bool, default False
        ``optimizer="sgd"`` only: Nesterov's momentum (needs ``momentum > 0``).
    epochs : int, default 30
    batch_size : int, default 16
    weight_decay : float, default 0.0
        L2 penalty on all parameters, applied by the optimizer.
    validation_fraction : float, default 0.0
        Images held out (shuffled, seeded) to report ``val_loss``.
    early_stopping : bool, default False
        Stop when the validation (or training) loss stalls for ``patience``
        epochs and keep the best weights.
    patience : int, default 10
    tol : float, default 1e-4
    n_iter_no_change : int or None, default None
        Stop once the loss (validation if any, else training) has not
        improved by ``tol`` for more than ``n_iter_no_change`` epochs, as in
        scikit-learn's MLP, keeping the last weights; a ``ConvergenceWarning``
        when ``epochs`` run out first. None trains all ``epochs``.
    dtype : {None, "float32", "float64"}, default None
        Computation type; None follows the input (float32 stays float32,
        anything else becomes float64).
    verbose : int, default 0
        1 shows a progress bar when attached to a terminal.
    random_state : int, Generator or None
        Seeds initialization and shuffling: one seed, bit-identical runs.

    Shape
    -----
    X : (N, in_channels, H, W); Y : (N, 1, H, W) masks for ``out_channels=1``,
    (N, H, W) labels otherwise (or at the output size h, w).
    ``predict_proba(X)`` : (N, out_channels, h, w); ``predict(X)`` : (N, 1, h, w)
    masks or (N, h, w) labels.

    Attributes
    ----------
    network_ : UNetNetwork
        The graph: ``network_.encoder_blocks``, ``pools``, ``ups``, ``crops``,
        ``concats``, ``decoder_blocks``, ``head``; as a ``Sequential`` it
        lists every layer once (for parameters, the optimizer and saving).
    history_ : dict
        ``"loss"`` per epoch (and ``"val_loss"``).
    input_shape_ : tuple
        ``(C, H, W)`` seen in ``fit``.
    output_shape_ : tuple
        ``(out_channels, h, w)``, the shape of the logits of one image.
    code_shape_ : tuple
        Shape of the bottleneck map of one image (what ``encode`` returns).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((8, 1, 16, 16))
    >>> Y = (X > 0.5).astype(int)
    >>> net = UNet(depth=1, base_channels=4, epochs=2, random_state=0).fit(X, Y)
    >>> net.predict(X).shape
    (8, 1, 16, 16)
    >>> 0.0 <= net.score(X, Y) <= 1.0
    True
    """

    _input_ndim = 4

    def __init__(self, in_channels=1, out_channels=1, depth=2, base_channels=8, kernel_size=3,
                 padding=1, activation="relu", up="transposed", conv_algorithm="im2col",
                 optimizer="adam", learning_rate=3e-3, momentum=0.0, nesterov=False, epochs=30,
                 batch_size=16, weight_decay=0.0, validation_fraction=0.0, early_stopping=False,
                 patience=10, tol=1e-4, n_iter_no_change=None, dtype=None, verbose=0,
                 random_state=None):
        super().__init__(
            optimizer=optimizer, learning_rate=learning_rate, momentum=momentum, nesterov=nesterov,
            batch_size=batch_size, weight_decay=weight_decay,
            validation_fraction=validation_fraction, early_stopping=early_stopping,
            patience=patience, tol=tol, n_iter_no_change=n_iter_no_change, dtype=dtype,
            verbose=verbose, random_state=random_state)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.depth = depth
        self.base_channels = base_channels
        self.kernel_size = kernel_size
        self.padding = padding
        self.activation = activation
        self.up = up
        self.conv_algorithm = conv_algorithm
        self.epochs = epochs

    # -- building -------------------------------------------------------------------
    def _check_hyperparameters(self):
        super()._check_hyperparameters()
        owner = type(self).__name__
        for name in ("in_channels", "out_channels", "depth", "base_channels", "kernel_size"):
            check_int(getattr(self, name), name, owner)
        check_int(self.padding, "padding", owner, minimum=0)
        if self.padding > (self.kernel_size - 1) // 2:
            raise ValueError(
                f"{owner}: padding must be at most (kernel_size - 1) // 2 = "
                f"{(self.kernel_size - 1) // 2} so convolutions never grow a map, "
                f"got padding={self.padding}"
            )
        check_choice(self.activation, "activation", owner, tuple(ACTIVATIONS))
        check_choice(self.up, "up", owner, UPS)
        check_conv_algorithm(self.conv_algorithm, self.kernel_size, owner)

    def _block(self, c_in, c_out, rng):
        """Two convolutions, each followed by the activation."""
        act, dtype = self.activation, self.dtype_
        conv = dict(kernel_size=self.kernel_size, padding=self.padding, init=init_for(act),
                    dtype=dtype, rng=rng)
        first = conv_algorithm_for(self.conv_algorithm, c_in, c_out)
        second = conv_algorithm_for(self.conv_algorithm, c_out, c_out)
        return Sequential([Conv2D(c_in, c_out, algorithm=first, **conv),
                           get_activation(act, dtype),
                           Conv2D(c_out, c_out, algorithm=second, **conv),
                           get_activation(act, dtype)])

    def _up(self, c_in, c_out, rng):
        """Double the size and go from ``c_in`` to ``c_out`` channels."""
        dtype = self.dtype_
        if self.up == "transposed":
            return Sequential([ConvTranspose2D(c_in, c_out, kernel_size=2, stride=2,
                                               dtype=dtype, rng=rng)])
        return Sequential([Upsample2D(2, mode="bilinear", dtype=dtype),
                           Conv2D(c_in, c_out, kernel_size=1, dtype=dtype, rng=rng)])

    def _build(self, input_shape, rng):
        c_in, height, width = input_shape
        _, up_heights, _ = unet_sizes(height, self.depth, self.kernel_size, self.padding,
                                      "height")
        _, up_widths, _ = unet_sizes(width, self.depth, self.kernel_size, self.padding, "width")
        channels = [self.base_channels * 2 ** d for d in range(self.depth + 1)]
        dtype = self.dtype_
        encoder_blocks = [self._block(c, c_out, rng)
                          for c, c_out in zip([c_in, *channels[:-1]], channels)]
        pools = [MaxPool2D(2, dtype=dtype) for _ in range(self.depth)]
        ups = [self._up(channels[d + 1], channels[d], rng) for d in range(self.depth)]
        crops = [Crop2D((up_heights[d], up_widths[d]), dtype=dtype) for d in range(self.depth)]
        concats = [Concat(axis=1, dtype=dtype) for _ in range(self.depth)]
        decoder_blocks = [self._block(2 * channels[d], channels[d], rng)
                          for d in range(self.depth)]
        head = Sequential([Conv2D(channels[0], self.out_channels, kernel_size=1, dtype=dtype,
                                  rng=rng)])
        return UNetNetwork(encoder_blocks, pools, ups, crops, concats, decoder_blocks, head)

    def _set_networks(self, rng):
        """Build ``network_`` and the shapes ``output_shape_`` and ``code_shape_``."""
        self.network_ = self._build(self.input_shape_, rng)
        stages = list(self.network_._stages(self.input_shape_))
        self.output_shape_ = stages[-1][1]
        self.code_shape_ = stages[2 * self.depth][1]  # after depth (block, pool) pairs

    def _validate(self, X, reset=False):
        owner = type(self).__name__
        check_image_ndim(X, owner)
        X = super()._validate(X, reset)
        if reset and X.shape[1] != self.in_channels:
            raise ValueError(
                f"{owner}(in_channels={self.in_channels}) expected images of shape "
                f"(N, {self.in_channels}, H, W), got shape {X.shape}"
            )
        return X

    # -- targets and loss ------------------------------------------------------------
    def _check_targets(self, Y, n_images):
        """Validate masks or labels ``Y`` for ``n_images`` and crop them to the output size."""
        owner = type(self).__name__
        binary = self.out_channels == 1
        want = ("binary masks Y of shape (N, 1, H, W) with values 0 and 1" if binary else
                f"class labels Y of shape (N, H, W) with integers in [0, {self.out_channels})")
        if Y is None:
            raise ValueError(f"{owner}.fit needs the targets: {want}")
        Y = check_array(Y, f"{owner} targets", ndim=(3, 4), dtype=self.dtype_ if binary else None)
        if Y.shape[0] != n_images or Y.ndim != (4 if binary else 3) or (
                binary and Y.shape[1] != 1):
            raise ValueError(f"{owner}(out_channels={self.out_channels}) expected {want} "
                             f"for {n_images} images, got shape {Y.shape}")
        _, height, width = self.input_shape_
        _, h, w = self.output_shape_
        if Y.shape[-2:] not in ((height, width), (h, w)):
            raise ValueError(
                f"{owner} expected targets of the input size {(height, width)} or of the "
                f"output size {(h, w)}, got shape {Y.shape}"
            )
        if binary and not np.all((Y == 0) | (Y == 1)):
            raise ValueError(f"{owner}(out_channels=1) expected {want}, got other values")
        if not binary:
            if not np.all((Y >= 0) & (Y < self.out_channels) & (Y == np.round(Y))):
                raise ValueError(f"{owner}(out_channels={self.out_channels}) expected {want}, "
                                 f"got values from {Y.min():g} to {Y.max():g}")
            Y = Y.astype(np.int64)
        return np.ascontiguousarray(center_crop(Y, h, w))

    def _loss(self, logits, target):
        """Mean per-pixel cross-entropy of the logits and its gradient.

        ``target`` is center-cropped to the logits' size if it is larger.
        """
        target = center_crop(target, *logits.shape[-2:])
        if self.out_channels == 1:
            return losses.binary_cross_entropy_with_logits(
                logits, target.astype(logits.dtype, copy=False))
        return losses.softmax_cross_entropy(logits, target.astype(np.int64, copy=False), axis=1)

    def _step(self, xb, yb):
        """Forward, loss, backward on one batch; returns the loss."""
        logits = self.network_.forward(xb)
        loss, grad_logits = self._loss(logits, yb)
        self.network_.backward(grad_logits)
        return loss

    def _evaluate(self, X, Y):
        return self._loss(self.network_.forward_in_batches(X, self.batch_size), Y)[0]

    # -- fitting and using --------------------------------------------------------------
    def fit(self, X, Y=None, callbacks=None, checkpoint=None, checkpoint_every=1, resume=False):
        """Train on images ``X`` and their masks or labels ``Y``; returns ``self``.

        Parameters
        ----------
        X : array-like of shape (N, in_channels, H, W)
        Y : array-like
            (N, 1, H, W) masks of 0 and 1 for ``out_channels=1``, (N, H, W)
            integer labels otherwise; or at the output size (see the class doc).
        callbacks : list of npae.train.Callback, optional
        checkpoint, checkpoint_every, resume
            Periodic checkpoints and bit-identical resumption, as in
            ``npae.Autoencoder.fit``.
        """
        X = self._initialize(X, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                             resume=resume)
        Y = self._check_targets(Y, X.shape[0])
        self._train(self.network_, self._step, self._evaluate, X, Y, callbacks=callbacks or ())
        self._checkpointing = None  # done: let go of its records and weights
        return self

    def _batches(self, X):
        return (X[i:i + self.batch_size] for i in range(0, X.shape[0], self.batch_size))

    def decision_function(self, X):
        """Logits ``(N, out_channels, h, w)``."""
        return self.network_.forward_in_batches(self._validate(X), self.batch_size)

    def predict_proba(self, X):
        """Per-pixel probabilities ``(N, out_channels, h, w)``.

        ``sigmoid(logit)`` of the foreground for ``out_channels=1``, else
        ``softmax`` over the channels (they sum to 1 at every pixel).
        """
        logits = self.decision_function(X)
        if self.out_channels == 1:
            return expit(logits)
        return softmax(logits, axis=1)

    def predict(self, X):
        """Masks ``(N, 1, h, w)`` of 0 and 1 (probability >= 1/2), or labels ``(N, h, w)``."""
        logits = self.decision_function(X)
        if self.out_channels == 1:
            return (logits >= 0).astype(np.int64)
        return logits.argmax(axis=1)

    def score(self, X, Y):
        """Mean intersection over union of ``predict(X)`` with ``Y`` (see ``iou_score``).

        Foreground IoU for ``out_channels=1``, the mean over the classes present
        otherwise; ``Y`` is center-cropped to the output size like in ``fit``.
        """
        X = self._validate(X)
        Y = self._check_targets(Y, X.shape[0])
        average = "binary" if self.out_channels == 1 else "macro"
        return iou_score(Y, self.predict(X), average=average)

    def crop_to_output(self, Y):
        """Center-crop masks, labels or images to the output size, to set beside ``predict``."""
        check_is_fitted(self, "network_")
        return np.ascontiguousarray(center_crop(np.asarray(Y), *self.output_shape_[1:]))

    def encode(self, X):
        """The bottleneck feature maps ``(N, *code_shape_)`` (the deepest encoder block).

        A U-Net is no autoencoder: it has no ``transform``, ``inverse_transform``
        or ``reconstruct``, since its decoder reads the encoder's skip maps
        too, not only the bottleneck, and predicts masks, not its input.
        """
        X = self._validate(X)
        return np.concatenate([self.network_.encode(xb, training=False)[0]
                               for xb in self._batches(X)])
