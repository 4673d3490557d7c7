"""Surrogate gradients (``simulate_layers``, ``FastSigmoid``, ``ArcTan``) and ``SpikingClassifier``.

References: the surrogates' formulas (derivatives checked against float64 central differences
of their antiderivatives), the closed-form LIF spike train under a constant input (counts, and
the first-spike time ``tau_m ln(J / (J - 1))`` and its derivative ``tau_m (1/J - 1/(J - 1))``),
the exact event-driven network (``simulate_lif_events``) for the spike times of the stepped one,
and float64 central differences for the exact classifier's gradient.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuro as jn


@pytest.mark.parametrize(
    ("surrogate", "antiderivative"),
    [
        (jn.FastSigmoid(25.0), lambda c: c / (1 + 25.0 * np.abs(c))),
        (jn.ArcTan(2.0), lambda c: np.arctan(np.pi * 2.0 * c / 2) / np.pi),
    ],
)
def test_surrogates_are_heaviside_forward_and_their_bump_backward(surrogate, antiderivative):
    c = jnp.array([-1.0, -0.1, -1e-3, 0.0, 1e-3, 0.2, 2.0])
    np.testing.assert_array_equal(surrogate(c), [0, 0, 0, 0, 1, 1, 1])  # H(0) = 0
    grad = jax.vmap(jax.grad(surrogate))(c)
    h = 1e-6
    cf = np.asarray(c, float)
    fd = (antiderivative(cf + h) - antiderivative(cf - h)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-4)
    _, tangent = jax.jvp(surrogate, (c,), (jnp.ones_like(c),))
    np.testing.assert_allclose(tangent, grad, rtol=1e-6)
    with pytest.raises(ValueError, match=r"must be finite and in \(0, inf\)"):
        type(surrogate)(-1.0)


def test_stepped_lif_counts_and_first_spike_gradient_match_the_closed_form():
    # One LIF neuron (tau_m 20 ms, tau_ref 2 ms) under a constant bias J = 1.5 for 0.1 s.
    J, tau_m, tau_ref, dt, T = 1.5, 0.02, 0.002, 1e-4, 0.1
    zeros = jnp.zeros((round(T / dt), 1))

    def first(b):
        run = jn.simulate_layers([jnp.zeros((1, 1))], zeros, dt=dt, tau_s=0.005, bias=[b])
        return run.first_spike[0][0], run

    (t1, run), g = jax.value_and_grad(first, has_aux=True)(jnp.array([J]))
    t_exact = tau_m * math.log(J / (J - 1))
    period = tau_ref + t_exact
    assert int(run.counts[0][0]) == math.floor((T - t_exact) / period) + 1
    # located on the straight line through the voltage at both ends of its step: error O(dt^2 v'')
    assert abs(float(t1) - t_exact) < dt**2 / tau_m
    dt1_dJ = tau_m * (1 / J - 1 / (J - 1))
    np.testing.assert_allclose(g, [dt1_dJ], rtol=2e-3)


@pytest.mark.slow  # ~10 s: 3,000 steps
def test_stepped_layers_spike_like_the_exact_network():
    # Two layers driven by input spikes on the grid: the stepped network's spike times agree with
    # the exact event-driven network to within a step (spikes placed inside it to O(dt^2)).
    key = jax.random.key(0)
    w1 = 0.02 * (2.0 + jax.random.normal(key, (8, 5)))
    w2 = 0.02 * (2.0 + jax.random.normal(jax.random.key(1), (3, 8)))
    dt, T = 1e-5, 0.03
    times = jnp.array([0.001, 0.002, 0.004, 0.006, 0.0])
    raster = jn.SpikeTrain(times[:, None], jnp.ones(5, jnp.int32)).to_raster(0.0, dt, round(T / dt))
    run = jax.jit(lambda r: jn.simulate_layers([w1, w2], r.T, dt=dt, tau_s=0.005, neuron=jn.LIF(tau_ref=0.002)))(raster)
    net = jn.LIFNetwork([jn.LIFPopulation(8, jn.LIF(), 0.005), jn.LIFPopulation(3, jn.LIF(), 0.005)], {(1, 0): w2})
    w_in = jnp.zeros((11, 5)).at[:8].set(w1)
    exact = jn.simulate_lif_events(net, T, inputs=(jn.SpikeTrain(times[:, None], jnp.ones(5, jnp.int32)), w_in))
    want_first = jnp.minimum(exact.spikes.times[:, 0], T)
    got_first = jnp.concatenate(run.first_spike)
    assert int(jnp.sum(exact.spike_count)) > 5  # the network does fire
    np.testing.assert_array_equal(jnp.concatenate(run.counts), exact.spike_count)
    np.testing.assert_allclose(got_first, want_first, atol=dt)


@pytest.mark.slow  # ~8 s: four compilations
def test_layers_work_with_any_neuron_and_under_vmap_and_jvp():
    neuron = jn.IntegrateAndFire(tau_m=20.0, E_L=-49.0, V_th=-50.0, V_reset=-60.0, tau_ref=5.0)  # mV, ms
    w = jnp.full((4, 2), 2.0)
    raster = jnp.zeros((500, 2)).at[::50, 0].set(1.0)
    run = jax.jit(lambda w: jn.simulate_layers([w], raster, dt=0.1, tau_s=5.0, neuron=neuron))(w)
    assert run.counts[0].shape == (4,) and float(run.counts[0][0]) > 0  # E_L above threshold: it fires
    batch = jax.vmap(lambda s: jn.simulate_layers([w * s], raster, dt=0.1, tau_s=5.0, neuron=neuron).v[-1])(
        jnp.array([0.5, 1.0])
    )
    assert batch.shape == (2, 4)
    f = lambda w: jn.simulate_layers([w], raster, dt=0.1, tau_s=5.0, neuron=neuron).first_spike[0]
    _, tangent = jax.jvp(f, (w,), (jnp.ones_like(w),))
    np.testing.assert_allclose(tangent, jax.jacrev(f)(w).sum(axis=(1, 2)), rtol=1e-5, atol=1e-8)


def test_bad_layers_are_named():
    x = jnp.zeros((10, 3))
    with pytest.raises(ValueError, match=r"weights\[0\] must have shape \(n_1, 3\), got shape \(2, 4\)"):
        jn.simulate_layers([jnp.zeros((2, 4))], x, dt=1e-4, tau_s=0.005)
    with pytest.raises(ValueError, match=r"weights\[1\] must have shape \(n_2, 2\)"):
        jn.simulate_layers([jnp.zeros((2, 3)), jnp.zeros((1, 3))], x, dt=1e-4, tau_s=0.005)
    with pytest.raises(ValueError, match=r"dt must be finite and in \(0, inf\); got dt = 0"):
        jn.simulate_layers([jnp.zeros((2, 3))], x, dt=0, tau_s=0.005)


@pytest.mark.jaxtyping_off  # inputs = jnp.zeros(3), a vector where a raster is expected, on purpose
def test_an_input_that_is_not_a_raster_is_named():
    with pytest.raises(ValueError, match=r"inputs must be a raster of shape \(steps, n_in\)"):
        jn.simulate_layers([jnp.zeros((2, 3))], jnp.zeros(3), dt=1e-4, tau_s=0.005)


# ---------------------------------------------------------------------- the classifier
@eqx.filter_jit
def _times(model, xs):
    return jax.vmap(model)(xs)


def _loss(model, x, label):
    return jn.first_spike_cross_entropy(model(x), label, tau=0.005, window=2 * model.duration)


@pytest.mark.slow  # ~10 s: 4,000 steps
def test_classifier_exact_and_surrogate_agree_forward():
    exact = jn.SpikingClassifier(4, 3, [20], key=jax.random.key(0), gradient="exact")
    stepped = jn.SpikingClassifier(4, 3, [20], key=jax.random.key(0), gradient="surrogate", dt=1e-5)
    xs = jnp.array([[0.3, 0.6, 0.7, 0.4], [0.9, 0.1, 0.1, 0.9]])
    te, ts = _times(exact, xs), _times(stepped, xs)
    assert np.all(np.asarray(te) < exact.duration)  # the outputs fire at initialisation
    # The stepped network delivers a hidden spike at the start of the step it is fired in (up to
    # dt early); a shallow crossing of the output amplifies that shift: within 10 steps.
    np.testing.assert_allclose(ts, te, atol=10 * 1e-5)


def test_classifier_exact_gradient_matches_central_differences(x64):
    model = jn.SpikingClassifier(4, 3, [10], key=jax.random.key(1), gradient="exact")
    model = jax.tree.map(lambda a: a.astype(jnp.float64) if eqx.is_inexact_array(a) else a, model)
    x, label = jnp.array([0.2, 0.5, 0.8, 0.5], jnp.float64), 1
    grads = eqx.filter_jit(eqx.filter_grad(_loss))(model, x, label)
    loss = eqx.filter_jit(_loss)
    direction = [jax.random.normal(jax.random.key(k), w.shape, jnp.float64) for k, w in enumerate(model.weights)]
    eps = 1e-7
    plus = eqx.tree_at(
        lambda m: m.weights, model, tuple(w + eps * d for w, d in zip(model.weights, direction, strict=True))
    )
    minus = eqx.tree_at(
        lambda m: m.weights, model, tuple(w - eps * d for w, d in zip(model.weights, direction, strict=True))
    )
    fd = (loss(plus, x, label) - loss(minus, x, label)) / (2 * eps)
    analytic = sum(jnp.sum(g * d) for g, d in zip(grads.weights, direction, strict=True))
    assert abs(float(fd)) > 1e-3
    np.testing.assert_allclose(analytic, fd, rtol=1e-5)


def test_classifier_surrogate_gradient_is_finite_and_trains_one_sample():
    model = jn.SpikingClassifier(4, 3, [20], key=jax.random.key(2), gradient="surrogate")
    x, label = jnp.array([0.3, 0.6, 0.7, 0.4]), 2
    step = eqx.filter_jit(lambda m: eqx.filter_value_and_grad(_loss)(m, x, label))
    l0, g = step(model)
    assert all(np.all(np.isfinite(np.asarray(w))) for w in g.weights)
    for _ in range(30):  # plain gradient descent on one sample lowers its loss
        model = jax.tree.map(lambda w, d: w - 2e-4 * d if eqx.is_inexact_array(w) else w, model, g)
        l1, g = step(model)
    assert float(l1) < 0.5 * float(l0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param(  # not one of the Literal's values on purpose
            dict(gradient="bptt"),
            r"gradient must be one of \('exact', 'surrogate'\), got 'bptt'",
            marks=pytest.mark.jaxtyping_off,
        ),
        (dict(tau_s=0.02), r"tau_s must differ from tau_m = 0.02 s"),
        (dict(t_in=0.05), r"t_in must be in \(0, duration = 0.04\) s; got t_in = 0.05 s"),
        (dict(dt=3e-3), r"dt must divide duration = 0.04 s; got dt = 0.003 s"),
        (dict(tau_ref=-1.0), r"tau_ref must be a Python number in \[0, inf\) s"),
    ],
)
def test_classifier_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jn.SpikingClassifier(4, 3, [5], key=jax.random.key(0), **kwargs)


def test_classifier_bad_input_is_named():
    model = jn.SpikingClassifier(4, 3, [5], key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"x must be in \[0, 1\] \(latency code\); got x in \[-0.5, 0.5\]"):
        model(jnp.array([0.5, -0.5, 0.1, 0.2]))
    with pytest.raises(ValueError, match=r"x must have shape \(in_size,\) = \(4,\)"):
        model(jnp.zeros(3))


# ---------------------------------------------------------------------- image latency code, layer spikes
def test_intensity_encoding_is_its_definition():
    # t = (1 - x) t_in for x > input_threshold, no spike (inf) otherwise; the bias spike at 0 last
    x = np.array([0.0, 0.05, 0.1, 0.2, 0.5, 0.99, 1.0], np.float32)
    model = jn.SpikingClassifier(
        7, 2, [3], key=jax.random.key(0), encoding="intensity", input_threshold=0.1, t_in=0.008
    )
    want = np.where(x > 0.1, (1.0 - x) * 0.008, np.inf)
    np.testing.assert_allclose(model.encode(x), [*want, 0.0], rtol=1e-6)
    linear = jn.SpikingClassifier(7, 2, [3], key=jax.random.key(0), t_in=0.008)  # the default code
    np.testing.assert_allclose(linear.encode(x), [*(x * 0.008), 0.0], rtol=1e-6)
    zero = jn.SpikingClassifier(2, 2, [3], key=jax.random.key(0), encoding="intensity")  # threshold 0
    assert np.isinf(np.asarray(zero.encode(jnp.array([0.0, 1e-6])))[0])
    assert float(zero.encode(jnp.array([0.0, 1e-6]))[1]) == pytest.approx((1 - 1e-6) * zero.t_in)


# the exact cases compile simulate_lif_events and its adjoint (~30 s on a loaded core): slow
EXACT_SLOW = [pytest.param("exact", marks=pytest.mark.slow), "surrogate"]


@pytest.mark.parametrize("gradient", EXACT_SLOW)
def test_dark_pixels_reach_nothing(gradient):
    # A pixel that does not spike cannot matter: its weights change neither the output nor the
    # loss, their gradient is exactly 0, and every gradient is finite.
    x = jnp.array([0.0, 0.9, 0.0, 0.6, 0.8, 0.0])
    model = jn.SpikingClassifier(
        6, 3, [12], key=jax.random.key(3), gradient=gradient, encoding="intensity", dt=2e-4, weight_mean=6.0
    )
    w0 = model.weights[0]
    moved = eqx.tree_at(lambda m: m.weights[0], model, w0.at[:, jnp.array([0, 2, 5])].add(0.05))
    t, t_moved = _times(model, x[None]), _times(moved, x[None])
    assert np.all(np.asarray(t) < model.duration)  # the outputs fire
    np.testing.assert_array_equal(t, t_moved)
    grads = eqx.filter_jit(eqx.filter_grad(_loss))(model, x, 1)
    g0 = np.asarray(grads.weights[0])
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads.weights)
    np.testing.assert_array_equal(g0[:, [0, 2, 5]], 0.0)
    assert np.any(g0[:, [1, 3, 4, 6]] != 0)


@pytest.mark.slow  # compiles the event-driven simulation
def test_layer_spikes_are_those_of_the_exact_simulation():
    # The exact model's layer_spikes against simulate_lif_events run by hand on the same network
    model = jn.SpikingClassifier(5, 3, [16], key=jax.random.key(4), gradient="exact", encoding="intensity")
    x = jnp.array([0.0, 0.3, 0.9, 0.6, 1.0])
    inputs, hidden, output = eqx.filter_jit(lambda m, x: m.layer_spikes(x))(model, x)
    w1, w2 = model.weights
    net = jn.LIFNetwork([jn.LIFPopulation(16, jn.LIF(), 0.005), jn.LIFPopulation(3, jn.LIF(), 0.005)], {(1, 0): w2})
    t_in = jnp.array([jnp.inf, 0.007, 0.001, 0.004, 0.0, 0.0])
    train = jn.SpikeTrain(t_in[:, None], jnp.array([0, 1, 1, 1, 1, 1]))
    ref = jn.simulate_lif_events(
        net, 0.04, inputs=(train, jnp.zeros((19, 6)).at[:16].set(w1)), tau_ref=0.0, max_spikes=model.max_spikes
    )
    np.testing.assert_array_equal(inputs.count, train.count)
    np.testing.assert_allclose(inputs.times[1:], train.times[1:], rtol=1e-6)
    assert int(ref.spike_count[:16].sum()) > 0 and int(ref.spike_count[16:].sum()) > 0  # both layers fire
    for got, lo, hi in ((hidden, 0, 16), (output, 16, 19)):
        np.testing.assert_array_equal(got.count, ref.spikes.count[lo:hi])
        np.testing.assert_allclose(
            got.times, ref.spikes.times[lo:hi], rtol=0, atol=1e-7
        )  # float32 rounding of the inputs
    np.testing.assert_allclose(jnp.minimum(output.times[:, 0], model.duration), model(x), rtol=0, atol=1e-7)


def test_layer_spikes_of_the_stepped_model_are_its_raster():
    model = jn.SpikingClassifier(5, 3, [16], key=jax.random.key(4), gradient="surrogate", encoding="intensity")
    x = jnp.array([0.0, 0.3, 0.9, 0.6, 1.0])
    inputs, hidden, output = eqx.filter_jit(lambda m, x: m.layer_spikes(x))(model, x)
    raster = inputs.to_raster(0.0, model.dt, 400)
    run = jn.simulate_layers(model.weights, raster.T, dt=model.dt, tau_s=0.005, neuron=jn.LIF(tau_ref=1e-9))
    for got, z in zip((hidden, output), run.spikes, strict=True):
        steps = np.arange(1, 401) * model.dt  # each spike at the end of its step
        want = [steps[np.nonzero(np.asarray(z[:, i]))[0]] for i in range(z.shape[1])]
        np.testing.assert_array_equal(got.count, [len(w) for w in want])
        assert int(got.count.sum()) > 0
        for i, w in enumerate(want):
            np.testing.assert_allclose(np.asarray(got.times[i, : len(w)]), w, rtol=1e-5)
    first = np.asarray(model(x))  # __call__ places the first spike inside its step: within one dt
    assert np.all(np.abs(np.minimum(np.asarray(output.times[:, 0]), model.duration) - first) <= model.dt + 1e-9)


@pytest.mark.jaxtyping_off  # encoding = "rate", not one of the Literal's values on purpose
def test_bad_encoding_is_named():
    with pytest.raises(ValueError, match=r"encoding must be one of \('linear', 'intensity'\), got 'rate'"):
        jn.SpikingClassifier(4, 3, [5], key=jax.random.key(0), encoding="rate")


def test_bad_input_threshold_is_named():
    with pytest.raises(ValueError, match=r"input_threshold must be a Python number in \[0, 1\), got 1.0"):
        jn.SpikingClassifier(4, 3, [5], key=jax.random.key(0), encoding="intensity", input_threshold=1.0)


@pytest.mark.parametrize("gradient", EXACT_SLOW)
def test_a_blank_image_gives_silent_outputs_that_the_loss_names(gradient):
    # An all-dark image sends only the bias spike: with weak weights no output fires.  The loss
    # is then finite (log n) with finite gradients, and on_silent="error" says so, naming the
    # regularisers; never NaN.
    model = jn.SpikingClassifier(
        6, 3, [8], key=jax.random.key(5), gradient=gradient, encoding="intensity", dt=2e-4, weight_mean=0.5
    )
    x = jnp.zeros(6)
    t = _times(model, x[None])[0]
    np.testing.assert_array_equal(t, np.float32(model.duration))
    loss, grads = eqx.filter_jit(eqx.filter_value_and_grad(_loss))(model, x, 0)
    assert float(loss) == pytest.approx(math.log(3), rel=1e-6)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads.weights)
    with pytest.raises(ValueError, match=r"silent_neuron_penalty"):
        jn.first_spike_cross_entropy(t, 0, tau=0.005, window=model.duration, on_silent="error")
