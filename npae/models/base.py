"""The estimator bases: ``TrainedEstimator`` for every trained model, ``BaseAutoencoder`` on top.

``TrainedEstimator`` holds what every network npae trains shares, whatever
it predicts: the training hyperparameters and their checks, input
validation, building the networks, the training loop (``npae.train``),
checkpoints (``npae.checkpoint``) and ``save``. A subclass builds its
network (``_set_networks``), says what one training step does (``_step``,
``_evaluate``) and writes ``fit``: ``_initialize(X, **checkpointing)``, then
``_train`` (once, or once per stage). ``UNet`` is one.

``BaseAutoencoder`` adds the autoencoder interface: an encoder network ``f``
and a decoder network ``g`` trained so that ``g(f(x))`` reconstructs ``x``,
with ``transform`` (the code), ``inverse_transform`` (decode),
``reconstruct`` and ``score``. Subclasses say how to build the two networks
(``_build``) and may change one training step: add a penalty on the code
(``_code_penalty``), corrupt the input (``_corrupt``), or rewrite the step
entirely (the VAE).

scikit-learn conventions hold: ``__init__`` only stores hyperparameters,
``fit`` returns ``self``, fitted attributes end in ``_``, one
``random_state`` seeds initialization, shuffling, noise and sampling.
"""

from abc import ABCMeta, abstractmethod
from contextlib import contextmanager

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from npae import losses
from npae._validation import check_array, check_choice, check_float_dtype, check_int, check_number
from npae.anomaly import ReconstructionOutlierMixin, check_contamination
from npae.checkpoint import Checkpointing
from npae.convergence import ConvergenceStop, warn_not_converged
from npae.io import SaveLoadMixin
from npae.layers.activations import Sigmoid
from npae.network import Sequential
from npae.optim import OPTIMIZERS, make_optimizer
from npae.streaming import Rows, as_rows
from npae.train import History, Trainer
from npae.utils import as_generator


class TrainedEstimator(SaveLoadMixin, BaseEstimator, metaclass=ABCMeta):
    """What every estimator npae trains by gradient descent shares. Not used directly.

    Subclasses store, besides their own hyperparameters and ``epochs``, the
    training settings below through ``super().__init__``, and define
    ``_set_networks``, ``_step``, ``_evaluate`` and ``fit``.

    Parameters
    ----------
    optimizer : {"adam", "sgd"}
    learning_rate : float > 0
    momentum : float in [0, 1)
        Velocity kept from step to step, ``optimizer="sgd"`` only (see
        ``npae.optim.SGD``); 0 is plain gradient descent.
    nesterov : bool
        Nesterov's momentum (needs ``momentum > 0``), ``optimizer="sgd"`` only.
    batch_size : int >= 1
    weight_decay : float >= 0
        L2 penalty on all parameters, applied by the optimizer.
    validation_fraction : float in [0, 0.9]
        Rows held out (shuffled, seeded) to report ``val_loss``.
    early_stopping : bool
        Stop when the validation (or training) loss stalls for ``patience``
        epochs and keep the best weights.
    patience : int >= 1
    tol : float >= 0
        With ``n_iter_no_change``: the improvement of the monitored loss
        that counts (absolute, as in scikit-learn's MLP).
    n_iter_no_change : int >= 1 or None
        Stop once the loss (validation if any, else training) has not
        improved by ``tol`` for more than this many epochs, keeping the last
        weights; a ``sklearn.exceptions.ConvergenceWarning`` when ``epochs``
        run out first. None (the default): train all ``epochs``. See
        ``npae.convergence``.
    dtype : {None, "float32", "float64"}
        Computation type; None follows the input (float32 stays float32,
        anything else becomes float64).
    verbose : int >= 0
        1 shows a progress bar when attached to a terminal.
    random_state : int, Generator or None
        Seeds initialization and shuffling (and whatever else the model
        draws): one seed, bit-identical runs.

    Notes
    -----
    Checkpoints: ``fit(X, checkpoint=path, checkpoint_every=k)`` writes the
    model and its training state every ``k`` epochs, after the last and on
    Ctrl-C; ``fit(X, checkpoint=path, resume=True)`` continues from it, bit
    for bit (see ``npae.checkpoint``).
    """

    #: ndim of one input batch: 2 for vectors, 4 for NCHW images.
    _input_ndim = 2

    @abstractmethod
    def __init__(self, *, optimizer, learning_rate, batch_size, weight_decay,
                 validation_fraction, early_stopping, patience, dtype, verbose, random_state,
                 momentum=0.0, nesterov=False, tol=1e-4, n_iter_no_change=None):
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype
        self.verbose = verbose
        self.random_state = random_state

    # -- what subclasses provide ----------------------------------------------
    @abstractmethod
    def fit(self, X, *args, **kwargs):
        """Validate, initialize (``_initialize``), train (``_train``); returns ``self``."""

    @abstractmethod
    def _set_networks(self, rng):
        """Build ``network_`` (and the shapes the model reports) for ``input_shape_``."""

    @abstractmethod
    def _step(self, xb, yb):
        """One training step on a batch: forward, loss, backward; returns the loss.

        Gradients are added into the network's ``grads`` (already zeroed).
        """

    @abstractmethod
    def _evaluate(self, X, Y):
        """The training objective on (X, Y) without updating anything."""

    def _check_hyperparameters(self):
        """Validate hyperparameters at fit time (sklearn: not in __init__).

        These are the training settings; subclasses check their own after
        calling this.
        """
        owner = type(self).__name__
        check_number(self.learning_rate, "learning_rate", owner, low=0, low_open=True)
        check_choice(self.optimizer, "optimizer", owner, tuple(OPTIMIZERS))
        check_number(self.momentum, "momentum", owner, low=0, high=1, high_open=True)
        if not isinstance(self.nesterov, (bool, np.bool_)):
            raise TypeError(f"{owner}: nesterov must be a bool, got {self.nesterov!r}")
        if self.nesterov and self.momentum == 0:
            raise ValueError(f"{owner}: nesterov=True needs momentum > 0, got momentum=0")
        check_int(self.epochs, "epochs", owner, minimum=0)
        check_int(self.batch_size, "batch_size", owner)
        check_number(self.weight_decay, "weight_decay", owner, low=0)
        check_number(self.validation_fraction, "validation_fraction", owner, low=0, high=0.9)
        check_int(self.patience, "patience", owner)
        check_number(self.tol, "tol", owner, low=0)
        if self.n_iter_no_change is not None:
            check_int(self.n_iter_no_change, "n_iter_no_change", owner)
        check_int(self.verbose, "verbose", owner, minimum=0)
        if not isinstance(self.early_stopping, (bool, np.bool_)):
            raise TypeError(f"{owner}: early_stopping must be a bool, got {self.early_stopping!r}")
        if self.dtype is not None:
            check_float_dtype(self.dtype, owner)
        output = getattr(self, "output_activation", "sigmoid")
        if getattr(self, "loss", None) == "bce" and output != "sigmoid":
            raise ValueError(f"{owner}: loss='bce' needs outputs in (0, 1), i.e. "
                             f"output_activation='sigmoid', got {output!r}")

    # -- fitting ----------------------------------------------------------------
    def _validate(self, X, reset=False):
        """``X`` checked, for a new fit (``reset``) or a fitted model: an array, or ``Rows`` read
        batch by batch.

        See ``npae.streaming``: memory maps, Dask arrays, ``ScaledArray`` and
        large integer arrays are converted and checked one batch at a time, in
        ``fit`` and in inference alike (``transform``, ``reconstruct``,
        ``score``, ``score_samples``, ``predict``...).
        """
        owner = type(self).__name__
        if reset:
            return as_rows(X, owner, ndim=self._input_ndim, dtype=self.dtype)
        check_is_fitted(self, "network_")
        return as_rows(X, owner, ndim=self._input_ndim, dtype=self.dtype_,
                       n_features=self.input_shape_)

    def _initialize(self, X, checkpoint=None, checkpoint_every=1, resume=False):
        """Validate ``X``, hyperparameters and checkpoint settings, build fresh networks.

        Returns the validated ``X``. Nothing changes until everything is
        validated; then the attributes of a previous fit are dropped (a new
        fit starts from a clean slate) and, when resuming, the checkpoint's
        weights are loaded.
        """
        self._check_hyperparameters()
        X = self._validate(X, reset=True)
        rng = as_generator(self.random_state, type(self).__name__)
        previous = getattr(self, "_checkpointing", None)
        if previous is not None:  # a fit stopped before it was done: let go of its lock
            previous.close()
        checkpointing = Checkpointing.start(self, X, checkpoint, checkpoint_every, resume)
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)
        self._rng = rng
        self._checkpointing = checkpointing
        self._optimizer_state = None  # partial_fit continues from it (see _run_training)
        self.dtype_ = X.dtype
        self.input_shape_ = tuple(X.shape[1:])
        self.n_features_in_ = int(np.prod(self.input_shape_))
        try:
            self._build_networks_or_say_which_sizes()
            self.history_ = {"loss": []}
            if checkpointing is not None:
                checkpointing.load_resumed_weights()
        except BaseException:
            if checkpointing is not None:
                checkpointing.close()
            raise
        return X

    def _build_networks_or_say_which_sizes(self):
        """``_set_networks``; sizes too large for memory or NumPy name the hyperparameters."""
        try:
            self._set_networks(self._rng)
        except (MemoryError, ValueError) as err:
            if isinstance(err, ValueError) and "too big" not in str(err):
                raise
            sizes = {k: v for k, v in self.get_params(deep=False).items()
                     if _largest_int(v) is not None}
            largest = max((_largest_int(v) for v in sizes.values()), default=None)
            named = ", ".join(f"{k}={v!r}" for k, v in sizes.items()
                              if _largest_int(v) == largest)
            error = MemoryError if isinstance(err, MemoryError) else ValueError
            raise error(f"{type(self).__name__}: the networks for input shape "
                        f"{self.input_shape_} and {named or 'these sizes'} are too large "
                        f"({err})") from None

    def _restore_networks(self, attributes):
        """Rebuild the networks of a saved model (``npae.io.load`` fills the values)."""
        self.dtype_ = np.dtype(attributes["dtype_"])
        self.input_shape_ = tuple(attributes["input_shape_"])
        self._set_networks(as_generator(0))  # the saved weights replace these
        # Files written before the generator's position was saved restart its stream.
        self._rng = as_generator(self.random_state)

    def _make_optimizer(self, network):
        extra = {}
        if self.optimizer == "sgd":
            extra = {"momentum": self.momentum, "nesterov": self.nesterov}
        return make_optimizer(self.optimizer, network.params(), network.grads(),
                              lr=self.learning_rate, weight_decay=self.weight_decay, **extra)

    def _train(self, network, step, evaluate, X, Y=None, epochs=None, callbacks=(),
               description=None):
        """Run the training loop; records into ``history_``; returns the history.

        Checkpointing (see ``npae.checkpoint``) numbers the calls of one
        ``fit``. Resuming, each call first puts the generator back where
        that call started (so the validation split is the same); a call that
        had finished sets the weights it ended with and returns its history
        without training; the call that was in progress continues from its
        saved weights and epoch.
        """
        checkpointing = getattr(self, "_checkpointing", None)
        try:
            return self._run_training(checkpointing, network, step, evaluate, X, Y, epochs,
                                      callbacks, description)
        except BaseException:
            if checkpointing is not None:  # the run is over: another may write the checkpoint
                checkpointing.close()
            raise

    def _run_training(self, checkpointing, network, step, evaluate, X, Y, epochs, callbacks,
                      description):
        """``_train``'s work, the checkpoint's lock aside."""
        epochs = self.epochs if epochs is None else epochs
        saved = None
        if checkpointing is not None:
            saved = checkpointing.begin_call(self._rng, X, Y, epochs)
            if saved is not None and "history" in saved:
                self.history_ = History(saved["history"])
                self.n_iter_ = len(self.history_["loss"])
                checkpointing.skip_call(saved)
                return self.history_
            callbacks = [*callbacks, checkpointing.writer()]
        convergence = None
        if self.n_iter_no_change is not None:
            convergence = ConvergenceStop(self.tol, self.n_iter_no_change)
            callbacks = [convergence, *callbacks]  # first: a checkpoint records its stop
        Y = X if Y is None else Y
        validation = None
        if self.validation_fraction > 0 and X.shape[0] >= 2:
            n_val = min(X.shape[0] - 1, max(1, round(self.validation_fraction * X.shape[0])))
            order = self._rng.permutation(X.shape[0])
            val, tr = order[:n_val], order[n_val:]
            validation = _take_rows(X, Y, val)
            X, Y = _take_rows(X, Y, tr)
        optimizer = self._make_optimizer(network)
        trainer = Trainer(
            network, optimizer, step, evaluate,
            epochs=epochs, batch_size=self.batch_size, rng=self._rng,
            early_stopping=self.early_stopping, patience=self.patience,
            callbacks=callbacks, verbose=self.verbose,
            description=description or type(self).__name__,
            check_final=self._final_check(network),
        )
        trainer.history = self.history_ = History(self.history_)
        if saved is not None:
            checkpointing.resume_trainer(trainer, saved)
        try:
            history = trainer.fit(X, Y, validation_data=validation)
        finally:  # also after a divergence or Ctrl-C: the epochs the kept weights had
            self.n_iter_ = len(trainer.history.get("loss", ()))
            if network is self.network_:
                self._keep_optimizer_state(optimizer)
        if checkpointing is not None:
            checkpointing.end_call(history)
        if convergence is not None and not trainer.stop_training:
            owner = type(self).__name__ + (f" ({description})" if description else "")
            warn_not_converged(owner, epochs, self.tol, self.n_iter_no_change)
        return history

    def _final_check(self, network):
        """How the ``Trainer`` tests the final weights of ``network`` (its ``check_final``).

        While ``offset_`` is being set (``_setting_offset``), the pass that
        scores the training rows, which serves both; else the training loss.
        """
        scoring = getattr(self, "_scoring", None)
        return scoring if scoring is not None and network is self.network_ else True

    @contextmanager
    def _setting_offset(self, X):
        """Nothing to set here; outlier detectors set ``offset_`` (``npae.anomaly``)."""
        yield

    def _check_targets(self, Y, n_samples):
        """The training targets for ``n_samples`` rows: None, the model reconstructs its input.

        Supervised models (``UNet``) validate their masks or labels here.
        """
        return None

    # -- training on more rows ----------------------------------------------------------
    def partial_fit(self, X, y=None):
        """One pass of training over the rows of ``X``; returns ``self``.

        scikit-learn's incremental learning: call it on one block of rows
        after another (rows that do not fit in memory, a stream, or
        ``dask_ml.wrappers.Incremental``). The first call on an unfitted
        model validates the hyperparameters and builds the networks, as
        ``fit`` does; later calls require the input shape seen first and
        continue from the weights, the optimizer's state (Adam's moments,
        SGD's velocity; after ``fit``, the state ``fit`` ended with) and the
        generator. Each call shuffles its rows, takes one step per batch and
        appends its mean loss to ``history_["loss"]``; ``n_iter_`` counts
        the passes. ``epochs``, ``validation_fraction``, ``early_stopping``
        and ``n_iter_no_change`` do not apply: one call is one pass. A
        ``StackedAutoencoder`` trains end to end here (no greedy
        pretraining).

        Parameters
        ----------
        X : array-like, np.memmap, Dask array or ``npae.ScaledArray``
            Rows of the shape the model was built for; converted and checked
            one batch at a time (see ``npae.streaming``).
        y : ignored by the autoencoders; a ``UNet``'s masks or labels

        Notes
        -----
        An outlier detector's ``offset_`` after ``partial_fit`` is the
        ``contamination`` quantile of the scores of the rows of the latest
        call, under the weights that call ended with: a threshold from the
        newest data, as good as that block is large. For a threshold over
        more rows, compute the quantile yourself:
        ``np.percentile(model.score_samples(X_ref), 100 * contamination)``.
        """
        X, Y = self._partial_fit_data(X, y)
        optimizer = self._make_optimizer(self.network_)
        if getattr(self, "_optimizer_state", None) is not None:
            optimizer.load_state_dict(self._optimizer_state)
        self.history_ = History(getattr(self, "history_", None) or {"loss": []})
        with self._setting_offset(X):
            trainer = Trainer(
                self.network_, optimizer, self._step, self._evaluate,
                epochs=1, batch_size=self.batch_size, rng=self._rng,
                verbose=0, check_final=self._final_check(self.network_))
            trainer.history = self.history_
            try:
                trainer.fit(X, Y)
            finally:
                self.n_iter_ = len(self.history_.get("loss", ()))
                self._keep_optimizer_state(optimizer)
        self._checkpointing = None
        return self

    def _partial_fit_data(self, X, y):
        """``partial_fit``'s training rows and targets, building the model on the first call."""
        X = self._initialize(X) if not hasattr(self, "network_") else self._validate(X)
        return X, self._check_targets(y, X.shape[0])

    def _keep_optimizer_state(self, optimizer):
        """Keep the state (moments, velocity) the next ``partial_fit`` continues from.

        A copy, not the optimizer: the optimizer holds views of the weights,
        which a copy of the estimator (pickle, ``copy.deepcopy``, dask-ml's
        ``Incremental``) would turn into arrays of their own.
        """
        self._optimizer_state = optimizer.state_dict()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


def _take_rows(X, Y, index):
    """Rows ``index`` of ``X`` and of the targets ``Y`` (the very same object for an autoencoder).

    ``Rows`` are only indexed (``Rows.subset``): nothing is read yet.
    """
    def take(array):
        return array.subset(index) if isinstance(array, Rows) else array[index]

    part = take(X)
    return (part, part) if Y is X else (part, take(Y))


def _largest_int(value):
    """The largest int in a size-like hyperparameter (an int or a tuple of ints), else None."""
    values = value if isinstance(value, (tuple, list)) else (value,)
    ints = [v for v in values if isinstance(v, (int, np.integer)) and not isinstance(v, bool)]
    return max(ints) if ints and len(ints) == len(values) else None


class BaseAutoencoder(ReconstructionOutlierMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                      TrainedEstimator):
    """The autoencoder interface on the trained base; see the module docstring. Not used directly.

    Subclasses define ``__init__`` with their hyperparameters (including
    ``epochs`` and, through ``super().__init__``, the training settings of
    ``TrainedEstimator``) and ``_build``.
    """

    # -- what subclasses provide ----------------------------------------------
    @abstractmethod
    def _build(self, input_shape, rng):
        """Return ``(encoder, decoder)`` Sequentials for per-example ``input_shape``."""

    def _check_hyperparameters(self):
        super()._check_hyperparameters()
        check_contamination(self.contamination, type(self).__name__)

    @property
    def _n_features_out(self):
        """Code units ``transform`` returns; ``get_feature_names_out`` names them
        ``<classname>0``, ``<classname>1``, ... (scikit-learn's convention)."""
        return int(np.prod(self.code_shape_))

    def _corrupt(self, xb):
        """The input the encoder sees for target ``xb`` (denoising overrides)."""
        return xb

    def _code_penalty(self, code):
        """``(value, d value / d code)`` added to the loss; ``(0.0, None)`` if none."""
        return 0.0, None

    def _reconstruction_loss(self, network, x, target, training=True):
        """``(loss, dL/dx)`` of ``network(x)`` against ``target``; dL/dx is None unless training.

        Training runs the backward pass through ``network`` (its parameters'
        gradients are added). ``loss="mse"``: the mean squared error of the
        output. ``loss="bce"``: the network ends in a ``Sigmoid``, and the
        cross-entropy is computed from that Sigmoid's input, the logits
        (``losses.binary_cross_entropy_with_logits``): stable for any logit,
        with the gradient ``(sigmoid(l) - x) / n``. Through the Sigmoid, the
        clipped BCE of the probabilities has a zero gradient where the
        output is confidently wrong, and such an output never recovers.
        """
        if self.loss == "bce":
            if not isinstance(network.layers[-1], Sigmoid):
                raise ValueError(
                    f"{type(self).__name__}: loss='bce' is the cross-entropy of a sigmoid output "
                    f"and needs a network ending in Sigmoid, got {network.layers[-1].name}"
                )
            network, loss = Sequential(network.layers[:-1]), losses.binary_cross_entropy_with_logits
        else:
            loss = losses.get_loss(self.loss)
        value, grad_output = loss(network.forward(x, training=training), target)
        return value, network.backward(grad_output) if training else None

    def _step(self, xb, yb):
        """One training step on a batch: forward, loss, backward; returns the loss.

        Gradients are added into the networks' ``grads`` (already zeroed).
        """
        code = self.encoder_.forward(self._corrupt(xb))
        loss, grad_code = self._reconstruction_loss(self.decoder_, code, yb)
        penalty, grad_penalty = self._code_penalty(code)
        if grad_penalty is not None:
            grad_code = grad_code + grad_penalty
        self.encoder_.backward(grad_code, input_grad=False)  # dL/dx of the data is unused
        return loss + penalty

    def _evaluate(self, X, Y):
        """The training objective on (X, Y) without updating anything."""
        code = self.encoder_.forward(X, training=False)
        loss, _ = self._reconstruction_loss(self.decoder_, code, Y, training=False)
        return loss + self._code_penalty(code)[0]

    def _set_networks(self, rng):
        """Build ``encoder_``, ``decoder_``, ``network_`` and ``code_shape_``."""
        self.encoder_, self.decoder_ = self._build(self.input_shape_, rng)
        self.network_ = Sequential(self.encoder_.layers + self.decoder_.layers)
        shape = self.input_shape_
        for layer in self.encoder_.layers:
            shape = layer.output_shape(shape)
        self.code_shape_ = tuple(shape)

    # -- fitting ----------------------------------------------------------------
    def fit(self, X, y=None, callbacks=None, checkpoint=None, checkpoint_every=1, resume=False):
        """Train the autoencoder to reconstruct ``X``; returns ``self``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) (or (N, C, H, W) for images)
        y : ignored
        callbacks : list of npae.train.Callback, optional
        checkpoint : str or path-like, optional
            Write the model and its training state to this file (atomically)
            every ``checkpoint_every`` epochs, after the last epoch and on
            Ctrl-C. ``npae.load(checkpoint)`` reads the model from it. An
            existing file is never overwritten unless ``resume=True``.
        checkpoint_every : int, default 1
        resume : bool, default False
            Continue the training saved in ``checkpoint``: the result is
            bit-identical to a run that was never stopped. The checkpoint
            must come from this class with the same hyperparameters (only
            ``epochs`` and ``verbose`` may change) and the same data.
        """
        X = self._initialize(X, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                             resume=resume)
        with self._setting_offset(X):
            self._train(self.network_, self._step, self._evaluate, X, callbacks=callbacks or ())
        self._checkpointing = None  # done: let go of its records and weights
        return self

    def _mean_code(self, X):
        """The mean code of the rows of ``X`` (streamed input read batch by batch; the encoder,
        not ``transform``, whose output scikit-learn's ``set_output`` may wrap)."""
        return self.encoder_.forward_in_batches(self._validate(X), self.batch_size).mean(axis=0)

    # -- using a fitted model ---------------------------------------------------
    def transform(self, X):
        """The code ``f(x)`` of each row of ``X``."""
        X = self._validate(X)
        return self.encoder_.forward_in_batches(X, self.batch_size)

    def inverse_transform(self, Z):
        """Decode codes ``Z`` back to input space: ``g(z)``."""
        check_is_fitted(self, "network_")
        Z = check_array(Z, type(self).__name__, ndim=1 + len(self.code_shape_),
                        dtype=self.dtype_, n_features=self.code_shape_)
        return self.decoder_.forward_in_batches(Z, self.batch_size)

    def reconstruct(self, X):
        """``g(f(x))`` for each row of ``X``."""
        # The encoder, not transform: scikit-learn's set_output may wrap transform's output.
        X = self._validate(X)
        return self.network_.forward_in_batches(X, self.batch_size)

    def score(self, X, y=None):
        """Negative mean squared reconstruction error (higher is better)."""
        X = self._validate(X)
        if isinstance(X, Rows):  # streamed: the sum of squared errors block by block
            total = sum(float(np.sum((self.network_.forward_in_batches(block, self.batch_size)
                                      - block) ** 2)) for block in X.blocks())
            return -total / (len(X) * int(np.prod(self.input_shape_)))
        R = self.network_.forward_in_batches(X, self.batch_size)
        return -float(np.mean((R - X) ** 2))
