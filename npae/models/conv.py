"""The convolutional autoencoder for image batches (N, C, H, W)."""

import scipy.sparse

from npae._validation import check_choice, check_int, check_sizes
from npae.layers.activations import ACTIVATIONS, get_activation
from npae.layers.conv import ALGORITHMS, Conv2D, ConvTranspose2D
from npae.layers.crop import Crop2D
from npae.layers.initializers import init_for
from npae.layers.pool import MaxPool2D
from npae.layers.shape import Flatten, Reshape
from npae.layers.upsample import Upsample2D
from npae.losses import LOSSES
from npae.models.autoencoder import check_bce_output
from npae.models.base import BaseAutoencoder
from npae.network import Sequential, mlp

DECODERS = ("upsample", "transposed")


def check_image_ndim(X, owner):
    """Refuse an array that is not 4-d with an error that names (N, C, H, W)."""
    shape = getattr(X, "shape", None)
    if shape is not None and not scipy.sparse.issparse(X) and len(shape) != 4:
        hint = ""
        if len(shape) == 2:
            hint = ": flat images of h x w pixels become images with X.reshape(-1, 1, h, w)"
        elif len(shape) == 3:
            hint = ": one-channel images become (N, 1, H, W) with X[:, None]"
        raise ValueError(
            f"{owner} expected images of shape (N, C, H, W), got shape {tuple(shape)}{hint}"
        )


def check_odd_kernel(kernel_size, owner):
    """An odd kernel size: "same" padding ``kernel_size // 2`` keeps H and W."""
    kernel_size = check_int(kernel_size, "kernel_size", owner)
    if kernel_size % 2 == 0:
        raise ValueError(f"{owner}: kernel_size must be odd, got {kernel_size}")
    return kernel_size


#: A model's ``conv_algorithm``: one of the layers' ``ALGORITHMS`` for every convolution,
#: or "auto", each convolution's cheaper unfolding (``conv_algorithm_for``).
CONV_ALGORITHMS = (*ALGORITHMS, "auto")


def check_conv_algorithm(conv_algorithm, kernel_size, owner):
    """One of ``CONV_ALGORITHMS``; "winograd" only for 3x3 kernels."""
    check_choice(conv_algorithm, "conv_algorithm", owner, CONV_ALGORITHMS)
    if conv_algorithm == "winograd" and kernel_size != 3:
        raise ValueError(
            f"{owner}: conv_algorithm='winograd' needs kernel_size=3, got {kernel_size}"
        )


def conv_algorithm_for(conv_algorithm, in_channels, out_channels):
    """The ``Conv2D`` algorithm of one "same" convolution under a model's ``conv_algorithm``.

    "auto" unfolds the side with fewer channels: "col2im" (``out_channels kh kw``
    rows) for a convolution that narrows the channels, "im2col" (``in_channels kh
    kw`` rows) otherwise; any other value applies to every convolution.
    """
    if conv_algorithm != "auto":
        return conv_algorithm
    return "col2im" if out_channels < in_channels else "im2col"


def pooled_size(size):
    """Ceil-mode 2x2 pooling: ``ceil(size / 2)``, see ``ConvAutoencoder``."""
    return (size + 1) // 2


def mirrored_conv_networks(input_shape, channels, down, dense, up, dtype):
    """An image encoder of convolution stages and a decoder that mirrors it, stage by stage.

    The encoder runs one ``down`` stage per entry of ``channels``, then
    ``Flatten`` and its dense layers; the decoder runs its dense layers,
    ``Reshape`` to the last feature map, then one ``up`` stage per encoder
    stage in reverse, each giving back that stage's input size and channels.
    Layers are built in the order encoder stages, dense layers, decoder
    stages, so a seeded ``rng`` in the callables draws the same weights for
    the same architecture.

    Parameters
    ----------
    input_shape : tuple (C, H, W)
    channels : sequence of int
        Output channels of the encoder stages.
    down : callable ``(c_in, c_out, (h, w)) -> (layers, (h_out, w_out))``
        One encoder stage.
    dense : callable ``n_flat -> (encoder layers, decoder layers)``
        The dense layers between the flattened last feature map (``n_flat``
        values) and the code, and back.
    up : callable ``(c_in, c_out, (h, w), (h_out, w_out), last) -> layers``
        One decoder stage, from ``(c_in, h, w)`` to ``(c_out, h_out, w_out)``;
        ``last`` is True for the stage that gives back the input.
    dtype : numpy dtype

    Returns
    -------
    (encoder, decoder) : two Sequential
    """
    c_in, height, width = input_shape
    encoder, sizes, c, hw = [], [], c_in, (height, width)
    for c_out in channels:
        sizes.append(hw)
        layers, hw = down(c, c_out, hw)
        encoder += layers
        c = c_out
    dense_encoder, dense_decoder = dense(c * hw[0] * hw[1])
    encoder += [Flatten(dtype=dtype), *dense_encoder]
    decoder = [*dense_decoder, Reshape((c, *hw), dtype=dtype)]
    targets = list(zip((c_in, *channels[:-1]), sizes))[::-1]
    for i, (c_out, size) in enumerate(targets):
        decoder += up(c, c_out, hw, size, i == len(targets) - 1)
        c, hw = c_out, size
    return Sequential(encoder), Sequential(decoder)


class ConvAutoencoder(BaseAutoencoder):
    """Convolutional autoencoder: ``x -> conv/pool -> Dense -> z -> Dense -> up/conv -> x_hat``.

    For each entry ``c`` of ``channels`` the encoder applies a "same"
    ``Conv2D`` (``kernel_size``, padding ``kernel_size // 2``) with ``c``
    output channels, the activation and a 2x2 ``MaxPool2D``; then ``Flatten``
    and a ``Dense`` layer to the code of ``code_size`` units. The decoder
    mirrors it: ``Dense`` back to the last feature map, ``Reshape``, and for
    each stage in reverse an up-sampling by 2, a "same" ``Conv2D`` to the
    previous stage's channels and the activation. Its last convolution gives
    back the ``C`` input channels, followed by ``output_activation``. The
    loss is ``mean over examples, channels and pixels of loss(x_hat, x)``.

    Sizes that 2 does not divide: each pooling runs in ceil mode, ``ceil(H /
    2)`` (an odd size is padded with one ``-inf`` row or column on each
    side; the 2x2 windows start in the top padding, so the first window
    pools the padding and row 0, and the bottom padding is never reached),
    and the decoder crops (``Crop2D``) each up-sampled map back to the size
    the encoder had at that stage by removing the top row (left column),
    where the padding was: content stays in place. So any ``H, W`` works:
    28 x 28 gives 14 x 14 and 7 x 7; a third stage gives 4 x 4, up-sampled
    to 8 x 8 and cropped to rows and columns 1 to 7.

    Parameters
    ----------
    channels : sequence of int, default (16, 32)
        Output channels of the encoder's convolution stages (at least one);
        each stage halves the height and width.
    code_size : int, default 16
        Width of the code (the bottleneck).
    kernel_size : int, default 3
        Odd side of every square convolution kernel.
    decoder : {"upsample", "transposed"}, default "upsample"
        How the decoder doubles the size: nearest-neighbour ``Upsample2D``,
        or a learned 2x2 ``ConvTranspose2D`` with stride 2.
    conv_algorithm : {"im2col", "col2im", "winograd", "auto"}, default "im2col"
        The ``algorithm`` of the "same" convolutions (``Conv2D``), each of
        which computes the same convolution up to rounding: "col2im" as the
        transposed convolution of the rotated kernel, "winograd"
        (``kernel_size=3`` only) with Winograd's F(2x2, 3x3), and "auto"
        "col2im" for the convolutions that narrow the channels (the
        decoder's, 32 -> 16 -> 1 by default) and "im2col" for the others:
        one epoch on 10,000 MNIST-size images takes about two thirds of the
        time (``benchmarks/bench_realsize.py``).
    activation : str, default "relu"
        Activation after every hidden convolution and the decoder's Dense.
    code_activation : str, default "identity"
        Activation of the code layer.
    output_activation : str, default "sigmoid"
        Activation of the reconstruction; "sigmoid" suits images in [0, 1].
    loss : {"mse", "bce"}, default "mse"
        "bce" (images in [0, 1]) needs ``output_activation="sigmoid"`` and is
        computed from the logits, the sigmoid's input, so it never saturates.
    contamination : "auto" or float in (0, 0.5], default "auto"
        Sets ``offset_``, the threshold of ``predict``, from the training
        rows' scores: the fraction of them to flag as outliers ("auto":
        0.05, see ``npae.anomaly``).
    optimizer : {"adam", "sgd"}, default "adam"
    learning_rate : float, default 3e-3
    momentum : float, default 0.0
        ``optimizer="sgd"`` only: the velocity kept between steps
        (``npae.optim.SGD``); 0 is plain gradient descent.
    nesterov : bool, default False
        ``optimizer="sgd"`` only: Nesterov's momentum (needs ``momentum > 0``).
    epochs : int, default 100
    batch_size : int, default 32
        On the digits, 30 epochs of batch 64 at 1e-3 stopped at 1.6 x PCA's
        held-out error where 300 epochs of batch 32 at 3e-3 reach 0.6 x;
        100 epochs of these come within about 15% of 300
        (``benchmarks/bench_defaults.py``). On tens of thousands of images
        each epoch takes many more steps and far fewer epochs suffice.
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
    X : (N, C, H, W) -> code : (N, code_size) -> reconstruction : (N, C, H, W)

    Attributes
    ----------
    encoder_, decoder_ : npae.network.Sequential
    network_ : Sequential
        The encoder's layers followed by the decoder's (shared objects).
    history_ : dict
        ``"loss"`` per epoch (and ``"val_loss"``).
    input_shape_ : tuple
        ``(C, H, W)`` seen in ``fit``.
    n_features_in_ : int
        ``C H W``.
    code_shape_ : tuple
        ``(code_size,)``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((20, 1, 8, 8))
    >>> ae = ConvAutoencoder(channels=(4,), code_size=3, epochs=2, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (20, 3)
    >>> ae.inverse_transform(ae.transform(X)).shape
    (20, 1, 8, 8)
    """

    _input_ndim = 4

    def __init__(self, channels=(16, 32), code_size=16, kernel_size=3, decoder="upsample",
                 conv_algorithm="im2col", activation="relu", code_activation="identity",
                 output_activation="sigmoid", loss="mse", contamination="auto", optimizer="adam",
                 learning_rate=3e-3, momentum=0.0, nesterov=False, epochs=100, batch_size=32,
                 weight_decay=0.0, validation_fraction=0.0, early_stopping=False, patience=10,
                 tol=1e-4, n_iter_no_change=None, dtype=None, verbose=0, random_state=None):
        super().__init__(
            optimizer=optimizer, learning_rate=learning_rate, momentum=momentum, nesterov=nesterov,
            batch_size=batch_size, weight_decay=weight_decay,
            validation_fraction=validation_fraction, early_stopping=early_stopping,
            patience=patience, tol=tol, n_iter_no_change=n_iter_no_change, dtype=dtype,
            verbose=verbose, random_state=random_state)
        self.contamination = contamination
        self.channels = channels
        self.code_size = code_size
        self.kernel_size = kernel_size
        self.decoder = decoder
        self.conv_algorithm = conv_algorithm
        self.activation = activation
        self.code_activation = code_activation
        self.output_activation = output_activation
        self.loss = loss
        self.epochs = epochs

    def _check_hyperparameters(self):
        super()._check_hyperparameters()
        owner = type(self).__name__
        check_sizes(self.channels, "channels", owner, allow_empty=False)
        check_int(self.code_size, "code_size", owner)
        check_odd_kernel(self.kernel_size, owner)
        check_choice(self.decoder, "decoder", owner, DECODERS)
        check_conv_algorithm(self.conv_algorithm, self.kernel_size, owner)
        for name in ("activation", "code_activation", "output_activation"):
            check_choice(getattr(self, name), name, owner, tuple(ACTIVATIONS))
        check_choice(self.loss, "loss", owner, tuple(LOSSES))
        check_bce_output(self.loss, self.output_activation, owner)

    def _validate(self, X, reset=False):
        check_image_ndim(X, type(self).__name__)
        return super()._validate(X, reset)

    def _build(self, input_shape, rng):
        channels = check_sizes(self.channels, "channels", type(self).__name__)
        act, dtype, k = self.activation, self.dtype_, self.kernel_size
        conv = dict(kernel_size=k, padding=k // 2, dtype=dtype, rng=rng)

        def algorithm(c, c_out):
            return conv_algorithm_for(self.conv_algorithm, c, c_out)

        def down(c, c_out, hw):
            """A "same" convolution, the activation and a ceil-mode 2x2 max-pool."""
            layers = [Conv2D(c, c_out, init=init_for(act), algorithm=algorithm(c, c_out), **conv),
                      get_activation(act, dtype),
                      MaxPool2D(2, padding=(hw[0] % 2, hw[1] % 2), dtype=dtype)]
            return layers, (pooled_size(hw[0]), pooled_size(hw[1]))

        def dense(n_flat):
            return (mlp([n_flat, self.code_size], act, self.code_activation, dtype, rng).layers,
                    mlp([self.code_size, n_flat], act, act, dtype, rng).layers)

        def up(c, c_out, hw, size, last):
            """Double the size, crop it to the encoder's, a "same" convolution, the activation."""
            if self.decoder == "upsample":
                layers = [Upsample2D(2, dtype=dtype)]
            else:
                layers = [ConvTranspose2D(c, c, kernel_size=2, stride=2, dtype=dtype, rng=rng)]
            extra = (2 * hw[0] - size[0], 2 * hw[1] - size[1])
            if extra != (0, 0):
                # The pooling's padding that a window used is the top row (left column):
                # cropping it there keeps every pixel where the encoder saw it.
                layers.append(Crop2D(size, offset=extra, dtype=dtype))
            out_act = self.output_activation if last else act
            layers.append(Conv2D(c, c_out, init=init_for(out_act), algorithm=algorithm(c, c_out),
                                 **conv))
            if out_act not in ("identity", "linear"):
                layers.append(get_activation(out_act, dtype))
            return layers

        return mirrored_conv_networks(input_shape, channels, down, dense, up, dtype)
