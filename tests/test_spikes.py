"""Spike trains, rasters and filtering against independent numpy/scipy references (notes ch. 1.6)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

import jaxneuro as jn
from jaxneuro import SpikeTrain, filter_spikes

# run-time checks (eqx.error_if) raise JaxRuntimeError under jit, EquinoxRuntimeError eagerly
RUNTIME_ERRORS = (jax.errors.JaxRuntimeError, eqx.EquinoxRuntimeError)


def gamma_sum(ts, spikes, tau, n):
    """s(t) = sum_p h(t - t_p) with h the gamma density (numpy/scipy reference)."""
    ts = np.asarray(ts, float)[:, None]
    d = ts - np.asarray(spikes, float)[None, :]
    h = np.where(d >= 0, stats.gamma.pdf(np.maximum(d, 0), a=n + 1, scale=tau), 0.0)
    if n == 0:
        h = np.where(d == 0, 1 / tau, h)
    return h.sum(axis=1)


# ------------------------------------------------------------------ construction
def test_from_times_pads_and_counts():
    tr = SpikeTrain.from_times([0.1, 0.2, 0.35], capacity=5)
    assert tr.capacity == 5 and int(tr.count) == 3
    np.testing.assert_array_equal(np.asarray(tr.times), np.float32([0.1, 0.2, 0.35, np.inf, np.inf]))
    np.testing.assert_array_equal(np.asarray(tr.mask), [True, True, True, False, False])
    assert not bool(tr.overflow)
    batch = SpikeTrain.from_times([[0.1, np.inf], [0.2, 0.3]])
    np.testing.assert_array_equal(np.asarray(batch.count), [1, 2])


def test_overflow_errors_or_flags_never_truncates_silently():
    with pytest.raises(ValueError, match=r"overflowed \(count > capacity = 2\)"):
        SpikeTrain.from_times([0.1, 0.2, 0.3], capacity=2)
    tr = SpikeTrain.from_times([0.1, 0.2, 0.3], capacity=2, on_overflow="flag")
    assert bool(tr.overflow) and int(tr.count) == 3
    np.testing.assert_array_equal(np.asarray(tr.times), np.float32([0.1, 0.2]))
    # consumers refuse the partial train
    with pytest.raises(ValueError, match="overflowed"):
        tr.to_raster(0.0, 0.1, 5)
    with pytest.raises(ValueError, match="overflowed"):
        filter_spikes(tr, 0.01, ts=jnp.linspace(0, 1, 5))
    # traced: a run-time error
    f = jax.jit(lambda t: filter_spikes(SpikeTrain(t, jnp.array(3)), 0.01, ts=jnp.linspace(0, 1, 5)))
    with pytest.raises(RUNTIME_ERRORS, match="overflowed"):
        jax.block_until_ready(f(jnp.array([0.1, 0.2])))


@pytest.mark.parametrize(
    "times, match",
    [
        ([0.1, np.nan], "must not be NaN"),
        ([0.3, 0.2], "must be sorted"),
        ([-np.inf, 0.2], "must not contain -inf"),
        ([0.1, np.inf, 0.3], "must be sorted"),
    ],
)
def test_from_times_rejects_bad_times(times, match):
    with pytest.raises(ValueError, match=match):
        SpikeTrain.from_times(times)


# capacity=2.5 is not an int on purpose (checks off, so the library's ValueError is tested)
@pytest.mark.parametrize("cap", [0, -1, pytest.param(2.5, marks=pytest.mark.jaxtyping_off), True])
def test_capacity_must_be_positive_int(cap):
    with pytest.raises(ValueError, match=r"capacity must be an int in \[1, inf\), got capacity = "):
        SpikeTrain.from_times([0.1], capacity=cap)


def test_construction_checks_structure_and_values():
    with pytest.raises(ValueError, match="must be sorted"):
        SpikeTrain(jnp.array([0.2, 0.1]), jnp.array(2)).validate()
    with pytest.raises(ValueError, match="must not be NaN"):
        SpikeTrain(jnp.array([0.2, jnp.nan]), jnp.array(2)).validate()
    with pytest.raises(ValueError, match="must be finite"):
        SpikeTrain(jnp.array([0.2, jnp.inf]), jnp.array(2)).validate()
    f = jax.jit(lambda t: SpikeTrain(t, jnp.array(2)).validate().times)
    with pytest.raises(RUNTIME_ERRORS, match="non-NaN and sorted"):
        jax.block_until_ready(f(jnp.array([0.3, 0.1])))


# a count of shape (3,) for times of batch shape (2,), on_overflow="drop" (outside its Literal)
# and scalar times (annotated "*batch k"), on purpose
@pytest.mark.jaxtyping_off
def test_construction_checks_wrong_shapes_and_on_overflow():
    with pytest.raises(ValueError, match="scalar"):
        SpikeTrain.from_times(0.1)
    with pytest.raises(ValueError, match="on_overflow must be"):
        SpikeTrain.from_times([0.1], on_overflow="drop")
    with pytest.raises(ValueError, match=r"times must have shape \(\*batch, capacity\)"):
        SpikeTrain(jnp.zeros((2, 3)), jnp.zeros((3,), jnp.int32))


# ------------------------------------------------------------------ rasters
def test_to_raster_matches_numpy_histogram():
    rng = np.random.default_rng(0)
    times = np.sort(rng.uniform(0, 1, 40))
    tr = SpikeTrain.from_times(times, capacity=64)
    t0, dt, nb = 0.0, 0.01, 100
    # reference: bin k = floor((t - t0)/dt), the same half-open bins as np.histogram (interior edges)
    ref = np.bincount(np.floor((times - t0) / dt).astype(int), minlength=nb)[:nb]
    r = tr.to_raster(t0, dt, nb)
    assert r.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(r), ref)
    edges = t0 + dt * np.arange(nb + 1)
    hist, _ = np.histogram(times, edges)
    assert np.abs(np.asarray(r) - hist).sum() <= 2  # only exact edge ties may differ
    # Dirac form: heights 1/dt, integral = number of spikes in the window
    a = tr.to_raster(t0, dt, nb, dirac=True)
    np.testing.assert_allclose(np.asarray(a), ref / dt)
    assert float(a.sum() * dt) == pytest.approx(40)


def test_to_raster_window_and_batch():
    tr = SpikeTrain.from_times([[0.05, 0.15, 0.95, np.inf], [0.0, 0.0, 0.5, 0.55]])
    r = np.asarray(tr.to_raster(0.1, 0.1, 5))  # window [0.1, 0.6)
    np.testing.assert_array_equal(r, [[1, 0, 0, 0, 0], [0, 0, 0, 0, 2]])


def test_raster_round_trips():
    rng = np.random.default_rng(1)
    counts = rng.poisson(0.3, size=(3, 50))
    tr = SpikeTrain.from_raster(counts, 0.2, 0.005, capacity=60)
    np.testing.assert_array_equal(np.asarray(tr.count), counts.sum(1))
    np.testing.assert_array_equal(np.asarray(tr.to_raster(0.2, 0.005, 50)), counts)
    # spikes at bin starts; position moves them inside the bin
    first = int(np.nonzero(counts[0])[0][0])
    assert float(tr.times[0, 0]) == pytest.approx(0.2 + first * 0.005)
    mid = SpikeTrain.from_raster(counts, 0.2, 0.005, capacity=60, position=0.5)
    assert float(mid.times[0, 0]) == pytest.approx(0.2 + (first + 0.5) * 0.005)
    # spike times on the grid survive to_raster -> from_raster
    times = 0.2 + 0.005 * np.array([3, 3, 10, 40])
    back = SpikeTrain.from_raster(SpikeTrain.from_times(times).to_raster(0.2, 0.005, 50), 0.2, 0.005, capacity=4)
    np.testing.assert_allclose(np.asarray(back.times), times, rtol=1e-6)


def test_from_raster_overflow_and_validation():
    with pytest.raises(ValueError, match="overflowed"):
        SpikeTrain.from_raster([3, 2], 0.0, 0.1, capacity=4)
    tr = SpikeTrain.from_raster([3, 2], 0.0, 0.1, capacity=4, on_overflow="flag")
    assert int(tr.count) == 5 and bool(tr.overflow)
    with pytest.raises(ValueError, match="non-negative integer spike counts"):
        SpikeTrain.from_raster([1, -1], 0.0, 0.1, capacity=4)
    with pytest.raises(ValueError, match="non-negative integer spike counts"):
        SpikeTrain.from_raster([0.5, 1], 0.0, 0.1, capacity=4)
    with pytest.raises(ValueError, match=r"dt must be finite and in \(0, inf\)"):
        SpikeTrain.from_raster([1, 1], 0.0, 0.0, capacity=4)
    with pytest.raises(ValueError, match=r"position must be in \[0, 1\)"):
        SpikeTrain.from_raster([1, 1], 0.0, 0.1, capacity=4, position=1.0)
    with pytest.raises(ValueError, match=r"capacity must be an int in \[1, inf\), got capacity = "):
        SpikeTrain.from_raster([1, 1], 0.0, 0.1, capacity=0)
    with pytest.raises(ValueError, match=r"n_bins must be an int in \[1, inf\), got n_bins = 0"):
        SpikeTrain.from_times([0.1]).to_raster(0.0, 0.1, 0)
    with pytest.raises(ValueError, match="t0 must be finite"):
        SpikeTrain.from_times([0.1]).to_raster(np.nan, 0.1, 3)


# ------------------------------------------------------------------ filtering
@pytest.mark.parametrize("n", [0, 1, 2, 4])
def test_exact_filter_matches_sum_of_kernels(x64, n):
    spikes = np.array([0.013, 0.021, 0.0405, 0.07])
    ts = np.linspace(0, 0.12, 241)
    tr = SpikeTrain.from_times(np.concatenate([spikes, [np.inf]]))
    s = filter_spikes(tr, 0.01, n, ts=ts)
    np.testing.assert_allclose(np.asarray(s), gamma_sum(ts, spikes, 0.01, n), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("n", [0, 1, 3])
def test_grid_convolution_equals_exact_for_spikes_on_the_grid(x64, n):
    dt, T = 1e-3, 400
    k = np.array([5, 5, 37, 120, 121, 300])
    tr = SpikeTrain.from_times(k * dt)
    raster = tr.to_raster(0.0, dt, T)
    grid = np.arange(T) * dt
    exact = np.asarray(filter_spikes(tr, 0.02, n, ts=grid))
    conv = np.asarray(filter_spikes(raster, 0.02, n, dt=dt))
    casc = np.asarray(filter_spikes(raster, 0.02, n, dt=dt, method="cascade"))
    ref = gamma_sum(grid, k * dt, 0.02, n)
    np.testing.assert_allclose(exact, ref, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(conv, ref, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(casc, ref, rtol=1e-10, atol=1e-9)


@pytest.mark.slow  # a discretisation-error study down to dt = 0.25 ms (grid = exact on the grid stays, above)
@pytest.mark.parametrize("n", [1, 2])
def test_grid_and_exact_agree_to_discretisation_error(x64, n):
    """Off-grid spikes move to their bin start (by less than dt): for a continuous kernel the
    pointwise error is at most (spikes) x max|h'| x dt."""
    rng = np.random.default_rng(3)
    spikes = np.sort(rng.uniform(0, 0.3, 12))
    tau = 0.02
    for dt in (1e-3, 2.5e-4):
        T = int(0.4 / dt)
        grid = np.arange(T) * dt
        tr = SpikeTrain.from_times(spikes)
        exact = np.asarray(filter_spikes(tr, tau, n, ts=grid))
        conv = np.asarray(filter_spikes(tr.to_raster(0.0, dt, T), tau, n, dt=dt))
        t = np.linspace(0, 20 * tau, 20001)
        hmax = np.abs(np.gradient(stats.gamma.pdf(t, a=n + 1, scale=tau), t)).max()
        err = np.abs(exact - conv).max()
        assert err <= len(spikes) * hmax * dt
        assert err > 0  # the spikes really were off the grid


def test_n0_filter_is_the_ode_with_jumps(x64):
    """n = 0: tau_s ds/dt = -s with s += 1/tau_s at each spike; independent check with scipy's
    ODE solver between spikes."""
    tau, dt, T = 0.01, 1e-3, 200
    k = np.array([10, 11, 50, 51, 52, 150])
    raster = np.bincount(k, minlength=T)
    ode = np.asarray(filter_spikes(raster, tau, 0, dt=dt, method="cascade"))
    s, t_prev, out = 0.0, 0.0, []
    for i in range(T):
        t = i * dt
        if t > t_prev:
            s = integrate.solve_ivp(lambda _, y: -y / tau, (t_prev, t), [s], rtol=1e-11, atol=1e-13).y[0, -1]
        s += raster[i] / tau
        out.append(s)
        t_prev = t
    np.testing.assert_allclose(ode, out, rtol=1e-8)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_cascade_of_first_order_filters(x64, n):
    """n > 0: n + 1 first-order filters in series; scipy integrates the chain between spikes."""
    tau, dt, T = 0.01, 1e-3, 150
    k = np.array([3, 40, 41, 90])
    raster = np.bincount(k, minlength=T)
    casc = np.asarray(filter_spikes(raster, tau, n, dt=dt, method="cascade"))
    A = (-np.eye(n + 1) + np.eye(n + 1, k=-1)) / tau
    x, t_prev, out = np.zeros(n + 1), 0.0, []
    for i in range(T):
        t = i * dt
        if t > t_prev:
            x = integrate.solve_ivp(lambda _, y: A @ y, (t_prev, t), x, rtol=1e-11, atol=1e-12).y[:, -1]
        x[0] += raster[i] / tau
        out.append(x[n])
        t_prev = t
    np.testing.assert_allclose(casc, out, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(casc, gamma_sum(np.arange(T) * dt, k * dt, tau, n), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("n", [0, 2])
def test_charge_of_one_spike_is_its_weight(x64, n):
    w = 0.0037
    ts = 0.1 + np.linspace(0.0, 1.0, 200001)  # from the spike on (s = 0 before it)
    s = w * np.asarray(filter_spikes(SpikeTrain.from_times([0.1]), 0.01, n, ts=ts))
    assert integrate.simpson(s, x=ts) == pytest.approx(w, rel=1e-8)
    raster = np.zeros(10000)
    raster[100] = 1
    s_grid = w * np.asarray(filter_spikes(raster, 0.01, n, dt=1e-4))
    # the rectangle rule from the spike on: error of order dt / tau_s
    assert s_grid.sum() * 1e-4 == pytest.approx(w, rel=0.006)


def test_differentiable_in_tau_and_spike_times(x64):
    ts = jnp.linspace(0.0, 0.2, 81)

    @jax.jit
    def loss(times, tau):
        return jnp.sum(filter_spikes(SpikeTrain(times, jnp.array(3)), tau, 1, ts=ts) ** 2)

    times = jnp.array([0.0211, 0.0507, 0.1133])  # off the ts grid (h is not smooth at 0)
    g_t, g_tau = jax.grad(loss, argnums=(0, 1))(times, 0.01)
    eps = 1e-7
    fd_t = [(loss(times.at[i].add(eps), 0.01) - loss(times.at[i].add(-eps), 0.01)) / (2 * eps) for i in range(3)]
    fd_tau = (loss(times, 0.01 + eps) - loss(times, 0.01 - eps)) / (2 * eps)
    np.testing.assert_allclose(np.asarray(g_t), fd_t, rtol=1e-5)
    assert float(g_tau) == pytest.approx(float(fd_tau), rel=1e-5)
    # the grid forms are differentiable in tau_s too
    raster = jnp.zeros(100).at[jnp.array([5, 30])].set(1.0)
    for method in ("convolve", "cascade"):
        f = jax.jit(lambda tau, m=method: jnp.sum(filter_spikes(raster, tau, 2, dt=1e-3, method=m)))
        g = jax.grad(f)(0.01)
        fd = (f(0.01 + eps) - f(0.01 - eps)) / (2 * eps)
        assert float(g) == pytest.approx(float(fd), rel=1e-5)


def test_filter_jit_vmap_no_retrace():
    traces = []

    @jax.jit
    def f(times, tau):
        traces.append(1)
        return filter_spikes(SpikeTrain(times, jnp.sum(jnp.isfinite(times))), tau, 0, ts=jnp.linspace(0, 0.1, 11))

    a = f(jnp.array([0.01, 0.02, jnp.inf]), 0.01)
    b = f(jnp.array([0.03, 0.05, 0.07]), 0.02)
    assert len(traces) == 1
    np.testing.assert_allclose(
        np.asarray(b), gamma_sum(np.linspace(0, 0.1, 11), [0.03, 0.05, 0.07], 0.02, 0), rtol=1e-5
    )
    assert a.shape == (11,)
    rasters = jnp.asarray(np.random.default_rng(0).poisson(0.1, (4, 200)))
    out = jax.vmap(lambda r: filter_spikes(r, 0.01, 1, dt=1e-3))(rasters)
    np.testing.assert_allclose(
        np.asarray(out), np.asarray(filter_spikes(rasters, 0.01, 1, dt=1e-3)), rtol=1e-5, atol=1e-4
    )


# method="fft" (outside its Literal), ts of shape (2, 2) (annotated " times"), a 0-d raster
# (annotated "*batch bins") and tau_s of shape (2,) (annotated ""), on purpose
@pytest.mark.jaxtyping_off
def test_filter_validation():
    tr = SpikeTrain.from_times([0.1])
    ts = jnp.linspace(0, 1, 5)
    r = jnp.zeros(10)
    with pytest.raises(ValueError, match="method must be"):
        filter_spikes(tr, 0.01, ts=ts, method="fft")
    with pytest.raises(ValueError, match="needs a raster of counts"):
        filter_spikes(tr, 0.01, ts=ts, method="cascade")
    with pytest.raises(ValueError, match="ts .* is required"):
        filter_spikes(tr, 0.01)
    with pytest.raises(ValueError, match="dt is for rasters"):
        filter_spikes(tr, 0.01, ts=ts, dt=0.1)
    with pytest.raises(ValueError, match="ts must be 1-D"):
        filter_spikes(tr, 0.01, ts=jnp.zeros((2, 2)))
    with pytest.raises(ValueError, match="needs a SpikeTrain"):
        filter_spikes(r, 0.01, dt=0.1, method="exact")
    with pytest.raises(ValueError, match="dt .* is required"):
        filter_spikes(r, 0.01)
    with pytest.raises(ValueError, match="ts is for SpikeTrains"):
        filter_spikes(r, 0.01, dt=0.1, ts=ts)
    with pytest.raises(ValueError, match=r"dt must be finite and in \(0, inf\)"):
        filter_spikes(r, 0.01, dt=-0.1)
    with pytest.raises(ValueError, match=r"tau_s must be finite and in \(0, inf\)"):
        filter_spikes(r, 0.0, dt=0.1)
    with pytest.raises(ValueError, match="tau_s must be a scalar"):
        filter_spikes(r, jnp.array([0.01, 0.02]), dt=0.1)
    with pytest.raises(ValueError, match=r"n must be an int in \[0, inf\) \(the PSC kernel order\), got n = -1"):
        filter_spikes(r, 0.01, -1, dt=0.1)
    with pytest.raises(ValueError, match="raster must have shape"):
        filter_spikes(jnp.float32(1.0), 0.01, dt=0.1)
    with pytest.raises(ValueError, match="must not be NaN"):
        filter_spikes(SpikeTrain(jnp.array([jnp.nan]), jnp.array(1)), 0.01, ts=ts)
    with pytest.raises(ValueError, match="must be sorted"):
        filter_spikes(SpikeTrain(jnp.array([0.5, 0.1]), jnp.array(2)), 0.01, ts=ts)


def test_kernel_constant_reuse():
    # filter_spikes uses the PSC kernel of jaxneuro.psc_kernel (one definition)
    tr = SpikeTrain.from_times([0.0])
    ts = jnp.linspace(0, 0.1, 7)
    np.testing.assert_allclose(np.asarray(filter_spikes(tr, 0.02, 3, ts=ts)), np.asarray(jn.psc_kernel(ts, 0.02, 3)))


def test_validate_a_concrete_train_closed_over_inside_jit():
    # a concrete train captured by a jitted function: checked with numpy at trace time (the mask
    # was built with jnp, a tracer inside jit, and np.asarray of it raised TracerArrayConversionError)
    train = jn.SpikeTrain.from_times(jnp.array([[0.1, 0.2, jnp.inf], [0.3, jnp.inf, jnp.inf]]))
    assert jax.jit(lambda: train.validate().count)().tolist() == [2, 1]
    bad = jn.SpikeTrain(jnp.array([[0.2, 0.1]]), jnp.array([2]))
    with pytest.raises(ValueError, match="must be sorted"):
        jax.jit(lambda: bad.validate().count)()
