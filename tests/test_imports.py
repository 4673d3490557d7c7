"""``import jaxneuro`` and the command line's parser do not load JAX; every public name resolves."""

from __future__ import annotations

import subprocess
import sys

import jaxneuro


def _fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_import_and_help_do_not_load_jax():
    code = (
        "import sys, jaxneuro, jaxneuro.cli\n"
        "jaxneuro.cli.build_parser()\n"
        "import jaxneuro.train, jaxneuro.data\n"
        "print(sorted(m for m in ('jax', 'equinox', 'diffrax', 'optax') if m in sys.modules))\n"
    )
    proc = _fresh(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "[]"


def test_every_public_name_resolves():
    for name in jaxneuro.__all__:
        assert getattr(jaxneuro, name) is not None, name
    assert "simulate" in dir(jaxneuro)
    # process-wide XLA settings are not in the public namespace
    assert not any("cpu_loop_kernel" in name for name in jaxneuro.__all__)
    import jaxneuro.experimental as jx

    assert callable(jx.enable_cpu_loop_kernels)
