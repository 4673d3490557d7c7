"""The jit-compiled pieces of training: one step, one epoch (``lax.scan``), evaluation.

Losses are per-sample (``jaxneuro.losses``), models take one sample; both are vmapped over
the minibatch here.  A per-sample *score* (1 for a correct classification, the squared
error for regression) rides along as the auxiliary output of the loss, so running
training accuracy costs nothing extra.

Why batching by hand rather than a data-loading library (tf.data, grain, torch's
DataLoader): the data sets of this package (XOR, regression, Yin-Yang, MNIST: 47 MiB as
float32) fit on the device whole, so an epoch is a permutation of indices and a gather inside
the compiled ``lax.scan`` (``epoch_batches``, four lines): no host round trip per minibatch and
no input pipeline to keep busy.  A loader library pays off for data that must stream from
disk or be augmented on the host; tensorflow-datasets (a library) does the reading
(``jaxneuro.data``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._sharding import batch_sharding

# per-sample loss and score: (model output, target) -> scalar
SampleFn = Callable[[Array, Array], Array]


def batch_loss_and_score(
    model: Any, x: Array, t: Array, loss_fn: SampleFn, score_fn: SampleFn
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    """Mean per-sample loss of ``model`` over a minibatch, and the sum of the per-sample scores."""
    y = jax.vmap(model)(x)
    losses = jax.vmap(loss_fn)(y, t)
    scores = jax.vmap(score_fn)(y, t)
    return jnp.mean(losses), jnp.sum(scores)


def _batch_constraint(mesh: Mesh | None) -> Callable[[Array], Array]:
    """Inside jit: split a minibatch along axis 0 over ``mesh`` (identity for ``None``).

    Data parallelism: with replicated parameters, each device evaluates its block of the
    batch and XLA sums the gradient across devices (an all-reduce), so the update equals the
    single-device one up to the order of the floating-point sum.
    """
    if mesh is None:
        return lambda a: a
    sharding = batch_sharding(mesh)
    return lambda a: jax.lax.with_sharding_constraint(a, sharding)


def make_train_step(
    loss_fn: SampleFn,
    optimizer: optax.GradientTransformation,
    score_fn: SampleFn | None = None,
    *,
    mesh: Mesh | None = None,
) -> Callable[[Any, Any, Array, Array], tuple[Any, Any, Array, Array]]:
    """One jit-compiled optimiser step on a minibatch.

    ``step(model, opt_state, x, t) -> (model, opt_state, loss, score_sum)``, where ``loss``
    is the minibatch mean of ``loss_fn(model(x_i), t_i)`` *before* the update.  Built from
    ``eqx.filter_value_and_grad`` and ``optimizer.update``; compiled once per input shape.

    Args:
        loss_fn: per-sample loss ``(y, t) -> scalar``.
        optimizer: an optax gradient transformation.
        score_fn: per-sample score ``(y, t) -> scalar`` summed over the batch (default 0).
        mesh: a 1-D mesh to split each minibatch over (data parallelism; parameters
            replicated); ``None`` runs on one device.
    """
    score_fn = score_fn or (lambda y, t: jnp.zeros((), y.dtype))
    shard = _batch_constraint(mesh)

    @eqx.filter_jit
    def step(model, opt_state, x, t):
        x, t = shard(x), shard(t)
        grad_fn = eqx.filter_value_and_grad(batch_loss_and_score, has_aux=True)
        (loss, score), grads = grad_fn(model, x, t, loss_fn, score_fn)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
        model = eqx.apply_updates(model, updates)
        return model, opt_state, loss, score

    return step


def epoch_batches(key: PRNGKeyArray, n: int, batch_size: int) -> Array:
    """Indices of one epoch's shuffled minibatches, shape ``(n // b, b)`` with ``b = min(batch_size, n)``.

    A permutation of ``range(n)`` drawn from ``key``; the last ``n mod b`` indices of the
    permutation (a partial batch) are dropped, so each epoch's examples differ.
    """
    b = min(batch_size, n)
    perm = jax.random.permutation(key, n)
    nb = n // b
    return perm[: nb * b].reshape(nb, b)


def make_train_epoch(
    loss_fn: SampleFn,
    optimizer: optax.GradientTransformation,
    batch_size: int,
    score_fn: SampleFn | None = None,
    *,
    mesh: Mesh | None = None,
) -> Callable[..., tuple[Any, Any, Array, Array]]:
    """A whole epoch as one jit-compiled ``lax.scan`` over shuffled minibatches.

    ``epoch(model, opt_state, key, x, t) -> (model, opt_state, losses, scores)``: the
    minibatch order is ``epoch_batches(key, len(x), batch_size)``; each scan step gathers
    its minibatch from ``x`` and ``t`` (kept whole on the device) and applies the same
    update as :func:`make_train_step`.  ``losses`` and ``scores`` hold one value per step.
    With ``mesh``, each minibatch is split over its devices (see :func:`make_train_step`).
    """
    score_fn = score_fn or (lambda y, t: jnp.zeros((), y.dtype))
    shard = _batch_constraint(mesh)

    @eqx.filter_jit
    def epoch(model, opt_state, key, x, t):
        idx = epoch_batches(key, x.shape[0], batch_size)
        params, static = eqx.partition(model, eqx.is_array)

        def body(carry, batch_idx):
            params, opt_state = carry
            model = eqx.combine(params, static)
            grad_fn = eqx.filter_value_and_grad(batch_loss_and_score, has_aux=True)
            (loss, score), grads = grad_fn(model, shard(x[batch_idx]), shard(t[batch_idx]), loss_fn, score_fn)
            updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
            model = eqx.apply_updates(model, updates)
            return (eqx.filter(model, eqx.is_array), opt_state), (loss, score)

        (params, opt_state), (losses, scores) = jax.lax.scan(body, (params, opt_state), idx)
        return eqx.combine(params, static), opt_state, losses, scores

    return epoch


def make_evaluate(
    loss_fn: SampleFn, score_fn: SampleFn, chunk_size: int = 10_000
) -> Callable[..., tuple[Array, Array]]:
    """Jit-compiled evaluation: ``evaluate(model, x, t) -> (mean loss, mean score)``.

    The data are processed in chunks of ``chunk_size`` samples (``lax.map``) to bound memory.
    """

    @eqx.filter_jit
    def evaluate(model, x: Float[ArrayLike, "n ..."], t: ArrayLike):
        def one(xt):
            xi, ti = xt
            y = model(xi)
            return loss_fn(y, ti), score_fn(y, ti)

        n = jnp.shape(x)[0]
        losses, scores = jax.lax.map(one, (x, t), batch_size=min(chunk_size, n))
        return jnp.mean(losses), jnp.mean(scores)

    return evaluate
