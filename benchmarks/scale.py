"""Benchmark: scaling over devices, chunked sweeps, and memory of long simulations.

Run by hand (not a test); it prints tables::

    python benchmarks/scale.py            # full sizes (about 15 minutes on 2 busy cores, mostly compiling)
    python benchmarks/scale.py --quick    # small sizes, smoke run (about 5 minutes)
    python benchmarks/scale.py --only devices    # or: chunked, memory

1. **Devices** (strong and weak scaling).  Each device count d in 1, 2, 4 runs in its own
   process with ``XLA_FLAGS=--xla_force_host_platform_device_count=d`` (JAX fixes the device
   count when it starts).  Strong scaling: a fixed sweep split over d devices; weak scaling:
   ``d`` times a fixed per-device sweep.  Workloads: LIF ``tuning_curve`` (exact, event
   driven), HH ``tuning_curve`` (stepped exponential midpoint, 0.025 ms).  Every sharded
   result is checked equal, bit for bit, to the d = 1 result.  Forced host devices are CPU
   threads of one process sharing this machine's cores: on 2 cores expect a speed-up of at most
   about 2 from 1 to 2 devices and none past 2 (XLA's CPU backend already uses several threads
   for one device, so even 1 -> 2 can gain little).  On a machine with several accelerators each
   device is real hardware and the same code scales with them.
2. **Chunked sweep**: ``chunked_tuning_curve`` over 10 million LIF inputs read memory-mapped
   from a ``.npy``, in chunks of 250,000, written to disk; throughput, and the largest
   anonymous resident memory (``RssAnon``, memory that cannot be paged back to a file) seen
   after any chunk, against a sweep ten times smaller: equal up to noise (bounded memory).
3. **Memory of long simulations**: (a) recording decimated on device: the compiled memory of
   a stepped LIF simulation with 11 saved times as the number of steps grows, against saving
   every step; (b) reverse-mode gradients through ``simulate(method="diffrax")`` of a LIF
   neuron driven below threshold by a 50 Hz sinusoid for T seconds with a step budget
   ``max_steps`` proportional to T: temporary memory of the compiled gradient (XLA's
   ``memory_analysis``) with ``checkpoints = max_steps`` (every step stored: no checkpointing),
   the default (about ``sqrt(2 max_steps)`` checkpoints) and a fixed 16, and the gradient, which
   checkpointing must not change (checked against the closed form of the linear sub-threshold
   response).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------- workers
def _timed(fn, repeats):
    """(first call s, median wall s, median CPU s, result) of ``fn()``; the first call compiles."""
    import jax

    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = jax.block_until_ready(fn())
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return first, statistics.median(walls), statistics.median(cpus), out


def worker_devices(args) -> dict:
    import jax
    import numpy as np

    import jaxneuro as jn

    d = jax.device_count()
    assert d == args.devices, (d, args.devices)
    mesh = jn.batch_mesh()
    rows = {}
    work = {
        "lif": (jn.LIF(), 0.0, 5.0, dict(duration=1.0)),
        "hh": (jn.HodgkinHuxley(), 0.0, 50.0, dict(duration=200.0)),  # ms
    }
    for name, (neuron, lo, hi, kw) in work.items():
        for mode, n in (("strong", args.strong[name]), ("weak", args.weak[name] * d)):
            x = np.linspace(lo, hi, n, dtype=np.float32)
            first, wall, cpu, out = _timed(
                lambda nrn=neuron, x=x, kw=kw: jn.tuning_curve(nrn, x, mesh=mesh, **kw), args.repeats
            )
            # the same sweep on one device (a one-device mesh runs unsharded), untimed
            ref = jn.tuning_curve(neuron, x, mesh=jn.batch_mesh(jax.devices()[:1]), **kw)
            equal = bool(out.dtype == ref.dtype and np.array_equal(np.asarray(out), np.asarray(ref)))
            rows[f"{name}/{mode}"] = dict(n=n, first=first, wall=wall, cpu=cpu, equal=equal)
    return rows


def _rss_anon_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_chunked(args) -> dict:
    import numpy as np

    import jaxneuro as jn

    folder = Path(args.save)
    inputs = folder / f"inputs_{args.n}.npy"
    np.save(inputs, np.linspace(0.0, 5.0, args.n, dtype=np.float32))
    peak = [0.0]

    def watch(i, n_chunks):
        peak[0] = max(peak[0], _rss_anon_mb())

    out = folder / f"rates_{args.n}.npy"
    t0 = time.perf_counter()
    rates = jn.chunked_tuning_curve(jn.LIF(), inputs, out, chunk_size=args.chunk, progress=sys.stderr, on_chunk=watch)
    wall = time.perf_counter() - t0
    # the closed form on a sample of the inputs, as a check that the file holds the sweep
    idx = np.linspace(0, args.n - 1, 1000).astype(np.int64)
    x = np.load(inputs, mmap_mode="r")[idx]
    ref = np.asarray(jn.lif_rate(x.astype(np.float64)))
    err = float(np.max(np.abs(np.asarray(rates[idx]) - ref) / np.maximum(ref, 1.0)))
    return dict(
        n=args.n,
        chunk=args.chunk,
        wall=wall,
        peak_rss_anon_mb=peak[0],
        max_rel_err=err,
        file_mb=out.stat().st_size / 2**20,
    )


def worker_memory(args) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    import jaxneuro as jn

    jax.config.update("jax_enable_x64", True)
    result = {"recording": [], "gradient": []}

    def compiled(fn, *a):
        return jax.jit(fn).lower(*a).compile()

    for t1 in args.record_times:
        for label, ts in (("11 saved times", np.linspace(0.0, t1, 11)), ("every step", None)):
            c = compiled(
                lambda v, t1=t1, ts=ts: jn.simulate(jn.LIF(), v, 0.0, t1, ts=ts, method="stepped", max_spikes=4).ys, 0.5
            )
            m = c.memory_analysis()
            result["recording"].append(
                dict(t1=t1, steps=int(round(t1 / 1e-4)), ts=label, bytes=m.temp_size_in_bytes + m.output_size_in_bytes)
            )

    tau, w = 0.02, 2 * np.pi / 0.02
    for T in args.grad_times:
        max_steps = int(args.steps_per_second * T)
        t = np.linspace(0.0, T, 11)

        def loss(a, checkpoints, T=T, t=t, max_steps=max_steps):
            drive = jn.FunctionInput(lambda s: a * (1.0 + 0.5 * jnp.sin(w * s)))
            sim = jn.simulate(
                jn.LIF(),
                drive,
                0.0,
                T,
                ts=t,
                method="diffrax",
                max_steps=max_steps,
                checkpoints=checkpoints,
                max_spikes=2,
            )
            return jnp.sum(sim.ys)

        amp = 0.5 / (1 + (w * tau) ** 2)
        u = 1 - np.exp(-t / tau) + amp * (np.sin(w * t) - w * tau * np.cos(w * t) + w * tau * np.exp(-t / tau))
        for label, ck in (
            ("none (every step stored)", max_steps),
            ("default ~sqrt(2 max_steps)", None),
            ("fixed 16", 16),
        ):
            t0 = time.perf_counter()
            c = jax.jit(jax.value_and_grad(lambda a, ck=ck: loss(a, ck))).lower(0.6).compile()
            compile_s = time.perf_counter() - t0
            first, wall, cpu, (val, g) = _timed(lambda c=c: c(0.6), args.repeats)
            result["gradient"].append(
                dict(
                    T=T,
                    max_steps=max_steps,
                    checkpoints=label,
                    temp_bytes=c.memory_analysis().temp_size_in_bytes,
                    compile=compile_s,
                    run=wall,
                    grad=float(g),
                    grad_rel_err=abs(float(g) - u.sum()) / u.sum(),
                )
            )
            print(json.dumps(result["gradient"][-1]), file=sys.stderr, flush=True)
    return result


# ----------------------------------------------------------------------------------------- driver
def _spawn(kind: str, devices: int, extra: list[str], timeout: int) -> dict:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "JAX_PLATFORMS": "cpu"}
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        result_path = f.name
    cmd = [sys.executable, __file__, "--worker", kind, "--devices", str(devices), "--result", result_path, *extra]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, timeout=timeout, stderr=sys.stderr)
    if proc.returncode:
        raise SystemExit(f"worker {kind} (devices={devices}) failed with status {proc.returncode}")
    data = json.loads(Path(result_path).read_text())
    os.unlink(result_path)
    return data


def run_devices(args, sizes) -> None:
    extra = ["--repeats", str(args.repeats), "--sizes", json.dumps(sizes)]
    results = {d: _spawn("devices", d, extra, 3600) for d in (1, 2, 4)}
    print("\n1. Devices: tuning_curve sharded over d forced host devices (each d in its own process)")
    print(
        f"{'workload':<10}{'mode':<8}{'d':>3}{'inputs':>11}{'compile+1st s':>15}{'run s':>9}{'CPU s':>8}"
        f"{'inputs/s':>12}{'speed-up':>10}{'efficiency':>12}  equal to 1 device"
    )
    for name in ("lif", "hh"):
        for mode in ("strong", "weak"):
            base = results[1][f"{name}/{mode}"]
            for d in (1, 2, 4):
                r = results[d][f"{name}/{mode}"]
                rate = r["n"] / r["wall"]
                # strong: time for the same sweep; weak: throughput with d times the sweep
                speed = base["wall"] / r["wall"] if mode == "strong" else rate / (base["n"] / base["wall"])
                print(
                    f"{name:<10}{mode:<8}{d:>3}{r['n']:>11,}{r['first']:>15.2f}{r['wall']:>9.3f}{r['cpu']:>8.2f}"
                    f"{rate:>12,.0f}{speed:>10.2f}{speed / d:>12.2f}  {r['equal']}"
                )
    print(
        f"   ({os.cpu_count()} CPU cores: the forced host devices share them, so no speed-up from more cores is\n"
        f"   possible past {os.cpu_count()} devices; a memory-bound sweep (LIF exact: several arrays of the batch\n"
        "   size per loop iteration) can still gain from smaller per-device blocks that fit the caches;\n"
        "   efficiency = speed-up / d)"
    )


def run_chunked(args) -> None:
    save = tempfile.mkdtemp(prefix="jaxneuro-chunked-")
    small, big = args.chunked_n // 10, args.chunked_n
    rows = [
        _spawn("chunked", 1, ["--save", save, "--n", str(n), "--chunk", str(args.chunk)], 3600) for n in (small, big)
    ]
    print("\n2. Chunked sweep: chunked_tuning_curve, LIF exact, inputs memory-mapped from .npy, rates written to .npy")
    print(
        f"{'inputs':>12}{'chunk':>9}{'file MB':>9}{'wall s':>9}{'inputs/s':>12}{'peak RssAnon MB':>17}"
        f"{'max rel err':>13}"
    )
    for r in rows:
        print(
            f"{r['n']:>12,}{r['chunk']:>9,}{r['file_mb']:>9.1f}{r['wall']:>9.2f}{r['n'] / r['wall']:>12,.0f}"
            f"{r['peak_rss_anon_mb']:>17.0f}{r['max_rel_err']:>13.1e}"
        )
    print(
        "   (wall time includes the one compile; anonymous memory is the same for 10x the inputs: it is bounded by\n"
        "   the chunk, not the sweep)"
    )


def run_memory(args) -> None:
    extra = [
        "--repeats",
        "1",
        "--record-times",
        *map(str, args.record_times),
        "--grad-times",
        *map(str, args.grad_times),
        "--steps-per-second",
        str(args.steps_per_second),
    ]
    r = _spawn("memory", 1, extra, 7200)
    print("\n3a. Decimated recording (stepped LIF, dt = 0.1 ms): compiled temp + output bytes")
    print(f"{'T s':>8}{'steps':>10}{'recorded':>18}{'bytes':>12}")
    for row in r["recording"]:
        print(f"{row['t1']:>8g}{row['steps']:>10,}{row['ts']:>18}{row['bytes']:>12,}")
    print(
        "\n3b. Gradient through simulate(method='diffrax'), LIF below threshold, 50 Hz drive, float64;"
        f" max_steps = {args.steps_per_second:g} x T"
    )
    print(
        f"{'T s':>6}{'max_steps':>11}  {'checkpoints':<28}{'temp KiB':>10}{'compile s':>11}{'run s':>8}"
        f"{'d sum(v)/da':>14}{'rel err':>10}"
    )
    for row in r["gradient"]:
        print(
            f"{row['T']:>6g}{row['max_steps']:>11,}  {row['checkpoints']:<28}{row['temp_bytes'] / 1024:>10.1f}"
            f"{row['compile']:>11.1f}{row['run']:>8.3f}{row['grad']:>14.6f}{row['grad_rel_err']:>10.1e}"
        )
    print(
        "   (without checkpointing the memory grows linearly with T; the default grows as sqrt(T); a fixed number "
        "of checkpoints keeps it flat and pays with recomputation)"
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    p.add_argument("--only", choices=["devices", "chunked", "memory"], default=None)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--chunk", type=int, default=250_000)
    # worker-only
    p.add_argument("--worker", choices=["devices", "chunked", "memory"], help=argparse.SUPPRESS)
    p.add_argument("--devices", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--save", help=argparse.SUPPRESS)
    p.add_argument("--sizes", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    p.add_argument("--record-times", type=float, nargs="+", default=None, help=argparse.SUPPRESS)
    p.add_argument("--grad-times", type=float, nargs="+", default=None, help=argparse.SUPPRESS)
    p.add_argument("--steps-per-second", type=float, default=2000.0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        if args.sizes:
            sizes = json.loads(args.sizes)
            args.strong, args.weak = sizes["strong"], sizes["weak"]
        out = {"devices": worker_devices, "chunked": worker_chunked, "memory": worker_memory}[args.worker](args)
        Path(args.result).write_text(json.dumps(out))
        return 0

    if args.quick:
        sizes = {"strong": {"lif": 300_000, "hh": 192}, "weak": {"lif": 50_000, "hh": 32}}
        args.chunked_n, args.chunk = 1_000_000, 100_000
        args.record_times, args.grad_times = [0.1, 1.0, 10.0], [0.5, 2.0]
    else:
        sizes = {"strong": {"lif": 3_000_000, "hh": 768}, "weak": {"lif": 500_000, "hh": 128}}
        args.chunked_n = 10_000_000
        args.record_times, args.grad_times = [0.1, 1.0, 10.0, 100.0], [0.5, 2.0, 8.0]
    load = os.getloadavg()
    print(f"jaxneuro scaling benchmark: {os.cpu_count()} CPU cores, load average {load[0]:.2f} at the start")
    if args.only in (None, "devices"):
        run_devices(args, sizes)
    if args.only in (None, "chunked"):
        run_chunked(args)
    if args.only in (None, "memory"):
        run_memory(args)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end (above {os.cpu_count()}, other work shared the cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
