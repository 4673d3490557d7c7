"""The closed forms of ``jaxneuro._network._lif_closed_form`` against independent references.

The sub-threshold model between events, with a constant drive ``J`` (time in s):

    tau_m dv/du = s + J - v,   tau_s ds/du = -s,
    v(u) = J + (v_0 - J) e^(-u/tau_m) + s_0 K(u),   K(u) = tau_s/(tau_s - tau_m) (e^(-u/tau_s) - e^(-u/tau_m)),

with ``K(u) = (u/tau_m) e^(-u/tau_m)`` at ``tau_s = tau_m``.  The references are written here
with numpy and scipy in float64 (the difference form and its limit, ``expm1``,
``solve_ivp``, ``brentq``, grid searches); tolerances are derived from the float64 rounding of
the quantities compared (``EPS`` times their scale, divided by a slope where a root or a
peak is located) and, for the ODE solver, from its requested tolerances.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from jaxneuro._network import _lif_closed_form as cf

EPS = np.finfo(np.float64).eps
TAU_M = (0.005, 0.01, 0.02)
RATIOS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0)  # tau_s / tau_m


# ============================================================================ references
def k_ref(u, tau_m, tau_s):
    """``K(u)``: the difference form away from ``tau_s = tau_m``, its limit at it."""
    u = np.asarray(u, float)
    if tau_s == tau_m:
        return u / tau_m * np.exp(-u / tau_m)
    return tau_s / (tau_s - tau_m) * (np.exp(-u / tau_s) - np.exp(-u / tau_m))


def k_expm1(u, tau_m, tau_s):
    """``K(u) = e^(-u/tau_m) expm1(a u)/(a tau_m)``: accurate to a few ulps for every ``a``."""
    a = 1.0 / tau_m - 1.0 / tau_s
    u = np.asarray(u, float)
    if a == 0:
        return u / tau_m * np.exp(-u / tau_m)
    return np.exp(-u / tau_m) * np.expm1(a * u) / (a * tau_m)


def v_ref(u, vb, sb, J, tau_m, tau_s):
    return J + (vb - J) * np.exp(-u / tau_m) + sb * k_ref(u, tau_m, tau_s)


def dv_ref(u, vb, sb, J, tau_m, tau_s):
    return (sb * np.exp(-u / tau_s) + J - v_ref(u, vb, sb, J, tau_m, tau_s)) / tau_m


def exp_tol(u, tau_m, tau_s):
    """Relative rounding of ``e^(-u/tau)`` computed from ``u * (1/tau)``: the argument's
    rounding, ``EPS |u/tau|``, becomes a relative error of the exponential (XLA's ``exp`` adds
    a few ulps); ``K`` is a difference of two of them."""
    return 8 * EPS * (1 + np.abs(u) / tau_m + np.abs(u) / tau_s)


def root_ref(lo, hi, vb, sb, J, tau_m, tau_s):
    """The crossing ``v(u) = 1`` in ``[lo, hi]`` by ``brentq`` on the float64 closed form."""
    return brentq(lambda u: v_ref(u, vb, sb, J, tau_m, tau_s) - 1.0, lo, hi, xtol=1e-300, rtol=4 * EPS, maxiter=500)


def rates(tau_m, tau_s):
    """``(inv_tm, inv_ts, a)`` as the simulator computes them."""
    return 1.0 / tau_m, 1.0 / tau_s, 1.0 / tau_m - 1.0 / tau_s


# ============================================================================ phi1 and K
def test_phi1_is_expm1_over_x(x64):
    x = np.concatenate([np.linspace(-cf.PHI1_SERIES, cf.PHI1_SERIES, 2000), [-1e-300, 1e-12, -1e-8]])  # (no 0)
    got = np.asarray(cf.phi1(jnp.asarray(x)))
    ref = np.expm1(x) / x
    np.testing.assert_allclose(got, ref, rtol=4 * EPS, atol=0)
    assert float(cf.phi1(jnp.float64(0.0))) == 1.0


@pytest.mark.parametrize("tau_m", TAU_M)
def test_k_against_the_difference_form_away_from_equal_time_constants(x64, tau_m):
    u = np.geomspace(1e-6, 0.2, 300)
    for ratio in (0.1, 0.25, 0.5, 0.9, 0.99, 1.01, 1.1, 2.0, 5.0, 10.0):
        tau_s = ratio * tau_m
        em, es, k = (np.asarray(x) for x in cf.decays(jnp.asarray(u), *rates(tau_m, tau_s)[::2]))
        ref_em, ref_es = np.exp(-u / tau_m), np.exp(-u / tau_s)
        assert np.all(np.abs(em - ref_em) <= exp_tol(u, tau_m, tau_s) * ref_em)
        assert np.all(np.abs(es - ref_es) <= exp_tol(u, tau_m, tau_s) * ref_es)
        ref = k_ref(u, tau_m, tau_s)
        # the float64 difference form loses digits where e^(-u/tau_s) ~ e^(-u/tau_m): the
        # rounding of both exponentials, relative to K, is amplified by (e_s + e_m) / |e_s - e_m|
        cancel = (ref_es + ref_em) / np.abs(ref_es - ref_em)
        assert np.all(np.abs(k - ref) <= exp_tol(u, tau_m, tau_s) * (1 + cancel) * np.abs(ref))
        ref = k_expm1(u, tau_m, tau_s)
        assert np.all(np.abs(k - ref) <= exp_tol(u, tau_m, tau_s) * ref)
        np.testing.assert_array_equal(np.asarray(cf.kresp(jnp.asarray(u), *rates(tau_m, tau_s)[::2])), k)


@pytest.mark.parametrize("tau_m", TAU_M)
def test_k_at_equal_time_constants_is_the_limit(x64, tau_m):
    u = np.geomspace(1e-7, 0.2, 300)
    k = np.asarray(cf.kresp(jnp.asarray(u), 1.0 / tau_m, 0.0))
    ref = u / tau_m * np.exp(-u / tau_m)
    assert np.all(np.abs(k - ref) <= exp_tol(u, tau_m, tau_m) * ref)
    assert np.all(np.isfinite(k))


@pytest.mark.parametrize("tau_m", TAU_M)
def test_k_continuous_across_equal_time_constants(x64, tau_m):
    """Through ``tau_s -> tau_m`` from both sides ``K`` moves smoothly to its limit: the
    distance to the limit is first order in ``a u`` (``phi1(x) = 1 + x/2 + ...``), with no
    jump where the evaluation switches from the difference form to the series."""
    u = np.geomspace(1e-5, 0.1, 50)
    k0 = u / tau_m * np.exp(-u / tau_m)
    for rel in np.concatenate([-np.geomspace(1e-14, 0.3, 40), np.geomspace(1e-14, 3.0, 40)]):
        tau_s = tau_m * (1 + rel)
        inv_tm, _, a = rates(tau_m, tau_s)
        k = np.asarray(cf.kresp(jnp.asarray(u), inv_tm, a))
        tol = exp_tol(u, tau_m, tau_s)
        ref = k_expm1(u, tau_m, tau_s)
        assert np.all(np.abs(k - ref) <= tol * ref)
        x = np.abs(a * u)
        assert np.all(np.abs(k / k0 - 1) <= 0.5 * x * np.exp(x) + 2 * tol)
    # both sides of the switch |a u| = PHI1_SERIES, for both signs of a
    for sign in (1.0, -1.0):
        a = sign * 2.0 / tau_m
        u_sw = cf.PHI1_SERIES / abs(a)
        # the last float u with |a u| <= PHI1_SERIES (series) and the next one (difference form)
        u_in = u_sw
        while abs(a * u_in) > cf.PHI1_SERIES:
            u_in = np.nextafter(u_in, 0.0)
        while abs(a * np.nextafter(u_in, 1.0)) <= cf.PHI1_SERIES:
            u_in = np.nextafter(u_in, 1.0)
        us = u_sw * (1 + np.array([-1e-9, -1e-12, 0.0, 1e-12, 1e-9]))
        us = np.concatenate([us, [u_in, np.nextafter(u_in, 1.0)]])
        k = np.asarray(cf.kresp(jnp.asarray(us), 1.0 / tau_m, a))
        tau_s = 1.0 / (1.0 / tau_m - a)
        ref = k_expm1(us, tau_m, tau_s)
        assert np.all(np.abs(k - ref) <= exp_tol(us, tau_m, tau_s) * ref)
        assert abs(k[-1] - k[-2]) <= 16 * EPS * k[-1]  # adjacent floats: no jump at the switch


def test_k_float32_accurate_at_and_near_equal_time_constants():
    tau_m = 0.01
    u = np.geomspace(1e-6, 0.1, 100)
    for rel in (0.0, 1e-7, 1e-4, -1e-4, 1e-2, 0.5):
        tau_s = tau_m * (1 + rel)
        a = np.float32(1.0 / tau_m) - np.float32(1.0 / tau_s)
        k = np.asarray(cf.kresp(jnp.asarray(u, jnp.float32), jnp.float32(1.0 / tau_m), jnp.float32(a)))
        assert k.dtype == np.float32
        ref = k_expm1(u, tau_m, 1.0 / (1.0 / tau_m - float(a)))  # the float32 rates, exactly
        np.testing.assert_allclose(k, ref, rtol=2e-6)


def test_exps_is_exp_of_each_argument_broadcast(x64):
    a, b, c = np.linspace(-3, 1, 5), np.float64(-0.5), np.arange(5.0)[:, None] * -0.1
    out = cf.exps(jnp.asarray(a), jnp.asarray(b), jnp.asarray(c))
    assert len(out) == 3 and all(o.shape == (5, 5) for o in out)
    for o, x in zip(out, (a, b, c), strict=True):
        np.testing.assert_allclose(np.asarray(o), np.broadcast_to(np.exp(x), (5, 5)), rtol=2 * EPS)


# ============================================================================ free response
@pytest.mark.parametrize("tau_m", TAU_M)
@pytest.mark.parametrize("ratio", RATIOS + (1.0 + 1e-7,))
def test_free_response_solves_the_odes(x64, tau_m, ratio):
    tau_s = ratio * tau_m
    us = np.linspace(0.0, 5 * max(tau_m, tau_s), 41)
    rng = np.random.default_rng(int(1e3 * tau_m + 10 * ratio))
    for vb, sb, J in [(0.0, 1.0, 0.0), (-0.3, 2.5, 0.7), *rng.normal(0, 2, (3, 3))]:
        sol = solve_ivp(
            lambda t, y, J: [(y[1] + J - y[0]) / tau_m, -y[1] / tau_s],
            (0.0, us[-1]),
            [vb, sb],
            args=(J,),
            method="DOP853",
            rtol=1e-13,
            atol=1e-15,
            t_eval=us,
        )
        assert sol.success
        v, s, dv = (np.asarray(x) for x in cf.free_response(jnp.asarray(us), vb, sb, J, *rates(tau_m, tau_s)))
        scale = 1 + abs(vb) + abs(sb) + abs(J)
        tol = 1e-12 * scale  # the solver's tolerances, with a margin
        np.testing.assert_allclose(v, sol.y[0], rtol=0, atol=tol)
        np.testing.assert_allclose(s, sol.y[1], rtol=0, atol=tol)
        np.testing.assert_allclose(dv, (sol.y[1] + J - sol.y[0]) / tau_m, rtol=0, atol=2 * tol / tau_m)


def test_free_response_shapes_broadcast(x64):
    u = jnp.linspace(0.0, 0.01, 6)[:, None]
    v, s, dv = cf.free_response(u, jnp.zeros(4), 1.0, 0.5, 100.0, 200.0, -100.0)
    assert v.shape == dv.shape == (6, 4)
    assert s.shape == (6, 1)  # s depends on u, sb and the rates only
    v, s, dv = cf.free_response(u, 0.0, jnp.ones(4), 0.5, 100.0, 200.0, -100.0)
    assert v.shape == s.shape == dv.shape == (6, 4)


# ============================================================================ threshold time
def _crossing_cases(seed, n, lengths=(1e-5, 1e-4)):
    """Random crossings ``u*`` in ``[lo, hi]`` (forward ``[0, h]`` or backward ``[-h, 0]``),
    ``vb`` chosen so that ``v(u*) = 1``, kept when ``v`` rises over the whole interval
    (``v' > 0`` at both ends: ``tau_m v' = s + J - v`` has at most one zero)."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        tau_m = rng.choice(TAU_M)
        tau_s = tau_m * rng.choice(RATIOS)
        h = rng.choice(lengths)
        lo, hi = (-h, 0.0) if rng.random() < 0.5 else (0.0, h)
        u_star = lo + (hi - lo) * rng.random()
        sb, J = rng.normal(0, 3), rng.normal(1, 1)
        em = np.exp(-u_star / tau_m)
        vb = (1 - J * (1 - em) - sb * k_ref(u_star, tau_m, tau_s)) / em
        if dv_ref(lo, vb, sb, J, tau_m, tau_s) > 0 and dv_ref(hi, vb, sb, J, tau_m, tau_s) > 0:
            cases.append((lo, hi, vb, sb, J, tau_m, tau_s))
    return cases


def _root_tolerance(u, vb, sb, J, tau_m, tau_s):
    """Where ``v - 1`` is known to float64 rounding: its scale times EPS over the slope."""
    scale = 1 + abs(J) + abs(vb) + abs(sb)
    return 8 * EPS * (scale / dv_ref(u, vb, sb, J, tau_m, tau_s) + abs(u))


def test_threshold_time_against_brentq(x64):
    cases = _crossing_cases(0, 400)
    assert any(c[5] == c[6] for c in cases)  # tau_s = tau_m exactly (a = 0) among them
    lo, hi, vb, sb, J, tau_m, tau_s = (np.array(c) for c in zip(*cases, strict=True))
    got = np.asarray(cf.threshold_time(*(jnp.asarray(x) for x in (lo, hi, vb, sb, J)), *rates(tau_m, tau_s)))
    for g, case in zip(got, cases, strict=True):
        lo_, hi_, vb_, sb_, J_, tm, ts = case
        ref = root_ref(*case)
        assert abs(g - ref) <= _root_tolerance(ref, vb_, sb_, J_, tm, ts), (case, g, ref)
        assert lo_ - _root_tolerance(ref, vb_, sb_, J_, tm, ts) <= g <= hi_ + _root_tolerance(ref, vb_, sb_, J_, tm, ts)


def test_threshold_time_at_equal_time_constants(x64):
    tau_m = tau_s = 0.01
    for lo, hi, vb, sb, J in [(0.0, 1e-4, 0.99, 2.0, 0.5), (-1e-4, 0.0, 1.001, 0.3, 1.2), (0.0, 1e-4, 0.995, 0.0, 2.0)]:
        ref = root_ref(lo, hi, vb, sb, J, tau_m, tau_s)
        got = float(cf.threshold_time(jnp.float64(lo), jnp.float64(hi), vb, sb, J, 100.0, 100.0, 0.0))
        assert abs(got - ref) <= _root_tolerance(ref, vb, sb, J, tau_m, tau_s)


def test_threshold_time_without_a_bracket_returns_lo(x64):
    """``v(lo) >= 1`` with ``lo != 0``: already above threshold at the start (no bracket)."""
    tau_m, tau_s = 0.02, 0.005
    u = cf.threshold_time(jnp.float64(-1e-4), jnp.float64(0.0), 1.2, 0.0, 3.0, *rates(tau_m, tau_s))
    assert float(u) == -1e-4


def test_threshold_time_gradient_is_the_implicit_one(x64):
    """``du/dJ = -(dv/dJ)/v'`` at the crossing, ``dv/dJ = 1 - e^(-u/tau_m)``, and ``du/dvb =
    -e^(-u/tau_m)/v'``."""
    for lo, hi, vb, sb, J, tau_m, tau_s in _crossing_cases(1, 20):
        args = (jnp.float64(lo), jnp.float64(hi), vb, sb, J, *rates(tau_m, tau_s))
        u = float(cf.threshold_time(*args))
        crossing = lambda vb, J, args=args: cf.threshold_time(args[0], args[1], vb, args[3], J, *args[5:])
        g_vb, g_J = jax.grad(crossing, (0, 1))(vb, J)
        slope = dv_ref(u, vb, sb, J, tau_m, tau_s)
        em = np.exp(-u / tau_m)
        np.testing.assert_allclose(float(g_J), -(1 - em) / slope, rtol=1e-9, atol=1e-9 * abs(hi - lo))
        np.testing.assert_allclose(float(g_vb), -em / slope, rtol=1e-9)


def test_threshold_time_under_jit_and_float32():
    cases = _crossing_cases(2, 50)
    lo, hi, vb, sb, J, tau_m, tau_s = (np.array(c) for c in zip(*cases, strict=True))
    args = [jnp.asarray(x, jnp.float32) for x in (lo, hi, vb, sb, J, *rates(tau_m, tau_s))]
    eager = cf.threshold_time(*args)
    jitted = jax.jit(cf.threshold_time)(*args)
    assert eager.dtype == jitted.dtype == jnp.float32
    for g, g_jit, case in zip(np.asarray(eager), np.asarray(jitted), cases, strict=True):
        lo_, hi_, vb_, sb_, J_, tm, ts = case
        ref = root_ref(*case)
        # float32 rounding of v (and of the inputs) over the slope, and of u itself
        scale = 1 + abs(J_) + abs(vb_) + abs(sb_)
        tol = 64 * np.finfo(np.float32).eps * (scale / dv_ref(ref, vb_, sb_, J_, tm, ts) + abs(hi_ - lo_))
        assert abs(g - ref) <= tol, (case, g, ref)
        assert abs(g_jit - g) <= tol, (case, g_jit, g)


# ============================================================================ interior maximum
def _peak_cases(seed, n, lengths=(1e-5, 1e-4)):
    """Random peaks at ``u*`` in ``(0, h)``: ``sb > 0`` and ``J`` chosen so that ``tau_m v' = s
    + J - v`` vanishes at ``u*`` (it then falls through zero there: ``v'(0) > 0 > v'(h)``)."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        tau_m = rng.choice(TAU_M)
        tau_s = tau_m * rng.choice(RATIOS)
        h = rng.choice(lengths)
        u_star = h * rng.uniform(0.02, 0.98)
        sb, vb = rng.uniform(0.1, 5.0), rng.normal(0, 1)
        em, es = np.exp(-u_star / tau_m), np.exp(-u_star / tau_s)
        J = (vb * em + sb * k_ref(u_star, tau_m, tau_s) - sb * es) / em
        assert dv_ref(0.0, vb, sb, J, tau_m, tau_s) > 0 > dv_ref(h, vb, sb, J, tau_m, tau_s)
        cases.append((h, vb, sb, J, tau_m, tau_s, u_star))
    return cases


def test_interior_max_against_a_grid_search(x64):
    n_grid = 20001
    cases = _peak_cases(3, 200)
    assert any(c[4] == c[5] for c in cases)  # tau_s = tau_m exactly (a = 0) among them
    for h, vb, sb, J, tau_m, tau_s, u_star in cases:
        u, v = (float(x) for x in cf.interior_max(jnp.float64(h), vb, sb, J, *rates(tau_m, tau_s)))
        # dense grid over [0, h], then again over the two grid steps around its maximum
        grid = np.linspace(0.0, h, n_grid)
        i = int(np.argmax(v_ref(grid, vb, sb, J, tau_m, tau_s)))
        fine = np.linspace(grid[max(i - 1, 0)], grid[min(i + 1, n_grid - 1)], n_grid)
        vf = v_ref(fine, vb, sb, J, tau_m, tau_s)
        j = int(np.argmax(vf))
        scale = 1 + abs(J) + abs(vb) + abs(sb)
        curv = sb * np.exp(-u_star / tau_s) / (tau_s * tau_m)  # -v'' at the peak
        step = fine[1] - fine[0]
        # the value: the grid's maximum is below the true one by at most curv step^2 / 8
        assert abs(v - vf[j]) <= 16 * EPS * scale + curv * step**2 / 8, (v, vf[j])
        # the location: where v is flat to rounding around the grid's maximum ...
        flat = np.sqrt(2 * 16 * EPS * scale / curv) + step
        assert abs(u - fine[j]) <= flat, (u, fine[j], flat)
        # ... and near the constructed peak: two Newton steps from the linear interpolation
        # leave at most 1e-9 h on intervals up to 0.2 tau_s (measured: 7.5e-10 h); the value
        # is then off by curv (1e-9 h)^2 / 2, far below rounding
        assert abs(u - u_star) <= 1e-8 * h
        assert 0.0 <= u <= h
