"""The counter-based normals of ``jaxneuro._network._noise`` (the white noise of LIF networks).

Statistical checks use a fixed key, so they are deterministic; each tolerance is 5 standard
errors of the statistic for the sample size (under the hypothesis being tested), so a correct
generator fails one of them with probability below 1e-6 for any key.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import ndtr

from jaxneuro._network import _noise as nz

STEPS, N = 256, 4001  # about 1e6 numbers; N odd: the second half is one shorter
SEEDS = jnp.array([0x12345678, 0x9ABCDEF0], jnp.uint32)
TAIL = math.sqrt(50 * math.log(2))  # the largest |z| the 24-bit uniforms can give
normals_jit = jax.jit(nz.normals, static_argnums=(2, 3))


@pytest.fixture(scope="module")
def sample():
    """``(STEPS, N)`` float32 normals drawn under jit, as float64 numpy."""
    return np.asarray(normals_jit(SEEDS, jnp.arange(STEPS), N, jnp.float32), np.float64)


def five_se(se):
    return 5 * se


def corr(x, y):
    x, y = x.ravel() - x.mean(), y.ravel() - y.mean()
    return float(np.dot(x, y) / np.sqrt(np.dot(x, x) * np.dot(y, y)))


# ============================================================================ hash
def lowbias32_py(x: int) -> int:
    """``lowbias32`` (C. Wellons, "Hash function prospector") with Python integers."""
    m = 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & m
    x ^= x >> 15
    x = (x * 0x846CA68B) & m
    return x ^ (x >> 16)


def test_hash32_is_lowbias32():
    xs = np.random.default_rng(0).integers(0, 2**32, 1000, dtype=np.uint64).astype(np.uint32)
    xs = np.concatenate([xs, np.array([0, 1, 2, 0xFFFFFFFF, 0x80000000], np.uint32)])
    got = np.asarray(nz.hash32(jnp.asarray(xs)))
    assert got.dtype == np.uint32
    assert [int(g) for g in got] == [lowbias32_py(int(x)) for x in xs]


def test_hash32_is_a_bijection_with_avalanche():
    """Distinct counters give distinct hashes (xor-shifts and odd multiplications are
    invertible), and flipping one input bit flips each output bit with probability 1/2:
    on average over the output bits within 5 standard errors, and for every (input bit,
    output bit) pair within 1% (lowbias32's small residual bias: 0.26% measured here)."""
    xs = jnp.arange(2**20, dtype=jnp.uint32)
    h = np.asarray(nz.hash32(xs))
    assert np.unique(h).size == xs.size
    flips = []
    for bit in range(32):
        d = np.asarray(nz.hash32(xs ^ jnp.uint32(1 << bit))) ^ h
        flips.append(np.unpackbits(d.view(np.uint8)).reshape(-1, 32).mean(axis=0))
    flips = np.array(flips)  # (input bit, output bit (in byte order))
    assert np.all(np.abs(flips.mean(axis=1) - 0.5) <= five_se(math.sqrt(0.25 / (xs.size * 32))))
    assert np.all(np.abs(flips - 0.5) <= 0.01)


# ============================================================================ sin, cos
def test_sincos_quarter_float64(x64):
    theta = np.linspace(-np.pi / 4, np.pi / 4, 100001)
    c, s = nz.sincos_quarter(jnp.asarray(theta), jnp.float64)
    np.testing.assert_allclose(np.asarray(c), np.cos(theta), rtol=0, atol=2 * np.finfo(np.float64).eps)
    np.testing.assert_allclose(np.asarray(s), np.sin(theta), rtol=0, atol=2 * np.finfo(np.float64).eps)


def test_sincos_quarter_float32():
    theta = jnp.asarray(np.linspace(-np.pi / 4, np.pi / 4, 100001), jnp.float32)
    c, s = nz.sincos_quarter(theta, jnp.float32)
    assert c.dtype == s.dtype == jnp.float32
    t = np.asarray(theta, np.float64)  # the float32 angles, exactly
    # truncation below 3e-8, plus the float32 rounding of a few operations (eps32 = 1.2e-7)
    np.testing.assert_allclose(np.asarray(c, np.float64), np.cos(t), rtol=0, atol=1.5e-7)
    np.testing.assert_allclose(np.asarray(s, np.float64), np.sin(t), rtol=0, atol=1.5e-7)


# ============================================================================ normals
def test_normal_seeds_shape():
    for n in (1, 2, 7, 4001):
        p = nz.normal_seeds(SEEDS, n)
        assert p.shape == (2, (n + 1) // 2) and p.dtype == jnp.uint32


def test_normals_shape_dtype_and_tails(sample):
    assert sample.shape == (STEPS, N)
    assert nz.normals(SEEDS, jnp.arange(3), 7, jnp.float32).shape == (3, 7)
    assert nz.normals(SEEDS, jnp.arange(3), 1, jnp.float32).dtype == jnp.float32
    assert np.all(np.isfinite(sample))
    assert np.max(np.abs(sample)) <= TAIL * (1 + 1e-6)


def test_normals_mean_variance_and_shape_of_the_distribution(sample):
    M = sample.size
    z = sample.ravel()
    assert abs(z.mean()) <= five_se(math.sqrt(1 / M))
    assert abs(np.mean(z**2) - 1) <= five_se(math.sqrt(2 / M))  # Var z^2 = 3 - 1
    assert abs(np.mean(z**3)) <= five_se(math.sqrt(15 / M))  # E z^6 = 15
    assert abs(np.mean(z**4) - 3) <= five_se(math.sqrt(96 / M))  # E z^8 - (E z^4)^2 = 105 - 9
    # the probability of falling below each of a few quantiles (binomial standard errors)
    for q in (-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0):
        p = ndtr(q)
        assert abs(np.mean(z < q) - p) <= five_se(math.sqrt(p * (1 - p) / M)), q


def test_normals_uncorrelated_between_neighbouring_counters_and_steps(sample):
    """Neighbouring neurons in a step, the two numbers of one Box-Muller pair (neurons ``p``
    and ``p + ceil(N/2)``), the same neuron in consecutive steps and diagonal neighbours:
    correlations within 5 standard errors ``1/sqrt(M)`` of zero, and so for their squares
    (dependence that a correlation of the values would miss: Box-Muller partners share a
    radius)."""
    h = (N + 1) // 2
    pairs = {
        "neighbouring neurons": (sample[:, :-1], sample[:, 1:]),
        "Box-Muller partners": (sample[:, : N - h], sample[:, h:]),
        "consecutive steps": (sample[:-1], sample[1:]),
        "diagonal": (sample[:-1, :-1], sample[1:, 1:]),
        "two steps apart": (sample[:-2], sample[2:]),
    }
    for name, (x, y) in pairs.items():
        tol = five_se(1 / math.sqrt(x.size))
        assert abs(corr(x, y)) <= tol, name
        assert abs(corr(x**2, y**2)) <= tol, name + " (squares)"


def test_normals_uncorrelated_across_keys(sample):
    """Keys that differ in one bit of either word give unrelated numbers."""
    for other in ([0x12345679, 0x9ABCDEF0], [0x12345678, 0x9ABCDEF1]):
        z = np.asarray(normals_jit(jnp.array(other, jnp.uint32), jnp.arange(STEPS), N, jnp.float32), np.float64)
        assert abs(corr(z, sample)) <= five_se(1 / math.sqrt(z.size))


def test_normals_deterministic_and_independent_of_the_block():
    steps = jnp.arange(10, 42)
    a = nz.normals(SEEDS, steps, 101, jnp.float32)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(nz.normals(SEEDS, steps, 101, jnp.float32)))
    pairs = nz.normal_seeds(SEEDS, 101)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(nz.normals(SEEDS, steps, 101, jnp.float32, pairs)))
    # a step's numbers do not depend on the other steps drawn with it (a run split in blocks)
    for k in (0, 7, 31):
        row = nz.normals(SEEDS, steps[k : k + 1], 101, jnp.float32)[0]
        np.testing.assert_array_equal(np.asarray(row), np.asarray(a[k]))
    np.testing.assert_array_equal(np.asarray(nz.normals(SEEDS, steps[5:9], 101, jnp.float32)), np.asarray(a[5:9]))
    # another key: other numbers
    b = nz.normals(SEEDS ^ jnp.uint32(1), steps, 101, jnp.float32)
    assert np.mean(np.asarray(a) == np.asarray(b)) < 0.01


def test_normals_under_jit():
    steps = jnp.arange(-3, 61)  # negative steps too (the step before the first)
    eager = np.asarray(nz.normals(SEEDS, steps, 333, jnp.float32), np.float64)
    j1 = np.asarray(normals_jit(SEEDS, steps, 333, jnp.float32))
    j2 = np.asarray(jax.jit(lambda s, k: nz.normals(s, k, 333, jnp.float32))(SEEDS, steps))
    np.testing.assert_array_equal(j1, j2)  # the same program: bit for bit
    # compiled as one program XLA may fuse log and sqrt differently: float32 rounding
    np.testing.assert_allclose(j1, eager, rtol=0, atol=16 * np.finfo(np.float32).eps * (1 + np.max(np.abs(eager))))


def test_normals_float64_are_the_float32_ones_more_precisely(x64):
    """The same bits in either dtype: the float32 numbers differ by the float32 rounding of
    ``u1 = (k + 1/2) 2^-24`` (up to ``2^-25``, which moves ``r^2 = -2 log u1`` by up to ``2^-24``
    and so ``r`` by up to ``2^-12`` near ``r = 0``) and of the arithmetic."""
    steps = jnp.arange(64)
    z64 = np.asarray(normals_jit(SEEDS, steps, 1001, jnp.float64))
    z32 = np.asarray(normals_jit(SEEDS, steps, 1001, jnp.float32), np.float64)
    assert z64.dtype == np.float64
    assert np.all(np.abs(z64 - z32) <= 2.0**-12 + 1e-6 * np.abs(z64))
    M = z64.size
    assert abs(z64.mean()) <= five_se(math.sqrt(1 / M))
    assert abs(np.mean(z64**2) - 1) <= five_se(math.sqrt(2 / M))
