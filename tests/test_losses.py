"""Losses (notes ch. 2.3) against numpy definitions and optax's own functions."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxneuro as jn
from jaxneuro import losses as L

RUNTIME_ERRORS = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)
RNG = np.random.default_rng(0)


def probs(shape, rng=RNG):
    return rng.uniform(0.02, 0.98, size=shape)


def dist(shape, rng=RNG):
    e = rng.uniform(0.1, 1.0, size=shape)
    return e / e.sum(axis=-1, keepdims=True)


def logit(p):
    return np.log(p) - np.log1p(-p)


# ---------------------------------------------------------------- definitions (numpy, float64)
def test_namespace_and_flat_api_are_the_same():
    assert L.mse is jn.mse and L.categorical_cross_entropy_with_logits is jn.categorical_cross_entropy_with_logits


def test_mse_definition_and_optax(x64):
    y, t = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    got = L.mse(jnp.asarray(y), jnp.asarray(t))
    np.testing.assert_allclose(got, 0.5 * np.sum((y - t) ** 2), rtol=1e-14)
    np.testing.assert_allclose(got, jnp.sum(optax.l2_loss(jnp.asarray(y), jnp.asarray(t))), rtol=1e-14)


def test_binary_cross_entropy_definition(x64):
    y, t = probs(6), RNG.integers(0, 2, 6).astype(float)
    ref = -np.sum(t * np.log(y) + (1 - t) * np.log(1 - y))
    np.testing.assert_allclose(L.binary_cross_entropy(jnp.asarray(y), jnp.asarray(t)), ref, rtol=1e-14)
    # soft targets: the notes' formula holds for any t in [0, 1]
    ts = probs(6)
    ref = -np.sum(ts * np.log(y) + (1 - ts) * np.log(1 - y))
    np.testing.assert_allclose(L.binary_cross_entropy(jnp.asarray(y), jnp.asarray(ts)), ref, rtol=1e-14)


def test_categorical_cross_entropy_definition(x64):
    y, t = dist((5,)), np.eye(5)[2]
    np.testing.assert_allclose(L.categorical_cross_entropy(jnp.asarray(y), jnp.asarray(t)), -np.log(y[2]), rtol=1e-14)
    ts = dist((5,))
    np.testing.assert_allclose(
        L.categorical_cross_entropy(jnp.asarray(y), jnp.asarray(ts)), -np.sum(ts * np.log(y)), rtol=1e-14
    )


def test_notes_example_categorical(x64):
    # Notes ch. 2.3.3: y = [0.2, 0.1, 0.4, 0.3]; an observation of class 3 (index 2) costs -log 0.4.
    y = jnp.array([0.2, 0.1, 0.4, 0.3])
    np.testing.assert_allclose(L.categorical_cross_entropy(y, jnp.array([0.0, 0, 1, 0])), -np.log(0.4), rtol=1e-15)


def test_logit_forms_definition(x64):
    z, t = RNG.normal(scale=3, size=(3, 4)), RNG.uniform(size=(3, 4))
    sig = 1 / (1 + np.exp(-z))
    ref = -np.sum(t * np.log(sig) + (1 - t) * np.log(1 - sig))
    np.testing.assert_allclose(L.binary_cross_entropy_with_logits(jnp.asarray(z), jnp.asarray(t)), ref, rtol=1e-13)
    td = dist((3, 4))
    logsm = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    ref = -np.sum(td * logsm)
    np.testing.assert_allclose(
        L.categorical_cross_entropy_with_logits(jnp.asarray(z), jnp.asarray(td)), ref, rtol=1e-13
    )
    logsm0 = z - np.log(np.sum(np.exp(z), axis=0, keepdims=True))
    td0 = dist((4, 3)).T
    np.testing.assert_allclose(
        L.categorical_cross_entropy_with_logits(jnp.asarray(z), jnp.asarray(td0), axis=0),
        -np.sum(td0 * logsm0),
        rtol=1e-13,
    )
    np.testing.assert_allclose(L.log_softmax(jnp.asarray(z)), logsm, rtol=1e-13)


def test_mean_loss_is_dataset_mean(x64):
    ys, ts = RNG.normal(size=(10, 3)), RNG.normal(size=(10, 3))
    E = L.mean_loss(L.mse, jnp.asarray(ys), jnp.asarray(ts))
    np.testing.assert_allclose(E, np.mean(0.5 * np.sum((ys - ts) ** 2, axis=1)), rtol=1e-14)
    yb, tb = probs((8,)), RNG.integers(0, 2, 8).astype(float)
    # Notes ch. 2.3.2: E = -1/N sum_i t_i ln y_i + (1 - t_i) ln(1 - y_i)   (one output per sample)
    E = L.mean_loss(L.binary_cross_entropy, jnp.asarray(yb[:, None]), jnp.asarray(tb[:, None]))
    np.testing.assert_allclose(E, -np.mean(tb * np.log(yb) + (1 - tb) * np.log(1 - yb)), rtol=1e-14)
    z, labels = RNG.normal(size=(7, 5)), RNG.integers(0, 5, 7)
    E = L.mean_loss(L.categorical_cross_entropy_with_integer_labels, jnp.asarray(z), jnp.asarray(labels))
    logsm = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    np.testing.assert_allclose(E, -np.mean(logsm[np.arange(7), labels]), rtol=1e-13)
    # options are passed through
    E = L.mean_loss(
        L.categorical_cross_entropy_with_logits,
        jnp.asarray(z[:, :, None]),
        jnp.asarray(np.eye(5)[labels][:, :, None]),
        axis=0,
    )
    np.testing.assert_allclose(E, -np.mean(logsm[np.arange(7), labels]), rtol=1e-13)


# ---------------------------------------------------------------- optax agreement (float32, 1e-6)
def test_agrees_with_optax_float32():
    z = jnp.asarray(RNG.normal(scale=4, size=(64, 10)), jnp.float32)
    t01 = jnp.asarray(RNG.integers(0, 2, size=(64, 10)), jnp.float32)
    tsoft = jnp.asarray(RNG.uniform(size=(64, 10)), jnp.float32)
    labels = jnp.asarray(RNG.integers(0, 10, 64))
    onehot = jax.nn.one_hot(labels, 10)
    td = jnp.asarray(dist((64, 10)), jnp.float32)
    per = jax.vmap

    def close(a, b):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)

    close(per(L.mse)(z, tsoft), jnp.sum(optax.l2_loss(z, tsoft), axis=-1))
    for t in (t01, tsoft):
        close(
            per(L.binary_cross_entropy_with_logits)(z, t),
            jnp.sum(optax.sigmoid_binary_cross_entropy(z, t), axis=-1),
        )
    for t in (onehot, td):
        close(per(L.categorical_cross_entropy_with_logits)(z, t), optax.softmax_cross_entropy(z, t))
    close(
        per(L.categorical_cross_entropy_with_integer_labels)(z, labels),
        optax.softmax_cross_entropy_with_integer_labels(z, labels),
    )
    close(
        per(L.categorical_cross_entropy_with_logits)(z, onehot),
        per(L.categorical_cross_entropy_with_integer_labels)(z, labels),
    )


def test_probability_forms_agree_with_optax(x64):
    # optax has the logit forms only; the probability forms equal them at z = logit(y) (binary)
    # and z = log(y) with sum(y) = 1 (categorical).
    y, t = probs((16, 3)), RNG.uniform(size=(16, 3))
    got = jax.vmap(L.binary_cross_entropy)(jnp.asarray(y), jnp.asarray(t))
    np.testing.assert_allclose(
        got, jnp.sum(optax.sigmoid_binary_cross_entropy(jnp.asarray(logit(y)), t), -1), rtol=1e-6
    )
    yd, td = dist((16, 6)), dist((16, 6))
    got = jax.vmap(L.categorical_cross_entropy)(jnp.asarray(yd), jnp.asarray(td))
    np.testing.assert_allclose(got, optax.softmax_cross_entropy(jnp.log(jnp.asarray(yd)), jnp.asarray(td)), rtol=1e-6)


# ---------------------------------------------------------------- extremes: finite values and gradients
def test_probability_forms_finite_at_zero_and_one():
    y = jnp.array([0.0, 1.0, 0.0, 1.0])
    t = jnp.array([0.0, 1.0, 1.0, 0.0])
    eps = float(jnp.finfo(jnp.float32).eps)
    val = L.binary_cross_entropy(y, t)
    # Right answers cost ~0; each confidently wrong one costs -log(eps) (the clipping margin).
    np.testing.assert_allclose(val, -2 * np.log(eps) - 2 * np.log1p(-eps), rtol=1e-5)
    g = jax.grad(L.binary_cross_entropy)(y, t)
    assert bool(jnp.all(jnp.isfinite(g)))
    # The gradient is the formula's, -t/y + (1-t)/(1-y), at the clipped y: it pushes the right way.
    yc = np.clip(np.asarray(y, np.float64), eps, 1 - eps)
    tn = np.asarray(t, np.float64)
    np.testing.assert_allclose(g, -tn / yc + (1 - tn) / (1 - yc), rtol=1e-5)
    assert float(g[2]) < 0 < float(g[3])

    yc_ = jnp.array([0.0, 1.0, 0.0])
    tc = jnp.array([0.0, 1.0, 0.0])
    np.testing.assert_allclose(L.categorical_cross_entropy(yc_, tc), 0.0, atol=1e-12)
    assert np.isfinite(float(L.categorical_cross_entropy(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))))
    assert bool(
        jnp.all(jnp.isfinite(jax.grad(L.categorical_cross_entropy)(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))))
    )


@pytest.mark.parametrize("big", [1e4, 1e30])
def test_logit_forms_finite_at_huge_logits(big):
    z = jnp.array([big, -big, big, -big])
    t = jnp.array([1.0, 0.0, 0.0, 1.0])
    # exact: 0 + 0 + big + big
    np.testing.assert_allclose(L.binary_cross_entropy_with_logits(z, t), 2 * big, rtol=1e-6)
    g = jax.grad(L.binary_cross_entropy_with_logits)(z, t)
    np.testing.assert_allclose(g, [0.0, 0.0, 1.0, -1.0])  # sigma(z) - t
    zc = jnp.array([big, 0.0, -big])
    for t, expected in (([1.0, 0.0, 0.0], 0.0), ([0.0, 0.0, 1.0], 2 * big)):
        t = jnp.array(t)
        np.testing.assert_allclose(L.categorical_cross_entropy_with_logits(zc, t), expected, rtol=1e-6)
        g = jax.grad(L.categorical_cross_entropy_with_logits)(zc, t)
        np.testing.assert_allclose(g, jn.softmax(zc) - t, atol=1e-7)  # softmax(z) - t
    np.testing.assert_allclose(L.categorical_cross_entropy_with_integer_labels(zc, jnp.array(2)), 2 * big, rtol=1e-6)


def test_nan_is_passed_through_not_raised():
    # A diverged network should give a NaN loss that a training loop reports with its step.
    assert np.isnan(float(jax.jit(L.binary_cross_entropy)(jnp.array([jnp.nan]), jnp.array([1.0]))))
    assert np.isnan(float(L.categorical_cross_entropy_with_logits(jnp.array([jnp.nan, 0.0]), jnp.array([1.0, 0.0]))))


# ---------------------------------------------------------------- gradients, jit, vmap
CASES = {
    "mse": (L.mse, lambda: (RNG.normal(size=4), RNG.normal(size=4))),
    "bce": (L.binary_cross_entropy, lambda: (probs(4), RNG.uniform(size=4))),
    "bce_logits": (L.binary_cross_entropy_with_logits, lambda: (RNG.normal(size=4), RNG.uniform(size=4))),
    "cce": (L.categorical_cross_entropy, lambda: (dist((4,)), dist((4,)))),
    "cce_logits": (L.categorical_cross_entropy_with_logits, lambda: (RNG.normal(size=4), dist((4,)))),
    "cce_labels": (
        L.categorical_cross_entropy_with_integer_labels,
        lambda: (RNG.normal(size=4), np.int32(2)),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_grad_matches_finite_differences(name, x64):
    fn, make = CASES[name]
    y, t = make()
    y, t = jnp.asarray(y), jnp.asarray(t)
    g = jax.grad(fn)(y, t)
    f = jax.jit(fn)
    h = 1e-6
    fd = np.array([(f(y.at[i].add(h), t) - f(y.at[i].add(-h), t)) / (2 * h) for i in range(y.size)])
    # Central differences: truncation h^2 |f'''| / 6 <= 4e-8 (|f'''| <= 2 / y^3 = 2.5e5 for y >= 0.02,
    # against gradients of order 1-50) plus rounding eps |f| / h ~ 1e-10.
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", sorted(CASES))
def test_jit_vmap_no_retrace(name):
    fn, make = CASES[name]
    pairs = [make() for _ in range(5)]
    ys = jnp.asarray(np.stack([p[0] for p in pairs]), jnp.float32)
    ts = jnp.asarray(np.stack([p[1] for p in pairs]))
    ts = ts.astype(jnp.float32) if jnp.issubdtype(ts.dtype, jnp.floating) else ts
    traces = []

    @jax.jit
    def E(ys, ts):
        traces.append(None)
        return L.mean_loss(fn, ys, ts)

    per = np.array([float(fn(ys[i], ts[i])) for i in range(5)])
    np.testing.assert_allclose(E(ys, ts), per.mean(), rtol=1e-6)
    np.testing.assert_allclose(jax.vmap(fn)(ys, ts), per, rtol=1e-6)
    E(ys * 0.9, ts)
    assert len(traces) == 1


def test_gradient_through_a_softmax_network_matches_closed_form(x64):
    # d/dz CCE(softmax(z), t) = softmax(z) - t for a one-hot t (the pairing the notes recommend).
    z, t = jnp.asarray(RNG.normal(size=5)), jnp.asarray(np.eye(5)[1])
    g = jax.grad(lambda z: L.categorical_cross_entropy(jn.softmax(z), t))(z)
    np.testing.assert_allclose(g, np.asarray(jn.softmax(z)) - np.asarray(t), atol=1e-13)
    g = jax.grad(lambda z: L.binary_cross_entropy(jn.logistic(z), t))(z)
    np.testing.assert_allclose(g, 1 / (1 + np.exp(-np.asarray(z))) - np.asarray(t), atol=1e-13)


# ---------------------------------------------------------------- bad input
SHAPE_FNS = [
    ("mse", "y", "t"),
    ("binary_cross_entropy", "y", "t"),
    ("binary_cross_entropy_with_logits", "z", "t"),
    ("categorical_cross_entropy", "y", "t"),
    ("categorical_cross_entropy_with_logits", "z", "t"),
]


@pytest.mark.jaxtyping_off  # two arguments annotated "*shape" given different shapes, on purpose
@pytest.mark.parametrize(("name", "a", "b"), SHAPE_FNS)
def test_shape_mismatch(name, a, b):
    fn = getattr(L, name)
    prefix = "" if name == "mse" else f"{name}: "
    match = rf"{prefix}{a} and {b} must have the same shape; got {a}.shape = \(3,\) and {b}.shape = \(4,\)"
    with pytest.raises(ValueError, match=match if name != "mse" else rf"mse: {match}"):
        fn(jnp.full(3, 0.5), jnp.full(4, 0.5))
    with pytest.raises(ValueError, match="must have the same shape"):
        jax.jit(fn)(jnp.full((2, 3), 0.5), jnp.full((3, 2), 0.5))


@pytest.mark.parametrize("name", ["binary_cross_entropy", "categorical_cross_entropy"])
@pytest.mark.parametrize("bad", [-0.1, 1.2])
def test_probabilities_outside_unit_interval(name, bad):
    fn = getattr(L, name)
    with pytest.raises(ValueError, match=rf"{name}: y must lie in \[0, 1\] \(probabilities\); got values \[{bad:g}"):
        fn(jnp.array([0.5, bad]), jnp.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=rf"{name}: t must lie in \[0, 1\]"):
        fn(jnp.array([0.5, 0.5]), jnp.array([1.0, bad]))
    with pytest.raises(RUNTIME_ERRORS, match=rf"{name}: y must lie in \[0, 1\]"):
        jax.jit(fn)(jnp.array([0.5, bad]), jnp.array([1.0, 0.0])).block_until_ready()


@pytest.mark.parametrize("name", ["binary_cross_entropy_with_logits", "categorical_cross_entropy_with_logits"])
def test_logit_forms_bad_targets(name):
    fn = getattr(L, name)
    with pytest.raises(ValueError, match=rf"{name}: t must lie in \[0, 1\]"):
        fn(jnp.zeros(2), jnp.array([1.5, 0.0]))
    with pytest.raises(RUNTIME_ERRORS, match=rf"{name}: t must lie in \[0, 1\]"):
        jax.jit(fn)(jnp.zeros(2), jnp.array([-1.0, 0.0])).block_until_ready()


def test_integer_labels_bad_input():
    fn = L.categorical_cross_entropy_with_integer_labels
    name = "categorical_cross_entropy_with_integer_labels"
    for bad in (-1, 3):
        with pytest.raises(
            ValueError,
            match=rf"{name}: label must be a class index in \[0, 2\] \(K = 3 classes\); got label = {bad}",
        ):
            fn(jnp.zeros(3), jnp.array(bad))
    with pytest.raises(RUNTIME_ERRORS, match=rf"{name}: label must be a class index in \[0, 2\]"):
        jax.jit(fn)(jnp.zeros(3), jnp.array(3)).block_until_ready()
    with pytest.raises(RUNTIME_ERRORS, match=r"label must be a class index in \[0, 9\]"):
        jax.jit(lambda z, k: L.mean_loss(fn, z, k))(jnp.zeros((4, 10)), jnp.array([0, 1, 10, 2])).block_until_ready()


@pytest.mark.jaxtyping_off  # a float label (annotated Int) and a label of the wrong batch shape, on purpose
def test_integer_labels_wrong_type_and_shape():
    fn = L.categorical_cross_entropy_with_integer_labels
    name = "categorical_cross_entropy_with_integer_labels"
    with pytest.raises(
        ValueError, match=rf"{name}: label must be an integer array \(class indices\), got dtype float32"
    ):
        fn(jnp.zeros(3), jnp.array(1.0))
    with pytest.raises(
        ValueError,
        match=r"label.shape must equal z.shape\[:-1\] .*got z.shape = \(4, 3\) and label.shape = \(3,\)",
    ):
        fn(jnp.zeros((4, 3)), jnp.array([0, 1, 2]))


def test_log_softmax_bad_axis():
    with pytest.raises(
        ValueError, match=r"log_softmax: axis must be in \[-1, 0\] for an input of shape \(3,\), got axis = 1"
    ):
        L.categorical_cross_entropy_with_logits(jnp.zeros(3), jnp.array([1.0, 0, 0]), axis=1)


@pytest.mark.jaxtyping_off  # ys and ts of different N, and scalars (annotated "n *shape"), on purpose
def test_mean_loss_bad_batches():
    with pytest.raises(
        ValueError,
        match=r"mean_loss: ys and ts must hold the same number of samples N "
        r".*got ys.shape = \(4, 2\) and ts.shape = \(3, 2\)",
    ):
        L.mean_loss(L.mse, jnp.zeros((4, 2)), jnp.zeros((3, 2)))
    with pytest.raises(
        ValueError,
        match=r"mean_loss: ys and ts need a leading batch axis; got ys.shape = \(\), ts.shape = \(\)",
    ):
        L.mean_loss(L.mse, jnp.array(1.0), jnp.array(1.0))
    with pytest.raises(ValueError, match=r"mean_loss: the batch is empty \(N = 0\)"):
        L.mean_loss(L.mse, jnp.zeros((0, 2)), jnp.zeros((0, 2)))
