"""``check_int``: the package's one integer validator, and the inputs each call site accepts."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import jaxneuro as jn
from jaxneuro._misc import check_int


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.int32(1), np.uint8(2)])
def test_accepts_ints_and_numpy_ints(value):
    out = check_int("n", value)
    assert type(out) is int and out == int(value)


@pytest.mark.parametrize("value", [0, -1, True, False, 2.0, 2.5, "3", None, np.float64(2.0), jnp.array(2)])
def test_refuses_non_ints_bools_floats_and_low_values(value):
    with pytest.raises(ValueError, match=r"^n must be an int in \[1, inf\), got n = "):
        check_int("n", value)


def test_bounds_are_inclusive_and_named():
    assert check_int("k", 0, 0, 5) == 0
    assert check_int("k", 5, 0, 5) == 5
    with pytest.raises(ValueError, match=r"^k must be an int in \[0, 5\], got k = 6\.$"):
        check_int("k", 6, 0, 5)
    with pytest.raises(ValueError, match=r"^k must be an int in \[0, 5\], got k = -1\.$"):
        check_int("k", -1, 0, 5)


def test_where_prefixes_the_message():
    with pytest.raises(ValueError, match=r"^Population: size must be an int in \[1, inf\), got size = 0\.$"):
        check_int("size", 0, where="Population")


def test_numpy_false_refuses_numpy_ints():
    assert check_int("n", 3, numpy=False) == 3
    with pytest.raises(ValueError, match=r"n must be an int in \[1, inf\), got n = np\.int64\(3\)"):
        check_int("n", np.int64(3), numpy=False)


# Each call site keeps the inputs its former private copy accepted.
def test_network_sizes_accept_numpy_ints_and_name_the_class():
    assert jn.Population(np.int64(3), jn.LIF()).size == 3
    with pytest.raises(ValueError, match=r"Population: size must be an int in \[1, inf\), got size = 0"):
        jn.Population(0, jn.LIF())
    with pytest.raises(ValueError, match=r"PoissonPopulation: size must be an int in \[1, inf\), got size = 2\.5"):
        jn.PoissonPopulation(2.5, 10.0)
    with pytest.raises(ValueError, match=r"PoissonInput: n must be an int in \[1, inf\), got n = True"):
        jn.PoissonInput("x", True, 10.0, 1.0, jn.DeltaSynapse())


def test_fixed_out_degree_names_its_bound():
    pops = [jn.Population(4, jn.LIF(), "a"), jn.Population(3, jn.LIF(), "b")]
    syn = jn.DeltaSynapse()
    with pytest.raises(ValueError, match=r"FixedOutDegree: k must be an int in \[0, 3\], got k = 4"):
        jn.Network(pops, [jn.Projection("a", "b", syn, jn.FixedOutDegree(4))])


def test_layers_refuse_numpy_ints_as_before():
    with pytest.raises(ValueError, match=r"in_size must be an int in \[1, inf\), got in_size = np\.int64\(2\)"):
        jn.Dense(np.int64(2), 2, key=jr.key(0))


def test_spike_train_capacity_accepts_numpy_ints():
    train = jn.SpikeTrain.from_times([0.1, 0.2], capacity=np.int64(4))
    assert train.capacity == 4
    with pytest.raises(ValueError, match=r"capacity must be an int in \[1, inf\), got capacity = 4\.0"):
        jn.SpikeTrain.from_times([0.1], capacity=4.0)


# Static fields fed numpy scalars: converted to Python numbers, without equinox's warning
# "A JAX array is being set as static" (an error under this suite's warnings-as-errors).
@pytest.mark.parametrize(
    ("build", "field", "expected"),
    [
        # before: each of these warned (PoissonPopulation(np.int64(2), ...) was the audit's case)
        (lambda: jn.PoissonPopulation(np.int64(2), 10.0), "size", 2),
        (lambda: jn.PoissonInput("x", np.int32(3), 10.0, 1.0, jn.DeltaSynapse()), "n", 3),
        (lambda: jn.LIFPopulation(np.int64(4), jn.LIF()), "size", 4),
        (lambda: jn.FixedOutDegree(np.int64(2)), "k", 2),
        (lambda: jn.FixedInDegree(np.uint8(2)), "k", 2),
        (lambda: jn.Diffrax(max_steps=np.int64(100)), "max_steps", 100),
        (lambda: jn.Diffrax(checkpoints=np.int64(10)), "checkpoints", 10),
        (lambda: jn.SpikeTimes(np.int64(5)), "capacity", 5),
        (lambda: jn.PSCKernel(0.01, np.int64(2)), "n", 2),
        (lambda: jn.PSCSynapse(0.01, order=np.int64(2)), "order", 2),
        (lambda: jn.SpikeStats(jnp.array(0.0), jnp.array(0.0), np.float64(0.5), np.int64(3)), "n_bins", 3),
        (lambda: jn.SpikeStats(jnp.array(0.0), jnp.array(0.0), np.float64(0.5), np.int64(3)), "bin_width", 0.5),
    ],
)
def test_static_fields_take_numpy_scalars_as_python_numbers(build, field, expected):
    value = getattr(build(), field)
    assert type(value) is type(expected) and value == expected


def test_static_number_converts_only_numpy_scalars():
    from jaxneuro._misc import static_number

    assert type(static_number(np.int64(3))) is int and type(static_number(np.float32(0.5))) is float
    for value in (True, np.bool_(True), "3", None, 2.5, 7):  # left for the field's own check
        assert static_number(value) is value
    with pytest.raises(ValueError, match=r"PoissonPopulation: size must be an int in \[1, inf\), got size = 2\.0"):
        jn.PoissonPopulation(np.float64(2.0), 10.0)  # a float stays refused


# The integer checks that had their own code (issue 16, item 6): one wording, the hint kept.
def test_hint_follows_the_range():
    with pytest.raises(ValueError, match=r"^f: n must be an int in \[2, inf\) \(two at least\), got n = 1\.$"):
        check_int("n", 1, 2, where="f", hint="(two at least)")


def test_standard_network_sizes_keep_their_hints():
    with pytest.raises(
        ValueError, match=r"^n must be an int in \[2, inf\) \(80% excitatory, 20% inhibitory\), got n = 1"
    ):
        jn.cuba_network(1)
    with pytest.raises(ValueError, match=r"n must be an int in \[2, inf\) .*got n = np\.int64\(100\)"):
        jn.cuba_network(np.int64(100))  # as before: a Python int only
    with pytest.raises(ValueError, match=r"^brunel_network: n_i must be an int in \[1, inf\), got n_i = 0\.$"):
        jn.brunel_network(n_e=10, n_i=0, c_e=2)
    with pytest.raises(
        ValueError, match=r"^brunel_network: c_e must be an int in \[1, 10\] \(at most n_e = 10\), got c_e = 11\.$"
    ):
        jn.brunel_network(n_e=10, n_i=2, c_e=11)


def test_other_former_inline_checks():
    with pytest.raises(ValueError, match=r"^Network: seed must be an int in \[0, inf\), got seed = -1\.$"):
        jn.Network([jn.Population(2, jn.LIF(), "a")], [], seed=-1)
    assert jn.Network([jn.Population(2, jn.LIF(), "a")], [], seed=np.int64(3)).seed == 3  # numpy ints, as before
    with pytest.raises(ValueError, match=r"^capacity must be an int in \[2, inf\) \(at least len\(times\) = 2\)"):
        jn.SpikeTimesTarget(1.0, [0.1, 0.2], t0=0.0, t1=1.0, capacity=1)
    with pytest.raises(ValueError, match=r"^checkpoints must be an int in \[1, inf\) \(or None\), got checkpoints = 0"):
        jn.Diffrax(checkpoints=0)


def test_network_trace_every_must_divide_the_steps():
    net = jn.Network([jn.Population(2, jn.LIF(), "a")], [])
    with pytest.raises(
        ValueError, match=r"^trace_every must be an int in \[1, 10\] that divides the 10 steps, got trace_every = 3"
    ):
        jn.simulate_network(net, 0.01, dt=0.001, trace_every=3)
    with pytest.raises(
        ValueError, match=r"^trace_every must be an int in \[1, 10\] that divides the 10 steps, got trace_every = 20"
    ):
        jn.simulate_network(net, 0.01, dt=0.001, trace_every=20)
