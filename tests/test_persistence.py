"""Integrity of what jaxneuro writes to disk: chunked sweeps and training runs.

Every file is checked when it is read back (size, SHA-256, a torn row), damage is either
repaired (sweep chunks recomputed, a torn last metrics row dropped) or named in the error,
and a run killed at a random point and resumed ends bit for bit where an uninterrupted one
does, with no row lost or doubled.
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import jaxneuro as jn
from jaxneuro._chunked import MANIFEST_FORMAT, SweepIntegrityWarning, manifest_path

N, CHUNK = 95, 10  # ten chunks, the last one padded


def _fn(x):
    # deterministic and cheap, but not trivially zero: a zero-filled row is visible
    return np.sin(np.asarray(x, np.float32)) * 3 + 1


def _inputs():
    return np.linspace(0.0, 4.0, N, dtype=np.float32)


def _sweep(path, **kwargs):
    return jn.chunked_map(_fn, _inputs(), path, chunk_size=CHUNK, progress=False, **kwargs)


@pytest.fixture
def reference(tmp_path):
    """The bytes of an uninterrupted sweep."""
    path = tmp_path / "reference.npy"
    _sweep(path)
    return path.read_bytes()


class _Stop(Exception):
    pass


def _warned(record):
    return " | ".join(str(w.message) for w in record)


def _stop_after(k):
    def on_chunk(i, n):
        if i == k:
            raise _Stop

    return on_chunk


# --- chunked sweeps ------------------------------------------------------------------------


def test_manifest_records_a_checksum_per_chunk(tmp_path, reference):
    path = tmp_path / "s.npy"
    _sweep(path)
    manifest = json.loads(manifest_path(path).read_text())
    assert manifest["format"] == MANIFEST_FORMAT
    assert manifest["done"] == list(range(10)) and sorted(manifest["sha256"], key=int) == [str(i) for i in range(10)]
    assert path.read_bytes() == reference


def test_truncated_output_is_recomputed_not_zero_filled(tmp_path, reference):
    # before: np.load(mmap_mode="r+") zero-extended the file and the resume "succeeded" with zeros
    path = tmp_path / "s.npy"
    _sweep(path)
    os.truncate(path, path.stat().st_size // 2)
    with pytest.warns(SweepIntegrityWarning) as record:
        out = _sweep(path)
    assert re.search(r"s\.npy' has \d+ bytes where its header declares", _warned(record))
    assert re.search(r"chunk\(s\) \[3, 4, 5, 6, 7, 8, 9\] do not match their SHA-256", _warned(record))
    assert np.all(np.asarray(out) != 0)
    assert path.read_bytes() == reference


def test_truncated_output_of_an_interrupted_sweep(tmp_path, reference):
    path = tmp_path / "s.npy"
    with pytest.raises(_Stop):
        _sweep(path, on_chunk=_stop_after(6))
    header = path.stat().st_size - N * 4
    os.truncate(path, header + (6 * CHUNK + 5) * 4)  # into the last chunk written
    with pytest.warns(SweepIntegrityWarning) as record:
        _sweep(path)
    assert re.search(r"chunk\(s\) \[6\] do not match their SHA-256", _warned(record))
    assert path.read_bytes() == reference


def test_rows_changed_in_place_are_detected_and_recomputed(tmp_path, reference):
    path = tmp_path / "s.npy"
    _sweep(path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # same length, one byte of the last chunk
    path.write_bytes(bytes(data))
    with pytest.warns(SweepIntegrityWarning, match=r"chunk\(s\) \[9\] do not match their SHA-256 in '.*manifest"):
        _sweep(path)
    assert path.read_bytes() == reference


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda text: text[: len(text) // 2], r"manifest '.*s\.npy\.manifest\.json' is corrupt \(not valid JSON"),
        (lambda text: "\xff", r"manifest '.*s\.npy\.manifest\.json' is corrupt \(not valid JSON"),
        (lambda text: text.replace('"done": [', '"done": ["x", '), r"manifest '.*' is corrupt \(it lacks"),
        (lambda text: json.dumps({**json.loads(text), "sha256": {}}), r"manifest '.*' is corrupt \(it lacks"),
        (lambda text: "[]", r"manifest '.*' is corrupt \(it lacks or garbles"),
    ],
)
def test_a_corrupt_manifest_is_named(tmp_path, damage, match):
    path = tmp_path / "s.npy"
    with pytest.raises(_Stop):
        _sweep(path, on_chunk=_stop_after(3))
    mpath = manifest_path(path)
    mpath.write_text(damage(mpath.read_text()))
    with pytest.raises(ValueError, match=match):
        _sweep(path)


def test_a_corrupt_output_header_is_named(tmp_path):
    path = tmp_path / "s.npy"
    with pytest.raises(_Stop):
        _sweep(path, on_chunk=_stop_after(3))
    data = bytearray(path.read_bytes())
    data[:6] = b"NOTNPY"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"sweep output '.*s\.npy' is not a plain \.npy array .* header is corrupt"):
        _sweep(path)


def test_an_existing_file_without_a_manifest_is_not_overwritten(tmp_path):
    path = tmp_path / "precious.npy"
    np.save(path, np.arange(3.0))
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"precious\.npy' exists but has no manifest"):
        _sweep(path)
    assert path.read_bytes() == before


def test_a_version_1_manifest_still_resumes_when_the_file_is_whole(tmp_path, reference):
    path = tmp_path / "s.npy"
    with pytest.raises(_Stop):
        _sweep(path, on_chunk=_stop_after(4))
    mpath = manifest_path(path)
    manifest = json.loads(mpath.read_text())
    del manifest["sha256"]
    manifest["format"] = "jaxneuro-chunked-sweep/1"
    mpath.write_text(json.dumps(manifest))
    _sweep(path)
    assert path.read_bytes() == reference
    assert json.loads(mpath.read_text())["format"] == MANIFEST_FORMAT

    # cut short, an old manifest cannot tell which chunks survived: named, not guessed
    path2 = tmp_path / "t.npy"
    with pytest.raises(_Stop):
        _sweep(path2, on_chunk=_stop_after(4))
    manifest_path(path2).write_text(json.dumps({**manifest, "done": [0, 1, 2, 3, 4]}))
    os.truncate(path2, path2.stat().st_size - 1)
    with pytest.raises(ValueError, match=r"t\.npy' has \d+ bytes .* no checksums to tell which chunks survived"):
        _sweep(path2)


@pytest.mark.parametrize("seed", range(4))
def test_sweep_interrupted_at_random_chunks_resumes_bit_identical(tmp_path, reference, seed):
    rng = random.Random(seed)
    path = tmp_path / "s.npy"
    computed = []

    def fn(x):
        computed.append(float(np.asarray(x)[0]))
        return _fn(x)

    stops = sorted(rng.sample(range(10), 3))
    for k in stops:  # interrupted after chunk k was written (or, once done, never)
        try:
            jn.chunked_map(fn, _inputs(), path, chunk_size=CHUNK, progress=False, on_chunk=_stop_after(k))
        except _Stop:
            pass
    jn.chunked_map(fn, _inputs(), path, chunk_size=CHUNK, progress=False)
    assert path.read_bytes() == reference
    assert len(computed) == 10  # every chunk computed exactly once over all the runs


_SWEEP_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import jaxneuro as jn

    def fn(x):
        time.sleep(0.02)  # slow enough to be killed mid-sweep
        return np.sin(np.asarray(x, np.float32)) * 3 + 1

    jn.chunked_map(fn, np.linspace(0.0, 4.0, 95, dtype=np.float32), sys.argv[1], chunk_size=1, progress=False,
                   on_chunk=lambda i, n: print(i, flush=True))
    """
)


def _run_killed(argv, started, rng, max_delay):
    """Start ``argv``, wait until ``started()``, then SIGKILL it after a random delay; True if killed."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not started() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, max_delay))
        killed = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed or proc.returncode == 0, err.decode()[-3000:]
    return killed


@pytest.mark.slow
def test_sweep_killed_at_random_times_resumes_bit_identical(tmp_path):
    script = tmp_path / "sweep.py"
    script.write_text(_SWEEP_SCRIPT)
    reference = tmp_path / "reference.npy"
    subprocess.run([sys.executable, str(script), str(reference)], check=True, capture_output=True, timeout=300)
    path = tmp_path / "s.npy"
    rng = random.Random(16)
    kills = 0
    for _ in range(4):
        kills += _run_killed([sys.executable, str(script), str(path)], path.exists, rng, 0.8)
    subprocess.run([sys.executable, str(script), str(path)], check=True, capture_output=True, timeout=300)
    assert kills >= 1
    assert path.read_bytes() == reference.read_bytes()
    assert json.loads(manifest_path(path).read_text())["done"] == list(range(95))


# --- training runs -------------------------------------------------------------------------

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def _xor(**overrides):
    from jaxneuro.train import load_config

    base = {"epochs": 12, "checkpoint_every": 3, "eval_every": 2}
    return load_config(CONFIGS / "xor.toml", {**base, **overrides})


def _rows(folder):
    """The metrics log without the wall-clock epoch_time (the one field that may differ)."""
    lines = (Path(folder) / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "epoch_time"} for line in lines]


@pytest.fixture(scope="module")
def xor_reference(tmp_path_factory):
    from jaxneuro import train

    folder = tmp_path_factory.mktemp("xor") / "full"
    train.fit(_xor(), folder, stream=None, plot=False)
    return folder


def _assert_same_run(folder, reference):
    assert (Path(folder) / "checkpoint.eqx").read_bytes() == (Path(reference) / "checkpoint.eqx").read_bytes()
    assert _rows(folder) == _rows(reference)
    assert [r["epoch"] for r in _rows(folder)] == list(range(1, 13))  # no row lost or doubled


# seed 0 by default, seeds 1 and 2 (other random epochs) with -m slow
@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)])
def test_training_interrupted_at_random_epochs_resumes_bit_identical(tmp_path, xor_reference, monkeypatch, seed):
    # an exception injected right after a random epoch's row is logged (before its checkpoint,
    # if it has one), twice; the log then holds rows the checkpoint has not trained
    from jaxneuro import train
    from jaxneuro.train import _fit

    rng = random.Random(seed)
    folder = tmp_path / "run"
    append = _fit._append_metrics
    for k in sorted(rng.sample(range(1, 12), 2)):

        def crash(path, row, *, sync, k=k):
            append(path, row, sync=sync)
            if row["epoch"] == k:
                raise _Stop

        with monkeypatch.context() as m:
            m.setattr(_fit, "_append_metrics", crash)
            with pytest.raises(_Stop):
                train.fit(_xor(), folder, resume=train.has_checkpoint(folder), stream=None, plot=False)
    result = train.fit(_xor(), folder, resume=train.has_checkpoint(folder), stream=None, plot=False)
    _assert_same_run(folder, xor_reference)
    assert [r["epoch"] for r in result.metrics] == list(range(1, 13))


def test_a_row_torn_by_a_kill_is_dropped_on_resume(tmp_path, xor_reference, monkeypatch):
    from jaxneuro import train
    from jaxneuro.train import _fit

    folder = tmp_path / "run"
    append = _fit._append_metrics

    def torn(path, row, *, sync):
        if row["epoch"] == 8:
            with open(path, "a") as f:
                f.write(json.dumps(row)[:17])  # killed in the middle of the write
            raise _Stop
        append(path, row, sync=sync)

    with monkeypatch.context() as m:
        m.setattr(_fit, "_append_metrics", torn)
        with pytest.raises(_Stop):
            train.fit(_xor(), folder, stream=None, plot=False)
    assert (folder / "metrics.jsonl").read_text().endswith('{"epoch": 8, "ste')
    train.fit(_xor(), folder, resume=True, stream=None, plot=False)
    _assert_same_run(folder, xor_reference)


def test_a_log_with_duplicated_epochs_is_rewritten_once_per_epoch(tmp_path, xor_reference):
    # what an older jaxneuro left after a kill and --resume: the epochs after the checkpoint twice
    from jaxneuro import train

    folder = tmp_path / "run"
    train.fit(_xor(stop_after_epochs=6), folder, stream=None, plot=False)
    lines = (folder / "metrics.jsonl").read_text().splitlines(keepends=True)
    (folder / "metrics.jsonl").write_text("".join(lines + lines[3:]))  # epochs 1..6, 4..6
    result = train.fit(_xor(), folder, resume=True, stream=None, plot=False)
    _assert_same_run(folder, xor_reference)
    assert len(result.metrics) == 12


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda lines: lines[:2] + ["{garbage\n"] + lines[3:], r"metrics\.jsonl' line 3 is not a metrics row"),
        (lambda lines: lines[:2] + ['{"no_epoch": 1}\n'] + lines[3:], r"metrics\.jsonl' line 3 is not a metrics row"),
        (lambda lines: lines[:2] + lines[4:], r"metrics\.jsonl' lacks the rows of epoch\(s\) 3, 4 of the 6"),
        (lambda lines: [], r"metrics\.jsonl' lacks the rows of epoch\(s\) 1, 2, 3, 4, 5, 6 of the 6"),
    ],
)
def test_a_damaged_log_is_named_on_resume(tmp_path, damage, match):
    from jaxneuro import train

    folder = tmp_path / "run"
    train.fit(_xor(stop_after_epochs=6), folder, stream=None, plot=False)
    log = folder / "metrics.jsonl"
    log.write_text("".join(damage(log.read_text().splitlines(keepends=True))))
    before = log.read_bytes()
    with pytest.raises(ValueError, match=match):
        train.fit(_xor(), folder, resume=True, stream=None, plot=False)
    assert log.read_bytes() == before  # nothing rewritten


def _checkpointed(tmp_path):
    from jaxneuro import train

    folder = tmp_path / "run"
    cfg = _xor(epochs=3)
    train.fit(cfg, folder, stream=None, plot=False)
    return folder, train.init_state(cfg, train.load_data(cfg))


def test_checkpoint_changed_in_place_is_corrupt(tmp_path):
    # before: a checkpoint overwritten in place at the same length loaded without a word
    from jaxneuro import train

    folder, like = _checkpointed(tmp_path)
    path = folder / "checkpoint.eqx"
    data = bytearray(path.read_bytes())
    data[200] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"checkpoint\.eqx' is corrupt: the SHA-256 of its contents does not match"):
        train.load_checkpoint(folder, like)


@pytest.mark.parametrize("keep_sidecar", [True, False])
def test_truncated_checkpoint_is_named_truncated(tmp_path, keep_sidecar):
    # before: "does not match the model and optimiser of this config"
    from jaxneuro import train

    folder, like = _checkpointed(tmp_path)
    path = folder / "checkpoint.eqx"
    size = path.stat().st_size
    os.truncate(path, size // 2)
    if keep_sidecar:
        match = rf"checkpoint\.eqx' is truncated: it holds {size // 2} bytes where checkpoint\.json records {size}"
    else:
        (folder / "checkpoint.json").unlink()
        match = r"checkpoint\.eqx' cannot be read: it carries no checksum .* may be truncated or corrupt"
    with pytest.raises(ValueError, match=match):
        train.load_checkpoint(folder, like)
    with pytest.raises(ValueError, match=match):
        train.fit(_xor(epochs=3), folder, resume=True, stream=None, plot=False)


def test_checkpoint_of_another_model_still_says_so(tmp_path):
    from jaxneuro import train

    folder, _ = _checkpointed(tmp_path)
    cfg = _xor(**{"model.hidden_sizes": [3]})
    with pytest.raises(ValueError, match=r"does not match the model and optimiser of this config"):
        train.load_checkpoint(folder, train.init_state(cfg, train.load_data(cfg)))


def test_checkpoint_without_a_trailer_still_loads(tmp_path):
    # a checkpoint written before the checksum: the leaves alone, a sidecar without size and SHA-256
    import equinox as eqx

    from jaxneuro import train

    folder, like = _checkpointed(tmp_path)
    state, info = train.load_checkpoint(folder, like)
    with open(folder / "checkpoint.eqx", "wb") as f:
        eqx.tree_serialise_leaves(f, state)
    (folder / "checkpoint.json").write_text(json.dumps({k: v for k, v in info.items() if k not in ("bytes", "sha256")}))
    old, _ = train.load_checkpoint(folder, like)
    assert int(old.epoch) == 3
    assert jax_leaves_equal(old, state)


def jax_leaves_equal(a, b):
    import jax

    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in pairs)


@pytest.mark.parametrize("name", ["checkpoint.json", "config.json"])
def test_a_corrupt_json_file_of_a_run_is_named(tmp_path, name):
    from jaxneuro import train

    folder, _ = _checkpointed(tmp_path)
    (folder / name).write_text('{"epoch": 3, "st')
    with pytest.raises(ValueError, match=re.escape(name) + r"' is corrupt \(not valid JSON"):
        train.fit(_xor(epochs=3), folder, resume=True, stream=None, plot=False)


def test_every_file_of_a_run_is_written_atomically(tmp_path, monkeypatch):
    # each whole-file write goes through atomic_write (temporary file, fsync, rename)
    from jaxneuro import train
    from jaxneuro.train import _checkpoint

    written = []
    real = _checkpoint.atomic_write

    def spy(path, write):
        written.append(Path(path).name)
        return real(path, write)

    monkeypatch.setattr(_checkpoint, "atomic_write", spy)
    monkeypatch.setattr("jaxneuro.train._fit.atomic_write", spy)
    train.fit(_xor(epochs=3), tmp_path / "run", stream=None, plot=False)
    assert set(written) == {"config.json", "metrics.jsonl", "checkpoint.eqx", "checkpoint.json", "summary.json"}
    assert not [p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(".")]


_TRAIN = [sys.executable, "-m", "jaxneuro.train", str(CONFIGS / "xor.toml"), "--quiet", "epochs=400"]
_TRAIN += ["checkpoint_every=7", "eval_every=5"]


@pytest.mark.slow
def test_training_killed_at_random_times_resumes_bit_identical(tmp_path):
    from jaxneuro import train

    reference = tmp_path / "reference"
    subprocess.run([*_TRAIN, "--out", str(reference)], check=True, capture_output=True, timeout=300)
    folder = tmp_path / "run"
    log = folder / "metrics.jsonl"
    rng = random.Random(16)
    kills = 0
    for _ in range(4):
        resume = ["--resume"] if train.has_checkpoint(folder) else []
        started = lambda: log.is_file() and log.stat().st_size > 0
        kills += _run_killed([*_TRAIN, "--out", str(folder), *resume], started, rng, 0.6)
    resume = ["--resume"] if train.has_checkpoint(folder) else []
    subprocess.run([*_TRAIN, "--out", str(folder), *resume], check=True, capture_output=True, timeout=300)
    assert kills >= 1
    assert (folder / "checkpoint.eqx").read_bytes() == (reference / "checkpoint.eqx").read_bytes()
    assert _rows(folder) == _rows(reference)
    assert [r["epoch"] for r in _rows(folder)] == list(range(1, 401))
