"""Chunked sweeps on disk: bounded chunks, one compile, resumable byte for byte."""

import io
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuro as jn
import jaxneuro._chunked as chunked_module
from jaxneuro._chunked import manifest_path

N, CHUNK = 10_007, 1_000  # 11 chunks, the last one of 7 rows
V = np.linspace(0.0, 5.0, N)


class Interrupt(Exception):
    pass


def stop_after(k):
    def on_chunk(i, n_chunks):
        if i == k - 1:
            raise Interrupt(f"stopped after chunk {i} of {n_chunks}")

    return on_chunk


def counting(fn):
    calls = []

    def wrapped(x):
        calls.append(np.asarray(jax.tree.leaves(x)[0][:1]).item())  # first input of each chunk
        return fn(x)

    return wrapped, calls


def lif_rates(x):
    return jn.tuning_curve(jn.LIF(), x)


def test_interrupted_sweep_resumes_to_the_same_file_without_recomputing(tmp_path):
    whole, interrupted = tmp_path / "whole.npy", tmp_path / "interrupted.npy"
    fn, calls = counting(lif_rates)
    jn.chunked_map(fn, V, whole, chunk_size=CHUNK, fingerprint="lif", progress=False)
    assert len(calls) == 11

    fn, calls = counting(lif_rates)
    with pytest.raises(Interrupt):
        jn.chunked_map(fn, V, interrupted, chunk_size=CHUNK, fingerprint="lif", progress=False, on_chunk=stop_after(4))
    assert len(calls) == 4
    assert json.loads(manifest_path(interrupted).read_text())["done"] == [0, 1, 2, 3]

    fn, calls = counting(lif_rates)
    rates = jn.chunked_map(fn, V, interrupted, chunk_size=CHUNK, fingerprint="lif", progress=False)
    assert calls == [V[i * CHUNK] for i in range(4, 11)]  # only the unfinished chunks
    assert interrupted.read_bytes() == whole.read_bytes()
    # and the file holds the sweep: equal to one unchunked call, close to the closed form
    ref = np.asarray(jn.tuning_curve(jn.LIF(), V.astype(np.float32)))
    assert rates.dtype == ref.dtype and rates.shape == (N,)
    np.testing.assert_array_equal(rates, ref)
    np.testing.assert_allclose(rates, jn.lif_rate(V), rtol=1e-3, atol=1e-3)

    # a finished sweep is not recomputed at all
    fn, calls = counting(lif_rates)
    again = jn.chunked_map(fn, V, interrupted, chunk_size=CHUNK, fingerprint="lif", progress=False)
    assert calls == [] and np.array_equal(again, ref)


def test_crash_while_writing_the_manifest_loses_only_that_chunk(tmp_path, monkeypatch):
    whole, crashed = tmp_path / "whole.npy", tmp_path / "crashed.npy"
    jn.chunked_map(lif_rates, V, whole, chunk_size=CHUNK, progress=False)
    real_replace, count = chunked_module.os.replace, []

    def failing_replace(src, dst):
        count.append(dst)
        if len(count) == 3:  # the manifest after chunk 2
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(chunked_module.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        jn.chunked_map(lif_rates, V, crashed, chunk_size=CHUNK, progress=False)
    monkeypatch.undo()
    assert json.loads(manifest_path(crashed).read_text())["done"] == [0, 1]  # the old manifest, intact
    assert not list(tmp_path.glob("*.tmp"))  # no temporary file left behind
    fn, calls = counting(lif_rates)
    jn.chunked_map(fn, V, crashed, chunk_size=CHUNK, progress=False)
    assert len(calls) == 9
    assert crashed.read_bytes() == whole.read_bytes()


def test_one_compile_for_all_chunks_including_the_padded_last(tmp_path):
    traces = []

    @jax.jit
    def square(x):
        traces.append(x.shape)
        return x * x

    seen = []

    def fn(x):
        seen.append(x.shape)
        return square(x)

    out = jn.chunked_map(fn, np.arange(25, dtype=np.float32), tmp_path / "sq.npy", chunk_size=10, progress=False)
    assert traces == [(10,)] and seen == [(10,)] * 3
    np.testing.assert_array_equal(out, np.arange(25, dtype=np.float32) ** 2)


def test_pytree_inputs_rows_with_trailing_shape_and_npy_input(tmp_path):
    a = np.arange(23, dtype=np.float64)
    b = np.arange(46, dtype=np.int32).reshape(23, 2)
    out = jn.chunked_map(
        lambda t: jnp.stack([t[0], t[1][:, 0].astype(t[0].dtype), t[1][:, 1].astype(t[0].dtype)], axis=1),
        (a, b),
        tmp_path / "rows.npy",
        chunk_size=5,
        progress=False,
    )
    assert out.shape == (23, 3) and out.dtype == np.float32  # jax default dtype
    np.testing.assert_array_equal(out, np.column_stack([a, b]).astype(np.float32))
    # inputs given as a .npy path are read memory-mapped
    np.save(tmp_path / "inputs.npy", V[:3001])
    rates = jn.chunked_tuning_curve(
        jn.LIF(), tmp_path / "inputs.npy", tmp_path / "r.npy", chunk_size=1000, progress=False
    )
    np.testing.assert_array_equal(rates, jn.tuning_curve(jn.LIF(), V[:3001].astype(np.float32)))


def test_chunked_tuning_curve_hh_and_refusal_of_another_sweep(tmp_path):
    J = np.linspace(0.0, 40.0, 9)
    path = tmp_path / "hh.npy"
    rates = jn.chunked_tuning_curve(jn.HodgkinHuxley(), J, path, chunk_size=4, duration=100.0, progress=False)
    # Equal up to one float32 rounding: XLA's CPU code for a lane in a vector (chunks of 4)
    # and for the scalar tail of a batch (the 9th input of one call) rounds exp differently.
    whole = jn.tuning_curve(jn.HodgkinHuxley(), J.astype(np.float32), duration=100.0)
    np.testing.assert_allclose(rates, whole, rtol=2 * np.finfo(np.float32).eps, atol=0)
    with pytest.raises(ValueError, match=r"belongs to a different sweep \(it differs in \['fingerprint'\]\)"):
        jn.chunked_tuning_curve(jn.HodgkinHuxley(g_Na=100.0), J, path, chunk_size=4, duration=100.0, progress=False)
    with pytest.raises(ValueError, match=r"differs in \['inputs_sha256'\]"):
        jn.chunked_tuning_curve(jn.HodgkinHuxley(), J + 1, path, chunk_size=4, duration=100.0, progress=False)
    with pytest.raises(ValueError, match=r"differs in \['chunk_size'\]"):
        jn.chunked_tuning_curve(jn.HodgkinHuxley(), J, path, chunk_size=3, duration=100.0, progress=False)


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self):
        return True


def test_progress_bar(tmp_path, monkeypatch):
    def sweep(path, progress, **kwargs):
        return jn.chunked_map(
            lambda x: x + 1, np.zeros(50, np.float32), path, chunk_size=10, progress=progress, **kwargs
        )

    # not a terminal (a log file, a pipe): one line, written when the sweep ends
    log = io.StringIO()
    sweep(tmp_path / "a.npy", log)
    assert log.getvalue().count("\n") == 1 and "\r" not in log.getvalue()
    assert log.getvalue().startswith("chunks: 100%|##########| 5/5 [") and "chunk/s]" in log.getvalue()
    # an interrupted sweep still ends its line; the resumed one counts on from the chunks done
    log = io.StringIO()
    with pytest.raises(Interrupt):
        sweep(tmp_path / "b.npy", log, on_chunk=stop_after(2))
    assert log.getvalue().startswith("chunks:  40%|####      | 2/5 [") and log.getvalue().count("\n") == 1
    log = io.StringIO()
    sweep(tmp_path / "b.npy", log)
    assert log.getvalue().startswith("chunks: 100%|##########| 5/5 [") and log.getvalue().count("\n") == 1
    # a terminal: tqdm's bar updated in place (carriage returns), from 0/5 to 5/5, then a newline
    tty = Terminal()
    sweep(tmp_path / "c.npy", tty)
    shown = tty.getvalue()
    assert shown.startswith("\rchunks:   0%|") and "0/5" in shown and shown.endswith("\n")
    assert "5/5" in shown.split("\r")[-1] and shown.count("\n") == 1
    # no display at all: progress=False, and processes other than 0 of a multi-process job
    sweep(tmp_path / "d.npy", False)
    monkeypatch.setattr(jax, "process_index", lambda *a: 1)
    for stream in (io.StringIO(), Terminal()):
        sweep(tmp_path / f"e{id(stream)}.npy", stream)
        assert stream.getvalue() == ""


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda p: jn.chunked_map(lambda x: x, V, p, chunk_size=0),
            r"chunk_size must be an int in \[1, inf\), got chunk_size = 0",
        ),
        (
            lambda p: jn.chunked_map(lambda x: x, V, p, chunk_size=True),
            r"chunk_size must be an int in \[1, inf\), got chunk_size = True",
        ),
        (
            lambda p: jn.chunked_map(lambda x: x, (V, V[:5]), p, chunk_size=2),
            r"share their leading size; got sizes \[5, 10007\]",
        ),
        (lambda p: jn.chunked_map(lambda x: x, np.float32(1.0), p, chunk_size=2), "must have a leading axis"),
        (lambda p: jn.chunked_map(lambda x: x, V[:0], p, chunk_size=2), "at least one row"),
        (
            lambda p: jn.chunked_map(lambda x: x[:1], V[:10], p, chunk_size=4, progress=False),
            r"fn must return 4 rows .*got shape \(1,\)",
        ),
        (
            lambda p: jn.chunked_tuning_curve(jn.LIF(tau_m=[0.01, 0.02]), V, p),
            r"scalar parameters for a chunked sweep; got shapes \[\(2,\)",
        ),
        pytest.param(  # inputs of shape (1, 10007), not 1-D on purpose
            lambda p: jn.chunked_tuning_curve(jn.LIF(), V.reshape(1, -1), p),
            r"inputs must be 1-D; got shape \(1, 10007\)",
            marks=pytest.mark.jaxtyping_off,
        ),
    ],
)
def test_chunked_validation(tmp_path, call, match):
    with pytest.raises(ValueError, match=match):
        call(tmp_path / "out.npy")


def test_resumed_rows_must_match_the_file(tmp_path):
    path = tmp_path / "m.npy"
    with pytest.raises(Interrupt):
        jn.chunked_map(
            lambda x: x * 2, np.ones(6, np.float32), path, chunk_size=2, progress=False, on_chunk=stop_after(1)
        )
    with pytest.raises(
        ValueError, match=r"fn returned rows of shape \(\) and dtype float64; the file holds \(\) float32"
    ):
        jn.chunked_map(lambda x: np.asarray(x, np.float64), np.ones(6, np.float32), path, chunk_size=2, progress=False)


@pytest.mark.jaxtyping_off  # neuron = "LIF", a string where a neuron is expected, on purpose
def test_chunked_type_error(tmp_path):
    with pytest.raises(TypeError, match="neuron must be a jaxneuro neuron .*got str"):
        jn.chunked_tuning_curve("LIF", V, tmp_path / "x.npy")
