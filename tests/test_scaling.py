"""Sharding over devices and long runs in bounded memory.

The multi-device checks run once, in a subprocess with four forced host devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=4``; this process has already started
JAX with one device).  The worker saves its results; the references are computed here, on
one device, without any sharding code: sharded sweeps must equal them exactly (dtype and
values), sharded training to floating-point rounding.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh

import jaxneuro as jn
from jaxneuro._sharding import call_sharded, check_mesh, resolve_mesh
from jaxneuro.train import config_from_dict, fit

ROOT = Path(__file__).resolve().parents[1]

# Shared by the worker and the references here.
SETUP = textwrap.dedent(
    """
    import numpy as np
    X = np.linspace(0.0, 5.0, 1001, dtype=np.float32)       # 1001 = 4 * 250 + 1: uneven
    TAUS = np.linspace(0.01, 0.03, 1001, dtype=np.float32)
    X2 = np.linspace(0.5, 4.0, 35, dtype=np.float32).reshape(5, 7)
    TAU2 = np.array([[0.01], [0.015], [0.02], [0.025], [0.03]], np.float32)
    J = np.linspace(0.0, 40.0, 13, dtype=np.float32)
    TS = np.linspace(0.0, 0.2, 21)
    V_SIM = np.linspace(0.8, 3.0, 10, dtype=np.float32)
    TAU_SIM = np.linspace(0.01, 0.03, 10, dtype=np.float32)
    TRAIN = {
        "epochs": 8, "batch_size": 18, "loss": "mse", "seed": 3,
        "data": {"name": "regression", "train_size": 90, "test_size": 101},
        "model": {"hidden_sizes": [16], "activation": "tanh"},
        "optimizer": {"name": "adam", "learning_rate": 0.01, "schedule": "cosine"},
    }

    def stacked_lif(tau_m):
        import jax.numpy as jnp
        import jaxneuro as jn
        n = len(tau_m)
        return jn.LIF(tau_m=tau_m, tau_ref=jnp.full(n, 0.002), V_L=jnp.zeros(n), V_th=jnp.ones(n), R=jnp.ones(n))

    def sim_stepped(nrn, v):
        import jaxneuro as jn
        return jn.simulate(nrn, v, 0.0, 0.2, ts=TS, method="stepped")

    def sim_exact(nrn, v):
        import jaxneuro as jn
        return jn.simulate(nrn, v, 0.0, 0.2, ts=TS, method="exact")
    """
)
_NS: dict = {}
exec(SETUP, _NS)  # the worker's inputs and functions, defined here exactly as there
X, TAUS, X2, TAU2, J, TRAIN = (_NS[k] for k in ("X", "TAUS", "X2", "TAU2", "J", "TRAIN"))
V_SIM, TAU_SIM = _NS["V_SIM"], _NS["TAU_SIM"]
stacked_lif, sim_stepped, sim_exact = _NS["stacked_lif"], _NS["sim_stepped"], _NS["sim_exact"]

WORKER = SETUP + textwrap.dedent(
    """
    import json, sys
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax
    from jax.sharding import PartitionSpec
    import jaxneuro as jn
    from jaxneuro.train import config_from_dict, fit, make_train_epoch

    assert jax.device_count() == 4, jax.devices()
    out, info = {}, {}
    mesh = jn.batch_mesh()
    info["mesh_size"] = mesh.size

    out["lif_exact"] = jn.tuning_curve(jn.LIF(tau_m=TAUS), X, mesh=mesh)
    out["lif_stepped"] = jn.tuning_curve(jn.LIF(), X[:37], method="stepped", duration=0.5, mesh=mesh)
    out["lif_2d"] = jn.tuning_curve(jn.LIF(tau_m=TAU2), X2, mesh=mesh)
    out["hh_stepped"] = jn.tuning_curve(jn.HodgkinHuxley(), J, duration=100.0, mesh=mesh)
    out["lif_jit"] = jax.jit(lambda x: jn.tuning_curve(jn.LIF(), x, mesh=mesh))(X)
    out["lif_grad"] = jax.grad(lambda tau: jnp.sum(jn.tuning_curve(jn.LIF(tau_m=tau), X[500:537], mesh=mesh)))(
        TAUS[500:537]
    )
    even = jn.tuning_curve(jn.LIF(), X[:1000])  # default mesh: all 4 local devices
    out["lif_even_default"] = even
    info["even_split"] = even.sharding.spec == PartitionSpec("batch")
    info["even_devices"] = len(even.sharding.device_set)
    info["even_shard_rows"] = sorted(int(s.data.shape[0]) for s in even.addressable_shards)

    for name, fn in (("sim_stepped", sim_stepped), ("sim_exact", sim_exact)):
        sim = jn.sharded_vmap(fn, mesh=mesh)(stacked_lif(TAU_SIM), V_SIM)
        out[name + "_ys"], out[name + "_spikes"] = sim.ys, sim.spikes.times

    grid = jn.parameter_grid(jn.LIF(), X[::100], tau_m=[0.01, 0.02, 0.03], tau_ref=[0.001, 0.004])
    out["grid"] = jn.tuning_grid(grid, mesh=mesh)
    out["grid_map"] = grid.map(sim_stepped, mesh=mesh).ys

    try:
        jn.shard_batch(jnp.zeros(10), mesh)
    except ValueError as e:
        info["shard_error"] = str(e)

    losses = {}
    for scan in (True, False):
        result = fit(config_from_dict(TRAIN, [f"scan_epoch={str(scan).lower()}"]), None, stream=None)
        losses[str(scan)] = [[m["train_loss"], m.get("test_loss")] for m in result.metrics]
        params = jax.tree.leaves(eqx.filter(result.model, eqx.is_array))
        info["params_replicated"] = all(a.sharding.is_fully_replicated and a.sharding.num_devices == 4 for a in params)
    info["losses"] = losses

    # Data parallelism shows in the compiled epoch: a cross-device sum of the gradient.
    model = jn.MLP(1, 1, [8], "tanh", "identity", key=jax.random.PRNGKey(0))
    opt = optax.sgd(0.1)
    x, t = jnp.zeros((32, 1)), jnp.zeros((32, 1))
    for key, m in (("hlo_sharded", mesh), ("hlo_single", None)):
        epoch = make_train_epoch(jn.losses.mse, opt, 8, mesh=m)
        args = (model, opt.init(eqx.filter(model, eqx.is_inexact_array)), jax.random.PRNGKey(1), x, t)
        if m is not None:
            args = jn.replicate(args, m)
        info[key] = "all-reduce" in epoch.lower(*args).compile().compiled.as_text()

    jax.config.update("jax_enable_x64", True)
    out["lif_exact_f64"] = jn.tuning_curve(jn.LIF(tau_m=TAUS), X, dtype=jnp.float64, mesh=mesh)

    np.savez(sys.argv[1], **{k: np.asarray(v) for k, v in out.items()})
    with open(sys.argv[2], "w") as f:
        json.dump(info, f)
    """
)


# The 4-device worker (a fresh process compiling every sharded sweep, a sharded training run and
# a float64 sweep: about 25 s on one core) and the one-device references its tests compute run
# with -m slow; the sharding code on this process's one device stays in the default run
# (test_pad_batch_repeats_the_last_row_and_sharded_call_cuts_it, test_one_device_runs_unsharded,
# test_sharded_vmap_under_jit_and_grad, test_run_time_checks_return_the_value_bit_for_bit).
@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """Run the 4-device worker once; its arrays (npz) and facts (json)."""
    folder = tmp_path_factory.mktemp("sharded")
    script, arrays, facts = folder / "worker.py", folder / "out.npz", folder / "info.json"
    script.write_text(WORKER)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, str(script), str(arrays), str(facts)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    # run-time checks (eqx.error_if) on a sharded batch keep it sharded: no SPMD warning
    assert "Involuntary full rematerialization" not in proc.stderr, proc.stderr[-4000:]
    with np.load(arrays) as z:
        out = {k: z[k] for k in z.files}
    return out, json.loads(facts.read_text())


def assert_identical(got, ref):
    ref = np.asarray(ref)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)


# --- sharded sweeps against one device ------------------------------------------------------------


@pytest.mark.parametrize(
    "key, reference",
    [
        ("lif_exact", lambda: jn.tuning_curve(jn.LIF(tau_m=TAUS), X)),
        ("lif_stepped", lambda: jn.tuning_curve(jn.LIF(), X[:37], method="stepped", duration=0.5)),
        ("lif_2d", lambda: jn.tuning_curve(jn.LIF(tau_m=TAU2), X2)),
        ("hh_stepped", lambda: jn.tuning_curve(jn.HodgkinHuxley(), J, duration=100.0)),
        ("lif_even_default", lambda: jn.tuning_curve(jn.LIF(), X[:1000])),
        ("lif_jit", lambda: jax.jit(lambda x: jn.tuning_curve(jn.LIF(), x))(X)),
        (
            "lif_grad",
            lambda: jax.grad(lambda tau: jnp.sum(jn.tuning_curve(jn.LIF(tau_m=tau), X[500:537])))(TAUS[500:537]),
        ),
    ],
)
@pytest.mark.slow  # the 4-device worker (sharded fixture)
def test_sharded_tuning_curve_equals_one_device(sharded, key, reference):
    out, info = sharded
    assert info["mesh_size"] == 4
    assert_identical(out[key], reference())
    # and the sweep is right, not only equal: closed form for the LIF exact path
    if key == "lif_exact":
        np.testing.assert_allclose(out[key], jn.lif_rate(X, TAUS), rtol=1e-3, atol=1e-3)
    if key == "lif_grad":  # d rate / d tau_m of the closed form
        ref = jax.vmap(jax.grad(lambda tau, x: jn.lif_rate(x, tau)))(TAUS[500:537], X[500:537])
        np.testing.assert_allclose(out[key], ref, rtol=2e-3, atol=1e-2)


@pytest.mark.slow  # the 4-device worker (sharded fixture)
def test_sharded_float64_sweep_equals_one_device(sharded, x64):
    assert_identical(sharded[0]["lif_exact_f64"], jn.tuning_curve(jn.LIF(tau_m=TAUS), X, dtype=jnp.float64))


@pytest.mark.slow  # the 4-device worker (sharded fixture)
def test_default_mesh_splits_the_batch_over_all_local_devices(sharded):
    _, info = sharded
    assert info["even_devices"] == 4
    assert info["even_split"] is True
    assert info["even_shard_rows"] == [250, 250, 250, 250]


def assert_equal_to_rounding(got, ref, atol):
    """Sharded and unsharded stepped runs compile to different vector code for a shard's last
    lanes (here 10 rows over 4 devices), whose float32 ``exp``/``log`` may differ in the last
    bit: a spike time then moves by a few ulps of t (1.5e-8 s at t = 0.2 s) and the voltage
    after it by at most |dv/dt| <= (v_in - v)/tau_m <= 300/s times that, under 2e-5."""
    ref = np.asarray(ref)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=atol)


@pytest.mark.parametrize("name, fn", [("sim_stepped", sim_stepped), ("sim_exact", sim_exact)])
@pytest.mark.slow  # the 4-device worker (sharded fixture)
def test_sharded_vmap_of_simulate_equals_vmap(sharded, name, fn):
    out, _ = sharded
    ref = eqx.filter_vmap(fn)(stacked_lif(TAU_SIM), V_SIM)
    if name == "sim_exact":
        assert_identical(out[name + "_ys"], ref.ys)
        assert_identical(out[name + "_spikes"], ref.spikes.times)
    else:
        assert_equal_to_rounding(out[name + "_ys"], ref.ys, atol=2e-5)
        assert_equal_to_rounding(out[name + "_spikes"], ref.spikes.times, atol=1e-7)


@pytest.mark.slow  # the 4-device worker (sharded fixture)
def test_sharded_grid_equals_one_device(sharded):
    out, _ = sharded
    grid = jn.parameter_grid(jn.LIF(), X[::100], tau_m=[0.01, 0.02, 0.03], tau_ref=[0.001, 0.004])
    assert_identical(out["grid"], jn.tuning_grid(grid))  # 66 points: uneven over 4 devices
    ref_map = eqx.filter_vmap(sim_stepped)(grid.neuron, grid.inputs).ys.reshape(11, 3, 2, -1)
    assert_equal_to_rounding(out["grid_map"], ref_map, atol=2e-5)


@pytest.mark.slow  # the 4-device worker (sharded fixture)
def test_shard_batch_needs_a_multiple_of_the_device_count(sharded):
    assert "multiple of the 4 devices" in sharded[1]["shard_error"]


# --- data-parallel training -----------------------------------------------------------------------


@pytest.mark.slow  # the 4-device worker (sharded fixture)
def test_data_parallel_training_matches_one_device(sharded):
    _, info = sharded
    assert info["params_replicated"] is True  # a full copy of the parameters on each device
    for scan in (True, False):
        ref = fit(config_from_dict(TRAIN, [f"scan_epoch={str(scan).lower()}"]), None, stream=None)
        ref_losses = [[m["train_loss"], m.get("test_loss")] for m in ref.metrics]
        got = info["losses"][str(scan)]
        assert len(got) == len(ref_losses) == 8
        for (g_train, g_test), (r_train, r_test) in zip(got, ref_losses, strict=True):
            assert g_train == pytest.approx(r_train, rel=2e-5)
            assert (g_test is None) == (r_test is None)
            if r_test is not None:
                assert g_test == pytest.approx(r_test, rel=2e-5)
        assert ref_losses[-1][0] < 0.75 * ref_losses[0][0]  # it does learn


@pytest.mark.slow  # the 4-device worker (sharded fixture)
def test_data_parallel_epoch_sums_gradients_across_devices(sharded):
    _, info = sharded
    assert info["hlo_sharded"] is True
    assert info["hlo_single"] is False


TRAIN_TOML = """
epochs = 8
batch_size = 18
loss = "mse"
seed = 3
[data]
name = "regression"
train_size = 90
test_size = 101
[model]
hidden_sizes = [16]
activation = "tanh"
[optimizer]
name = "adam"
learning_rate = 0.01
schedule = "cosine"
"""


def test_importing_jaxneuro_leaves_the_xla_backend_uninitialised():
    """jax.distributed.initialize() must run before the backend starts, and ``jaxneuro train
    --distributed`` calls it after ``import jaxneuro``: no array may be made at import."""
    code = (
        "import jax; from jax._src import xla_bridge as xb; import jaxneuro, jaxneuro.cli, jaxneuro.train._cli; "
        "print(xb.backends_are_initialized())"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "False"


@pytest.mark.slow
def test_two_processes_with_jax_distributed_train_like_one_device(tmp_path):
    """``jaxneuro train`` started twice under jax.distributed (2 processes x 2 devices): the
    same code path as one host, one model replicated over 4 devices of 2 processes."""
    import socket

    config = tmp_path / "reg.toml"
    config.write_text(TRAIN_TOML)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jaxneuro.train",
                str(config),
                "--out",
                str(tmp_path / "run"),
                "--quiet",
                "--coordinator",
                f"127.0.0.1:{port}",
                "--num-processes",
                "2",
                "--process-id",
                str(k),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    ref = fit(config_from_dict(TRAIN, []), None, stream=None).metrics
    for k in range(2):
        rows = [
            json.loads(line) for line in (tmp_path / "run" / f"process{k}" / "metrics.jsonl").read_text().splitlines()
        ]
        assert [r["epoch"] for r in rows] == list(range(1, 9))
        for row, r in zip(rows, ref, strict=True):
            assert row["train_loss"] == pytest.approx(r["train_loss"], rel=2e-5)
            if "test_loss" in r:
                assert row["test_loss"] == pytest.approx(r["test_loss"], rel=2e-5)
        assert (tmp_path / "run" / f"process{k}" / "summary.json").is_file()


# --- single-device behaviour and validation ------------------------------------------------------


def test_pad_batch_repeats_the_last_row_and_sharded_call_cuts_it():
    tree = {"a": jnp.arange(5.0), "b": jnp.arange(10).reshape(5, 2)}
    padded, n = jn.pad_batch(tree, 4)
    assert n == 5
    np.testing.assert_array_equal(padded["a"], [0, 1, 2, 3, 4, 4, 4, 4])
    np.testing.assert_array_equal(padded["b"][5:], [[8, 9]] * 3)
    same, n = jn.pad_batch(tree, 5)
    assert same is tree and n == 5
    one = jn.batch_mesh(jax.devices()[:1])
    out = call_sharded(lambda a, b: a[:, None] * b, (tree["a"], tree["b"]), one)
    expected = np.arange(5, dtype=np.float32)[:, None] * np.arange(10, dtype=np.float32).reshape(5, 2)
    assert_identical(np.asarray(out), expected)


def test_one_device_runs_unsharded():
    assert resolve_mesh(None) is None  # this process has one device
    assert resolve_mesh(jn.batch_mesh()) is None
    v = jnp.linspace(0.5, 3.0, 7)
    r = jn.tuning_curve(jn.LIF(), v, mesh=jn.batch_mesh())
    assert_identical(np.asarray(r), jn.tuning_curve(jn.LIF(), v))
    # sharded_vmap: a vmap compiled once, with shared (in_axes=None) arguments
    f = jn.sharded_vmap(lambda x, scale: x * scale, in_axes=(0, None))
    np.testing.assert_array_equal(f(jnp.arange(3.0), 2.0), [0.0, 2.0, 4.0])


def test_sharded_vmap_under_jit_and_grad():
    f = jn.sharded_vmap(lambda v: jn.lif_rate(v, 0.02, 0.002))
    v = jnp.linspace(1.5, 4.0, 5)
    np.testing.assert_allclose(jax.jit(f)(v), jn.lif_rate(v), rtol=1e-6)
    g = jax.grad(lambda v: jnp.sum(f(v)))(v)
    np.testing.assert_allclose(g, jax.vmap(jax.grad(jn.lif_rate))(v), rtol=1e-6)


def test_run_time_checks_return_the_value_bit_for_bit():
    """``error_if_any`` (traced checks that keep a sharded batch sharded) returns its value
    unchanged, with its dtype, weak type and derivative, and raises when the check fails."""
    from jaxneuro._misc import error_if_any

    def checked(x):
        return error_if_any(x, x > 10, "x must be at most 10")

    x = jnp.array([-0.0, 1.5, -jnp.inf, jnp.nan], jnp.float32)
    y = jax.jit(checked)(x)
    assert y.dtype == x.dtype
    np.testing.assert_array_equal(np.asarray(y).view(np.uint32), np.asarray(x).view(np.uint32))
    np.testing.assert_array_equal(jax.jit(checked)(jnp.arange(3)), [0, 1, 2])
    assert jax.make_jaxpr(checked)(2.0).out_avals[0].weak_type
    assert float(jax.grad(lambda v: 3.0 * checked(v))(2.0)) == 3.0
    with pytest.raises(Exception, match="x must be at most 10"):
        jax.block_until_ready(jax.jit(checked)(jnp.array([1.0, 11.0])))


def test_sharding_validation():
    two_d = Mesh(np.asarray(jax.devices()[:1]).reshape(1, 1), ("a", "b"))
    with pytest.raises(ValueError, match=r"mesh must be 1-D .* axis_names = \('a', 'b'\)"):
        jn.tuning_curve(jn.LIF(), jnp.ones(3), mesh=two_d)
    with pytest.raises(TypeError, match="mesh must be a jax.sharding.Mesh .*got list"):
        check_mesh(jax.devices())
    with pytest.raises(ValueError, match="devices must hold at least one device"):
        jn.batch_mesh([])
    with pytest.raises(ValueError, match=r"multiple must be an int in \[1, inf\), got multiple = 0"):
        jn.pad_batch(jnp.ones(3), 0)
    with pytest.raises(ValueError, match=r"share their leading \(batch\) size; got sizes"):
        jn.pad_batch((jnp.ones(3), jnp.ones(4)), 2)
    with pytest.raises(ValueError, match="leaf .* is a scalar"):
        jn.pad_batch((jnp.ones(3), jnp.ones(())), 2)
    with pytest.raises(ValueError, match="in_axes entries must be 0 .* or None"):
        jn.sharded_vmap(lambda x: x, in_axes=(1,))
    with pytest.raises(ValueError, match="in_axes has 1 entries for 2 arguments"):
        jn.sharded_vmap(lambda x, y: x, in_axes=(0,))(jnp.ones(2), jnp.ones(2))
    with pytest.raises(ValueError, match="needs at least one batched argument"):
        jn.sharded_vmap(lambda x: x, in_axes=(None,))(jnp.ones(2))
    with pytest.raises(ValueError, match="hold no array to split"):
        jn.sharded_vmap(lambda x: x)(3.0)


# --- long simulations in bounded memory ----------------------------------------------------------


def _compiled_bytes(fn, *args):
    m = jax.jit(fn).lower(*args).compile().memory_analysis()
    return m.temp_size_in_bytes + m.output_size_in_bytes


def test_decimated_recording_memory_does_not_grow_with_steps():
    def recorder(t1, ts):
        # sub-threshold drive and a fixed spike buffer: only the recording depends on ts
        return lambda v: jn.simulate(jn.LIF(), v, 0.0, t1, ts=ts, method="stepped", max_spikes=4).ys

    short = _compiled_bytes(recorder(0.1, np.linspace(0.0, 0.1, 11)), 0.5)  # 1,000 steps
    long = _compiled_bytes(recorder(10.0, np.linspace(0.0, 10.0, 11)), 0.5)  # 100,000 steps
    assert long == short
    every_step = _compiled_bytes(recorder(10.0, None), 0.5)  # the measure does see recordings
    assert every_step >= 100_001 * 4
    # the decimated run records the same states as the full one, at its 11 times
    v = 0.5
    full = jn.simulate(jn.LIF(), v, 0.0, 10.0, method="stepped", max_spikes=4).ys
    few = recorder(10.0, np.linspace(0.0, 10.0, 11))(v)
    np.testing.assert_array_equal(few, full[::10_000])


@pytest.mark.slow
def test_checkpointed_gradient_bounds_memory_and_keeps_the_gradient(x64):
    """``checkpoints`` bounds the memory of reverse mode through the diffrax loop, which JAX
    differentiates when more than ``MAX_DIRECTIONS`` scalars are traced (here 32 amplitudes,
    averaged); with one scalar, forward sensitivities store no step at all."""
    n_amp = 2 * jn.MAX_DIRECTIONS

    def voltage_sum(checkpoints):
        def f(a):
            drive = jn.FunctionInput(lambda t: jnp.mean(a) * (1.0 + 0.5 * jnp.sin(2 * jnp.pi * t / 0.02)))
            sim = jn.simulate(
                jn.LIF(),
                drive,
                0.0,
                0.2,
                ts=np.linspace(0.0, 0.2, 5),
                method="diffrax",
                max_steps=1000,
                checkpoints=checkpoints,
                max_spikes=2,
            )
            return jnp.sum(sim.ys)

        return f

    a = jnp.full(n_amp, 0.6)
    results = {}
    for ck in (4, 1000):  # 4 stored states vs every step stored
        compiled = jax.jit(jax.value_and_grad(voltage_sum(ck))).lower(a).compile()
        results[ck] = (compiled.memory_analysis().temp_size_in_bytes, compiled(a))
    (mem_few, (val_few, g_few)), (mem_all, (val_all, g_all)) = results[4], results[1000]
    assert mem_all > 2 * mem_few
    scalar = jax.jit(jax.value_and_grad(lambda x: voltage_sum(None)(jnp.full(1, x)))).lower(0.6).compile()
    assert scalar.memory_analysis().temp_size_in_bytes < mem_all
    val_one, g_one = scalar(0.6)
    # recomputing instead of storing changes neither the value nor the gradient
    assert float(val_few) == pytest.approx(float(val_all), rel=1e-12)
    np.testing.assert_allclose(np.asarray(g_few), np.asarray(g_all), rtol=1e-10)
    # below threshold v is linear in the amplitude a: v = a u(t) with u in closed form, for
    # tau u' = 1 + sin(w t)/2 - u, u(0) = 0, so the gradient is sum u(ts) (split over the 32)
    t, tau, w = np.linspace(0.0, 0.2, 5), 0.02, 2 * np.pi / 0.02
    amp = 0.5 / (1 + (w * tau) ** 2)
    u = 1 - np.exp(-t / tau) + amp * (np.sin(w * t) - w * tau * np.cos(w * t) + w * tau * np.exp(-t / tau))
    assert float(val_few) == pytest.approx(0.6 * u.sum(), rel=1e-6)
    np.testing.assert_allclose(np.asarray(g_few), u.sum() / n_amp, rtol=1e-6)
    assert float(val_one) == pytest.approx(0.6 * u.sum(), rel=1e-6)
    assert float(g_one) == pytest.approx(u.sum(), rel=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(method="diffrax", checkpoints=0),
            r"checkpoints must be an int in \[1, inf\) \(or None\), got checkpoints = 0",
        ),
        (
            dict(method="diffrax", checkpoints=2.5),
            r"checkpoints must be an int in \[1, inf\) \(or None\), got checkpoints = 2.5",
        ),
        (dict(method="stepped", checkpoints=8), "checkpoints applies to method='diffrax' only"),
    ],
)
def test_checkpoints_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jn.simulate(jn.LIF(), 1.5, 0.0, 0.1, **kwargs)
