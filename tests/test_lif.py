"""LIF model: closed forms of the notes (ch. 1.4) against independent numpy, units, validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuro as jn


def notes_G(v_in, tau_m=0.02, tau_ref=0.002):
    """G(v_in) exactly as printed in the notes, in float64 numpy."""
    v_in = np.asarray(v_in, np.float64)
    out = np.zeros_like(v_in)
    m = v_in > 1
    out[m] = 1.0 / (tau_ref - tau_m * np.log(1.0 - 1.0 / v_in[m]))
    return out


def test_lif_rate_matches_notes_formula(x64):
    v = np.concatenate([np.linspace(-2, 1, 50), 1 + np.geomspace(1e-9, 100, 2000)])
    # The notes' form computes 1 - 1/v_in with a rounding error of eps/(v_in - 1) relative;
    # the library's log1p form does not, so the tolerance is the notes' form's own error.
    eps = np.finfo(np.float64).eps
    with np.errstate(divide="ignore"):
        cond = np.where(v > 1, 4 * eps / np.abs((v - 1) * np.log1p(-1 / np.maximum(v, 1 + 1e-12))), 0)
    for tau_m, tau_ref in [(0.02, 0.002), (0.01, 0.005), (0.05, 0.001)]:
        got = np.asarray(jn.lif_rate(v, tau_m, tau_ref))
        ref = notes_G(v, tau_m, tau_ref)
        assert np.all(np.abs(got - ref) <= (1e-13 + cond) * np.abs(ref))


def test_lif_rate_float32_default_and_zero_below_threshold():
    v = jnp.array([-1.0, 0.0, 0.5, 1.0, 2.0])
    r = jn.lif_rate(v)
    assert r.dtype == jnp.float32
    assert np.all(np.asarray(r[:4]) == 0.0)
    np.testing.assert_allclose(float(r[4]), notes_G([2.0])[0], rtol=1e-6)
    # The notes' typical values give an asymptote of 1/tau_ref = 500 Hz.
    assert float(jn.lif_rate(1e7)) == pytest.approx(500.0, rel=1e-4)


@pytest.mark.parametrize("v", [1.0, 1.0 + 1e-7, 1.0 + 1e-6, 1.0 + 1e-3, 0.5, 3.0])
def test_lif_rate_gradients_finite(v):
    g = jax.grad(lambda v, a, b: jn.lif_rate(v, a, b), argnums=(0, 1, 2))(jnp.float32(v), 0.02, 0.002)
    assert all(np.isfinite(np.asarray(x)) for x in g)


def test_lif_rate_gradient_matches_finite_differences(x64):
    f = lambda v, a, b: jn.lif_rate(v, a, b)
    for v in [1.01, 1.5, 4.0]:
        g = jax.grad(f, argnums=(0, 1, 2))(v, 0.02, 0.002)
        h = 1e-7
        fd = [
            (f(v + h, 0.02, 0.002) - f(v - h, 0.02, 0.002)) / (2 * h),
            (f(v, 0.02 + h, 0.002) - f(v, 0.02 - h, 0.002)) / (2 * h),
            (f(v, 0.02, 0.002 + h) - f(v, 0.02, 0.002 - h)) / (2 * h),
        ]
        np.testing.assert_allclose(np.asarray(g), np.asarray(fd), rtol=1e-5)


def test_lif_rate_jit_vmap():
    taus = jnp.array([0.01, 0.02, 0.05])
    v = jnp.linspace(0.5, 5, 7)
    out = jax.jit(jax.vmap(lambda t: jn.lif_rate(v, t, 0.002)))(taus)
    np.testing.assert_allclose(np.asarray(out), np.stack([notes_G(v, t) for t in [0.01, 0.02, 0.05]]), rtol=1e-5)


def test_subthreshold_solves_the_ode(x64):
    # tau dv/dt = v_in - v and v(0) = v0, checked by differentiating the closed form.
    t = jnp.linspace(0.0, 0.1, 11)
    for v0, v_in, tau in [(0.0, 1.5, 0.02), (0.7, -0.3, 0.01), (0.2, 0.2, 0.05)]:
        v, dv = jax.jvp(
            lambda t, v0=v0, v_in=v_in, tau=tau: jn.lif_subthreshold(t, v0, v_in, tau),
            (t,),
            (jnp.ones_like(t),),
        )
        np.testing.assert_allclose(np.asarray(tau * dv), np.asarray(v_in - v), rtol=1e-10, atol=1e-12)
        assert float(v[0]) == v0
    # The notes' claim: v(t) = v_in (1 - e^(-t/tau)) from v(0) = 0.
    np.testing.assert_allclose(
        np.asarray(jn.lif_subthreshold(t, 0.0, 2.0, 0.02)),
        2.0 * (1 - np.exp(-np.asarray(t) / 0.02)),
        rtol=1e-12,
    )


def test_time_to_threshold(x64):
    for v0, v_in in [(0.0, 1.2), (0.5, 3.0), (0.99, 1.01)]:
        t = jn.lif_time_to_threshold(v0, v_in, 0.02)
        assert float(jn.lif_subthreshold(t, v0, v_in, 0.02)) == pytest.approx(1.0, abs=1e-12)
    assert float(jn.lif_time_to_threshold(0.0, 1.0)) == np.inf
    assert float(jn.lif_time_to_threshold(0.0, 0.3)) == np.inf
    assert np.isfinite(float(jax.grad(lambda v: jn.lif_time_to_threshold(0.0, v))(1.0)))


def test_physical_change_of_variables(x64):
    V_L, V_th, R, C = -0.070, -0.054, 1.2e7, 1.5e-9
    lif = jn.LIF.from_physical(V_L=V_L, V_th=V_th, R=R, C=C, tau_ref=0.003)
    assert float(lif.tau_m) == pytest.approx(R * C, rel=1e-12)
    assert float(lif.normalise_voltage(V_L)) == pytest.approx(0.0, abs=1e-12)
    assert float(lif.normalise_voltage(V_th)) == pytest.approx(1.0, rel=1e-12)
    rng = np.random.default_rng(0)
    for V, J in zip(rng.uniform(-0.08, -0.05, 5), rng.uniform(-1e-9, 3e-9, 5), strict=True):
        dVdt = (J - (V - V_L) / R) / C  # physical C dV/dt = J - g_L (V - V_L)
        v = lif.normalise_voltage(V)
        dvdt = lif.vector_field(0.0, v, lif.normalise_input(J))
        assert float(dvdt) == pytest.approx(dVdt / (V_th - V_L), rel=1e-10)
        assert float(lif.physical_voltage(v)) == pytest.approx(V, rel=1e-12)


def test_lif_rate_method_and_vector_field():
    lif = jn.LIF(tau_m=0.01, tau_ref=0.004)
    np.testing.assert_allclose(float(lif.rate(2.0)), notes_G([2.0], 0.01, 0.004)[0], rtol=1e-6)
    assert float(lif.vector_field(0.0, 0.25, lambda t: 1.25)) == pytest.approx(100.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(tau_m=0.0), r"tau_m must be finite and in \(0, inf\) s; got tau_m = 0"),
        (dict(tau_m=-0.02), r"tau_m .* got tau_m = -0.02"),
        (dict(tau_m=float("nan")), r"tau_m must be finite"),
        (dict(tau_ref=-0.001), r"tau_ref must be finite and in \(0, inf\) s; got tau_ref = -0.001"),
        (dict(tau_ref=0.0), r"tau_ref"),
        (dict(R=0.0), r"R must be finite and in \(0, inf\) ohm"),
        (dict(V_L=0.0, V_th=-0.01), r"V_th - V_L must be finite and in \(0, inf\) V"),
    ],
)
def test_lif_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jn.LIF(**kwargs)


def test_from_physical_validation():
    with pytest.raises(ValueError, match=r"C must be finite and in \(0, inf\) F; got C = -1e-09"):
        jn.LIF.from_physical(C=-1e-9)
    with pytest.raises(ValueError, match=r"R must be"):
        jn.LIF.from_physical(R=0.0)


def test_lif_rate_validation():
    with pytest.raises(ValueError, match=r"tau_ref must be finite and in \(0, inf\) s"):
        jn.lif_rate(2.0, 0.02, -0.001)
    with pytest.raises(ValueError, match=r"tau_m"):
        jn.lif_rate(2.0, 0.0)
    # Traced values are checked at run time.
    with pytest.raises(Exception, match=r"tau_m must be finite and in \(0, inf\) s"):
        jax.jit(lambda t: jn.lif_rate(2.0, t))(-0.01).block_until_ready()
