"""Built-in neuron models beyond LIF and HH: Izhikevich, AdEx, QIF, EIF.

Vector fields against the papers' equations written out in numpy; spike trains of
``simulate`` against an independent scipy integration with threshold events and resets
(``tests/reference_models.py``); the firing patterns of the Izhikevich presets and AdEx
adaptation as properties of both; QIF and EIF rates against their closed forms.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference_models as ref

import jaxneuro as jn

RUNTIME_ERRORS = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)


# ---------------------------------------------------------------------------------- helpers
def state_of(model: str, y):
    y = [jnp.asarray(x) for x in y]
    if model == "izhikevich":
        return jn.IzhikevichState(*y)
    if model == "adex":
        return jn.AdExState(*y)
    return y[0]


def leaves(tree) -> list[float]:
    return [float(x) for x in jax.tree.leaves(tree)]


# Non-default parameters, so that every field reaches the vector field.
ADEX_P = dict(ref.ADEX, C=200.0, g_L=12.0, E_L=-70.0, V_T=-50.0, Delta_T=2.5, tau_w=100.0, a=-1.0, b=50.0)
ADEX_P.update(V_r=-58.0, V_peak=-30.0)
QIF_P = dict(tau_m=12.0, E_L=-70.0, V_c=-55.0, V_peak=20.0, V_reset=-75.0)
EIF_P = dict(tau_m=15.0, E_L=-68.0, V_T=-52.0, Delta_T=3.0, V_peak=-37.0, V_reset=-72.0)

# name -> (neuron, numpy right-hand side with a drive I(t), state sampler, drive range)
CASES = {
    "izhikevich": (
        lambda: jn.Izhikevich.preset("CH"),
        lambda t, y, I: ref.izhikevich_rhs(t, y, I, *ref.IZHIKEVICH["CH"][:2]),
        lambda rng: [rng.uniform(-90, 30), rng.uniform(-20, 20)],
        (-10.0, 20.0),
    ),
    "adex": (
        lambda: jn.AdEx(**ADEX_P),
        lambda t, y, I: ref.adex_rhs(t, y, I, ADEX_P),
        # up to 1.5 Delta_T above the peak: the cap (2 Delta_T above) must not act there
        lambda rng: [rng.uniform(-90, ADEX_P["V_peak"] + 1.5 * ADEX_P["Delta_T"]), rng.uniform(-100, 500)],
        (-200.0, 1500.0),
    ),
    "qif": (
        lambda: jn.QIF(**QIF_P),
        lambda t, y, I: ref.qif_rhs(t, y, I, QIF_P),
        lambda rng: [rng.uniform(-90, 30)],
        (-10.0, 30.0),
    ),
    "eif": (
        lambda: jn.EIF(**EIF_P),
        lambda t, y, I: ref.eif_rhs(t, y, I, EIF_P),
        lambda rng: [rng.uniform(-90, EIF_P["V_peak"] + 1.5 * EIF_P["Delta_T"])],
        (-10.0, 40.0),
    ),
}


# ----------------------------------------------------------------- vector fields and maps
@pytest.mark.parametrize("model", list(CASES))
def test_vector_field_matches_equations(model, x64):
    make, rhs, sample, (lo, hi) = CASES[model]
    neuron = make()
    rng = np.random.default_rng(0)
    for _ in range(20):
        y, I = sample(rng), rng.uniform(lo, hi)
        got = neuron.vector_field(0.0, state_of(model, y), I)
        np.testing.assert_allclose(leaves(got), rhs(0.0, y, lambda t, I=I: I), rtol=1e-12, atol=1e-12)
    # A drive that is a function of time is read at t.
    drive = jn.Step(5.0, hi, lo)
    y = sample(rng)
    for t in (1.0, 7.0):
        got = neuron.vector_field(t, state_of(model, y), drive)
        np.testing.assert_allclose(leaves(got), rhs(t, y, ref.step_drive(5.0, hi, lo)), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("model", list(CASES))
def test_spike_condition_reset_and_initial_state(model):
    neuron = CASES[model][0]()
    y0 = neuron.initial_state()
    v_peak = {"izhikevich": 30.0, "adex": ADEX_P["V_peak"], "qif": QIF_P["V_peak"], "eif": EIF_P["V_peak"]}[model]
    at_peak = state_of(model, [v_peak, 7.0][: len(jax.tree.leaves(y0))])
    assert float(neuron.spike_condition(at_peak)) == 0.0
    assert float(neuron.spike_condition(y0)) < 0.0
    after = neuron.reset(at_peak)
    assert jax.tree.structure(after) == jax.tree.structure(at_peak)
    for a, b in zip(jax.tree.leaves(after), jax.tree.leaves(at_peak), strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
    expected = {
        "izhikevich": [ref.IZHIKEVICH["CH"][2], 7.0 + ref.IZHIKEVICH["CH"][3]],
        "adex": [ADEX_P["V_r"], 7.0 + ADEX_P["b"]],
        "qif": [QIF_P["V_reset"]],
        "eif": [EIF_P["V_reset"]],
    }[model]
    np.testing.assert_allclose(leaves(after), expected, rtol=1e-6)
    assert float(neuron.spike_condition(after)) < 0.0
    # Initial states: rest (AdEx, QIF, EIF) or the paper's v = -65 mV, u = b v (Izhikevich).
    start = {
        "izhikevich": [-65.0, -65.0 * ref.IZHIKEVICH["CH"][1]],
        "adex": [ADEX_P["E_L"], 0.0],
        "qif": [QIF_P["E_L"]],
        "eif": [EIF_P["E_L"]],
    }[model]
    np.testing.assert_allclose(leaves(y0), start, rtol=1e-6)


def test_reset_keeps_dtype_and_batch_shape(x64):
    neuron = jn.Izhikevich(d=jnp.array([2.0, 4.0, 8.0]))
    y = jn.IzhikevichState(jnp.full(3, 30.0, jnp.float32), jnp.zeros(3, jnp.float32))
    after = neuron.reset(y)
    assert after.v.dtype == after.u.dtype == jnp.float32 and after.v.shape == (3,)
    np.testing.assert_allclose(after.u, [2.0, 4.0, 8.0])
    assert jn.QIF().reset(jnp.zeros((2, 3))).shape == (2, 3)


@pytest.mark.parametrize("neuron", [jn.AdEx(), jn.EIF()], ids=["adex", "eif"])
def test_exponential_term_is_capped_with_finite_value_and_gradient(neuron):
    # In float32 (the default) exp overflows above 88.7: V - V_T > 177 mV for Delta_T = 2.
    adex = isinstance(neuron, jn.AdEx)

    def dvdt(v):
        out = neuron.vector_field(0.0, jn.AdExState(v, jnp.zeros_like(v)) if adex else v, 0.0)
        return out.v if adex else out

    E_L, V_T, Delta_T, V_peak = (float(x) for x in (neuron.E_L, neuron.V_T, neuron.Delta_T, neuron.V_peak))
    g, scale = (float(neuron.g_L), float(neuron.C)) if adex else (1.0, float(neuron.tau_m))
    x_cap = (V_peak - V_T) / Delta_T + 2.0  # the documented cap, 2 Delta_T above the peak
    for v in [V_peak, V_peak + 2.0 * Delta_T - 1e-2, V_peak + 2.0 * Delta_T + 1.0, 200.0, 1e4, 1e30]:
        value, grad = jax.value_and_grad(dvdt)(jnp.float32(v))
        assert np.isfinite(float(value)) and np.isfinite(float(grad))
        x = (v - V_T) / Delta_T
        capped = x > x_cap
        expected = (-g * (v - E_L) + g * Delta_T * math.exp(min(x, x_cap))) / scale
        expected_grad = (-g + (0.0 if capped else g * math.exp(x))) / scale
        assert float(value) == pytest.approx(expected, rel=1e-5)
        assert float(grad) == pytest.approx(expected_grad, rel=1e-4)


# -------------------------------------------------------------------------------- presets
def test_izhikevich_presets():
    assert set(jn.IZHIKEVICH_PRESETS) == {"RS", "IB", "CH", "FS", "LTS"}
    for name, (a, b, c, d) in ref.IZHIKEVICH.items():
        n = jn.Izhikevich.preset(name)
        np.testing.assert_allclose([float(n.a), float(n.b), float(n.c), float(n.d)], [a, b, c, d], rtol=1e-7)
        assert float(n.v_peak) == 30.0
    assert float(jn.Izhikevich.preset("FS", v_peak=35.0).v_peak) == 35.0
    with pytest.raises(
        ValueError, match=r"unknown Izhikevich preset 'XX'; allowed names: 'RS', 'IB', 'CH', 'FS', 'LTS'"
    ):
        jn.Izhikevich.preset("XX")
    with pytest.raises(ValueError, match=r"unknown Izhikevich preset 'rs'"):
        jn.Izhikevich.preset("rs")


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: jn.Izhikevich(a=-0.02), r"a must be finite and in \(0, inf\) 1/ms; got a = -0.02"),
        (lambda: jn.Izhikevich(a=0.0), r"a must be finite and in \(0, inf\) 1/ms; got a = 0"),
        (lambda: jn.Izhikevich(c=35.0), r"v_peak - c must be finite and in \(0, inf\) mV; got v_peak - c = -5"),
        (lambda: jn.Izhikevich(d=float("nan")), r"d must be finite"),
        (lambda: jn.Izhikevich(b=float("inf")), r"b must be finite"),
        (lambda: jn.AdEx(tau_w=-144.0), r"tau_w must be finite and in \(0, inf\) ms; got tau_w = -144"),
        (lambda: jn.AdEx(C=0.0), r"C must be finite and in \(0, inf\) pF; got C = 0"),
        (lambda: jn.AdEx(g_L=-30.0), r"g_L must be finite and in \(0, inf\) nS"),
        (lambda: jn.AdEx(Delta_T=0.0), r"Delta_T must be finite and in \(0, inf\) mV"),
        (lambda: jn.AdEx(tau_ref=-1.0), r"tau_ref must be finite and in \[0, inf\) ms; got tau_ref = -1"),
        (lambda: jn.AdEx(b=float("nan")), r"b must be finite"),
        (lambda: jn.AdEx(V_r=-40.0), r"V_peak - V_r must be finite and in \(0, inf\) mV; got V_peak - V_r = -0.4"),
        (lambda: jn.QIF(tau_m=-10.0), r"tau_m must be finite and in \(0, inf\) ms; got tau_m = -10"),
        (lambda: jn.QIF(V_c=-70.0), r"V_c - E_L must be finite and in \(0, inf\) mV; got V_c - E_L = -5"),
        (
            lambda: jn.QIF(V_reset=30.0),
            r"V_peak - V_reset must be finite and in \(0, inf\) mV; got V_peak - V_reset = 0",
        ),
        (lambda: jn.QIF(tau_ref=-0.5), r"tau_ref must be finite and in \[0, inf\) ms"),
        (lambda: jn.EIF(tau_m=0.0), r"tau_m must be finite and in \(0, inf\) ms; got tau_m = 0"),
        (lambda: jn.EIF(Delta_T=-2.0), r"Delta_T must be finite and in \(0, inf\) mV; got Delta_T = -2"),
        (lambda: jn.EIF(V_reset=-30.0), r"V_peak - V_reset must be finite and in \(0, inf\) mV"),
        (lambda: jn.EIF(tau_ref=float("nan")), r"tau_ref must be finite"),
    ],
)
def test_construction_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "make, good, match",
    [
        (lambda x: jn.Izhikevich(a=x), 0.02, r"a must be finite and in \(0, inf\) 1/ms"),
        (lambda x: jn.Izhikevich(c=x + 50.0), -100.0, r"v_peak - c must be in \(0, inf\) mV"),
        (lambda x: jn.AdEx(tau_w=x), 144.0, r"tau_w must be finite and in \(0, inf\) ms"),
        (lambda x: jn.AdEx(V_r=x), -70.6, r"V_peak - V_r must be in \(0, inf\) mV"),
        (lambda x: jn.QIF(tau_m=x), 10.0, r"tau_m must be finite and in \(0, inf\) ms"),
        (lambda x: jn.QIF(V_c=x - 70.0), 10.0, r"V_c - E_L must be in \(0, inf\) mV"),
        (lambda x: jn.EIF(Delta_T=x), 2.0, r"Delta_T must be finite and in \(0, inf\) mV"),
        (lambda x: jn.EIF(tau_ref=x), 2.0, r"tau_ref must be finite and in \[0, inf\) ms"),
    ],
)
def test_traced_parameters_are_checked_at_run_time(make, good, match):
    @jax.jit
    def f(x):
        # Every checked field reaches the output (an unused error_if is dead code).
        neuron = make(x).checked()
        y = neuron.initial_state()
        used = (neuron.vector_field(0.0, y, 0.0), neuron.reset(y), neuron.refractory_period())
        return sum(jnp.sum(leaf) for leaf in jax.tree.leaves(used))

    with pytest.raises(RUNTIME_ERRORS, match=match):
        f(-1.0).block_until_ready()
    assert np.isfinite(float(f(good)))


def test_checked_concrete_neurons_unchanged():
    for neuron in (jn.Izhikevich(), jn.AdEx(), jn.QIF(), jn.EIF()):
        checked = neuron.checked()
        assert type(checked) is type(neuron)
        assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(checked), jax.tree.leaves(neuron), strict=True))


def test_class_variables():
    for cls, unit in ((jn.Izhikevich, "mV/ms"), (jn.AdEx, "pA"), (jn.QIF, "mV (R I)"), (jn.EIF, "mV (R I)")):
        assert cls.time_unit == "ms" and cls.seconds_per_time_unit == 1e-3
        assert cls.input_unit.startswith(unit) and cls.default_dt > 0
        assert issubclass(cls, jn.AbstractNeuron)
    assert jn.Izhikevich().refractory_period() is None
    assert float(jn.AdEx(tau_ref=2.0).refractory_period()) == 2.0


def test_jit_and_vmap_over_a_parameter_without_retrace():
    traces = []

    @jax.jit
    def du(a, v):
        traces.append(1)
        state = jn.IzhikevichState(v, jnp.zeros_like(v))
        return jax.vmap(lambda a: jn.Izhikevich(a=a, b=0.2).vector_field(0.0, state, 10.0).u)(a)

    a = jnp.array([0.02, 0.1, 0.5])
    np.testing.assert_allclose(du(a, -60.0), a * 0.2 * -60.0, rtol=1e-6)
    np.testing.assert_allclose(du(2 * a, -50.0), 2 * a * 0.2 * -50.0, rtol=1e-6)
    assert len(traces) == 1
    # A batched neuron evaluates all its members at once.
    qif = jn.QIF(tau_m=jnp.array([5.0, 10.0, 20.0]))
    np.testing.assert_allclose(qif.vector_field(0.0, qif.initial_state(), 15.0), 15.0 / np.array([5.0, 10.0, 20.0]))


# --------------------------------------------------------------- the references themselves
def test_reference_one_dimensional_models_match_their_closed_forms():
    for RI in (5.0, 10.0, 40.0):
        spikes = ref.qif_reference(RI, 250.0)
        np.testing.assert_allclose(np.diff(spikes), ref.qif_period(RI), rtol=1e-8)
    for RI in (14.0, 25.0):
        spikes = ref.eif_reference(RI, 250.0, tau_ref=2.0)
        np.testing.assert_allclose(np.diff(spikes), ref.eif_period(RI, tau_ref=2.0), rtol=1e-8)
    # The closed form tends to the canonical theta-neuron period for far peak and reset.
    far = dict(ref.QIF, V_peak=1e7, V_reset=-1e7)
    assert ref.qif_period(10.0, p=far) == pytest.approx(ref.qif_theta_period(10.0), rel=1e-5)
    # Rheobases: QIF (V_c - E_L)/4 = 3.75 mV, EIF V_T - E_L - Delta_T = 13 mV.
    assert ref.qif_period(3.74) == math.inf and ref.eif_period(12.99) == math.inf
    assert len(ref.qif_reference(3.7, 300.0)) == 0 and len(ref.eif_reference(12.9, 300.0)) == 0


def izhikevich_pattern(spikes: np.ndarray) -> dict:
    """Firing-pattern features of a spike train under a 10 mV/ms step at t = 10 ms."""
    isi = np.diff(spikes)
    short = isi < 10.0  # intra-burst interval (ms)
    return dict(
        n=len(spikes),
        isi=isi,
        first_isi=isi[0],
        last_isi=isi[-1],
        n_bursts=int(np.sum(short[1:] & ~short[:-1]) + short[0]),  # runs of short ISIs
        onset_burst=int(np.argmin(short)) + 1 if short[0] else 1,  # spikes in the first run
    )


def check_izhikevich_pattern(name: str, spikes: np.ndarray) -> None:
    """The paper's description of each class (Izhikevich 2003, Fig. 2) under I = 10."""
    f = izhikevich_pattern(spikes)
    isi = f["isi"]
    if name == "RS":  # tonic spikes with adaptation: ISIs grow, no bursts
        assert f["n_bursts"] == 0
        assert np.all(np.diff(isi) > -0.01 * f["last_isi"]) and f["last_isi"] > 1.8 * f["first_isi"]
    elif name == "IB":  # a burst of 2-5 spikes at onset, then repetitive single spikes
        assert 2 <= f["onset_burst"] <= 5 and f["n_bursts"] == 1
        tail = isi[f["onset_burst"] :]
        assert np.all(tail > 20.0) and np.ptp(tail[1:]) < 0.05 * tail[-1]
    elif name == "CH":  # repeated bursts of closely spaced spikes
        assert f["n_bursts"] >= 4 and np.max(isi) > 30.0
    elif name == "FS":  # high-frequency tonic firing, settles within a few spikes
        assert 1000.0 / f["last_isi"] > 100.0 and f["n_bursts"] <= 1
        assert np.ptp(isi[4:]) < 0.02 * f["last_isi"]
    elif name == "LTS":  # high-frequency onset with strong adaptation, then tonic
        assert f["first_isi"] < 5.0 and f["last_isi"] > 3.0 * f["first_isi"]
        assert np.all(np.diff(isi) > -0.01 * f["last_isi"])  # (a slight overshoot settles)


@pytest.mark.parametrize("name", list(ref.IZHIKEVICH))
def test_reference_izhikevich_patterns(name):
    check_izhikevich_pattern(name, ref.izhikevich_reference(name, ref.step_drive(10.0, 10.0), 300.0, breaks=[10.0]))


def test_reference_izhikevich_lts_has_the_lower_threshold():
    # Rheobase of the saddle-node: I = (5 - b)^2 / 0.16 - 140 = 4 (RS) and 1.02 (LTS).
    assert len(ref.izhikevich_reference("RS", 3.0, 300.0)) == 0
    assert len(ref.izhikevich_reference("LTS", 3.0, 300.0)) > 5


# ------------------------------------------------------------------------------ simulation
T_END, T_ON = 200.0, 50.0  # ms; step drives switch from baseline to amplitude at T_ON
F64_RTOL = 1e-9  # simulate's default diffrax tolerances in float64 (rtol = atol = root rtol)


def spike_times(spikes, i=None) -> np.ndarray:
    times, count = (spikes.times, spikes.count) if i is None else (spikes.times[i], spikes.count[i])
    return np.asarray(times[: int(count)], np.float64)


# model -> (factory from a parameter vector, parameter vectors, (baseline, amplitude) of the
# drive, reference spike times for (parameters, drive)).  Izhikevich runs all five presets.
SIM_CASES = {
    "izhikevich": (
        lambda p: jn.Izhikevich(a=p[0], b=p[1], c=p[2], d=p[3]),
        [ref.IZHIKEVICH[k] for k in ("RS", "IB", "CH", "FS", "LTS")],
        (0.0, 10.0),
        lambda p, drive, breaks: ref.izhikevich_reference(
            next(k for k, v in ref.IZHIKEVICH.items() if v == tuple(p)), drive, T_END, breaks
        ),
    ),
    "adex": (
        lambda p: jn.AdEx(tau_ref=p[0]),
        [(0.0,), (2.0,)],
        (300.0, 1000.0),
        lambda p, drive, breaks: ref.adex_reference(drive, T_END, breaks, tau_ref=p[0]),
    ),
    "qif": (
        lambda p: jn.QIF(tau_ref=p[0]),
        [(0.0,), (1.5,)],
        (2.0, 10.0),
        lambda p, drive, breaks: ref.qif_reference(drive, T_END, breaks, tau_ref=p[0]),
    ),
    "eif": (
        lambda p: jn.EIF(tau_ref=p[0]),
        [(0.0,), (2.0,)],
        (10.0, 20.0),
        lambda p, drive, breaks: ref.eif_reference(drive, T_END, breaks, tau_ref=p[0]),
    ),
}


def simulate_cases(model: str, **kwargs):
    """Every parameter vector of ``model`` under a constant drive and a step drive, as one
    jitted, vmapped ``simulate``; returns the spike trains and the reference's."""
    make, params, (lo, hi), reference = SIM_CASES[model]
    rows = [(p, base) for p in params for base in (hi, lo)]  # base = hi: a constant drive
    P = jnp.asarray([p for p, _ in rows], dtype=float)
    base = jnp.asarray([b for _, b in rows], dtype=float)

    @jax.jit
    def run(P, base):
        return jax.vmap(lambda p, b: jn.simulate(make(p), jn.Step(T_ON, hi, b), 0.0, T_END, **kwargs).spikes)(P, base)

    spikes = run(P, base)
    refs = []
    for p, b in rows:
        drive = hi if b == hi else ref.step_drive(T_ON, hi, b)
        refs.append(reference(p, drive, [] if b == hi else [T_ON]))
    return [spike_times(spikes, i) for i in range(len(rows))], refs


# float64 diffrax at tight tolerances against the reference of every case: the QIF (fastest) runs by
# default, the others with -m slow
@pytest.mark.parametrize("model", [m if m == "qif" else pytest.param(m, marks=pytest.mark.slow) for m in SIM_CASES])
def test_diffrax_spike_times_match_reference(model, x64):
    got, refs = simulate_cases(model, method="diffrax")
    for g, r in zip(got, refs, strict=True):
        assert len(r) > 2 and len(g) == len(r)
        # Newton stops the event time at |dt| < rtol |t|, and an error carries on to later
        # spikes through the reset, so the n-th spike is within n rtol T_END.
        tol = F64_RTOL * T_END * (1 + np.arange(len(r)))
        assert np.all(np.abs(g - r) <= tol), np.max(np.abs(g - r) / tol)


# a convergence study per model (several float64 RK4 runs): the QIF runs by default, the others with -m slow
# (tests/test_solvers.py::test_rk4_spike_times_converge_at_fourth_order stays too)
@pytest.mark.parametrize("model", [m if m == "qif" else pytest.param(m, marks=pytest.mark.slow) for m in SIM_CASES])
def test_rk4_spike_times_converge_at_fourth_order(model, x64):
    # Two steps in the asymptotic range (below a tenth of the fastest time scale at the
    # spike, which is how long V would take from V_peak to diverge: EIF/AdEx tau_m e^-5 ~ 0.06
    # ms, Izhikevich 1 / (0.04 (V_peak + 62.5)) ~ 0.3 ms).
    dt = {"izhikevich": 0.02, "adex": 0.01, "qif": 0.05, "eif": 0.01}[model]
    errors = []
    for h in (dt, dt / 2):
        got, refs = simulate_cases(model, solver=jn.RK4(dt=h))
        assert all(len(g) == len(r) for g, r in zip(got, refs, strict=True))
        errors.append(max(np.max(np.abs(g - r)) for g, r in zip(got, refs, strict=True)))
    # Fourth order would halve the error 16 times; the constant depends on where the spikes
    # fall in the steps, so the test asks for more than third order (8 times).
    assert errors[0] / errors[1] > 8.0, errors
    assert errors[1] < 1e-4


def test_izhikevich_presets_fire_as_in_the_paper():
    # The default solver (RK4 at default_dt, float32), all five presets in one vmap.
    names = list(ref.IZHIKEVICH)
    P = jnp.asarray([ref.IZHIKEVICH[k] for k in names])
    sim = jax.jit(
        jax.vmap(lambda p: jn.simulate(jn.Izhikevich(*p), jn.Step(10.0, 10.0), 0.0, 300.0, method="stepped").spikes)
    )(P)
    for i, name in enumerate(names):
        got = spike_times(sim, i)
        expected = ref.izhikevich_reference(name, ref.step_drive(10.0, 10.0), 300.0, breaks=[10.0])
        assert len(got) == len(expected), name
        np.testing.assert_allclose(got, expected, atol=1e-2)  # float32 round-off over 3e4 steps
        check_izhikevich_pattern(name, got)


def test_adex_tonic_firing_with_adaptation():
    sim = jn.simulate(jn.AdEx(), 1000.0, 0.0, 500.0)  # 1 nA, the default solver (float32)
    got = spike_times(sim.spikes)
    expected = ref.adex_reference(1000.0, 500.0)
    assert len(got) == len(expected) > 10
    np.testing.assert_allclose(got, expected, atol=1e-2)  # float32 round-off over 5e4 steps
    isi = np.diff(got)
    assert np.all(np.diff(isi) > -0.01 * isi[-1])  # ISIs lengthen (adaptation) ...
    assert isi[-1] > 2.0 * isi[0]
    assert abs(isi[-1] - isi[-2]) < 0.01 * isi[-1]  # ... to tonic firing
    assert len(spike_times(jn.simulate(jn.AdEx(), 500.0, 0.0, 500.0).spikes)) == 0  # below rheobase


# 1 s diffrax sweeps: slow (the QIF's diffrax spike times against its reference stay in the default run)
@pytest.mark.parametrize("method", ["stepped", pytest.param("diffrax", marks=pytest.mark.slow)])
@pytest.mark.parametrize(
    "neuron, inputs, period",
    [
        (jn.QIF(), [3.0, 5.0, 10.0, 40.0], ref.qif_period),  # rheobase 3.75 mV
        (jn.EIF(tau_ref=2.0), [12.0, 14.0, 20.0, 40.0], lambda x: ref.eif_period(x, tau_ref=2.0)),  # 13 mV
    ],
    ids=["qif", "eif"],
)
def test_tuning_curve_matches_closed_form(neuron, inputs, period, method):
    rates = np.asarray(jn.tuning_curve(neuron, np.asarray(inputs), duration=1000.0, method=method))
    expected = np.array([1e3 / period(x) for x in inputs])  # Hz
    assert rates[0] == 0.0
    # The rate is (n - 1) / (t_last - t_first) over at least 0.6 s: two spike-time errors
    # (float32 round-off ~1e-4 ms, diffrax's root tolerance 1e-5 t ~ 1e-2 ms at most) over
    # 600 ms.
    np.testing.assert_allclose(rates[1:], expected[1:], rtol=4e-5 if method == "diffrax" else 1e-5)


def test_simulate_jit_vmap_over_a_parameter_without_retrace(x64):
    traces = []

    @jax.jit
    def trains(tau_m):
        traces.append(1)
        return jax.vmap(lambda tau: jn.simulate(jn.QIF(tau_m=tau), 10.0, 0.0, 200.0, solver=jn.RK4()).spikes)(tau_m)

    taus = [jnp.array([5.0, 10.0, 20.0]), jnp.array([8.0, 12.0, 16.0])]
    batches = [trains(t) for t in taus]
    assert len(traces) == 1
    for tau_m, spikes in zip(taus, batches, strict=True):
        for i, tau in enumerate(np.asarray(tau_m)):
            alone = spike_times(jn.simulate(jn.QIF(tau_m=tau), 10.0, 0.0, 200.0, solver=jn.RK4()).spikes)
            np.testing.assert_allclose(spike_times(spikes, i), alone, rtol=1e-12)
            # Closed form: rest to peak, then one period per spike.  (A sanity check of the
            # parameter reaching the solver; RK4's accuracy is test_rk4_spike_times_converge.)
            p = dict(ref.QIF, tau_m=float(tau))
            first = ref.qif_period(10.0, p=dict(p, V_reset=p["E_L"]))
            expected = first + ref.qif_period(10.0, p=p) * np.arange(len(alone))
            np.testing.assert_allclose(alone, expected, atol=1e-4)


def test_gradient_of_spike_time_with_respect_to_tau_m(x64):
    # QIF spike times are proportional to tau_m (tau_ref = 0): d t_k / d tau_m = t_k / tau_m.
    def third_spike(tau):
        return jn.simulate(jn.QIF(tau_m=tau), 10.0, 0.0, 200.0, solver=jn.RK4()).spikes.times[2]

    t3, grad = jax.value_and_grad(third_spike)(10.0)
    assert float(grad) == pytest.approx(float(t3) / 10.0, rel=1e-6)
