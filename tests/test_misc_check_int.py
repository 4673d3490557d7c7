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
