"""Dense layers and MLPs (notes ch. 1.7, 2.1) against numpy matrix algebra."""

import functools
import inspect
import types
import typing

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from jaxtyping import Array, Float, jaxtyped

import jaxneuro as jn


def np_act(name):
    return {
        "relu": lambda z: np.maximum(z, 0),
        "tanh": np.tanh,
        "logistic": lambda z: 1 / (1 + np.exp(-z)),
        "identity": lambda z: z,
    }[name]


def np_mlp(model, x, act, final):
    """y = final(W_L act(... act(W_1 x + b_1) ...) + b_L), from the layers' arrays, in numpy."""
    h = np.asarray(x, np.float64)
    Ws = [np.asarray(layer.weight, np.float64) for layer in model.layers]
    bs = [np.asarray(layer.bias, np.float64) for layer in model.layers]
    for W, b in zip(Ws[:-1], bs[:-1], strict=True):
        h = act(W @ h + b)
    return final(Ws[-1] @ h + bs[-1])


def test_dense_is_Wx_plus_b_and_augmented_form(x64):
    layer = jn.Dense(3, 2, key=jr.key(0))
    assert layer.weight.shape == (2, 3) and layer.bias.shape == (2,) and layer.weight.dtype == jnp.float64
    assert (layer.in_size, layer.out_size) == (3, 2)
    x = np.array([0.5, -1.0, 2.0])
    z = np.asarray(layer.weight) @ x + np.asarray(layer.bias)
    np.testing.assert_allclose(layer(jnp.asarray(x)), z, rtol=1e-14)
    W_hat = layer.augmented_weight()
    assert W_hat.shape == (2, 4)
    np.testing.assert_array_equal(W_hat[:, :3], layer.weight)
    np.testing.assert_array_equal(W_hat[:, 3], layer.bias)
    np.testing.assert_array_equal(jn.augment(jnp.asarray(x)), [0.5, -1.0, 2.0, 1.0])
    np.testing.assert_allclose(W_hat @ jn.augment(jnp.asarray(x)), z, rtol=1e-14)


def test_notes_example_three_by_two():
    # Notes ch. 1.7: X has N = 2 nodes, Y has M = 3; W in R^(3 x 2), z = W x + b.
    W = jnp.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    b = jnp.array([0.5, -0.5, 1.0])
    layer = jn.Dense.from_weights(W, b)
    np.testing.assert_allclose(layer(jnp.array([1.0, -1.0])), [-0.5, -1.5, 0.0])
    np.testing.assert_array_equal(jn.Dense.from_weights(W).bias, jnp.zeros(3))


def test_dense_init_distribution():
    n_in = 400
    layer = jn.Dense(n_in, 500, key=jr.key(1))
    lim = 1 / np.sqrt(n_in)
    W = np.asarray(layer.weight, np.float64)
    assert W.dtype == np.float64 and layer.weight.dtype == jnp.float32
    assert np.all(np.abs(W) <= lim) and np.all(np.abs(np.asarray(layer.bias)) <= lim)
    # U(-a, a): mean 0, variance a^2 / 3.  With n = 2e5 draws the sample mean has standard
    # error a / sqrt(3 n) and the sample variance relative standard error sqrt(0.8 / n) = 0.2%.
    n = W.size
    assert abs(W.mean()) < 5 * lim / np.sqrt(3 * n)
    assert abs(W.var() / (lim**2 / 3) - 1) < 5 * np.sqrt(0.8 / n)
    again = jn.Dense(n_in, 500, key=jr.key(1))
    other = jn.Dense(n_in, 500, key=jr.key(2))
    assert bool(jnp.all(again.weight == layer.weight)) and not bool(jnp.all(other.weight == layer.weight))


@pytest.mark.parametrize("act", ["relu", "tanh", "logistic"])
def test_mlp_matches_numpy(act, x64):
    model = jn.MLP(4, 3, (5, 6), act, key=jr.key(3))
    assert [layer.weight.shape for layer in model.layers] == [(5, 4), (6, 5), (3, 6)]
    x = np.random.default_rng(0).normal(size=4)
    np.testing.assert_allclose(model(jnp.asarray(x)), np_mlp(model, x, np_act(act), np_act("identity")), rtol=1e-13)


def test_mlp_final_activation_callable_and_single_layer(x64):
    x = np.random.default_rng(1).normal(size=3)
    model = jn.MLP(3, 4, (), "relu", "softmax", key=jr.key(4))
    assert len(model.layers) == 1
    z = np.asarray(model.layers[0].weight) @ x + np.asarray(model.layers[0].bias)
    np.testing.assert_allclose(model(jnp.asarray(x)), np.exp(z) / np.exp(z).sum(), rtol=1e-13)
    slope = functools.partial(jn.leaky_relu, negative_slope=0.25)
    model = jn.MLP(3, 2, (7,), slope, key=jr.key(5))
    ref = np_mlp(model, x, lambda z: np.where(z >= 0, z, 0.25 * z), np_act("identity"))
    np.testing.assert_allclose(model(jnp.asarray(x)), ref, rtol=1e-13)


def test_mlp_with_lif_rate_activation(x64):
    model = jn.MLP(5, 2, (8,), "lif", key=jr.key(6))
    x = np.random.default_rng(2).normal(size=5)

    def G(v):  # the notes' LIF tuning curve with tau_m = 0.02 s, tau_ref = 0.002 s
        out = np.zeros_like(v)
        f = v > 1
        out[f] = 1 / (0.002 - 0.02 * np.log(1 - 1 / v[f]))
        return out

    ref = np_mlp(model, x, lambda z: 0.01 * G(z + 1.0), np_act("identity"))
    np.testing.assert_allclose(model(jnp.asarray(x)), ref, rtol=1e-12)


def test_from_layers_and_tree_structure():
    keys = jr.split(jr.key(7), 2)
    l1, l2 = jn.Dense(3, 4, key=keys[0]), jn.Dense(4, 2, key=keys[1])
    model = jn.MLP.from_layers([l1, l2], "tanh")
    x = jnp.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(model(x), l2(jnp.tanh(l1(x))), rtol=1e-6)
    leaves = jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array))
    assert [leaf.shape for leaf in leaves] == [(4, 3), (4,), (2, 4), (2,)]


def test_vmap_jit_and_no_retrace_across_parameter_updates():
    model = jn.MLP(3, 2, (4,), "soft_lif", key=jr.key(8))
    xs = jr.normal(jr.key(9), (6, 3))
    traces = []

    @eqx.filter_jit
    def forward(model, xs):
        traces.append(None)
        return jax.vmap(model)(xs)

    out = forward(model, xs)
    np.testing.assert_allclose(out, jnp.stack([model(x) for x in xs]), rtol=1e-5, atol=1e-6)
    updated = jax.tree_util.tree_map(lambda a: a * 1.1, model)  # new weights, same structure
    forward(updated, xs + 1.0)
    forward(jn.MLP(3, 2, (4,), "soft_lif", key=jr.key(10)), xs)  # a fresh model by the same name
    assert len(traces) == 1


def test_from_weights_and_augmented_form_under_jit_and_vmap():
    Ws = jr.normal(jr.key(20), (5, 2, 3))  # a family of five layers
    bs = jr.normal(jr.key(21), (5, 2))
    x = jnp.array([0.3, -0.2, 1.0])
    traces = []

    @jax.jit
    def drive(W, b, x):
        traces.append(None)
        layer = jn.Dense.from_weights(W, b)
        return layer(x), layer.augmented_weight() @ jn.augment(x)

    z, z_aug = jax.vmap(drive, in_axes=(0, 0, None))(Ws, bs, x)
    expected = np.einsum("kij,j->ki", np.asarray(Ws), np.asarray(x)) + np.asarray(bs)
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z_aug, expected, rtol=1e-5, atol=1e-6)
    drive(Ws[0], bs[0], x)
    drive(Ws[1], bs[1], x + 1.0)
    # vmap traces the jitted function at the per-example shapes, which the direct calls reuse.
    assert len(traces) == 1


def test_parameter_gradient_matches_finite_differences(x64):
    model = jn.MLP(2, 1, (3,), "tanh", key=jr.key(11))
    xs = jr.normal(jr.key(12), (5, 2))
    ts = jr.normal(jr.key(13), (5, 1))

    def E(m):
        return jn.mean_loss(jn.mse, jax.vmap(m)(xs), ts)

    grads = eqx.filter_grad(E)(model)
    E_jit = eqx.filter_jit(E)
    h = 1e-6
    for where, index in ((lambda m: m.layers[0].weight, (1, 0)), (lambda m: m.layers[1].bias, (0,))):
        base = where(model)
        plus = eqx.tree_at(where, model, base.at[index].add(h))
        minus = eqx.tree_at(where, model, base.at[index].add(-h))
        fd = (E_jit(plus) - E_jit(minus)) / (2 * h)
        np.testing.assert_allclose(where(grads)[index], fd, rtol=1e-7, atol=1e-10)


def test_trains_xor_with_optax():
    # The notes' motivating non-linearly-separable problem: a 2-4-1 net with logistic output.
    xs = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    ts = jnp.array([[0.0], [1.0], [1.0], [0.0]])
    model = jn.MLP(2, 1, (4,), "tanh", key=jr.key(0))
    opt = optax.adam(0.05)
    params, static = eqx.partition(model, eqx.is_array)

    def loss(params):
        m = eqx.combine(params, static)
        return jn.mean_loss(jn.binary_cross_entropy_with_logits, jax.vmap(m)(xs), ts)

    def step(carry, _):
        params, state = carry
        value, g = jax.value_and_grad(loss)(params)
        updates, state = opt.update(g, state)
        return (optax.apply_updates(params, updates), state), value

    (params, _), history = jax.jit(lambda p: jax.lax.scan(step, (p, opt.init(p)), None, length=500))(params)
    m = eqx.combine(params, static)
    pred = np.asarray(jax.vmap(m)(xs))[:, 0] > 0
    np.testing.assert_array_equal(pred, [False, True, True, False])
    assert float(history[-1]) < 0.05 < float(history[0])


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "bad",
    [
        0,
        -1,
        # not ints on purpose (the hook would reject them before the library's own check)
        pytest.param(2.5, marks=pytest.mark.jaxtyping_off),
        True,
        pytest.param("3", marks=pytest.mark.jaxtyping_off),
    ],
)
def test_bad_sizes(bad):
    with pytest.raises(ValueError, match=rf"in_size must be an int in \[1, inf\), got in_size = {bad!r}"):
        jn.Dense(bad, 2, key=jr.key(0))
    with pytest.raises(ValueError, match=r"out_size must be an int in \[1, inf\), got out_size = "):
        jn.Dense(2, bad, key=jr.key(0))
    with pytest.raises(ValueError, match=r"hidden_sizes\[1\] must be an int in \[1, inf\), got hidden_sizes\[1\] = "):
        jn.MLP(2, 1, (3, bad), key=jr.key(0))


@pytest.mark.jaxtyping_off  # hidden_sizes = 3, not a sequence on purpose
def test_hidden_sizes_must_be_a_sequence():
    with pytest.raises(ValueError, match=r"hidden_sizes must be a sequence of positive ints, got 3"):
        jn.MLP(2, 1, 3, key=jr.key(0))


def test_bad_activation():
    with pytest.raises(ValueError, match=r"activation must be a callable or one of .*got 'sigmoidal'"):
        jn.MLP(2, 1, (3,), "sigmoidal", key=jr.key(0))
    with pytest.raises(ValueError, match=r"activation must be a callable or one of .*got 'nope'"):
        jn.MLP(2, 1, (3,), final_activation="nope", key=jr.key(0))


def test_input_shape_mismatch():
    layer = jn.Dense(3, 2, key=jr.key(0))
    with pytest.raises(ValueError, match=r"Dense: x must have shape \(in_size,\) = \(3,\), got shape \(4,\)"):
        layer(jnp.ones(4))
    model = jn.MLP(3, 1, (2,), key=jr.key(0))
    with pytest.raises(ValueError, match=r"Dense: x must have shape \(in_size,\) = \(3,\), got shape \(2,\)"):
        eqx.filter_jit(lambda m, x: m(x))(model, jnp.ones(2))


@pytest.mark.jaxtyping_off  # x = jnp.ones((5, 3)) and jnp.ones((2, 2)): matrices where a vector is expected, on purpose
def test_input_that_is_not_a_vector():
    layer = jn.Dense(3, 2, key=jr.key(0))
    with pytest.raises(ValueError, match=r"got shape \(5, 3\) \(batch with jax.vmap\)"):
        layer(jnp.ones((5, 3)))
    with pytest.raises(ValueError, match=r"augment expects a vector x of shape \(n,\), got shape \(2, 2\)"):
        jn.augment(jnp.ones((2, 2)))


# weight = jnp.ones(3) (a vector) and bias = jnp.ones(3) for a (2, 3) weight: wrong shapes on purpose
@pytest.mark.jaxtyping_off
def test_from_weights_bad_shapes():
    with pytest.raises(ValueError, match=r"weight must be a non-empty \(out_size, in_size\) matrix, got shape \(3,\)"):
        jn.Dense.from_weights(jnp.ones(3))
    with pytest.raises(ValueError, match=r"got shape \(0, 3\)"):
        jn.Dense.from_weights(jnp.ones((0, 3)))
    with pytest.raises(
        ValueError,
        match=r"bias must have shape \(out_size,\) = \(2,\) to match weight of shape \(2, 3\), "
        r"got shape \(3,\)",
    ):
        jn.Dense.from_weights(jnp.ones((2, 3)), jnp.ones(3))


def test_from_layers_bad_chain():
    a, b = jn.Dense(3, 4, key=jr.key(0)), jn.Dense(5, 2, key=jr.key(1))
    with pytest.raises(ValueError, match=r"layers\[1\].in_size = 5 must equal layers\[0\].out_size = 4"):
        jn.MLP.from_layers([a, b])
    with pytest.raises(ValueError, match=r"layers must be a non-empty sequence of Dense layers"):
        jn.MLP.from_layers([])


# ---------------------------------------------------------------- jaxtyping annotations
# One check for the public signatures of the learning modules (activations, losses, layers,
# soft LIF, universal approximation): arguments and results must match their jaxtyping
# annotations, with axis names bound consistently across them (and across a module's fields
# for methods).
def _matches(value, hint):
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    return isinstance(value, hint)


def assert_annotations(fn, *args, **kwargs):
    hints = typing.get_type_hints(fn, include_extras=True)
    bound = inspect.signature(fn).bind(*args, **kwargs)
    checked = []

    def check_fields(module):
        for name, h in typing.get_type_hints(type(module), include_extras=True).items():
            if "jaxtyping" in repr(h):
                assert _matches(getattr(module, name), h), f"{type(module).__name__}.{name}: {h}"

    # the arguments of ``fn`` form the memo, so that an axis written ``{self.in_size}`` resolves
    @functools.partial(jaxtyped, typechecker=None)
    @functools.wraps(fn)
    def run(*_args, **_kwargs):
        first = next(iter(bound.arguments.values()), None)
        if isinstance(first, eqx.Module):
            check_fields(first)
        for name, value in bound.arguments.items():
            h = hints.get(name)
            if h is not None and "jaxtyping" in repr(h):
                assert _matches(value, h), f"{fn.__qualname__}({name}): {h}"
                checked.append(name)
        out = fn(*args, **kwargs)
        assert _matches(out, hints["return"]), f"{fn.__qualname__} -> {hints['return']}, got {out!r}"
        if isinstance(out, eqx.Module):
            check_fields(out)

    run(*args, **kwargs)
    return checked


def test_assert_annotations_catches_a_wrong_shape():
    def wrong(x: Float[Array, " n"]) -> Float[Array, " n"]:
        return jnp.ones(x.shape[0] + 1)

    with pytest.raises(AssertionError, match="wrong"):
        assert_annotations(wrong, jnp.ones(3))


def test_public_signatures_match_annotations():
    key = jr.key(0)
    z, t = jnp.linspace(-1.0, 1.0, 6).reshape(2, 3), jnp.full((2, 3), 0.25)
    layer = jn.Dense(3, 2, key=key)
    G = jn.constructive_approximant(jnp.sin, 5)
    calls = [
        (jn.logistic, z),
        (jn.tanh, z),
        (jn.relu, z),
        (jn.identity, z),
        (jn.leaky_relu, z),
        (jn.softmax, z),
        (jn.one_hot, z),
        (jn.lif_activation, z),
        (jn.soft_lif_activation, z),
        (jn.soft_lif_rate, z, 0.02),
        (jn.mse, z, t),
        (jn.binary_cross_entropy, t, t),
        (jn.binary_cross_entropy_with_logits, z, t),
        (jn.categorical_cross_entropy, t, t),
        (jn.categorical_cross_entropy_with_logits, z, t),
        (jn.log_softmax, z),
        (jn.categorical_cross_entropy_with_integer_labels, z, jnp.array([0, 2])),
        (jn.mean_loss, jn.mse, z, t),
        (jn.augment, z[0]),
        (jn.Dense.__call__, layer, z[0]),
        (jn.Dense.augmented_weight, layer),
        (jn.Dense.from_weights, layer.weight, layer.bias),
        (jn.MLP.__call__, jn.MLP(3, 2, (4,), key=key), z[0]),
        (jn.StepApproximant.__call__, G, z),
        (jn.StepApproximant.pieces, G, z),
        (jn.max_error.__wrapped__, G, jnp.sin),
    ]
    for fn, *args in calls:
        assert_annotations(fn, *args)
