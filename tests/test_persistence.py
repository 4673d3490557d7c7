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
