"""XLA's CPU compiler: loops compiled into one kernel each.

Since JAX 0.4.32 the CPU backend runs a program as a sequence of kernels ("thunks"), one
per fused operation, and a loop body (``lax.scan``, ``lax.fori_loop``, ``lax.while_loop``)
as a sequence of them per iteration.  Each kernel launch costs about 0.1 us; a time step
of a simulation is a few dozen kernels on arrays of a few thousand numbers, so the
launches, not the arithmetic, set its speed.  XLA compiles a *small* while loop (one whose
body, by XLA's cost analysis, touches fewer bytes than a threshold) into a single kernel
instead, with no launches inside it; the threshold is a backend option,
``xla_cpu_small_while_loop_byte_threshold``, small by default.  Raising it makes XLA
compile every loop that has no custom call or scatter in it (which such a kernel cannot
hold) as one kernel.  Measured here (2 cores, JAX 0.10.2, 1 s of simulated time): a
1,000-neuron ``simulate_network`` 2x faster (4,000 neurons: 1.2x), the stepped LIF sweep over
10,000 inputs 2x faster, the diffrax sweeps 1.1-1.3x faster, MNIST training unchanged (its
matrix products are library calls either way), but the stepped Hodgkin-Huxley sweep over 1,000
currents 1.2x *slower* (XLA's code for a long elementwise step is better without it).  So it is
a choice per program, not a default: jaxneuro's command line and training do not set it.

The option is read once per process, when JAX first compiles: call
:func:`enable_cpu_loop_kernels` before any JAX computation, or start Python with
``XLA_FLAGS`` set to what :func:`cpu_loop_kernel_flags` returns.  Importing ``jaxneuro`` does
not change XLA's options.
"""

from __future__ import annotations

import os
import re

import jax
import jax.numpy as jnp
from jax import lax

LOOP_KERNEL_OPTION = "xla_cpu_small_while_loop_byte_threshold"
"""The XLA CPU backend option (a byte count) below which a while loop is one kernel."""

LOOP_KERNEL_THRESHOLD = 1 << 62
"""The value :func:`enable_cpu_loop_kernels` sets: every loop qualifies by size."""

_EXTRA = "--xla_backend_extra_options="


def cpu_loop_kernel_flags(xla_flags: str = "") -> str:
    """``xla_flags`` (an ``XLA_FLAGS`` string) with ``LOOP_KERNEL_OPTION`` set to
    ``LOOP_KERNEL_THRESHOLD``: added to an existing ``--xla_backend_extra_options`` list, or
    appended as one.  A value already given for the option is kept (it is the caller's).

    For example, ``cpu_loop_kernel_flags("--xla_cpu_multi_thread_eigen=true")`` returns
    ``"--xla_cpu_multi_thread_eigen=true --xla_backend_extra_options=" + LOOP_KERNEL_OPTION +
    "=" + str(LOOP_KERNEL_THRESHOLD)``.
    """
    if LOOP_KERNEL_OPTION in xla_flags:
        return xla_flags
    option = f"{LOOP_KERNEL_OPTION}={LOOP_KERNEL_THRESHOLD}"
    match = re.search(r"--xla_backend_extra_options=(\S*)", xla_flags)
    if match:
        joined = f"{match.group(1)},{option}" if match.group(1) else option
        return xla_flags[: match.start()] + _EXTRA + joined + xla_flags[match.end() :]
    return f"{xla_flags} {_EXTRA}{option}".strip()


def _probe(x):
    # a loop whose body touches ~400 kB: above XLA's default threshold, below ours
    return lax.fori_loop(0, 3, lambda i, x: x * 0.5 + 1.0, x)


def cpu_loop_kernels_enabled() -> bool:
    """Whether XLA's CPU compiler in this process compiles loops as single kernels (it
    compiles a probe loop on the CPU and looks for the marker XLA puts on such a loop).
    The first call fixes XLA's options for the process if nothing was compiled before."""
    cpu = jax.devices("cpu")[0]
    with jax.default_device(cpu):
        text = jax.jit(_probe).lower(jnp.zeros(100_000, jnp.float32)).compile().as_text()
    return "xla_cpu_small_call" in (text or "")


def enable_cpu_loop_kernels(*, strict: bool = True) -> bool:
    """Let XLA compile each loop of this process's CPU programs into one kernel (module
    docstring): sets ``XLA_FLAGS`` (see :func:`cpu_loop_kernel_flags`) and checks that it
    took effect.  Call it first thing, before any JAX computation; calling it again is
    harmless.  Results do not change, only how XLA emits the code (the tests run
    ``simulate_network`` both ways and compare spike times).  On failure ``XLA_FLAGS`` is
    restored.

    Args:
        strict: raise if the option did not take effect (else return False).

    Returns:
        True when loops are compiled as single kernels from now on.

    Raises:
        RuntimeError: if the option did not take effect: JAX had already compiled in this
            process (XLA reads its options once), or ``XLA_FLAGS`` sets the option to a
            small value.
    """
    before = os.environ.get("XLA_FLAGS")
    os.environ["XLA_FLAGS"] = cpu_loop_kernel_flags(before or "")
    if not cpu_loop_kernels_enabled():
        if before is None:  # leave the environment as it was (child processes inherit it)
            del os.environ["XLA_FLAGS"]
        else:
            os.environ["XLA_FLAGS"] = before
        if not strict:
            return False
        raise RuntimeError(
            "enable_cpu_loop_kernels: XLA did not take the option: JAX had already compiled in this "
            "process (XLA reads XLA_FLAGS once), or XLA_FLAGS sets "
            f"{LOOP_KERNEL_OPTION} to a small value. Call it before any JAX computation, or start Python "
            f"with XLA_FLAGS='{cpu_loop_kernel_flags()}'."
        )
    return True


__all__ = [
    "LOOP_KERNEL_OPTION",
    "LOOP_KERNEL_THRESHOLD",
    "cpu_loop_kernel_flags",
    "cpu_loop_kernels_enabled",
    "enable_cpu_loop_kernels",
]
