"""Derivatives of a simulation by forward sensitivities, in both modes of differentiation.

A simulation has few parameters (a neuron's constants, a drive's, the initial state) and a long
time loop.  Reverse mode through the loop stores its state at every step and runs it backwards:
10-50x the forward run and memory that grows with the number of steps.  Forward mode carries,
next to the state, its derivative along one direction of the parameters (the classical
sensitivity equations of neuron-model fitting): no storage, about the cost of a second run.

``forward_sensitivities(fn, args)`` returns ``fn(*args)`` wrapped in a ``jax.custom_jvp`` whose
rule computes the Jacobian ``J`` of the output with respect to the perturbed arguments by
forward mode, one direction per scalar parameter (``vmap`` over the directions), and returns
the tangent ``J t``.  That tangent is linear in ``t`` and ``J`` is a residual, so JAX's reverse
mode (linearise, then transpose) transposes the small product ``J t``, not the time loop:
``jax.grad`` costs the forward run plus one forward-mode run per perturbed scalar, and stores
nothing per step.  ``jax.jvp`` costs the same as differentiating the loop directly.

Two ways of counting directions:

* general: one per scalar element of the perturbed arguments.  When the traced arguments hold
  more than ``max_directions`` scalars (a time-varying drive given by thousands of values, say)
  there is no wrapper: JAX differentiates the loop itself (reverse mode transposes the loop);
* ``batch_ndim`` given (an elementwise batch, as ``tuning_curve``: output ``b`` depends on the
  arguments only at ``b``'s index, each argument broadcasting against the batch shape): one
  direction per perturbed argument, the tangent being ones, which gives every element's own
  derivative at once.

Arguments that are not traced (concrete arrays, Python numbers) are closed over unchanged: they
cannot carry a derivative, and the solvers keep reading them as concrete values (a readout
schedule, a step-count check).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from .._misc import StaticArray, is_concrete
from ._base import CoarseStepWarning

MAX_DIRECTIONS = 16
"""Forward-mode directions (perturbed scalars) above which the loop is differentiated directly."""


def forward_sensitivities(
    fn: Callable[..., Any],
    args: Sequence[Any],
    *,
    direct_fn: Callable[..., Any] | None = None,
    batch_ndim: int | None = None,
    max_directions: int = MAX_DIRECTIONS,
    count_perturbed: bool = False,
) -> Any:
    """``fn(*args)``, differentiated by forward sensitivities (module docstring).

    Args:
        fn: the computation (a solver run), differentiable in forward mode; any PyTree of
            arrays out.
        args: its arguments (PyTrees).
        direct_fn: the same computation as JAX should differentiate it when there are too many
            directions (a diffrax solve with its reverse-mode adjoint); default ``fn``.
        batch_ndim: the number of leading output axes of an elementwise batch (see above), or
            ``None``.
        max_directions: the most traced scalars for which the wrapper is used (general
            counting).
        count_perturbed: count only the scalars being differentiated (inside the rule, where
            JAX says which arguments carry tangents), not every traced one: for a computation
            whose arguments are all traced under ``jit`` (a network's weights) while few are
            differentiated.  Above ``max_directions`` perturbed scalars the rule differentiates
            ``fn`` itself in forward mode (``jax.jvp``), so ``jax.jvp`` still works there and
            reverse mode fails as it would without the wrapper.
    """
    direct_fn = fn if direct_fn is None else direct_fn
    leaves, treedef = jax.tree.flatten(tuple(args))
    traced = [i for i, leaf in enumerate(leaves) if not is_concrete(leaf)]

    def rebuild(values):
        merged = list(leaves)
        for i, v in zip(traced, values, strict=True):
            merged[i] = v
        return jax.tree.unflatten(treedef, merged)

    # Values a Python callable closes over (a drive ``lambda t: a * sin(t)`` with ``a``
    # traced) become explicit arguments too, each of their elements its own direction.
    converted, consts = jax.closure_convert(lambda *values: fn(*rebuild(values)), *[leaves[i] for i in traced])
    values = [leaves[i] for i in traced] + list(consts)
    if not values:
        return fn(*args)
    elementwise = [batch_ndim is not None and k < len(traced) for k in range(len(values))]
    bound = sum(1 if e else int(np.size(v)) for e, v in zip(elementwise, values, strict=True) if _inexact(v))
    if bound > max_directions and not all(elementwise) and not count_perturbed:
        return direct_fn(*args)

    @jax.custom_jvp
    def call(*values):
        return converted(*values)

    @functools.partial(call.defjvp, symbolic_zeros=True)
    def rule(values, tangents):
        values = list(values)
        # Integer arguments carry float0 tangents: never perturbed.
        perturbed = [k for k, t in enumerate(tangents) if not isinstance(t, SymbolicZero) and _inexact(values[k])]
        if not perturbed:
            out = converted(*values)
            return out, jax.tree.map(_zero_tangent, out)

        def along(*pvalues):
            merged = list(values)
            for k, v in zip(perturbed, pvalues, strict=True):
                merged[k] = v
            return converted(*merged)

        pvalues = [values[k] for k in perturbed]
        ptangents = [jnp.asarray(tangents[k], jnp.result_type(values[k])) for k in perturbed]
        counts = [1 if elementwise[k] else int(np.size(values[k])) for k in perturbed]
        offsets = np.cumsum([0, *counts])
        n_dir = int(offsets[-1])
        if count_perturbed and n_dir > max_directions:
            return jax.jvp(along, pvalues, ptangents)
        basis = [
            jnp.broadcast_to(
                jnp.eye(n_dir, dtype=jnp.result_type(v))[:, offsets[j] : offsets[j + 1]].reshape(
                    (n_dir, *((1,) * np.ndim(v) if counts[j] == 1 and np.ndim(v) else np.shape(v)))
                ),
                (n_dir, *np.shape(v)),
            )
            for j, v in enumerate(pvalues)
        ]
        out, jac = jax.vmap(lambda *t: jax.jvp(along, pvalues, list(t)), out_axes=(None, 0))(*basis)

        def contract(o, jac):
            if not _inexact(o):
                return _zero_tangent(o)
            total = jnp.zeros_like(jac[0])
            for j, (k, t) in enumerate(zip(perturbed, ptangents, strict=True)):
                block = jac[offsets[j] : offsets[j + 1]]
                if elementwise[k]:
                    assert batch_ndim is not None  # elementwise only when batch_ndim is set
                    total = total + block[0] * _align(t, jnp.ndim(o), batch_ndim).astype(jac.dtype)
                else:
                    total = total + jnp.tensordot(t.reshape(-1).astype(jac.dtype), block, axes=1)
            return total

        return out, jax.tree.map(contract, out, jac)

    return call(*values)


def _inexact(x: Any) -> bool:
    return jnp.issubdtype(jnp.result_type(x), jnp.inexact)


def _align(t: jax.Array, out_ndim: int, batch_ndim: int) -> jax.Array:
    """``t`` (broadcasting against a batch of ``batch_ndim`` axes) aligned to an output of
    ``out_ndim`` axes that starts with the batch axes."""
    if t.ndim > batch_ndim:
        raise ValueError(f"an argument of shape {t.shape} does not broadcast against a batch of {batch_ndim} axes.")
    return t.reshape((1,) * (batch_ndim - t.ndim) + t.shape + (1,) * (out_ndim - batch_ndim))


def _zero_tangent(out: Any) -> Any:
    out = jnp.asarray(out)
    if jnp.issubdtype(out.dtype, jnp.inexact):
        return jnp.zeros_like(out)
    return np.zeros(out.shape, jax.dtypes.float0)


def run_solver(solver, neuron, drive, span, y0, recorder, ts) -> Any:
    """``solver.run(neuron, drive, span, y0, recorder, ts)`` with forward-sensitivity
    derivatives (``forward_sensitivities``, running ``solver.forward_mode()``), compiled once
    per structure.

    The run is one ``eqx.filter_jit`` function (``_run``) whose traced arguments are the
    arrays: the drive's values, the neuron's parameters, the initial state, ``t0`` and ``t1``,
    the recorder's times.  Its static part is the rest: the solver and its settings, the
    classes, shapes and dtypes, the interval as Python floats when it is concrete (it sets the
    number of steps), a drive's function, and ``ts`` when it is concrete (a stepped run saves
    on the step grid; ``StaticArray``).  So a second call with new values (a new drive, a new
    parameter value), un-jitted or under ``jax.grad``, compiles nothing; inside a caller's
    ``jit`` it is inlined.  The checks and settings that need concrete parameter values run
    before, in ``solver.prepare``; the run-time checks (``eqx.error_if``) stay in the run."""
    solver = solver.prepare(neuron, span, ts)
    if ts is not None and all(is_concrete(leaf) for leaf in jax.tree.leaves(ts)):
        ts = StaticArray(ts)
    args = (solver, neuron, drive, span, y0, recorder, ts)
    return forward_sensitivities(functools.partial(_run, True), args, direct_fn=functools.partial(_run, False))


@eqx.filter_jit
def _run(forward: bool, solver, neuron, drive, span, y0, recorder, ts):
    """The solver's run (``forward``: in its forward-mode form), traced once per structure;
    a concrete ``ts`` arrives as a ``StaticArray``."""
    if isinstance(ts, StaticArray):
        ts = ts.array
    if forward:
        solver = solver.forward_mode()
    # ``solver.prepare`` gave the step's warning with the concrete values, before this trace
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CoarseStepWarning)
        return solver.run(neuron, drive, span, y0, recorder, ts)
