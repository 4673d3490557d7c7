"""BCE and CCE as negative log-likelihoods (notes ch. 2.3.2-2.3.3), against scipy.stats.

For outputs read as the parameters of a distribution over the targets, the cross-entropy losses
are ``-log`` of the likelihood: independent Bernoulli outputs for BCE, a multinoulli
(multinomial with n = 1) for CCE.  Summed over a data set the loss is the negative
log-likelihood of the data, so minimising it is maximum likelihood: for one Bernoulli
parameter the minimiser is the sample mean, for a multinoulli the class frequencies.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import jaxneuro as jn
from jaxneuro import losses


def bernoulli_data(n=200, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.uniform(0.02, 0.98, (n, k))  # predicted probabilities
    t = (rng.uniform(size=(n, k)) < y).astype(np.float64)  # 0/1 targets
    return y, t


def multinoulli_data(n=200, k=5, seed=1):
    rng = np.random.default_rng(seed)
    y = rng.dirichlet(np.ones(k), n)
    labels = np.array([rng.choice(k, p=p) for p in y])
    return y, np.eye(k)[labels], labels


def test_bce_is_the_bernoulli_negative_log_likelihood(x64):
    y, t = bernoulli_data()
    nll = -stats.bernoulli.logpmf(t, y)  # per element
    per_sample = jax.vmap(losses.binary_cross_entropy)(jnp.asarray(y), jnp.asarray(t))
    np.testing.assert_allclose(per_sample, nll.sum(axis=1), rtol=1e-12)
    # over the data set: the loss summed over samples is -log of the data's likelihood
    total = float(losses.binary_cross_entropy(jnp.asarray(y), jnp.asarray(t)))
    assert total == pytest.approx(-np.log(np.prod(stats.bernoulli.pmf(t[:20], y[:20]))) + nll[20:].sum(), rel=1e-12)
    assert float(jn.mean_loss(losses.binary_cross_entropy, y, t)) == pytest.approx(nll.sum() / len(y), rel=1e-12)
    # the logits form: y = sigma(z)
    z = np.log(y) - np.log1p(-y)
    np.testing.assert_allclose(
        jax.vmap(losses.binary_cross_entropy_with_logits)(jnp.asarray(z), jnp.asarray(t)), nll.sum(axis=1), rtol=1e-10
    )


def test_bce_float32():
    # the default dtype (float32): the same likelihood to float32 rounding
    y, t = bernoulli_data(seed=3)
    nll = -stats.bernoulli.logpmf(t, y).sum(axis=1)
    got = jax.vmap(losses.binary_cross_entropy)(jnp.asarray(y, jnp.float32), jnp.asarray(t, jnp.float32))
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(got, nll, rtol=1e-5)


def test_cce_is_the_multinoulli_negative_log_likelihood(x64):
    y, t, labels = multinoulli_data()
    nll = -stats.multinomial.logpmf(t, n=1, p=y)  # one draw: the probability of the drawn class
    np.testing.assert_allclose(nll, -np.log(y[np.arange(len(y)), labels]), rtol=1e-12)  # scipy's convention
    per_sample = jax.vmap(losses.categorical_cross_entropy)(jnp.asarray(y), jnp.asarray(t))
    np.testing.assert_allclose(per_sample, nll, rtol=1e-12)
    assert float(losses.categorical_cross_entropy(jnp.asarray(y), jnp.asarray(t))) == pytest.approx(
        nll.sum(), rel=1e-12
    )
    # logits form (softmax of log y is y) and integer labels
    np.testing.assert_allclose(
        jax.vmap(losses.categorical_cross_entropy_with_logits)(jnp.asarray(np.log(y) + 3.0), jnp.asarray(t)),
        nll,
        rtol=1e-10,
    )
    np.testing.assert_allclose(
        jax.vmap(losses.categorical_cross_entropy_with_integer_labels)(jnp.asarray(np.log(y)), jnp.asarray(labels)),
        nll,
        rtol=1e-10,
    )


def gradient_descent(loss, theta0, *, lr, steps):
    def step(theta, _):
        return theta - lr * jax.grad(loss)(theta), None

    return jax.jit(lambda th: jax.lax.scan(step, th, None, length=steps)[0])(theta0)


def test_minimising_bce_is_the_bernoulli_mle():
    # one parameter p = sigma(theta) for every sample; mean BCE over the data = -(1/N) log-likelihood
    t = (np.random.default_rng(4).uniform(size=500) < 0.3).astype(np.float32)
    data = jnp.asarray(t)[:, None]

    def loss(theta):
        p = jax.nn.sigmoid(theta)
        return jn.mean_loss(losses.binary_cross_entropy, jnp.broadcast_to(p, data.shape), data)

    theta = gradient_descent(loss, jnp.zeros(1), lr=2.0, steps=400)
    p_hat = float(jax.nn.sigmoid(theta)[0])
    m = t.mean()
    assert p_hat == pytest.approx(m, abs=1e-5)  # the MLE is the sample mean
    # the minimum loss is the data's entropy, and it is the minimum: the log-likelihood from scipy is lower elsewhere
    h = -(m * np.log(m) + (1 - m) * np.log(1 - m))
    assert float(loss(theta)) == pytest.approx(h, rel=1e-5)
    for p in (m - 0.05, m + 0.05, 0.5):
        assert -stats.bernoulli.logpmf(t, p).mean() > -stats.bernoulli.logpmf(t, m).mean()


def test_minimising_cce_is_the_multinoulli_mle():
    labels = np.random.default_rng(5).choice(4, size=600, p=[0.1, 0.2, 0.3, 0.4])
    onehot = jnp.asarray(np.eye(4)[labels], jnp.float32)

    def loss(logits):
        y = jnp.broadcast_to(jax.nn.softmax(logits), onehot.shape)
        return jn.mean_loss(losses.categorical_cross_entropy, y, onehot)

    logits = gradient_descent(loss, jnp.zeros(4), lr=2.0, steps=600)
    freq = np.bincount(labels, minlength=4) / len(labels)
    np.testing.assert_allclose(jax.nn.softmax(logits), freq, atol=1e-5)
    assert float(loss(logits)) == pytest.approx(-stats.multinomial.logpmf(np.eye(4)[labels], 1, freq).mean(), rel=1e-5)
