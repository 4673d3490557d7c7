"""Universal approximation (notes ch. 2.2): the constructive proof made concrete, with a certified bound.

The notes' proof builds, for a continuous ``f`` on [0, 1], a sum of "pieces"

    G(x) = sum_j alpha_j P(x; b_j, delta),   P(x; b, delta) = H(x; b) - H(x; b + delta),

where ``H(x; b) = lim_(w -> inf) sigma(w (x - b))`` is a step made from a steep logistic,
``b_j = a_j = j delta``, ``delta = 1/N`` and ``alpha_j = f(a_j)``.  Here the steps keep a
finite steepness ``w`` (so ``G`` is a genuine single-hidden-layer network of logistic
units) and the error is bounded including what the finite ``w`` costs at the piece edges
(see ``certified_error_bound``).  ``fit_single_hidden_layer`` trains a network of the same
form with optax for comparison.

The theorem is for ``I_n = [0, 1]^n`` and any sigmoidal function: ``constructive_approximant_nd``
builds towers on an ``N^n`` grid from any nondecreasing sigma going from 0 to 1 (the logistic,
``rescaled_tanh``, ``normalized_soft_lif``), with a certified bound for each, so that the
``N^n ~ (n L / epsilon)^n`` growth of the units can be measured.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._custom_types import ParamArray
from ._layers import MLP, Dense
from ._losses import mean_loss, mse
from ._misc import as_float_array, check_int, check_range, default_float, is_concrete
from ._neurons._soft_lif import soft_lif_rate

DEFAULT_KAPPA = 30.0
"""Default steepness per piece, ``kappa = w delta``: the edge terms of the bound are then
below 1% of ``L delta`` (``edge_factor(30) = 0.0093``)."""

# sup_(y >= 0) y sigma(-y) = y* e^(-y*) at y* = 1 + W(1/e), which equals W(1/e) (W: Lambert's W).
_SUP_Y_SIGMA = 0.27846454276107380


def edge_factor(kappa: float) -> float:
    """The relative cost ``rho(kappa)`` of finite steepness at the interior piece edges.

        rho(kappa) = sigma(-kappa) + W(1/e) / kappa + 2 q / (1 - q)^2 + 3 q / (1 - q),
        q = e^(-kappa),

    so that ``sum_j |x - a_j| P_j(x) <= delta (1 + rho(kappa))`` for every x in [0, 1] (see
    ``certified_error_bound``).  It falls like ``0.28 / kappa``.

    Raises:
        ValueError: if ``kappa`` is not positive and finite.
    """
    kappa = float(check_range("kappa", kappa, lower=0.0, lower_open=True))
    q = math.exp(-kappa)  # also sigma(-kappa) = q / (1 + q), without overflow for large kappa
    return q / (1.0 + q) + _SUP_Y_SIGMA / kappa + 2 * q / (1 - q) ** 2 + 3 * q / (1 - q)


def certified_error_bound(
    n_pieces: int,
    *,
    lipschitz: float,
    sup_norm: float,
    kappa: float = DEFAULT_KAPPA,
    margin: float | None = None,
    sigmoid: Callable[[Array], Array] | None = None,
    dim: int = 1,
) -> float:
    """An upper bound on ``max_(x in [0, 1]) |G(x) - f(x)|`` for ``constructive_approximant``.

    For an ``L``-Lipschitz ``f`` with ``|f| <= M`` on [0, 1], ``N`` pieces of width
    ``delta = 1/N``, steepness ``w = kappa / delta`` and outer edges moved ``margin`` (``m``)
    outside [0, 1]:

        |G(x) - f(x)| <= L delta (1 + rho(kappa)) + M (sigma(-w m) + sigma(-w (1 + m))),

    with ``rho = edge_factor(kappa)``.  Proof sketch: with ``P_j > 0`` the pieces,
    ``G - f = sum_j (f(a_j) - f(x)) P_j(x) - f(x) T(x)`` where ``T = 1 - sum_j P_j`` is the
    mass missing at the domain ends, ``T(x) = sigma(-w (x + m)) + sigma(-w (1 + m - x))``.
    The first sum is at most ``L sum_j |a_j - x| P_j(x)``.  For x in piece k
    (``x = a_k + c``, ``0 <= c <= delta``): piece k and its left neighbour contribute at most
    ``c + delta sigma(-w c) <= delta (1 + sigma(-kappa))`` (convex in c); the right
    neighbour ``d sigma(-w d) <= W(1/e) / w`` (d = delta - c); the pieces i >= 1 further
    away contribute at most ``(i + 2) delta e^(-kappa i)`` on the left and
    ``(i + 1) delta e^(-kappa i)`` on the right, which sum to the geometric terms of ``rho``.

    How the steepness treats the edges: with finite ``w`` a logistic is 1/2, not 0 or 1, at
    its edge; at an interior edge ``a_k`` G blends ``f(a_(k-1))`` and ``f(a_k)``, and the blend
    is within ``L delta`` of ``f(x)``, so the interior edges only cost the factor
    ``rho(kappa)``.  The two outer edges would lose half of ``f`` at x = 0 and x = 1 (even
    the notes' infinite-``w`` step has ``H(0; 0) = 0``, so ``G(0) = 0``); they are therefore
    placed at ``-m`` and ``1 + m``, which costs at most the ``M`` term.  ``margin = 0``
    reproduces the notes' literal edges (the bound then exceeds ``M / 2``).

    The bound is for exact arithmetic; evaluating G adds a few ulps of ``M``.

    Any sigmoidal function and n dimensions (``constructive_approximant_nd``): with
    ``sigmoid`` given, ``rho`` is ``sigmoid_edge_factor(sigmoid, kappa, N)`` and the end
    term is ``M (r(w m) + l(w m))`` with the tails ``r(y) = 1 - sigma(y)``, ``l(y) = sigma(-y)``
    (``sigmoid=None`` keeps the logistic's closed forms above).  In ``dim = n`` dimensions,
    with ``f`` L-Lipschitz in the l1 norm (``|f(x) - f(y)| <= L sum_i |x_i - y_i|``; a
    Euclidean Lipschitz constant is one), the product of pieces gives ``n`` times the
    one-dimensional bound (see ``TowerApproximant``).

    Args:
        n_pieces: N (>= 1), per axis.
        lipschitz: a Lipschitz constant L of f on [0, 1]^n (>= 0; l1 norm for n > 1).
        sup_norm: a bound M on |f| over [0, 1]^n (>= 0).
        kappa: steepness per piece, ``w delta`` (> 0).
        margin: distance of the outer edges from [0, 1] (>= 0); default ``delta``.
        sigmoid: the sigmoidal function (nondecreasing, from 0 to 1); ``None``: the logistic,
            with its closed-form ``rho``.
        dim: the dimension n (>= 1).

    Returns:
        The bound (a Python float).

    Raises:
        ValueError: for an argument outside its range.
    """
    n = check_int("n_pieces", n_pieces)
    lipschitz = float(check_range("lipschitz", lipschitz, lower=0.0))
    sup_norm = float(check_range("sup_norm", sup_norm, lower=0.0))
    delta = 1.0 / n
    m = delta if margin is None else float(check_range("margin", margin, lower=0.0))
    kappa = float(check_range("kappa", kappa, lower=0.0, lower_open=True))
    dim = check_int("dim", dim)
    if sigmoid is not None:
        _check_sigmoid(sigmoid)
    return _bound(n, lipschitz, sup_norm, kappa, m, sigmoid, dim)


def _bound(n: int, lipschitz: float, sup_norm: float, kappa: float, m: float, sigmoid: Any, dim: int) -> float:
    # certified_error_bound on checked arguments (pieces_for_tolerance calls it many times)
    delta = 1.0 / n
    w = kappa / delta
    if sigmoid is not None:
        rho = _sigmoid_edge_factor(sigmoid, kappa, n, 4097)
        right, left = _tails(sigmoid, np.array([w * m]))
        return dim * (lipschitz * delta * (1.0 + rho) + sup_norm * float(right[0] + left[0]))
    rho = edge_factor(kappa)

    def sig_neg(y: float) -> float:  # sigma(-y), without overflow
        return math.exp(-y) / (1.0 + math.exp(-y)) if y >= 0 else 1.0 / (1.0 + math.exp(y))

    return dim * (lipschitz * delta * (1.0 + rho) + sup_norm * (sig_neg(w * m) + sig_neg(w * (1.0 + m))))


def pieces_for_tolerance(
    epsilon: float,
    *,
    lipschitz: float,
    sup_norm: float,
    sigmoid: Callable[[Array], Array] | None = None,
    dim: int = 1,
    kappa: float | None = None,
) -> tuple[int, float]:
    """The fewest pieces N per axis (and a steepness ``kappa``) whose certified bound is below ``epsilon``.

    This is the theorem's quantifier order made explicit: given ``epsilon``, choose
    ``kappa = max(30, ln(4 n M / epsilon))`` so that the end terms are at most ``epsilon / 2``,
    then the smallest N with ``certified_error_bound(N, ...) < epsilon`` (the bound decreases
    in N).  N is about ``n L (1 + rho(kappa)) / epsilon``: it grows like 1/epsilon, and the
    number of towers of ``constructive_approximant_nd``, ``N^n``, like ``(n L / epsilon)^n``.

    With a ``sigmoid`` whose tails may be slow (the normalised soft LIF's fall like 1/y), and
    no ``kappa`` given, ``kappa`` is the first of 30, 60, 120, ... for which N = ``2 n L /
    epsilon`` (twice what a perfect step would need) meets ``epsilon``, and N is then the
    smallest found by bisection below it.

    Args:
        epsilon: the target error (> 0).
        lipschitz: a Lipschitz constant of f on [0, 1]^n (>= 0; l1 norm for n > 1).
        sup_norm: a bound on |f| over [0, 1]^n (>= 0).
        sigmoid: the sigmoidal function; ``None``: the logistic (closed-form bound).
        dim: the dimension n (>= 1).
        kappa: a fixed steepness per piece (> 0); default chosen as above.

    Returns:
        ``(n_pieces, kappa)`` to pass to ``constructive_approximant`` (or ``_nd``).

    Raises:
        ValueError: for an argument outside its range, or if no N up to 2^30 meets
            ``epsilon`` with the given ``kappa``.
    """
    epsilon = float(check_range("epsilon", epsilon, lower=0.0, lower_open=True))
    L = float(check_range("lipschitz", lipschitz, lower=0.0))
    M = float(check_range("sup_norm", sup_norm, lower=0.0))
    dim = check_int("dim", dim)
    if kappa is not None:
        kappa = float(check_range("kappa", kappa, lower=0.0, lower_open=True))

    if sigmoid is not None:
        _check_sigmoid(sigmoid)

    def bound(n: int, kappa: float) -> float:
        return _bound(n, L, M, kappa, 1.0 / n, sigmoid, dim)

    if kappa is None and sigmoid is None:
        kappa = max(DEFAULT_KAPPA, math.log(4.0 * dim * M / epsilon)) if M > 0 else DEFAULT_KAPPA
        tails = 2.0 * dim * M * math.exp(-kappa)  # >= the M term for any N with margin delta
        n = max(1, int(math.floor(dim * L * (1.0 + edge_factor(kappa)) / (epsilon - tails))) + 1) if L > 0 else 1
    elif kappa is None:
        n = max(1, int(math.floor(2.0 * dim * L / epsilon)) + 1)
        kappa = DEFAULT_KAPPA
        while bound(n, kappa) >= epsilon:
            kappa *= 2.0
            if kappa > 1e12:
                raise ValueError(f"epsilon = {epsilon!r} cannot be certified with this sigmoid (kappa up to 1e12).")
    else:
        n = 1
    while bound(n, kappa) >= epsilon:  # guards against rounding in the estimate
        n *= 2
        if n > 2**30:
            raise ValueError(f"epsilon = {epsilon!r} is not reached by any N <= 2^30 with kappa = {kappa!r}.")
    lo, hi = 0, n  # bound(lo) >= epsilon (or lo = 0), bound(hi) < epsilon
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if bound(mid, kappa) < epsilon else (mid, hi)
    return hi, kappa


class StepApproximant(eqx.Module):
    """``G(x) = sum_j alpha_j [sigma(w (x - e_j)) - sigma(w (x - e_(j+1)))]`` (notes ch. 2.2).

    Each piece ``P_j`` is a bump of height ~1 on ``[e_j, e_(j+1)]`` made from two logistics
    of steepness ``w``; it is evaluated as
    ``P = sigma(u) sigma(-v) (1 - e^(v - u))`` (``u = w (x - e_j)``, ``v = w (x - e_(j+1))``),
    which equals ``sigma(u) - sigma(v)`` but keeps full relative precision where both
    logistics are near 1.

    Telescoping gives the theorem's form ``G(x) = sum_(j=0)^N c_j sigma(w x - w e_j)`` with
    ``c_j = alpha_j - alpha_(j-1)`` (``alpha_(-1) = alpha_N = 0``): one hidden layer of N + 1
    logistic units, returned by ``as_mlp``.

    Attributes:
        alpha: piece heights ``alpha_j = f(a_j)``, shape ``(N,)``.
        edges: ``e_0 < ... < e_N``, shape ``(N + 1,)``.
        steepness: ``w`` (1 / units of x).
    """

    alpha: Float[ParamArray, " n"] = eqx.field(converter=as_float_array)
    edges: Float[ParamArray, " n+1"] = eqx.field(converter=as_float_array)
    steepness: Float[ParamArray, ""] = eqx.field(converter=as_float_array)

    def __check_init__(self):
        if self.alpha.ndim != 1 or self.edges.shape != (self.alpha.shape[0] + 1,):
            raise ValueError(
                f"StepApproximant: alpha must have shape (N,) and edges shape (N + 1,); "
                f"got alpha.shape = {self.alpha.shape}, edges.shape = {self.edges.shape}."
            )
        if self.steepness.shape != ():
            raise ValueError(f"StepApproximant: steepness must be a scalar, got shape {self.steepness.shape}.")
        if is_concrete(self.steepness):
            check_range("steepness", self.steepness, lower=0.0, lower_open=True)

    @property
    def n_pieces(self) -> int:
        return self.alpha.shape[0]

    def pieces(self, x: Float[ArrayLike, "*shape"]) -> Float[Array, "*shape n"]:
        """``P_j(x)`` for every piece, shape ``x.shape + (N,)``; each in (0, 1).

        Memory grows as ``x.size * N``: evaluate long grids in chunks for very large N."""
        x = as_float_array(x)[..., None]
        u = self.steepness * (x - self.edges[:-1])
        v = self.steepness * (x - self.edges[1:])
        gap = self.steepness * (self.edges[1:] - self.edges[:-1])  # u - v > 0
        return jax.nn.sigmoid(u) * jax.nn.sigmoid(-v) * -jnp.expm1(-gap)

    def __call__(self, x: Float[ArrayLike, "*shape"]) -> Float[Array, "*shape"]:
        """``G(x)``, elementwise over any shape of ``x``."""
        return jnp.sum(self.pieces(x) * self.alpha, axis=-1)

    def as_mlp(self) -> MLP:
        """``G`` as a 1 -> (N + 1) -> 1 ``MLP`` with logistic hidden units and a linear output:
        hidden weights ``w``, hidden biases ``-w e_j``, output weights ``c_j``, output bias 0."""
        n = self.n_pieces
        w = self.steepness
        c = jnp.diff(jnp.concatenate([jnp.zeros(1, self.alpha.dtype), self.alpha, jnp.zeros(1, self.alpha.dtype)]))
        hidden = Dense.from_weights(jnp.full((n + 1, 1), w, self.alpha.dtype), -w * self.edges)
        out = Dense.from_weights(c[None, :], jnp.zeros(1, self.alpha.dtype))
        return MLP.from_layers([hidden, out], "logistic", "identity")


def constructive_approximant(
    f: Callable[[Array], Array],
    n_pieces: int,
    *,
    kappa: float = DEFAULT_KAPPA,
    margin: float | None = None,
) -> StepApproximant:
    """The notes' constructive approximant of ``f`` on [0, 1] with ``N`` pieces.

    ``a_j = j / N``, ``alpha_j = f(a_j)`` (j = 0..N-1), interior edges ``b_j = a_j``, outer
    edges at ``-margin`` and ``1 + margin``, steepness ``w = kappa N``.  The error is at most
    ``certified_error_bound(N, lipschitz=L, sup_norm=M, kappa=kappa, margin=margin)``, about
    ``L / N`` for an L-Lipschitz f.

    Args:
        f: a function on [0, 1], applied elementwise to an array of the ``a_j`` (JAX-traceable).
        n_pieces: N (>= 1).
        kappa: steepness per piece ``w / N`` (> 0).
        margin: distance of the outer edges from [0, 1] (>= 0); default ``1/N``.

    Returns:
        A ``StepApproximant``.

    Raises:
        ValueError: for an argument outside its range, or if ``f`` does not return one finite
            value per point.
    """
    n = check_int("n_pieces", n_pieces)
    kappa = float(check_range("kappa", kappa, lower=0.0, lower_open=True))
    delta = 1.0 / n
    m = delta if margin is None else float(check_range("margin", margin, lower=0.0))
    dtype = default_float()
    a = jnp.arange(n, dtype=dtype) / n
    alpha = as_float_array(f(a))
    if alpha.shape != a.shape:
        raise ValueError(f"f must map an array of shape ({n},) to one value per point, got shape {alpha.shape}.")
    if is_concrete(alpha):
        check_range("f(a_j)", alpha)
    edges = jnp.concatenate([jnp.array([-m], dtype), a[1:], jnp.array([1.0 + m], dtype)])
    return StepApproximant(alpha, edges, jnp.asarray(kappa * n, dtype))


@eqx.filter_jit
def max_error(g: Callable[[Array], Array], f: Callable[[Array], Array], *, n_grid: int = 20001) -> Float[Array, ""]:
    """``max |g(x) - f(x)|`` over ``n_grid`` evenly spaced points of [0, 1] (ends included).

    Both functions are applied elementwise to the grid array.  This measures the error; it
    bounds the true maximum from below (the certificate is ``certified_error_bound``).
    Jit-compiled with ``eqx.filter_jit``: a ``StepApproximant`` or other equinox module is
    traced (one compilation per shape), plain functions are static.

    Returns:
        The largest error, NaN when ``g`` or ``f`` is NaN at a grid point.

    Raises:
        ValueError: if ``n_grid < 2``.
    """
    check_int("n_grid", n_grid, 2, numpy=False)
    x = jnp.linspace(0.0, 1.0, n_grid, dtype=default_float())
    return _nan_max(jnp.abs(g(x) - f(x)))


def _nan_max(err: Array) -> Array:
    """``max(err)``, NaN when any element is NaN: XLA's CPU reduction of a large array drops NaN
    (``jnp.max`` of 20001 NaNs is -inf there), which would report a NaN function as error-free."""
    return jnp.where(jnp.any(jnp.isnan(err)), jnp.nan, jnp.max(err))


def mlp_function(model: MLP) -> Callable[[Array], Array]:
    """A 1 -> 1 ``MLP`` as an elementwise function of x (vmapped over the points)."""
    if model.in_size != 1 or model.out_size != 1:
        raise ValueError(
            f"mlp_function needs a model with in_size = out_size = 1, got {model.in_size} -> {model.out_size}."
        )
    return lambda x: jax.vmap(model)(jnp.reshape(x, (-1, 1))).reshape(jnp.shape(x))


def fit_single_hidden_layer(
    f: Callable[[Array], Array],
    n_hidden: int,
    *,
    key: PRNGKeyArray,
    steps: int = 3000,
    learning_rate: float = 0.05,
    n_train: int | None = None,
) -> tuple[MLP, Float[Array, " steps"]]:
    """Train ``G(x) = sum_j c_j sigma(w_j x + theta_j) + c_0`` (one hidden layer of ``n_hidden``
    logistic units, linear output) to fit ``f`` on [0, 1] by gradient descent.

    Loss: the mean squared error ``E = 1/P sum_p 1/2 (G(x_p) - f(x_p))^2`` on the ``P = n_train``
    Chebyshev-Lobatto points ``x_p = (1 - cos(pi p / (P - 1))) / 2`` (default
    ``P = max(64, 8 n_hidden)``), full batch, Adam with a cosine decay of the learning rate
    to 1% over ``steps`` steps, all steps in one ``lax.scan``.

    Initialisation (in the spirit of Nguyen & Widrow, 1990): hidden unit j gets slope
    ``w_j = 2 n_hidden`` and its centre ``-theta_j / w_j`` at ``(j + u_j) / n_hidden`` with
    ``u_j ~ U(0, 1)`` from ``key``, so the units' transitions tile [0, 1]; output weights
    ``~ N(0, 0.01)``, output bias ``mean f``.

    Args:
        f: the target, applied elementwise to an array (JAX-traceable).
        n_hidden: number of hidden units (>= 1).
        key: PRNG key for the initialisation.
        steps: optimiser steps (>= 1).
        learning_rate: peak Adam learning rate (> 0).
        n_train: number of training points (>= 2).

    Returns:
        ``(model, losses)``: the trained 1 -> n_hidden -> 1 ``MLP`` and the loss at each step.

    Raises:
        ValueError: for an argument outside its range.

    References:
        D. Nguyen and B. Widrow (1990), "Improving the learning speed of 2-layer neural
        networks by choosing initial values of the adaptive weights", IJCNN.
    """
    n_hidden = check_int("n_hidden", n_hidden)
    steps = check_int("steps", steps)
    n_train = max(64, 8 * n_hidden) if n_train is None else check_int("n_train", n_train, 2)
    learning_rate = float(check_range("learning_rate", learning_rate, lower=0.0, lower_open=True))
    dtype = default_float()
    # Chebyshev-Lobatto nodes: denser towards 0 and 1, where an evenly spaced mean-square fit
    # leaves its largest errors.
    x = (1.0 - jnp.cos(jnp.pi * jnp.arange(n_train, dtype=dtype) / (n_train - 1))) / 2.0
    t = jnp.asarray(as_float_array(f(x)), dtype)
    if t.shape != x.shape:
        raise ValueError(f"f must map an array of shape ({n_train},) to one value per point, got shape {t.shape}.")
    k_centre, k_out = jr.split(key)
    slope = 2.0 * n_hidden
    centres = (jnp.arange(n_hidden, dtype=dtype) + jr.uniform(k_centre, (n_hidden,), dtype)) / n_hidden
    hidden = Dense.from_weights(jnp.full((n_hidden, 1), slope, dtype), -slope * centres)
    out = Dense.from_weights(0.01 * jr.normal(k_out, (1, n_hidden), dtype), jnp.mean(t)[None])
    model = MLP.from_layers([hidden, out], "logistic", "identity")
    return _train_adam(model, x, t, steps, learning_rate)


@eqx.filter_jit
def _train_adam(model: MLP, x: Array, t: Array, steps: int, learning_rate: float) -> tuple[MLP, Array]:
    # Module-level and jitted, so repeated fits of the same size reuse one compilation
    # (steps and learning_rate are Python numbers: static).
    params, static = eqx.partition(model, eqx.is_array)
    opt = optax.adam(optax.cosine_decay_schedule(learning_rate, steps, alpha=0.01))

    def loss(params):
        m = eqx.combine(params, static)
        return mean_loss(mse, jax.vmap(m)(x[:, None]), t[:, None])

    def step(carry, _):
        params, state = carry
        value, grads = jax.value_and_grad(loss)(params)
        updates, state = opt.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), value

    (params, _), losses = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    return cast(MLP, eqx.combine(params, static)), losses


@eqx.filter_jit
def _constructive_error(f: Callable[[Array], Array], n: int, kappa: float, n_grid: int) -> Array:
    # One compilation per N (f, n, kappa, n_grid static) instead of one per eager operation.
    return max_error(constructive_approximant(f, n, kappa=kappa), f, n_grid=n_grid)


def error_versus_pieces(
    f: Callable[[Array], Array],
    ns: Any,
    *,
    lipschitz: float,
    sup_norm: float,
    key: PRNGKeyArray | None = None,
    kappa: float = DEFAULT_KAPPA,
    steps: int = 3000,
    n_grid: int = 20001,
) -> dict[str, np.ndarray]:
    """Max error against N for the constructive approximant (and, given a key, a trained one).

    For each N in ``ns``: the measured ``max_error`` of ``constructive_approximant(f, N)``,
    its ``certified_error_bound``, and (if ``key`` is given) the measured error of
    ``fit_single_hidden_layer(f, N, key=...)`` with N hidden units.  Each N has its own
    shapes, so each is compiled separately.

    Args:
        f: the target on [0, 1] (elementwise, JAX-traceable).
        ns: the numbers of pieces (ints >= 1).
        lipschitz, sup_norm: L and M of f for the bound.
        key: PRNG key for the trained networks; ``None`` skips training.
        kappa: steepness per piece of the constructive approximant.
        steps: optimiser steps for each trained network.
        n_grid: points of the error measurement.

    Returns:
        A dict of numpy arrays: "n", "constructive", "bound" and, with a key, "trained".
    """
    ns = [check_int("ns[i]", n) for n in ns]
    out: dict[str, list[float]] = {"n": [], "constructive": [], "bound": []}
    if key is not None:
        out["trained"] = []
        keys = jr.split(key, len(ns))
    for i, n in enumerate(ns):
        out["n"].append(n)
        out["constructive"].append(float(_constructive_error(f, n, kappa, n_grid)))
        out["bound"].append(certified_error_bound(n, lipschitz=lipschitz, sup_norm=sup_norm, kappa=kappa))
        if key is not None:
            model, _ = fit_single_hidden_layer(f, n, key=keys[i], steps=steps)
            out["trained"].append(float(max_error(mlp_function(model), f, n_grid=n_grid)))
    return {k: np.asarray(v) for k, v in out.items()}


# --- any sigmoidal function, n dimensions (notes ch. 2.2: the theorem on I_n = [0, 1]^n) ---


def rescaled_tanh(y: Float[ArrayLike, "*shape"]) -> Float[Array, "*shape"]:
    """The tanh rescaled to a sigmoidal function: ``(1 + tanh(y)) / 2``, from 0 to 1.

    It equals the logistic of ``2 y``; its tails ``1 - sigma(y) = sigma(-y)`` fall like ``e^(-2 y)``.

    Example:
        >>> float(rescaled_tanh(0.0))
        0.5
    """
    return 0.5 * (1.0 + jnp.tanh(as_float_array(y)))


def normalized_soft_lif(
    y: Float[ArrayLike, "*shape"], *, tau_m: float = 0.02, tau_ref: float = 0.002, gamma: float = 0.03
) -> Float[Array, "*shape"]:
    """The soft LIF rate as a sigmoidal function: ``tau_ref soft_lif_rate(1 + y)``, from 0 to 1.

        sigma(y) = tau_ref / (tau_ref + tau_m log(1 + 1 / rho(y))),   rho(y) = gamma log(1 + e^(y / gamma)),

    the rate divided by its supremum ``1 / tau_ref`` (approached as ``y -> inf``), with the
    input shifted so that ``y = 0`` is the threshold.  Its tails are slow, unlike the
    logistic's: ``1 - sigma(y) ~ tau_m / (tau_ref y)`` and ``sigma(-y) ~ gamma tau_ref / (tau_m y)``
    for large y, so a certified approximation needs a large steepness (see
    ``pieces_for_tolerance``).

    Args:
        y: input relative to threshold (dimensionless, units of the normalised input).
        tau_m: membrane time constant in s (> 0).
        tau_ref: refractory period in s (> 0).
        gamma: smoothing width (> 0).

    Returns:
        ``sigma(y)`` in [0, 1), the shape of ``y``.

    Example:
        >>> round(float(normalized_soft_lif(1e6)), 4)
        1.0
    """
    return tau_ref * soft_lif_rate(1.0 + as_float_array(y), tau_m, tau_ref, gamma=gamma)


def _check_sigmoid(sigmoid: Any) -> None:
    # The generic bound needs sigma nondecreasing with values in [0, 1], from 0 to 1: sampled here
    # (a check that catches wrong callables, not a proof).
    if not callable(sigmoid):
        raise ValueError(f"sigmoid must be a callable from arrays to arrays, got {sigmoid!r}.")
    y = np.concatenate([-np.logspace(12, -3, 61), [0.0], np.logspace(-3, 12, 61)])
    s = np.asarray(sigmoid(jnp.asarray(y, default_float())), np.float64)
    tol = 4 * float(jnp.finfo(default_float()).eps)
    if s.shape != y.shape or not np.all(np.isfinite(s)):
        raise ValueError(f"sigmoid must map an array elementwise to finite values; got shape {s.shape} for {y.shape}.")
    if s.min() < -tol or s.max() > 1 + tol or np.any(np.diff(s) < -tol):
        raise ValueError(
            f"sigmoid must be nondecreasing with values in [0, 1]; sampled values span [{s.min():.3g}, {s.max():.3g}]."
        )
    if s[0] > 0.01 or s[-1] < 0.99:
        raise ValueError(
            f"sigmoid must go from 0 (y -> -inf) to 1 (y -> inf); got sigmoid(-1e12) = {s[0]:.3g}, "
            f"sigmoid(1e12) = {s[-1]:.3g}."
        )


def _tails(sigmoid: Callable[[Array], Array], y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``r(y) = 1 - sigma(y)`` and ``l(y) = sigma(-y)`` for y >= 0 (float64), each raised by one
    ulp of 1 in sigma's dtype to cover its rounding."""
    k = y.shape[0]
    size = 1 << max(4, (2 * k - 1).bit_length())  # padded to a power of two: few shapes, few compilations
    yy = jnp.asarray(np.concatenate([y, -y, np.zeros(size - 2 * k)]), default_float())
    raw = np.asarray(sigmoid(yy))[: 2 * k]
    eps = float(np.finfo(raw.dtype if np.issubdtype(raw.dtype, np.floating) else np.float32).eps)
    s = raw.astype(np.float64)
    return np.clip(1.0 - s[:k], 0.0, None) + eps, np.clip(s[k:], 0.0, None) + eps


def sigmoid_edge_factor(sigmoid: Callable[[Array], Array], kappa: float, n_pieces: int, *, n_grid: int = 4097) -> float:
    """``rho`` of ``certified_error_bound`` for any nondecreasing sigmoidal ``sigma`` and N pieces.

    With the tails ``r(y) = 1 - sigma(y)`` and ``l(y) = sigma(-y)`` (both nonincreasing for y >= 0):

        rho = sup_(u in [0, 1]) [u + r(kappa u) + (1 - u) l(kappa (1 - u))] - 1
              + 3 r(kappa) + 2 l(kappa) + sum_(i=2)^(N-1) (r(kappa i) + l(kappa i)),

    so that ``sum_j |x - a_j| P_j(x) <= delta (1 + rho)`` on [0, 1].  Proof sketch (x = a_k + c,
    u = c / delta): pieces k and k-1 give at most ``c + delta r(w c)`` (``P_k + P_(k-1) <= 1``),
    piece k+1 at most ``(delta - c) l(w (delta - c))``; the pieces further left are differences
    of r at consecutive edges, and summing by parts bounds them by ``delta (3 r(kappa) +
    sum_(i>=2) r(kappa i))`` (the right side likewise with l).  The sup is bounded from above
    on ``n_grid`` points using the monotonicity of each term (so it is a certificate, not a
    sample), and the tails are evaluated in sigma's dtype plus one ulp.  For the logistic it
    agrees with ``edge_factor(kappa)`` to about ``1 / n_grid``; for tails like ``C / y`` the
    sum grows like ``C ln(N) / kappa``.

    Args:
        sigmoid: the sigmoidal function (nondecreasing, from 0 to 1), elementwise on arrays.
        kappa: steepness per piece ``w delta`` (> 0).
        n_pieces: N (>= 1).
        n_grid: points for the sup over u (>= 2).

    Returns:
        ``rho`` (a Python float).

    Raises:
        ValueError: for an argument outside its range, or a ``sigmoid`` that is not
            nondecreasing from 0 to 1 on a sample of points.
    """
    kappa = float(check_range("kappa", kappa, lower=0.0, lower_open=True))
    n = check_int("n_pieces", n_pieces)
    n_grid = check_int("n_grid", n_grid, 2)
    _check_sigmoid(sigmoid)
    return _sigmoid_edge_factor(sigmoid, kappa, n, n_grid)


def _sigmoid_edge_factor(sigmoid: Callable[[Array], Array], kappa: float, n: int, n_grid: int) -> float:
    u = np.linspace(0.0, 1.0, n_grid)
    i = np.arange(2, max(n, 2), dtype=np.float64)
    y = np.concatenate([kappa * u, kappa * (1.0 - u), [kappa], kappa * i])
    r, l = _tails(sigmoid, y)
    r_u, l_1mu = r[:n_grid], l[n_grid : 2 * n_grid]
    r_k, l_k = r[2 * n_grid], l[2 * n_grid]
    r_far, l_far = r[2 * n_grid + 1 :], l[2 * n_grid + 1 :]
    near = np.max(u[1:] + r_u[:-1] + (1.0 - u[:-1]) * l_1mu[1:])  # on [u_a, u_b]: each term at its worst end
    return float(near - 1.0 + 3.0 * r_k + 2.0 * l_k + np.sum(r_far) + np.sum(l_far))


class TowerApproximant(eqx.Module):
    """``G(x) = sum_c alpha_c prod_(i=1)^n P_(c_i)(x_i)`` on [0, 1]^n: a tower per grid cell.

    ``P_j(t) = sigma(w (t - e_j)) - sigma(w (t - e_(j+1)))`` is the notes' one-dimensional
    piece built from any sigmoidal ``sigma``; the product of one piece per axis is a tower of
    height ~1 over the cell ``c = (c_1, ..., c_n)`` of an ``N^n`` grid, and ``alpha_c = f(a_c)``
    its height.  As a network: ``n (N + 1)`` sigmoid units ``sigma(w x_i - w e_j)`` (one hidden
    layer), ``N^n`` product units (one per tower) and a linear output; for ``n = 1`` the
    product is the piece itself and G is the notes' single-hidden-layer sum
    (``constructive_approximant``).  Because the pieces of each axis sum to at most 1 (for a
    nondecreasing sigma), the towers do too, and the error is at most ``n`` times the
    one-dimensional bound (``certified_error_bound(..., dim=n)``).

    Attributes:
        alpha: tower heights, shape ``(N,) * n``.
        edges: ``e_0 < ... < e_N`` (the same on every axis), shape ``(N + 1,)``.
        steepness: ``w`` (1 / units of x).
        sigmoid: the sigmoidal function (static).
    """

    alpha: Float[ParamArray, "..."] = eqx.field(converter=as_float_array)
    edges: Float[ParamArray, " n+1"] = eqx.field(converter=as_float_array)
    steepness: Float[ParamArray, ""] = eqx.field(converter=as_float_array)
    sigmoid: Callable[[Array], Array] = eqx.field(static=True)

    def __check_init__(self):
        n = self.alpha.shape[0] if self.alpha.ndim else 0
        if self.alpha.ndim < 1 or self.alpha.shape != (n,) * self.alpha.ndim or self.edges.shape != (n + 1,):
            raise ValueError(
                f"TowerApproximant: alpha must have shape (N,) * dim and edges shape (N + 1,); "
                f"got alpha.shape = {self.alpha.shape}, edges.shape = {self.edges.shape}."
            )
        if self.steepness.shape != ():
            raise ValueError(f"TowerApproximant: steepness must be a scalar, got shape {self.steepness.shape}.")
        if is_concrete(self.steepness):
            check_range("steepness", self.steepness, lower=0.0, lower_open=True)

    @property
    def dim(self) -> int:
        """n, the dimension of the domain [0, 1]^n."""
        return self.alpha.ndim

    @property
    def n_pieces(self) -> int:
        """N, the pieces per axis."""
        return self.alpha.shape[0]

    @property
    def n_towers(self) -> int:
        """``N^n``: the product units (one per grid cell)."""
        return self.alpha.size

    @property
    def n_sigmoid_units(self) -> int:
        """``n (N + 1)``: the sigmoid units of the hidden layer."""
        return self.dim * (self.n_pieces + 1)

    def axis_pieces(self, x: Float[ArrayLike, "*shape n"]) -> Float[Array, "*shape n N"]:
        """``P_j(x_i)`` for every axis i and piece j, shape ``x.shape + (N,)``."""
        x = jnp.asarray(as_float_array(x))  # (points carry an axis of n coordinates: not host numbers)
        s = self.sigmoid((x[..., None] - self.edges) * self.steepness)
        return s[..., :-1] - s[..., 1:]

    def __call__(self, x: Float[ArrayLike, "*shape n"]) -> Float[Array, "*shape"]:
        """``G(x)`` for points ``x`` of shape ``(..., n)``."""
        x = as_float_array(x)
        if x.ndim < 1 or x.shape[-1] != self.dim:
            raise ValueError(f"x must have shape (..., {self.dim}) (points in [0, 1]^{self.dim}), got {x.shape}.")
        pieces = self.axis_pieces(x.reshape(-1, self.dim))

        def one(p: Array) -> Array:  # contract the tower heights with one axis's pieces at a time
            g = jnp.asarray(self.alpha)
            for i in range(self.dim):
                g = jnp.tensordot(p[i], g, axes=1)
            return g

        return jax.vmap(one)(pieces).reshape(x.shape[:-1])


def constructive_approximant_nd(
    f: Callable[[Array], Array],
    n_pieces: int,
    *,
    dim: int,
    sigmoid: Callable[[Array], Array] = jax.nn.sigmoid,
    kappa: float = DEFAULT_KAPPA,
    margin: float | None = None,
) -> TowerApproximant:
    """The constructive approximant of ``f`` on [0, 1]^n with ``N`` pieces per axis, any sigmoid.

    ``a_j = j / N`` on each axis, ``alpha_c = f(a_(c_1), ..., a_(c_n))`` on the ``N^n`` grid,
    edges ``-margin, a_1, ..., a_(N-1), 1 + margin``, steepness ``w = kappa N``.  The error is
    at most ``certified_error_bound(N, lipschitz=L, sup_norm=M, kappa=kappa, margin=margin,
    sigmoid=sigmoid, dim=n)``, about ``n L / N`` with L the l1 Lipschitz constant (pass
    ``sigmoid=None`` there for the logistic's sharper closed form).

    Args:
        f: a function on [0, 1]^n mapping points of shape ``(..., n)`` to values of shape
            ``(...)`` (JAX-traceable).
        n_pieces: N (>= 1), per axis.
        dim: the dimension n (>= 1).
        sigmoid: a sigmoidal function (nondecreasing, from 0 to 1), elementwise: the logistic
            (default), ``rescaled_tanh``, ``normalized_soft_lif`` or any other.
        kappa: steepness per piece ``w / N`` (> 0).
        margin: distance of the outer edges from [0, 1] (>= 0); default ``1/N``.

    Returns:
        A ``TowerApproximant``.

    Raises:
        ValueError: for an argument outside its range, a ``sigmoid`` that is not sigmoidal,
            or an ``f`` that does not return one finite value per point.

    Example:
        >>> g = constructive_approximant_nd(lambda x: x[..., 0] * x[..., 1], 20, dim=2)
        >>> round(float(g(jnp.array([0.5, 0.5]))), 2)
        0.23
    """
    n = check_int("n_pieces", n_pieces)
    dim = check_int("dim", dim)
    kappa = float(check_range("kappa", kappa, lower=0.0, lower_open=True))
    _check_sigmoid(sigmoid)
    delta = 1.0 / n
    m = delta if margin is None else float(check_range("margin", margin, lower=0.0))
    dtype = default_float()
    a = jnp.arange(n, dtype=dtype) / n
    grid = jnp.stack(jnp.meshgrid(*([a] * dim), indexing="ij"), axis=-1)
    alpha = as_float_array(f(grid))
    if alpha.shape != (n,) * dim:
        raise ValueError(f"f must map points of shape {grid.shape} to values of shape {(n,) * dim}, got {alpha.shape}.")
    if is_concrete(alpha):
        check_range("f(a_c)", alpha)
    edges = jnp.concatenate([jnp.array([-m], dtype), a[1:], jnp.array([1.0 + m], dtype)])
    return TowerApproximant(alpha, edges, jnp.asarray(kappa * n, dtype), sigmoid)


@eqx.filter_jit
def max_error_nd(
    g: Callable[[Array], Array], f: Callable[[Array], Array], *, dim: int, n_per_axis: int = 101
) -> Float[Array, ""]:
    """``max |g(x) - f(x)|`` over the ``n_per_axis^n`` points of an even grid of [0, 1]^n (ends included).

    Both functions map points of shape ``(..., n)`` to values of shape ``(...)``.  A measured
    error (a lower bound on the true maximum); the certificate is ``certified_error_bound``.

    Raises:
        ValueError: if ``dim < 1`` or ``n_per_axis < 2``.
    """
    dim = check_int("dim", dim)
    n_per_axis = check_int("n_per_axis", n_per_axis, 2)
    t = jnp.linspace(0.0, 1.0, n_per_axis, dtype=default_float())
    x = jnp.stack(jnp.meshgrid(*([t] * dim), indexing="ij"), axis=-1).reshape(-1, dim)
    return _nan_max(jnp.abs(g(x) - f(x)))


__all__ = [
    "DEFAULT_KAPPA",
    "StepApproximant",
    "TowerApproximant",
    "certified_error_bound",
    "constructive_approximant",
    "constructive_approximant_nd",
    "edge_factor",
    "error_versus_pieces",
    "fit_single_hidden_layer",
    "max_error",
    "max_error_nd",
    "mlp_function",
    "normalized_soft_lif",
    "pieces_for_tolerance",
    "rescaled_tanh",
    "sigmoid_edge_factor",
]
