"""Shared pytest configuration: float32 by default (as users get), x64 opt-in per test."""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true")
os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402
import jaxtyping  # noqa: E402
import pytest  # noqa: E402

# Run-time checks of the jaxtyping annotations (dtypes and shapes, through beartype, as
# equinox's tests do) for the neuron models: the import hook wraps every annotated function,
# method and dataclass of jaxneuro._neurons (installed here, before any test imports jaxneuro),
# and the checks run in the test modules below, which exercise every neuron model, so an
# annotation that the code does not honour fails there.  Elsewhere they are switched off: on
# these modules they double the run time (checks on every eager call; see the commit), and the
# rest of the package is left out because its validation tests pass values of the wrong type on
# purpose (to check the ValueError that names the parameter), which the hook would intercept.
jaxtyping.install_import_hook("jaxneuro._neurons", "beartype.beartype")
CHECKED_MODULES = {"test_neuron_models.py", "test_hh.py", "test_lif.py", "test_soft_lif.py"}


@pytest.fixture(autouse=True)
def _jaxtyping_checks(request):
    """The hook's checks on in ``CHECKED_MODULES``, off elsewhere."""
    jaxtyping.config.update("jaxtyping_disable", request.path.name not in CHECKED_MODULES)
    yield


@pytest.fixture
def x64():
    """Run a test with float64 enabled, restoring the previous setting afterwards."""
    old = jax.config.read("jax_enable_x64")
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", old)
