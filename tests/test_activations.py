"""Activations (notes ch. 1.5) against their definitions written independently in numpy."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuro as jn

RUNTIME_ERRORS = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)
Z_NOTES = [0.6, 3.4, -1.2, 0.05]


def lif_G(v_in, tau_m=0.02, tau_ref=0.002):
    """The notes' tuning curve G(v_in) (ch. 1.4), written out in numpy float64."""
    v_in = np.asarray(v_in, np.float64)
    out = np.zeros_like(v_in)
    fires = v_in > 1
    out[fires] = 1.0 / (tau_ref - tau_m * np.log(1.0 - 1.0 / v_in[fires]))
    return out


def np_softmax(z, axis=-1):
    z = np.asarray(z, np.float64)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


# name -> numpy reference of the default setting
REFERENCES = {
    "identity": lambda z: z,
    "logistic": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z >= 0, z, 0.01 * z),
    "softmax": np_softmax,
    "one_hot": lambda z: (np.arange(z.shape[-1]) == np.argmax(z, axis=-1)[..., None]).astype(float),
    "lif": lambda z: 0.01 * lif_G(z + 1.0),
}


def test_softmax_notes_example():
    y = jn.softmax(jnp.array(Z_NOTES))
    # The notes round to [0.06, 0.9, 0.009, 0.031]; four decimals are [0.0550, 0.9042, 0.0091, 0.0317].
    np.testing.assert_allclose(y, [0.0550, 0.9042, 0.0091, 0.0317], atol=5e-5)
    np.testing.assert_allclose(y, np_softmax(Z_NOTES), rtol=2e-6)
    assert abs(float(jnp.sum(y)) - 1.0) < 1e-6


def test_one_hot_notes_example():
    np.testing.assert_array_equal(jn.one_hot(jnp.array(Z_NOTES)), [0.0, 1.0, 0.0, 0.0])


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_activation_matches_definition(name, x64):
    z = np.random.default_rng(0).normal(scale=2.0, size=(5, 7))
    got = jn.get_activation(name)(jnp.asarray(z))
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(got, REFERENCES[name](z), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_activation_float32(name):
    z = np.random.default_rng(1).normal(scale=2.0, size=(5, 7)).astype(np.float32)
    got = jn.get_activation(name)(jnp.asarray(z))
    assert got.dtype == jnp.float32
    # A few float32 ulps of the result (the lif branch divides and takes a log: ~10 ulps).
    np.testing.assert_allclose(got, REFERENCES[name](z.astype(np.float64)), rtol=2e-6, atol=1e-6)


def test_softmax_is_stable_and_shift_invariant():
    z = jnp.array([1e4, 0.0, -1e4, 1e4 - 1.0])
    y = jn.softmax(z)
    assert bool(jnp.all(jnp.isfinite(y)))
    e = np.exp([0.0, -1.0])
    np.testing.assert_allclose(y, [e[0] / e.sum(), 0.0, 0.0, e[1] / e.sum()], rtol=1e-6)
    zz = jnp.array(Z_NOTES)
    np.testing.assert_allclose(jn.softmax(zz + 100.0), jn.softmax(zz), rtol=1e-5)
    g = jax.grad(lambda z: jn.softmax(z)[0])(z)
    assert bool(jnp.all(jnp.isfinite(g)))


def test_softmax_jacobian_closed_form(x64):
    z = jnp.array([0.3, -1.0, 2.0, 0.5])
    s = np.asarray(np_softmax(np.asarray(z)))
    expected = np.diag(s) - np.outer(s, s)  # d s_i / d z_j = s_i (delta_ij - s_j)
    np.testing.assert_allclose(jax.jacfwd(jn.softmax)(z), expected, atol=1e-14)
    np.testing.assert_allclose(jax.jacrev(jn.softmax)(z), expected, atol=1e-14)


@pytest.mark.parametrize("axis", [0, 1, -1, -2])
def test_softmax_and_one_hot_axis(axis, x64):
    z = np.random.default_rng(2).normal(size=(3, 5))
    np.testing.assert_allclose(jn.softmax(jnp.asarray(z), axis=axis), np_softmax(z, axis=axis), rtol=1e-13)
    oh = np.asarray(jn.one_hot(jnp.asarray(z), axis=axis))
    expected = np.zeros_like(z)
    np.put_along_axis(expected, np.expand_dims(np.argmax(z, axis=axis), axis), 1.0, axis=axis)
    np.testing.assert_array_equal(oh, expected)


def test_one_hot_ties_and_temperature_limit(x64):
    np.testing.assert_array_equal(jn.one_hot(jnp.array([2.0, 5.0, 5.0, 1.0])), [0, 1, 0, 0])
    z = np.array(Z_NOTES)
    # one-hot is the T -> 0 limit of softmax(z / T): the gap to it decays like e^(-2.8/T).
    for T in (0.1, 0.05):
        gap = np.max(np.abs(np_softmax(z / T) - np.asarray(jn.one_hot(jnp.asarray(z)))))
        assert gap < 3 * np.exp(-(3.4 - 0.6) / T)
    assert float(jnp.sum(jnp.abs(jax.grad(lambda z: jn.one_hot(z)[1])(jnp.asarray(z))))) == 0.0


def test_logistic_and_tanh_derivatives_and_extremes(x64):
    z = jnp.linspace(-8.0, 8.0, 17)
    s = 1.0 / (1.0 + np.exp(-np.asarray(z)))
    np.testing.assert_allclose(jax.vmap(jax.grad(jn.logistic))(z), s * (1 - s), rtol=1e-12)
    np.testing.assert_allclose(jax.vmap(jax.grad(jn.tanh))(z), 1 / np.cosh(np.asarray(z)) ** 2, rtol=1e-9)
    np.testing.assert_allclose(jn.tanh(z), 2 * s_of(2 * np.asarray(z)) - 1, atol=1e-15)
    big = jnp.array([-1e4, 1e4], jnp.float32)
    np.testing.assert_array_equal(jn.logistic(big), [0.0, 1.0])
    assert bool(jnp.all(jnp.isfinite(jax.vmap(jax.grad(jn.logistic))(big))))


def s_of(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_leaky_relu_slope():
    z = jnp.array([-2.0, -0.5, 0.0, 3.0])
    np.testing.assert_allclose(jn.leaky_relu(z, negative_slope=0.2), [-0.4, -0.1, 0.0, 3.0], rtol=1e-7)
    np.testing.assert_array_equal(jn.leaky_relu(z, negative_slope=0.0), jn.relu(z))
    np.testing.assert_array_equal(jn.leaky_relu(z, negative_slope=1.0), z)
    g = jax.vmap(jax.grad(functools.partial(jn.leaky_relu, negative_slope=0.2)))(z)
    np.testing.assert_allclose(g, [0.2, 0.2, 1.0, 1.0])


def test_lif_activation_scaling_and_soft_lif_sandwich(x64):
    z = jnp.linspace(-2.0, 6.0, 801)
    zn = np.asarray(z)
    lif = np.asarray(jn.lif_activation(z))
    # Defaults: 0 for z <= 0, saturating at amplitude / tau_ref = 5.
    assert np.all(lif[zn <= 0] == 0) and np.all(lif[zn > 0] > 0) and lif.max() < 5.0
    np.testing.assert_allclose(
        jn.lif_activation(z, tau_m=0.05, tau_ref=0.001, input_offset=0.5, amplitude=0.002),
        0.002 * lif_G(zn + 0.5, 0.05, 0.001),
        rtol=1e-12,
    )
    for gamma in (0.1, 0.03, 0.003):
        soft = np.asarray(jn.soft_lif_activation(z, gamma=gamma))
        upper = 0.01 * lif_G(np.maximum(zn + 1.0, 1.0) + gamma * np.log(2.0))
        assert np.all(lif <= soft * (1 + 1e-12)) and np.all(soft <= upper * (1 + 1e-12))
    assert float(jnp.max(jn.soft_lif_activation(jnp.array([1e6])))) <= 5.0


@pytest.mark.parametrize("name", sorted(set(jn.ACTIVATION_NAMES) - {"one_hot"}))
def test_grad_matches_finite_differences(name, x64):
    f = jn.get_activation(name)
    # Points away from kinks (relu, leaky_relu at 0; lif at its threshold z = 0).
    z = jnp.array([-1.3, -0.4, 0.35, 0.8, 2.1])
    w = jnp.array([0.3, -1.0, 0.7, 0.2, 0.5])  # a scalar objective that mixes the outputs

    def obj(z):
        return jnp.sum(w * f(z))

    g = jax.grad(obj)(z)
    h = 1e-6
    fd = np.array([(obj(z.at[i].add(h)) - obj(z.at[i].add(-h))) / (2 * h) for i in range(z.size)])
    # Central differences: truncation ~ h^2 f''' / 6 plus rounding ~ eps |f| / h, both < 1e-8 here.
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", jn.ACTIVATION_NAMES)
def test_jit_vmap_and_no_retrace(name):
    f = jn.get_activation(name)
    traces = []

    @jax.jit
    def g(z):
        traces.append(None)
        return f(z)

    z = jax.random.normal(jax.random.key(0), (6, 4))
    np.testing.assert_allclose(g(z), f(z), rtol=1e-6, atol=1e-7)
    g(z + 1.0)
    assert len(traces) == 1
    # vmap over the leading axis equals applying the function to each row.
    rows = jnp.stack([f(z[i]) for i in range(z.shape[0])])
    np.testing.assert_allclose(jax.vmap(f)(z), rows, rtol=1e-6, atol=1e-7)


def test_get_activation_names_and_callables():
    assert jn.get_activation("soft_lif") is jn.soft_lif_activation
    custom = functools.partial(jn.leaky_relu, negative_slope=0.3)
    assert jn.get_activation(custom) is custom
    assert set(jn.ACTIVATION_NAMES) >= {
        "identity",
        "logistic",
        "tanh",
        "relu",
        "leaky_relu",
        "softmax",
        "lif",
        "soft_lif",
    }


def test_get_activation_unknown_name():
    with pytest.raises(
        ValueError, match=r"activation must be a callable or one of .*'relu'.*'soft_lif'.*got 'sigmoidal'"
    ):
        jn.get_activation("sigmoidal")


@pytest.mark.jaxtyping_off  # name=3, neither a str nor a callable, on purpose
def test_get_activation_wrong_type():
    with pytest.raises(ValueError, match=r"got 3"):
        jn.get_activation(3)


@pytest.mark.parametrize("slope", [-0.1, 1.5, float("nan"), float("inf")])
def test_leaky_relu_bad_slope(slope):
    with pytest.raises(ValueError, match=r"negative_slope must be finite and in \[0, 1\]"):
        jn.leaky_relu(jnp.ones(3), negative_slope=slope)


def test_leaky_relu_bad_traced_slope():
    f = jax.jit(lambda z, s: jn.leaky_relu(z, negative_slope=s))
    with pytest.raises(RUNTIME_ERRORS, match=r"negative_slope must be finite and in \[0, 1\]"):
        f(jnp.array([-1.0, 2.0]), -1.0).block_until_ready()


@pytest.mark.parametrize("fn", [jn.softmax, jn.one_hot])
def test_softmax_one_hot_bad_axis_and_shapes(fn):
    name = fn.__name__
    with pytest.raises(
        ValueError, match=rf"{name}: axis must be in \[-2, 1\] for an input of shape \(3, 4\), got axis = 2"
    ):
        fn(jnp.ones((3, 4)), axis=2)
    with pytest.raises(ValueError, match=rf"{name} needs an input with at least one axis"):
        fn(jnp.array(1.0))
    with pytest.raises(ValueError, match=rf"{name}: axis 1 of the input \(shape \(3, 0\)\) is empty"):
        fn(jnp.ones((3, 0)), axis=1)


@pytest.mark.jaxtyping_off  # axis=0.5, not an int, on purpose
@pytest.mark.parametrize("fn", [jn.softmax, jn.one_hot])
def test_softmax_one_hot_axis_not_int(fn):
    with pytest.raises(ValueError, match=rf"{fn.__name__}: axis must be an int, got 0.5"):
        fn(jnp.ones(3), axis=0.5)


def test_lif_activation_bad_parameters():
    with pytest.raises(ValueError, match=r"amplitude must be finite and in \(0, inf\) s"):
        jn.lif_activation(jnp.ones(3), amplitude=0.0)
    with pytest.raises(ValueError, match=r"input_offset must be finite"):
        jn.soft_lif_activation(jnp.ones(3), input_offset=float("inf"))
    with pytest.raises(ValueError, match=r"tau_ref must be finite and in \(0, inf\) s"):
        jn.lif_activation(jnp.ones(3), tau_ref=-0.002)
    with pytest.raises(ValueError, match=r"gamma must be finite and in \(0, inf\)"):
        jn.soft_lif_activation(jnp.ones(3), gamma=0.0)
