"""Soft LIF rate (Hunsberger & Eliasmith 2015) against an mpmath evaluation of its definition."""

import equinox as eqx
import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

import jaxneuro as jn

RUNTIME_ERRORS = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)
V_WIDE = [
    -1e4,
    -100.0,
    -3.0,
    0.0,
    0.4,
    0.9,
    0.99,
    1.0 - 1e-6,
    1.0,
    1.0 + 1e-6,
    1.001,
    1.05,
    1.5,
    3.0,
    50.0,
    1e4,
]


def _soft_mp(v, tau_m, tau_ref, gamma):
    """r = 1 / (tau_ref + tau_m log(1 + 1/rho)), rho = gamma log(1 + e^((v-1)/gamma)), on mpf numbers."""
    rho = gamma * mpmath.log1p(mpmath.exp((v - 1) / gamma))
    return 1 / (tau_ref + tau_m * mpmath.log1p(1 / rho))


def soft_ref(v, tau_m=0.02, tau_ref=0.002, gamma=0.03):
    with mpmath.workdps(50):
        return float(_soft_mp(*(mpmath.mpf(float(a)) for a in (v, tau_m, tau_ref, gamma))))


def soft_ref_dv(v, tau_m=0.02, tau_ref=0.002, gamma=0.03):
    with mpmath.workdps(50):
        tm, tr, g = (mpmath.mpf(a) for a in (tau_m, tau_ref, gamma))
        return float(mpmath.diff(lambda x: _soft_mp(x, tm, tr, g), mpmath.mpf(float(v))))


def G(v_in, tau_m=0.02, tau_ref=0.002):
    """The notes' exact LIF tuning curve in numpy float64."""
    v_in = np.asarray(v_in, np.float64)
    out = np.zeros_like(v_in)
    f = v_in > 1
    out[f] = 1.0 / (tau_ref - tau_m * np.log(1.0 - 1.0 / v_in[f]))
    return out


def test_matches_definition_float64(x64):
    v = jnp.array(V_WIDE)
    got = jn.soft_lif_rate(v)
    ref = np.array([soft_ref(x) for x in V_WIDE])
    # Rounding only: a few ulps of the log terms (the rho >= 1 / rho < 1 branches are both exact forms).
    np.testing.assert_allclose(got, ref, rtol=1e-13)


def test_matches_definition_float32():
    v = jnp.array(V_WIDE, jnp.float32)
    got = jn.soft_lif_rate(v)
    assert got.dtype == jnp.float32
    ref = np.array([soft_ref(float(x)) for x in np.asarray(v)])
    # float32 rounding of v - 1 and of the logs, amplified by at most |d log r / d log(v-1)| ~ 1 here.
    np.testing.assert_allclose(got, ref, rtol=2e-6)


@pytest.mark.parametrize("gamma", [0.1, 0.03, 0.01, 0.001])
def test_sandwich_between_exact_rates(gamma, x64):
    v = np.linspace(-1.0, 4.0, 2001)
    soft = np.asarray(jn.soft_lif_rate(jnp.asarray(v), gamma=gamma))
    lower = G(v)
    upper = G(np.maximum(v, 1.0) + gamma * np.log(2.0))
    assert np.all(lower <= soft * (1 + 1e-13))
    assert np.all(soft <= upper * (1 + 1e-13))


def test_converges_to_lif_rate(x64):
    v = np.linspace(-1.0, 4.0, 2001)
    x = v - 1.0
    above, below = x >= 0.1, x <= -0.1
    errs = []
    for gamma in (0.1, 0.03, 0.01, 0.003, 0.001):
        soft = np.asarray(jn.soft_lif_rate(jnp.asarray(v), gamma=gamma))
        gap = soft - G(v)
        errs.append(np.max(np.abs(gap)))
        # The largest gap sits at threshold: at most G(1 + gamma ln 2).
        assert errs[-1] <= G(1.0 + gamma * np.log(2.0)) * (1 + 1e-12)
        # Above threshold rho(x) - x = gamma log1p(e^(-x/gamma)) <= gamma e^(-x/gamma): exponentially small.
        shift = gamma * np.exp(-x[above] / gamma)
        assert np.all(gap[above] <= (G(v[above] + shift) - G(v[above])) * (1 + 1e-9) + 1e-12)
        # Below, rho <= gamma e^(x/gamma), so r <= 1 / (tau_ref + tau_m (ln(1/gamma) - x/gamma)): O(gamma).
        bound = 1.0 / (0.002 + 0.02 * (np.log(1.0 / gamma) - x[below] / gamma))
        assert np.all(gap[below] <= bound * (1 + 1e-12))
    assert all(a > b for a, b in zip(errs, errs[1:], strict=False))


def test_gradient_finite_positive_everywhere():
    for dtype in (jnp.float32,):
        v = jnp.array([-1e30, -1e4, -100.0, -1.0, 0.0, 0.39, 0.41, 1.0, 1.0 + 1e-7, 2.0, 1e4], dtype)
        g = jax.vmap(jax.grad(jn.soft_lif_rate))(v)
        assert bool(jnp.all(jnp.isfinite(g))) and bool(jnp.all(g >= 0))
        # Strictly positive where r^2 does not underflow (v > -100 at gamma = 0.03).
        assert bool(jnp.all(g[2:-1] > 0))
        for argnum in (1, 2):
            gp = jax.vmap(jax.grad(jn.soft_lif_rate, argnums=argnum), in_axes=(0, None, None))(v, 0.02, 0.002)
            assert bool(jnp.all(jnp.isfinite(gp)))
        gg = jax.vmap(jax.grad(lambda v, g: jn.soft_lif_rate(v, gamma=g), argnums=1), in_axes=(0, None))(v, 0.03)
        assert bool(jnp.all(jnp.isfinite(gg)))


def test_gradient_matches_mpmath(x64):
    # Includes both sides of the u = (v-1)/gamma = -20 switch (v = 0.4) and of rho = 1.
    pts = [-100.0, 0.0, 0.39, 0.41, 0.9, 1.0, 1.02, 1.5, 10.0]
    g = jax.vmap(jax.grad(jn.soft_lif_rate))(jnp.array(pts))
    ref = np.array([soft_ref_dv(p) for p in pts])
    np.testing.assert_allclose(g, ref, rtol=1e-9)


def test_gradient_wrt_parameters_matches_finite_differences(x64):
    v = jnp.array([0.2, 0.95, 1.0, 1.3, 4.0])

    def f(p):
        return jnp.sum(jn.soft_lif_rate(v, p[0], p[1], gamma=p[2]))

    p = jnp.array([0.02, 0.002, 0.05])
    g = jax.grad(f)(p)
    f_jit = jax.jit(f)
    for i in range(3):
        h = 1e-6 * float(p[i])
        fd = (f_jit(p.at[i].add(h)) - f_jit(p.at[i].add(-h))) / (2 * h)
        # Central differences with relative step 1e-6: error ~ 1e-12 relative plus rounding ~ 1e-10.
        np.testing.assert_allclose(g[i], fd, rtol=1e-7)


def test_continuous_across_branch_switches(x64):
    gamma = 0.03
    for v0 in (1.0 - 20 * gamma, 1.0 + gamma * np.log(np.expm1(1.0 / gamma))):  # u = -20, and rho = 1
        v = jnp.array([v0 - 1e-12, v0, v0 + 1e-12])
        r = np.asarray(jn.soft_lif_rate(v, gamma=gamma))
        assert np.ptp(r) / r[1] < 1e-9


def test_bounded_by_refractory_limit():
    r = jn.soft_lif_rate(jnp.array([1e3, 1e6, 1e30]), 0.02, 0.004)
    assert bool(jnp.all(r <= 1 / 0.004 * (1 + 1e-6))) and float(r[-1]) > 0.999 / 0.004


def test_jit_vmap_no_retrace_and_broadcast():
    traces = []

    @jax.jit
    def f(v, gamma):
        traces.append(None)
        return jn.soft_lif_rate(v, gamma=gamma)

    v = jnp.linspace(0.0, 3.0, 7)
    np.testing.assert_allclose(f(v, 0.03), jn.soft_lif_rate(v), rtol=1e-6)
    f(v + 0.1, 0.05)
    assert len(traces) == 1
    # vmap over gamma and v at once equals the broadcast call
    gammas = jnp.array([0.01, 0.03, 0.1])
    out = jax.vmap(lambda g: jn.soft_lif_rate(v, gamma=g))(gammas)
    np.testing.assert_allclose(out, jn.soft_lif_rate(v[None, :], gamma=gammas[:, None]), rtol=1e-6)
    tm = jnp.array([0.01, 0.02])
    np.testing.assert_allclose(
        jax.vmap(jn.soft_lif_rate, in_axes=(None, 0))(v, tm),
        jn.soft_lif_rate(v[None], tm[:, None]),
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"gamma": 0.0}, r"gamma must be finite and in \(0, inf\); got gamma = 0"),
        ({"gamma": -0.1}, r"gamma must be finite and in \(0, inf\)"),
        ({"gamma": float("nan")}, r"gamma must be finite"),
        ({"tau_m": 0.0}, r"tau_m must be finite and in \(0, inf\) s"),
        ({"tau_ref": -0.002}, r"tau_ref must be finite and in \(0, inf\) s"),
    ],
)
def test_bad_parameters(kw, match):
    with pytest.raises(ValueError, match=match):
        jn.soft_lif_rate(jnp.ones(3), **kw)


def test_bad_traced_gamma():
    f = jax.jit(lambda v, g: jn.soft_lif_rate(v, gamma=g))
    with pytest.raises(RUNTIME_ERRORS, match=r"gamma must be finite and in \(0, inf\)"):
        f(jnp.ones(3), -0.03).block_until_ready()
