"""Shared pytest configuration: float32 by default (as users get), x64 opt-in per test."""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true")
os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402
import pytest  # noqa: E402
from jaxtyping import install_import_hook  # noqa: E402

# Run-time checks of the jaxtyping annotations (dtypes and shapes, through beartype, as
# equinox's tests do) for the neuron models: every annotated function, method and dataclass of
# jaxneuro._neurons is checked in every test, so an annotation that the code does not honour
# fails.  Installed here, before any test imports jaxneuro.  The rest of the package is left
# out: its validation tests call the public functions with values of the wrong type on purpose
# (to check the ValueError that names the parameter), which the hook would intercept first.
install_import_hook("jaxneuro._neurons", "beartype.beartype")


@pytest.fixture
def x64():
    """Run a test with float64 enabled, restoring the previous setting afterwards."""
    old = jax.config.read("jax_enable_x64")
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", old)
