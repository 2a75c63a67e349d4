r"""Chapter 2's demo kernels: a small neural network in NumPy, its FLOP count, where its time
goes, batching, and the tests of Software 2.0's "constant running time and memory" claims (a
data-dependent algorithm, and decoding with a key-value cache). A layer's arithmetic
intensity and its roofline bound are models, with the others in
:mod:`computing_change.models.formulas`.

Everything is plain NumPy in float64, written to be read. The network is a multilayer
perceptron (MLP): ``L`` affine layers :math:`Z_\ell = A_{\ell-1} W_\ell + b_\ell`, a ReLU
after every layer but the last, and a softmax cross-entropy loss on the last layer's output.

FLOP counts follow the usual convention: a product of an ``m x k`` and a ``k x n`` matrix
costs :math:`2mkn` floating-point operations (one multiply and one add per term).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from computing_change.core.checks import check, check_int
from computing_change.core.timing import BenchResult, bench

__all__ = [
    "MLP",
    "init_mlp",
    "make_classification",
    "forward",
    "softmax_cross_entropy",
    "loss_and_grads",
    "sgd_step",
    "train",
    "numerical_gradient",
    "n_params",
    "matmul_flops",
    "forward_flops",
    "backward_flops",
    "forward_bytes",
    "Op",
    "training_tape",
    "run_tape",
    "profile_ops",
    "forward_one_by_one",
    "Throughput",
    "throughput",
    "throughput_model",
    "batching_sizes",
    "collatz_trajectory",
    "AttentionHead",
    "init_attention",
    "KVCache",
    "decode_step",
    "decode",
    "causal_attention",
    "decode_step_flops",
    "decode_step_times",
]

_MAX_WIDTH = 1_000_000


def _rng(rng) -> np.random.Generator:
    """``rng`` as a Generator: a Generator is used as is, a whole number seeds a new one."""
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and int(rng) >= 0:
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be a numpy Generator or a whole number >= 0; got {rng!r}")


def _check_sizes(sizes) -> tuple[int, ...]:
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise ValueError(f"sizes must be a sequence of at least 2 layer widths; got {sizes!r}") from None
    if len(sizes) < 2:
        raise ValueError(f"sizes must hold at least 2 layer widths (input and output); got {sizes!r}")
    return tuple(check_int(f"sizes[{i}]", s, 1, _MAX_WIDTH) for i, s in enumerate(sizes))


# --------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------


@dataclass
class MLP:
    """A multilayer perceptron: ``weights[l]`` has shape ``(sizes[l], sizes[l+1])``,
    ``biases[l]`` shape ``(sizes[l+1],)``. Gradients use the same container."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]

    def __post_init__(self):
        if len(self.weights) != len(self.biases) or not self.weights:
            raise ValueError("weights and biases must be non-empty lists of the same length")
        for i, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            if W.ndim != 2 or b.shape != (W.shape[1],):
                raise ValueError(f"layer {i}: weights must be 2-D and biases match their columns")
            if i and W.shape[0] != self.weights[i - 1].shape[1]:
                raise ValueError(
                    f"layer {i}: {W.shape[0]} inputs but the layer before has {self.weights[i - 1].shape[1]} outputs"
                )

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths, input first: ``(n_0, n_1, ..., n_L)``."""
        return (self.weights[0].shape[0], *(W.shape[1] for W in self.weights))

    @property
    def n_params(self) -> int:
        """Number of parameters (weights and biases)."""
        return sum(W.size + b.size for W, b in zip(self.weights, self.biases, strict=True))

    @property
    def nbytes(self) -> int:
        """Bytes the parameters occupy."""
        return sum(W.nbytes + b.nbytes for W, b in zip(self.weights, self.biases, strict=True))

    def copy(self) -> MLP:
        """A deep copy (new arrays)."""
        return MLP([W.copy() for W in self.weights], [b.copy() for b in self.biases])

    def flat(self) -> np.ndarray:
        """All parameters in one vector (weights then bias of each layer)."""
        return np.concatenate(
            [a.ravel() for W, b in zip(self.weights, self.biases, strict=True) for a in (W, b)]
        )


def init_mlp(sizes: Sequence[int], rng=None) -> MLP:
    """A new MLP with He-initialized weights (normal, variance ``2 / fan_in``) and zero biases.

    ``sizes`` lists the layer widths, input first (at least 2 entries, each in [1, 10^6]);
    ``rng`` is a ``numpy.random.Generator`` or a seed (default: ``default_rng(0)``).
    """
    sizes = _check_sizes(sizes)
    rng = _rng(rng)
    weights = [
        rng.standard_normal((m, n)) * math.sqrt(2.0 / m) for m, n in zip(sizes[:-1], sizes[1:], strict=False)
    ]
    biases = [np.zeros(n) for n in sizes[1:]]
    return MLP(weights, biases)


def make_classification(
    n_samples: int, n_features: int, n_classes: int, rng=None, separation: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """Generated data: ``n_classes`` Gaussian clusters in ``n_features`` dimensions.

    Returns ``X`` of shape ``(n_samples, n_features)`` and integer labels ``y``. Cluster
    centres are drawn with norm about ``separation`` (> 0), and every point is its centre
    plus unit Gaussian noise, so the classes overlap less as ``separation`` grows.
    """
    n_samples = check_int("n_samples", n_samples, 1, 10**8)
    n_features = check_int("n_features", n_features, 1, _MAX_WIDTH)
    n_classes = check_int("n_classes", n_classes, 2, _MAX_WIDTH)
    separation = check("separation", separation, 0, 1e6, lo_open=True)
    rng = _rng(rng)
    centres = rng.standard_normal((n_classes, n_features)) * (separation / math.sqrt(n_features))
    y = rng.integers(0, n_classes, size=n_samples)
    X = centres[y] + rng.standard_normal((n_samples, n_features)) / math.sqrt(n_features)
    return X, y


def _check_X(net: MLP, X, *, batch_only: bool = False) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    n_in = net.sizes[0]
    ok_ndim = (2,) if batch_only else (1, 2)
    if X.ndim not in ok_ndim or X.shape[-1] != n_in or X.shape[0] == 0:
        want = f"(batch, {n_in})" if batch_only else f"({n_in},) or (batch, {n_in})"
        raise ValueError(f"X must have shape {want} with batch >= 1; got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X must hold finite numbers only")
    return X


def _check_y(y, n: int, n_classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be {n} whole-number labels; got shape {y.shape}, dtype {y.dtype}")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"y must hold labels in [0, {n_classes - 1}]; got [{y.min()}, {y.max()}]")
    return y


def forward(net: MLP, X) -> np.ndarray:
    """The network's output (logits) for one input ``X`` of shape ``(n_0,)`` or a batch
    ``(batch, n_0)``. One input makes every layer a matrix-vector product; a batch makes it
    a matrix-matrix product."""
    A = _check_X(net, X)
    for W, b in zip(net.weights[:-1], net.biases[:-1], strict=True):
        A = np.maximum(A @ W + b, 0.0)
    return A @ net.weights[-1] + net.biases[-1]


def softmax_cross_entropy(logits, y) -> tuple[float, np.ndarray]:
    r"""Mean cross-entropy loss of ``logits`` (batch, classes) against labels ``y``, and the
    softmax probabilities. Stable: subtracts each row's maximum before ``exp``.

    :math:`\ell = -\frac{1}{B}\sum_i \log \frac{e^{z_{i,y_i}}}{\sum_j e^{z_{ij}}}`
    """
    logits = np.asarray(logits, dtype=float)
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"logits must have shape (batch, classes >= 2); got {logits.shape}")
    y = _check_y(y, logits.shape[0], logits.shape[1])
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_p = shifted - log_norm
    loss = -float(log_p[np.arange(len(y)), y].mean())
    return loss, np.exp(log_p)


def loss_and_grads(net: MLP, X, y) -> tuple[float, MLP]:
    """The loss on the batch ``(X, y)`` and its gradient with respect to every parameter,
    by backpropagation (a forward pass that keeps its intermediates, then a backward pass)."""
    X = _check_X(net, X, batch_only=True)
    y = _check_y(y, X.shape[0], net.sizes[-1])
    n_layers = len(net.weights)
    activations, pre = [X], []
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        Z = activations[-1] @ W + b
        pre.append(Z)
        if i < n_layers - 1:
            activations.append(np.maximum(Z, 0.0))
    loss, P = softmax_cross_entropy(pre[-1], y)
    dZ = P
    dZ[np.arange(len(y)), y] -= 1.0
    dZ /= len(y)
    dW: list[np.ndarray] = [np.empty(0)] * n_layers
    db: list[np.ndarray] = [np.empty(0)] * n_layers
    for i in reversed(range(n_layers)):
        dW[i] = activations[i].T @ dZ
        db[i] = dZ.sum(axis=0)
        if i > 0:  # the input needs no gradient
            dZ = (dZ @ net.weights[i].T) * (pre[i - 1] > 0)
    return loss, MLP(dW, db)


def sgd_step(net: MLP, grads: MLP, lr: float) -> None:
    """One step of gradient descent, in place: ``p -= lr * grad`` for every parameter
    (``lr`` in (0, 100])."""
    lr = check("lr", lr, 0, 100, lo_open=True)
    if grads.sizes != net.sizes:
        raise ValueError(f"grads must have the network's sizes {net.sizes}; got {grads.sizes}")
    for p, g in zip(net.weights + net.biases, grads.weights + grads.biases, strict=True):
        p -= lr * g


def train(net: MLP, X, y, *, steps: int, lr: float = 0.1, batch_size: int = 64, rng=None) -> np.ndarray:
    """Minibatch stochastic gradient descent (SGD), in place, for ``steps`` steps.

    Each step draws ``batch_size`` distinct samples with ``rng``. Returns the loss on the
    whole of ``(X, y)`` before each step and after the last (``steps + 1`` values).
    """
    X = _check_X(net, X, batch_only=True)
    y = _check_y(y, X.shape[0], net.sizes[-1])
    steps = check_int("steps", steps, 0, 10**6)
    batch_size = check_int("batch_size", batch_size, 1, X.shape[0])
    lr = check("lr", lr, 0, 100, lo_open=True)
    rng = _rng(rng)
    history = [softmax_cross_entropy(forward(net, X), y)[0]]
    for _ in range(steps):
        idx = rng.choice(X.shape[0], size=batch_size, replace=False)
        _, grads = loss_and_grads(net, X[idx], y[idx])
        sgd_step(net, grads, lr)
        history.append(softmax_cross_entropy(forward(net, X), y)[0])
    return np.array(history)


def numerical_gradient(net: MLP, X, y, eps: float = 1e-6, indices=None) -> np.ndarray:
    """Central finite differences of the loss, ``(L(p + eps) - L(p - eps)) / (2 eps)``, for
    the parameters at ``indices`` of :meth:`MLP.flat` (all of them when None).

    Slow (two forward passes per parameter): for checking :func:`loss_and_grads` only.
    """
    eps = check("eps", eps, 0, 1, lo_open=True)
    X = _check_X(net, X, batch_only=True)
    y = _check_y(y, X.shape[0], net.sizes[-1])
    arrays = [a for W, b in zip(net.weights, net.biases, strict=True) for a in (W, b)]
    offsets = np.cumsum([0] + [a.size for a in arrays])
    total = int(offsets[-1])
    indices = np.arange(total) if indices is None else np.asarray(indices)
    if indices.ndim != 1 or (indices.size and (indices.min() < 0 or indices.max() >= total)):
        raise ValueError(f"indices must be a 1-D array of parameter positions in [0, {total - 1}]")
    out = np.empty(indices.size)
    for j, flat_i in enumerate(indices):
        a_i = int(np.searchsorted(offsets, flat_i, side="right")) - 1
        arr = arrays[a_i].reshape(-1)  # a view: the arrays are contiguous
        k = int(flat_i - offsets[a_i])
        old = arr[k]
        arr[k] = old + eps
        plus = softmax_cross_entropy(forward(net, X), y)[0]
        arr[k] = old - eps
        minus = softmax_cross_entropy(forward(net, X), y)[0]
        arr[k] = old
        out[j] = (plus - minus) / (2 * eps)
    return out


# --------------------------------------------------------------------------------------
# Counting FLOPs by hand
# --------------------------------------------------------------------------------------


def n_params(sizes: Sequence[int]) -> int:
    r"""Parameters of an MLP with these widths: :math:`\sum_\ell (n_{\ell-1} n_\ell + n_\ell)`."""
    sizes = _check_sizes(sizes)
    return sum(m * n + n for m, n in zip(sizes[:-1], sizes[1:], strict=False))


def matmul_flops(m: int, k: int, n: int) -> int:
    """FLOPs of an ``(m x k) @ (k x n)`` matrix product: ``2 m k n`` (each in [1, 10^9])."""
    m, k, n = (check_int(name, v, 1, 10**9) for name, v in (("m", m), ("k", k), ("n", n)))
    return 2 * m * k * n


def forward_flops(sizes: Sequence[int], batch: int = 1) -> int:
    r"""Matrix-product FLOPs of a forward pass over ``batch`` samples:
    :math:`2B\sum_\ell n_{\ell-1} n_\ell`, about :math:`2 B N_\text{params}`.

    Bias additions, ReLUs and the softmax add :math:`O(B \sum_\ell n_\ell)` more, negligible
    in FLOPs for wide layers (not always in time: see :func:`profile_ops`).
    """
    sizes = _check_sizes(sizes)
    batch = check_int("batch", batch, 1, 10**9)
    return sum(matmul_flops(batch, m, n) for m, n in zip(sizes[:-1], sizes[1:], strict=False))


def backward_flops(sizes: Sequence[int], batch: int = 1) -> int:
    r"""Matrix-product FLOPs of the backward pass: per layer one product for the weight
    gradient :math:`A^\top dZ` and, except at the first layer, one for the input gradient
    :math:`dZ\,W^\top`; so a little under twice :func:`forward_flops`."""
    sizes = _check_sizes(sizes)
    batch = check_int("batch", batch, 1, 10**9)
    pairs = list(zip(sizes[:-1], sizes[1:], strict=False))
    weight_grads = sum(matmul_flops(m, batch, n) for m, n in pairs)
    input_grads = sum(matmul_flops(batch, n, m) for m, n in pairs[1:])
    return weight_grads + input_grads


def forward_bytes(sizes: Sequence[int], batch: int = 1, itemsize: int = 8) -> int:
    r"""Bytes a forward pass must move at least: every weight and bias once, and each layer's
    input and output once: :math:`s\,(N + B\sum_\ell (n_{\ell-1} + n_\ell))`, with
    :math:`s` bytes per number (``itemsize`` in {2, 4, 8})."""
    sizes = _check_sizes(sizes)
    batch = check_int("batch", batch, 1, 10**9)
    if itemsize not in (2, 4, 8):
        raise ValueError(f"itemsize must be 2, 4 or 8 bytes; got {itemsize!r}")
    pairs = list(zip(sizes[:-1], sizes[1:], strict=False))
    return itemsize * (n_params(sizes) + batch * sum(m + n for m, n in pairs))


# --------------------------------------------------------------------------------------
# Where the time goes: the training step as a list of timed operations
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One operation of a training step: its name, its kind, its FLOPs, and a function that
    performs it on the shared environment (idempotent: running it again gives the same result)."""

    name: str
    kind: str
    flops: int
    run: Callable[[], None]


def training_tape(net: MLP, X, y) -> tuple[list[Op], dict]:
    """The forward and backward pass of :func:`loss_and_grads`, split into single operations
    that can be timed one by one. Returns ``(ops, env)``: run the ops in order (see
    :func:`run_tape`) and ``env`` holds ``"loss"``, ``"dW1"``, ``"db1"``, ... as
    :func:`loss_and_grads` computes them.

    Kinds: ``"matmul"``, ``"bias add"``, ``"activation"`` (ReLU and its derivative),
    ``"softmax & loss"`` and ``"reduction"`` (bias gradients).
    """
    X = _check_X(net, X, batch_only=True)
    y = _check_y(y, X.shape[0], net.sizes[-1])
    B, n_layers = X.shape[0], len(net.weights)
    env: dict = {"A0": X}
    ops: list[Op] = []
    rows = np.arange(B)

    def add(name, kind, flops, fn):
        ops.append(Op(name, kind, int(flops), fn))

    for i in range(1, n_layers + 1):
        W, b = net.weights[i - 1], net.biases[i - 1]
        m, n = W.shape

        def mm(i=i, W=W):
            env[f"M{i}"] = env[f"A{i - 1}"] @ W

        def bias(i=i, b=b):
            env[f"Z{i}"] = env[f"M{i}"] + b

        add(f"forward matmul {i}", "matmul", 2 * B * m * n, mm)
        add(f"bias add {i}", "bias add", B * n, bias)
        if i < n_layers:

            def relu(i=i):
                env[f"A{i}"] = np.maximum(env[f"Z{i}"], 0.0)

            add(f"ReLU {i}", "activation", B * n, relu)

    def softmax(L=n_layers):
        Z = env[f"Z{L}"]
        shifted = Z - Z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        env["P"] = e / e.sum(axis=1, keepdims=True)

    def xent():
        env["loss"] = -float(np.log(env["P"][rows, y]).mean())

    def dlogits(L=n_layers):
        d = env["P"].copy()
        d[rows, y] -= 1.0
        env[f"dZ{L}"] = d / B

    k = net.sizes[-1]
    add("softmax", "softmax & loss", 4 * B * k, softmax)
    add("cross-entropy", "softmax & loss", 2 * B, xent)
    add("softmax backward", "softmax & loss", 2 * B * k, dlogits)
    for i in range(n_layers, 0, -1):
        W = net.weights[i - 1]
        m, n = W.shape

        def dw(i=i):
            env[f"dW{i}"] = env[f"A{i - 1}"].T @ env[f"dZ{i}"]

        def db(i=i):
            env[f"db{i}"] = env[f"dZ{i}"].sum(axis=0)

        add(f"weight grad {i}", "matmul", 2 * B * m * n, dw)
        add(f"bias grad {i}", "reduction", B * n, db)
        if i > 1:

            def dx(i=i, W=W):
                env[f"dA{i - 1}"] = env[f"dZ{i}"] @ W.T

            def drelu(i=i):
                env[f"dZ{i - 1}"] = env[f"dA{i - 1}"] * (env[f"Z{i - 1}"] > 0)

            add(f"input grad {i}", "matmul", 2 * B * m * n, dx)
            add(f"ReLU backward {i - 1}", "activation", 2 * B * m, drelu)
    return ops, env


def run_tape(ops: Sequence[Op]) -> None:
    """Run every operation of a tape once, in order."""
    for op in ops:
        op.run()


def profile_ops(ops: Sequence[Op], *, repeat: int = 5, min_time: float = 0.005) -> list[dict]:
    """Time each operation of a tape on its own with :func:`~computing_change.core.timing.bench`.

    Runs the whole tape once first, so every operation finds its inputs. Returns one dict per
    operation: ``name``, ``kind``, ``flops`` and ``seconds`` (the median).
    """
    repeat = check_int("repeat", repeat, 1, 1000)
    min_time = check("min_time", min_time, 0, 10)
    run_tape(ops)
    out = []
    for op in ops:
        r = bench(op.run, repeat=repeat, min_time=min_time, warmup=1)
        out.append({"name": op.name, "kind": op.kind, "flops": op.flops, "seconds": r.median})
    return out


# --------------------------------------------------------------------------------------
# Batching
# --------------------------------------------------------------------------------------


def forward_one_by_one(net: MLP, X) -> np.ndarray:
    """The forward pass of every row of ``X`` on its own: one matrix-vector product per
    layer per sample, instead of one matrix-matrix product per layer for the batch."""
    X = _check_X(net, X, batch_only=True)
    return np.stack([forward(net, x) for x in X])


@dataclass(frozen=True)
class Throughput:
    """A measured forward pass at one batch size."""

    batch_size: int
    seconds: float  # median seconds per batch (the latency of the batch)
    flops: int  # matrix-product FLOPs per batch

    @property
    def samples_per_s(self) -> float:
        return self.batch_size / self.seconds

    @property
    def flops_per_s(self) -> float:
        return self.flops / self.seconds


def throughput(
    net: MLP, batch_size: int, *, max_batch: int = 4096, repeat: int = 5, min_time: float = 0.02, rng=None
) -> Throughput:
    """Measure the forward pass on a random batch of ``batch_size`` samples (in
    [1, ``max_batch``]); the timing is :func:`~computing_change.core.timing.bench`'s median."""
    max_batch = check_int("max_batch", max_batch, 1, 10**7)
    batch_size = check_int("batch_size", batch_size, 1, max_batch)
    X = _rng(rng).standard_normal((batch_size, net.sizes[0]))
    r: BenchResult = bench(lambda: forward(net, X), repeat=repeat, min_time=min_time)
    return Throughput(batch_size, r.median, forward_flops(net.sizes, batch_size))


def throughput_model(batch_size, t1: float, flops_per_sample: float, peak_flops: float):
    r"""Predicted samples/s at batch size :math:`B` from two measured numbers: the time of one
    sample :math:`t_1` (which reads all the weights) and the machine's peak :math:`P`:

    .. math:: X(B) = \frac{B}{t_1 + (B - 1)\,f / P}

    where :math:`f` is the FLOPs per sample. Each extra sample in a batch costs only its
    arithmetic, because the weights it needs are already on their way. ``batch_size`` >= 1
    (scalar or array), ``t1``, ``flops_per_sample``, ``peak_flops`` > 0.
    """
    b = check("batch_size", batch_size, 1)
    t1 = check("t1", t1, 0, lo_open=True)
    f = check("flops_per_sample", flops_per_sample, 0, lo_open=True)
    peak = check("peak_flops", peak_flops, 0, lo_open=True)
    return b / (t1 + (b - 1.0) * f / peak)


def batching_sizes(
    cache_bytes: int | None, *, n_classes: int = 10, lo: int = 16 * 2**20, hi: int = 64 * 2**20
) -> tuple[int, int, int, int]:
    """Widths ``(h, h, h, n_classes)`` for a network whose weights take about twice
    ``cache_bytes`` (the last-level cache; 32 MiB when unknown), clipped to [``lo``, ``hi``]
    bytes and to what :func:`~computing_change.core.machine.safe_size` allows, ``h`` a multiple of 64.

    Weights larger than the cache must come from main memory on every pass, which is what
    makes a batch of one so slow.
    """
    from computing_change.core.machine import safe_size

    n_classes = check_int("n_classes", n_classes, 2, 10**4)
    lo = check_int("lo", lo, 2**20)
    hi = check_int("hi", hi, lo)
    cache_bytes = 32 * 2**20 if cache_bytes is None else check_int("cache_bytes", cache_bytes, 1)
    target = min(max(2 * cache_bytes, lo), hi, safe_size(1, fraction=0.1))
    h = int(math.sqrt(target / 16) // 64 * 64)  # two h x h float64 matrices
    return (max(h, 64), max(h, 64), max(h, 64), n_classes)


# --------------------------------------------------------------------------------------
# Software 2.0's claims: constant time and memory, and what breaks them
# --------------------------------------------------------------------------------------


def collatz_trajectory(n: int) -> list[int]:
    """The Collatz sequence from ``n`` (a whole number in [1, 10^15]) down to 1: halve
    even numbers, map odd ``n`` to ``3n + 1``. Its length, and so the time and memory this
    function takes, depends on the *value* of ``n`` in a way no formula predicts."""
    n = check_int("n", n, 1, 10**15)
    out = [n]
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        out.append(n)
    return out


@dataclass
class AttentionHead:
    """One attention head's projections, each ``(d, d)``."""

    Wq: np.ndarray
    Wk: np.ndarray
    Wv: np.ndarray

    @property
    def d(self) -> int:
        return self.Wq.shape[0]


def init_attention(d: int, rng=None) -> AttentionHead:
    """Random projections for a head of width ``d`` (in [1, 65536])."""
    d = check_int("d", d, 1, 65536)
    rng = _rng(rng)
    Wq, Wk, Wv = (rng.standard_normal((d, d)) / math.sqrt(d) for _ in range(3))
    return AttentionHead(Wq, Wk, Wv)


class KVCache:
    """The keys and values of every token generated so far, growing by doubling its capacity
    (like a Python list), so appending costs O(1) on average."""

    def __init__(self, d: int, capacity: int = 16):
        self.d = check_int("d", d, 1, 65536)
        capacity = check_int("capacity", capacity, 1, 10**8)
        self._K = np.empty((capacity, self.d))
        self._V = np.empty((capacity, self.d))
        self.length = 0

    def append(self, k: np.ndarray, v: np.ndarray) -> None:
        """Add one token's key and value (each of shape ``(d,)``)."""
        if k.shape != (self.d,) or v.shape != (self.d,):
            raise ValueError(f"k and v must have shape ({self.d},); got {k.shape} and {v.shape}")
        if self.length == self._K.shape[0]:
            grow = 2 * self._K.shape[0]
            K, V = np.empty((grow, self.d)), np.empty((grow, self.d))
            K[: self.length], V[: self.length] = self._K[: self.length], self._V[: self.length]
            self._K, self._V = K, V
        self._K[self.length] = k
        self._V[self.length] = v
        self.length += 1

    def truncate(self, length: int) -> None:
        """Forget every token after the first ``length`` (in [0, current length])."""
        self.length = check_int("length", length, 0, self.length)

    @property
    def keys(self) -> np.ndarray:
        return self._K[: self.length]

    @property
    def values(self) -> np.ndarray:
        return self._V[: self.length]

    @property
    def nbytes_used(self) -> int:
        """Bytes of the keys and values stored: ``2 * length * d * 8``."""
        return 2 * self.length * self.d * self._K.itemsize

    @property
    def nbytes_reserved(self) -> int:
        """Bytes allocated, including room not used yet."""
        return self._K.nbytes + self._V.nbytes


def decode_step(head: AttentionHead, cache: KVCache, x) -> np.ndarray:
    r"""One step of autoregressive decoding for the new token ``x`` (shape ``(d,)``): project
    it to a query, key and value, append the key and value to ``cache``, and attend over
    *every* cached token:

    .. math:: o = \operatorname{softmax}\!\left(\frac{K q}{\sqrt d}\right)^{\!\top} V

    The work is :math:`6d^2` FLOPs for the projections plus :math:`4td` for attending over
    :math:`t` tokens: it grows with the position.
    """
    x = np.asarray(x, dtype=float)
    if x.shape != (head.d,) or cache.d != head.d:
        raise ValueError(f"x must have shape ({head.d},) and cache width {head.d}; got {x.shape}, {cache.d}")
    q, k, v = x @ head.Wq, x @ head.Wk, x @ head.Wv
    cache.append(k, v)
    s = cache.keys @ q / math.sqrt(head.d)
    w = np.exp(s - s.max())
    return (w / w.sum()) @ cache.values


def decode(head: AttentionHead, X) -> tuple[np.ndarray, KVCache]:
    """Decode the tokens ``X`` (shape ``(T, d)``) one at a time; return the outputs and the cache."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != head.d or X.shape[0] == 0:
        raise ValueError(f"X must have shape (T >= 1, {head.d}); got {X.shape}")
    cache = KVCache(head.d)
    return np.stack([decode_step(head, cache, x) for x in X]), cache


def causal_attention(head: AttentionHead, X) -> np.ndarray:
    """The same outputs as :func:`decode`, computed for the whole sequence at once with a
    causal mask (token ``t`` sees tokens ``0..t``): the reference to check decoding against."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != head.d or X.shape[0] == 0:
        raise ValueError(f"X must have shape (T >= 1, {head.d}); got {X.shape}")
    Q, K, V = X @ head.Wq, X @ head.Wk, X @ head.Wv
    S = Q @ K.T / math.sqrt(head.d)
    S[np.triu_indices(len(X), k=1)] = -np.inf
    W = np.exp(S - S.max(axis=1, keepdims=True))
    return (W / W.sum(axis=1, keepdims=True)) @ V


def decode_step_flops(d: int, length: int) -> int:
    """FLOPs of :func:`decode_step` attending over ``length`` tokens: ``6 d^2 + 4 length d``
    (the softmax's O(length) is left out). ``d`` >= 1, ``length`` >= 1."""
    d = check_int("d", d, 1, 65536)
    length = check_int("length", length, 1, 10**9)
    return 6 * d * d + 4 * length * d


def decode_step_times(
    head: AttentionHead,
    positions: Sequence[int],
    *,
    rng=None,
    repeat: int = 5,
    min_time: float = 0.005,
    statistic: str = "median",
) -> list[dict]:
    """Time one :func:`decode_step` at each position (a cache already holding that many
    tokens). Returns dicts with ``position``, ``seconds`` (the ``statistic`` of the repeats,
    ``"median"`` or ``"best"``), ``flops`` and the cache's ``nbytes_used`` after the step."""
    if statistic not in ("median", "best"):
        raise ValueError(f"statistic must be 'median' or 'best'; got {statistic!r}")
    positions = [check_int("positions[i]", p, 0, 10**7) for p in positions]
    if not positions:
        raise ValueError("positions must not be empty")
    rng = _rng(rng)
    top = max(positions)
    cache = KVCache(head.d, capacity=top + 1)
    for k, v in zip(rng.standard_normal((top, head.d)), rng.standard_normal((top, head.d)), strict=True):
        cache.append(k, v)
    x = rng.standard_normal(head.d)
    out = []
    for p in positions:

        def step(p=p):
            cache.truncate(p)
            decode_step(head, cache, x)

        r = bench(step, repeat=repeat, min_time=min_time)
        out.append(
            {
                "position": p,
                "seconds": r.median if statistic == "median" else r.best,
                "flops": decode_step_flops(head.d, p + 1),
                "nbytes_used": 2 * (p + 1) * head.d * 8,
            }
        )
        cache.length = top  # refill: the step only overwrote row p (with x's key and value)
    return out
