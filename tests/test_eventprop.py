"""simulate_lif_events: exact event-driven LIF networks and their adjoint (EventProp) gradient.

References: the spike times of ``simulate_lif_network`` (the exact stepped simulator) and
central finite differences in float64.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuro as jn
from jaxneuro._network._eventprop import simulate_lif_events

N_IN, N_HID, N_OUT = 5, 20, 3
T = 0.05


def two_layer(seed=0, n_hid=N_HID, tau_ref=0.002):
    """A 5-n_hid-3 network: parameters (w_out, w_in, t_in, bias) and a builder."""
    rng = np.random.default_rng(seed)
    w_out = rng.normal(0.02, 0.01, (N_OUT, n_hid))
    w_in = np.zeros((n_hid + N_OUT, N_IN))
    w_in[:n_hid] = rng.normal(0.012, 0.006, (n_hid, N_IN))
    t_in = np.sort(rng.uniform(0.0, 0.02, (N_IN, 2)), axis=1)
    bias = np.concatenate([rng.uniform(0.0, 0.5, n_hid), np.zeros(N_OUT)])

    def build(w_out, bias, tr=tau_ref):
        lif = jn.LIF(tau_m=0.01, tau_ref=tr if tr > 0 else 0.002)
        hid = jn.LIFPopulation(n_hid, lif, tau_s=0.005, bias=bias[:n_hid], name="hid")
        out = jn.LIFPopulation(N_OUT, lif, tau_s=0.005, bias=bias[n_hid:], name="out")
        return jn.LIFNetwork([hid, out], {("out", "hid"): w_out})

    return [w_out, w_in, t_in, bias], build


def weighted_times(res, seed=7):
    """A loss of every spike time: ``sum_k c_k t_k`` with fixed coefficients."""
    t = res.spikes.times
    c = jnp.asarray(np.random.default_rng(seed).normal(size=t.shape), t.dtype)
    return jnp.sum(jnp.where(jnp.isfinite(t), c * t, 0.0))


def check_fd(run, loss, params, names, h_rel=1e-6, rtol=1e-6, n_dirs=2):
    """Directional derivatives of ``loss(run(params))`` against central differences (float64),
    checking that no spike appears or vanishes over the difference.  One compiled program
    (value, gradient and spike counts) serves every evaluation."""

    def f(p):
        res = run(p)
        return loss(res), res.spike_count

    vg = jax.jit(jax.value_and_grad(f, has_aux=True))
    (_, counts0), grads = vg(params)
    for i, name in enumerate(names):
        x = np.asarray(params[i], np.float64)
        h = h_rel * max(np.max(np.abs(x)), 1e-3)
        for trial in range(n_dirs):
            d = np.random.default_rng(100 + trial).normal(size=x.shape)
            vals = []
            for sign in (1, -1):
                pp = list(params)
                pp[i] = x + sign * h * d
                (val, counts), _ = vg(pp)
                np.testing.assert_array_equal(np.asarray(counts), np.asarray(counts0))
                vals.append(float(val))
            fd = (vals[0] - vals[1]) / (2 * h)
            terms = np.asarray(grads[i]) * d
            an = float(np.sum(terms))
            assert np.isfinite(an)
            # relative to the sum of the magnitudes of the terms (a direction along which the
            # terms cancel leaves a small derivative, and the roundoff of the difference,
            # ~1e-16 |loss| / h, relative to it)
            assert abs(an - fd) <= rtol * max(abs(fd), float(np.sum(np.abs(terms)))), (name, an, fd)
    return grads, counts0


@pytest.mark.slow  # two simulators compiled, dt 1e-6
def test_spike_times_equal_simulate_network(x64):
    params, build = two_layer(seed=0)
    w_out, w_in, t_in, bias = params
    net = build(w_out, bias)
    train = jn.SpikeTrain.from_times(t_in)
    res = simulate_lif_events(net, T, inputs=(train, w_in), max_spikes=400)
    # (dt = 1e-6: with dt = 1e-5 an input spike landing in the step of a crossing, before it,
    # moves simulate_network's crossing by up to a step, the approximation its docstring states)
    ref = jn.simulate_network(net, T, dt=1e-6, inputs=(train, w_in))
    assert int(res.n_spikes) > 60 and not bool(res.overflow)
    np.testing.assert_array_equal(np.asarray(res.spike_count), np.asarray(ref.spike_count))
    a = np.asarray(res.spikes.times)
    b = np.asarray(ref.spikes.times)[:, : a.shape[1]]
    np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
    np.testing.assert_allclose(a[np.isfinite(a)], b[np.isfinite(b)], rtol=0, atol=1e-12)
    # the ordered list of network spikes is the same spikes
    k = int(res.n_spikes)
    np.testing.assert_allclose(np.sort(np.asarray(res.times)[:k]), np.sort(a[np.isfinite(a)]), rtol=0, atol=0)
    assert np.all(np.diff(np.asarray(res.times)[:k]) >= 0)


@pytest.mark.slow  # three compilations
def test_weight_gradient_rows_stored_or_carried(x64, monkeypatch):
    # The adjoint adds each event's weight-row gradient into a carried (rows, N) gradient for
    # small networks (these tests) and stores the rows to add them up after the loop for large
    # ones (MNIST 784-350-10): the stored path against central differences, and both paths
    # equal, alone and under vmap (the batched loop rule).
    import jaxneuro._network._eventprop as ep

    params, build = two_layer(seed=0)
    rng = np.random.default_rng(4)
    batch = np.sort(rng.uniform(0.0, 0.02, (3, N_IN, 2)), axis=-1)

    def run(p):
        w_out, w_in, t_in, bias = p
        train = jn.SpikeTrain(jnp.asarray(t_in), jnp.full(N_IN, 2))
        return simulate_lif_events(build(w_out, bias), T, inputs=(train, w_in), max_spikes=400)

    def batched_grads():
        w_out, w_in, _, bias = params
        g = jax.vmap(jax.grad(lambda t: weighted_times(run([w_out, w_in, t, bias]))))(batch)
        return g, jax.grad(lambda p: weighted_times(run(p)))(params)

    assert ep.Sizes(N_HID + N_OUT, 10, 410, 400, T, None, N_HID + N_OUT + N_IN).rows_in_carry
    carried = batched_grads()
    monkeypatch.setattr(ep, "_ROWS_IN_CARRY_MAX", 0)
    ep._make_core.cache_clear()  # the cores are cached by their Sizes
    try:
        assert not ep.Sizes(N_HID + N_OUT, 10, 410, 400, T, None, N_HID + N_OUT + N_IN).rows_in_carry
        check_fd(run, weighted_times, params, ["w_out", "w_in", "t_in", "bias"])
        stored = batched_grads()
    finally:
        ep._make_core.cache_clear()
    for a, b in zip(jax.tree.leaves(carried), jax.tree.leaves(stored), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-14 * np.max(np.abs(b)))


@pytest.mark.parametrize("tau_ref", [0.002, 0.0])
def test_gradient_equals_finite_differences_two_layer(x64, tau_ref):
    params, build = two_layer(seed=0, tau_ref=tau_ref)
    if tau_ref == 0:
        params[0] = params[0] * 0.5  # without refractoriness the outputs would fire in bursts

    def run(p):
        w_out, w_in, t_in, bias = p
        train = jn.SpikeTrain(jnp.asarray(t_in), jnp.full(N_IN, 2))
        return simulate_lif_events(build(w_out, bias), T, inputs=(train, w_in), tau_ref=tau_ref, max_spikes=400)

    _, counts = check_fd(run, weighted_times, params, ["w_out", "w_in", "t_in", "bias"])
    assert np.all(np.asarray(counts)[N_HID:] >= 1)


def test_gradient_tau_ref_and_first_spike_readout(x64):
    params, build = two_layer(seed=1)
    w_out, w_in, t_in, bias = params
    train = jn.SpikeTrain.from_times(t_in)

    def run(p):
        w_out, tref = p
        return simulate_lif_events(build(w_out, bias), T, inputs=(train, w_in), tau_ref=tref, max_spikes=400)

    def loss(res):
        first = res.spikes.times[N_HID:, 0]  # time to first spike of each output
        return -jax.nn.log_softmax(-first / 0.005)[0]

    check_fd(run, loss, [w_out, jnp.full(N_HID + N_OUT, 0.002)], ["w_out", "tau_ref"], h_rel=1e-5)


@pytest.mark.slow  # four compilations
def test_stop_when_fired_keeps_first_spikes_and_gradient(x64):
    params, build = two_layer(seed=0)
    w_out, w_in, t_in, bias = params
    train = jn.SpikeTrain.from_times(t_in)

    def first(w_out, stop):
        res = simulate_lif_events(build(w_out, bias), T, inputs=(train, w_in), max_spikes=400, stop_when_fired=stop)
        return res.spikes.times[N_HID:, 0], res.n_spikes

    f_full, n_full = jax.jit(lambda w: first(w, None))(w_out)
    f_stop, n_stop = jax.jit(lambda w: first(w, "out"))(w_out)
    np.testing.assert_array_equal(np.asarray(f_full), np.asarray(f_stop))
    assert int(n_stop) < int(n_full)
    g_full = jax.grad(lambda w: jnp.sum(first(w, None)[0] ** 2))(w_out)
    g_stop = jax.grad(lambda w: jnp.sum(first(w, "out")[0] ** 2))(w_out)
    np.testing.assert_allclose(np.asarray(g_stop), np.asarray(g_full), rtol=1e-12, atol=0)


def recurrent(seed=1, n=12, n_in=4):
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 0.03, (n, n))
    np.fill_diagonal(w, 0.01)
    bias = rng.uniform(0.5, 1.3, n)
    t_in = np.sort(rng.uniform(0, 0.03, (n_in, 3)), axis=1)
    w_in = rng.normal(0.02, 0.01, (n, n_in))
    return [w, bias, w_in, t_in]


def test_gradient_recurrent(x64):
    params = recurrent()
    n_in = params[3].shape[0]

    def run(p):
        w, bias, w_in, t_in = p
        net = jn.LIFNetwork.from_weights(w, jn.LIF(tau_m=0.01, tau_ref=0.002), tau_s=0.004, bias=bias)
        train = jn.SpikeTrain(jnp.asarray(t_in), jnp.full(n_in, 3))
        return simulate_lif_events(net, 0.06, inputs=(train, w_in), max_spikes=600)

    _, counts = check_fd(run, weighted_times, params, ["w", "bias", "w_in", "t_in"])
    assert int(np.sum(counts)) > 100


@pytest.mark.slow  # (over 10 s, mostly compilation)
def test_recurrent_spike_times_equal_simulate_network(x64):
    # (simulate_network is exact up to an input spike landing in the step of a crossing, before
    # it: probability ~ input rate x dt per spike; none here, with dt = 1e-6)
    w, bias, w_in, t_in = recurrent(seed=3, n=6)
    w = np.abs(w)
    net = jn.LIFNetwork.from_weights(w, jn.LIF(tau_m=0.01, tau_ref=0.002), tau_s=0.004, bias=bias)
    train = jn.SpikeTrain.from_times(t_in)
    res = simulate_lif_events(net, 0.03, inputs=(train, w_in))
    ref = jn.simulate_network(net, 0.03, dt=1e-6, inputs=(train, w_in))
    assert int(res.n_spikes) > 50
    np.testing.assert_array_equal(np.asarray(res.spike_count), np.asarray(ref.spike_count))
    a = np.asarray(res.spikes.times)
    b = np.asarray(ref.spikes.times)[:, : a.shape[1]]
    np.testing.assert_allclose(a[np.isfinite(a)], b[np.isfinite(b)], rtol=0, atol=1e-12)


def test_simultaneous_crossings(x64):
    """Two identical hidden neurons cross at the same instant (and excite each other)."""
    params, build = two_layer(seed=2, n_hid=4)
    w_out, w_in, t_in, bias = params
    w_in[1], bias[1], w_out[:, 1] = w_in[0], bias[0], w_out[:, 0]
    lif = jn.LIF(tau_m=0.01, tau_ref=0.002)
    hid = jn.LIFPopulation(4, lif, tau_s=0.005, bias=bias[:4])
    out = jn.LIFPopulation(N_OUT, lif, tau_s=0.005)
    w_hh = np.zeros((4, 4))
    w_hh[0, 1] = w_hh[1, 0] = 0.004

    def run(p):
        w_out, t_in = p
        net = jn.LIFNetwork([hid, out], {(1, 0): w_out, (0, 0): w_hh})
        train = jn.SpikeTrain(jnp.asarray(t_in), jnp.full(N_IN, 2))
        return simulate_lif_events(net, T, inputs=(train, w_in), max_spikes=100)

    res = run([w_out, t_in])
    t = np.asarray(res.spikes.times)
    assert int(res.spike_count[0]) >= 1
    np.testing.assert_array_equal(t[0], t[1])  # the same crossings, one after the other
    # directions that keep the two neurons identical: the derivative is two-sided
    grads, _ = check_fd(run, weighted_times, [w_out, t_in], ["w_out", "t_in"])
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)


@pytest.mark.slow  # (over 10 s, mostly compilation)
def test_simultaneous_crossings_with_mutual_inhibition(x64):
    """Two identical neurons cross at one instant and inhibit each other strongly: processed
    in index order, the second sees the first's spike as just before its crossing (module
    docstring); no NaN, and the gradient along directions that keep the tie is exact."""
    lif = jn.LIF(tau_m=0.01, tau_ref=0.002)
    hid = jn.LIFPopulation(2, lif, tau_s=0.005)
    out = jn.LIFPopulation(1, lif, tau_s=0.005)
    w_hh = np.array([[0.0, -0.05], [-0.05, 0.0]])
    w_in = np.array([[0.03], [0.03], [0.0]])

    def run(p):
        w_out, t = p
        net = jn.LIFNetwork([hid, out], {(0, 0): w_hh, (1, 0): w_out})
        return simulate_lif_events(net, T, inputs=(jn.SpikeTrain(t, jnp.array([1])), w_in), max_spikes=50)

    params = [jnp.array([[0.03, 0.03]]), jnp.array([[0.001]])]
    res = run(params)
    assert int(res.spike_count[0]) == 1 and int(res.spike_count[2]) == 1
    grads, _ = check_fd(run, weighted_times, params, ["w_out", "t_in"])
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)


@pytest.mark.slow  # (over 10 s, mostly compilation)
def test_input_at_crossing_time(x64):
    """An input spike exactly at a crossing: the crossing goes first, so the gradient with
    respect to that input's time is the derivative from the right (input later)."""
    params, build = two_layer(seed=0)
    w_out, w_in, t_in, bias = params
    net = build(w_out, bias)
    train = jn.SpikeTrain.from_times(t_in)
    res = simulate_lif_events(net, T, inputs=(train, w_in), max_spikes=400)
    t_cross = float(res.spikes.times[3, 0])  # a hidden neuron's first crossing
    # a sixth input with one spike at exactly that time, inhibitory onto the crossing neuron
    t_new = np.concatenate([t_in, [[t_cross, np.inf]]])
    w_in2 = np.concatenate([w_in, np.zeros((N_HID + N_OUT, 1))], axis=1)
    w_in2[3, -1] = -0.02
    count = jnp.array([2, 2, 2, 2, 2, 1])

    def loss(x):
        tt = jnp.asarray(t_new).at[-1, 0].set(x)
        return weighted_times(simulate_lif_events(net, T, inputs=(jn.SpikeTrain(tt, count), w_in2), max_spikes=400))

    lj = jax.jit(jax.value_and_grad(loss))
    _, g = lj(t_cross)
    h = 1e-9
    right = (float(lj(t_cross + h)[0]) - float(lj(t_cross)[0])) / h
    assert np.isfinite(float(g))
    assert abs(float(g) - right) <= 1e-4 * abs(right)
    r = simulate_lif_events(net, T, inputs=(jn.SpikeTrain(jnp.asarray(t_new), count), w_in2), max_spikes=400)
    assert float(r.spikes.times[3, 0]) == t_cross  # the crossing still happens


def test_float32_finite_and_close():
    params, build = two_layer(seed=0)

    def loss(p):
        w_out, w_in, t_in, bias = p
        train = jn.SpikeTrain(jnp.asarray(t_in, jnp.float32), jnp.full(N_IN, 2))
        # (a fixed capacity: the default, ceil(T / tau_ref) + 1, differs by one between float32's
        # 0.002 and float64's, and with it the loss's coefficients)
        res = simulate_lif_events(build(w_out, bias), T, inputs=(train, w_in), max_spikes=400, max_spikes_per_neuron=30)
        return weighted_times(res)

    p32 = [jnp.asarray(x, jnp.float32) for x in params]
    assert jax.eval_shape(loss, p32).dtype == jnp.float32
    g32 = jax.jit(jax.grad(loss))(p32)
    for g in g32:
        assert g.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(g)))
    with jax.enable_x64(True):
        g64 = jax.jit(jax.grad(loss))([jnp.asarray(x, jnp.float64) for x in params])
        for a, b in zip(g32, g64, strict=True):
            b = np.asarray(b)
            np.testing.assert_allclose(np.asarray(a), b, rtol=0, atol=1e-3 * np.max(np.abs(b)))


@pytest.mark.slow  # (over 10 s, mostly compilation)
def test_jit_vmap_over_samples():
    params, build = two_layer(seed=0)
    w_out, w_in, t_in, bias = params
    net = build(w_out, bias)
    rng = np.random.default_rng(3)
    batch = np.sort(rng.uniform(0.0, 0.02, (4, N_IN, 2)), axis=-1).astype(np.float32)

    def loss(w_in, t):
        train = jn.SpikeTrain(t, jnp.full(N_IN, 2))
        res = simulate_lif_events(net, T, inputs=(train, w_in), max_spikes=400)
        return jnp.sum(jnp.where(jnp.isfinite(res.spikes.times[N_HID:, 0]), res.spikes.times[N_HID:, 0], 0.0))

    traces = []

    @jax.jit
    def f(w, t):
        traces.append(None)
        return jax.vmap(jax.value_and_grad(loss, argnums=(0, 1)), in_axes=(None, 0))(w, t)

    vals, (g_w, g_t) = f(jnp.asarray(w_in, jnp.float32), jnp.asarray(batch))
    for b in range(2):
        v1, (gw1, gt1) = jax.value_and_grad(loss, argnums=(0, 1))(jnp.asarray(w_in, jnp.float32), batch[b])
        np.testing.assert_allclose(vals[b], v1, rtol=1e-6)
        np.testing.assert_allclose(g_w[b], gw1, rtol=1e-4, atol=1e-6 * np.max(np.abs(np.asarray(gw1))))
        np.testing.assert_allclose(g_t[b], gt1, rtol=1e-4, atol=1e-6 * np.max(np.abs(np.asarray(gt1))))
    # a second call with new values does not retrace (counted by tracing: ``_cache_size()`` reads
    # JAX's process-wide fast-path cache, which a long single-process run can fill)
    f(jnp.asarray(w_in, jnp.float32) * 1.01, jnp.asarray(batch) + 1e-4)
    assert len(traces) == 1


def test_overflow_is_an_error_or_a_flag():
    params, build = two_layer(seed=0)
    w_out, w_in, t_in, bias = params
    net = build(w_out, bias)
    train = jn.SpikeTrain.from_times(t_in)
    with pytest.raises(eqx.EquinoxRuntimeError, match="max_spikes = 10"):
        simulate_lif_events(net, T, inputs=(train, w_in), max_spikes=10)
    res = simulate_lif_events(net, T, inputs=(train, w_in), max_spikes=10, on_overflow="flag")
    assert bool(res.overflow) and int(res.n_spikes) == 10
    full = simulate_lif_events(net, T, inputs=(train, w_in), max_spikes=400)
    np.testing.assert_array_equal(np.asarray(res.times), np.asarray(full.times)[:10])  # the first ten, as run
    res = simulate_lif_events(net, T, inputs=(train, w_in), max_spikes_per_neuron=1, on_overflow="flag")
    assert bool(res.overflow) and bool(jnp.any(res.spikes.overflow))


def test_bad_inputs_name_parameter_value_and_range():
    params, build = two_layer(seed=0)
    w_out, w_in, t_in, bias = params
    net = build(w_out, bias)
    train = jn.SpikeTrain.from_times(t_in)
    with pytest.raises(ValueError, match=r"duration must be finite and in \(0, inf\) s; got duration = -1"):
        simulate_lif_events(net, -1.0, inputs=(train, w_in))
    with pytest.raises(ValueError, match=r"tau_ref must be finite and in \[0, inf\) s; got tau_ref = .*-0.001"):
        simulate_lif_events(net, T, inputs=(train, w_in), tau_ref=-0.001)
    with pytest.raises(ValueError, match=r"max_spikes must be an int in \[1, inf\), got max_spikes = 0"):
        simulate_lif_events(net, T, inputs=(train, w_in), max_spikes=0)
    with pytest.raises(ValueError, match="max_spikes is required when tau_ref is 0"):
        simulate_lif_events(net, T, inputs=(train, w_in), tau_ref=0.0)
    with pytest.raises(ValueError, match=r"W_in must have shape \(N, n_in\) = \(23, 5\), got shape \(5, 23\)"):
        simulate_lif_events(net, T, inputs=(train, w_in.T))
    bad = jn.SpikeTrain(jnp.asarray(t_in).at[0, 0].set(-0.01), jnp.full(N_IN, 2))
    with pytest.raises(ValueError, match=r"input spike times must be in \[0, inf\) s; got input time = -0.01"):
        simulate_lif_events(net, T, inputs=(bad, w_in))
    noisy = jn.LIFNetwork([jn.LIFPopulation(3, noise=0.1)])
    with pytest.raises(ValueError, match="noise must be 0 for simulate_lif_events.*got noise = 0.1"):
        simulate_lif_events(noisy, T)


# on_overflow="drop" (outside its Literal) and a LIF for the network, on purpose
@pytest.mark.jaxtyping_off
def test_wrongly_typed_options_are_clear_errors():
    params, build = two_layer(seed=0)
    net = build(params[0], params[3])
    with pytest.raises(ValueError, match="on_overflow must be 'error' or 'flag'"):
        simulate_lif_events(net, T, on_overflow="drop")
    with pytest.raises(ValueError, match="network must be a LIFNetwork"):
        simulate_lif_events(jn.LIF(), T)
    # a network of neurons without a closed-form spike time: the error points to surrogate gradients
    hh = jn.Network([jn.Population(2, jn.HodgkinHuxley(), "hh")], [])
    with pytest.raises(ValueError, match=r"network must be a LIFNetwork, got Network: exact .*surrogate gradients"):
        simulate_lif_events(hh, T)
    with pytest.raises(ValueError, match=r"got HodgkinHuxley: .*closed-form spike times.*surrogate=\.\.\."):
        jn.LIFPopulation(2, jn.HodgkinHuxley())


@pytest.mark.slow  # three compilations
def test_memory_grows_with_events_not_duration():
    """The compiled gradient's scratch memory is the same for a 10x longer run with the same
    event buffer, and grows with the buffer."""
    params, build = two_layer(seed=0)
    w_out, w_in, t_in, bias = params
    net = build(w_out, bias)
    train = jn.SpikeTrain.from_times(t_in.astype(np.float32))

    def temp_bytes(duration, max_spikes):
        def loss(w_in, train):
            res = simulate_lif_events(net, duration, inputs=(train, w_in), max_spikes=max_spikes)
            return jnp.sum(jnp.where(jnp.isfinite(res.times), res.times, 0.0))

        mem = jax.jit(jax.grad(loss)).lower(jnp.asarray(w_in, jnp.float32), train).compile().memory_analysis()
        return mem.temp_size_in_bytes

    short, long_ = temp_bytes(0.05, 400), temp_bytes(0.5, 400)
    assert long_ == short
    assert temp_bytes(0.05, 4000) > short
