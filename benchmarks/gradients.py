"""Benchmark: what a gradient costs relative to its forward run, on every solver path, and its memory.

Run by hand (not a test); it prints one table.  With jaxneuro installed (the project's venv, or
the benchmark environment of ``benchmarks/README.md``)::

    python benchmarks/gradients.py              # full sizes (several minutes on 2 cores)
    python benchmarks/gradients.py --quick      # small sizes, a smoke run (about 2 minutes)
    python benchmarks/gradients.py --only exact,stepped --repeats 9

No peer library: Brian2, the peer of the other benchmarks, has no gradients, so every row is
jaxneuro against its own forward run and a float64 finite-difference reference.

Paths (float32 unless ``--x64``), each timed as a forward run, ``jax.grad`` (reverse mode) and
``jax.jvp`` (forward mode, one tangent):

  exact    ``tuning_curve(LIF(), v_in)``, 1,000 inputs uniform in [0, 5], 1 s, the default
           path (event-driven, exact spike times).  grad: of the summed rates w.r.t. v_in;
           jvp: of the rates w.r.t. tau_m.
  stepped  the same with ``method="stepped"`` (``SteppedLIF``, dt = 0.1 ms).
  hh       ``tuning_curve(HodgkinHuxley(), I)``, 100 currents uniform in [0, 50] uA/cm^2,
           0.3 s, the default path (``ExpMidpointHH``, dt = 0.025 ms).  grad: of the summed
           rates w.r.t. g_Na (a scalar); jvp: of the rates w.r.t. g_Na.
  user     a user-defined neuron (``AdaptiveLIF`` below, copied from tests/test_solvers.py)
           through ``simulate`` with ``RK4`` (its default_dt, 0.01 ms), 100 drives
           ``c + 0.5 sin(2 pi t / 40 ms)`` with c uniform in [1.5, 3], vmapped, 200 ms; the
           output per drive is the sum of its first 5 spike times.  grad: of the total w.r.t.
           the offsets c; jvp: of the per-drive sums w.r.t. tau_m.
  diffrax  ``simulate(LIF(), v_in, 0, 0.2, method="diffrax", ts=jnp.zeros(0))`` vmapped over
           1,000 inputs uniform in [1.5, 5]; output per input the sum of its first 5 spike
           times.  grad: w.r.t. v_in (default ``mode="reverse"``, checkpointed loops); jvp:
           w.r.t. tau_m with ``solver=jn.Diffrax(mode="forward")``.

Columns: trace + compile time (``jax.jit(f).lower(x).compile()``) and its CPU time; the run
time of the compiled function, median [min-max] over ``--repeats`` samples (a sample runs the
function as many times as fill ``--min-sample`` seconds and reports the time per call, so that
sub-millisecond paths are not timed at the clock's resolution; fewer samples when they add up to
more than ``--budget`` s; a call longer than the budget is timed by its first run alone) and
the process CPU time per call; grad / forward and jvp / forward (ratios of the medians) next
to the issue's goals (grad at most 5x the forward run on the
exact and stepped paths, which includes ``ExpMidpointHH`` and ``RK4``, the stepped solvers of
HH and of any other neuron; at most 20x on diffrax); XLA's buffer sizes from
``compiled.memory_analysis()`` (temporaries / arguments / outputs) and the worker
process's peak RSS (``ru_maxrss``; each function runs in its own subprocess, so the peak is
its own: interpreter, imports, compilation and the runs); and a correctness check against a
float64 central difference computed in a separate x64 process on 5 elements (inputs that fire,
spread over the range): the largest relative deviation ``|ad - fd| / |fd|``.  The finite
difference is of the same path (same solver and step; diffrax at rtol = atol = 1e-12), so it
checks the derivative of the discrete model the gradient differentiates.  For ``hh`` the
gradient is a single number (d sum / d g_Na), checked against the central difference of the
whole float64 sum, and against the sum of the jvp's tangents.  Any non-finite output is
reported as a failure, with the command that reproduces it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Any, ClassVar  # module level: the neuron's dataclass resolves the ClassVar annotations

import numpy as np

PATHS = ("exact", "stepped", "hh", "user", "diffrax")
FUNCS = ("forward", "grad", "jvp")
GOAL = {"exact": 5.0, "stepped": 5.0, "hh": 5.0, "user": 5.0, "diffrax": 20.0}
N_CHECK = 5  # elements compared against the finite difference

# Parameter of each path's jvp (and its value), and the finite-difference steps (relative).
JVP_PARAM = {
    "exact": ("tau_m", 0.02),
    "stepped": ("tau_m", 0.02),
    "hh": ("g_Na", 120.0),
    "user": ("tau_m", 10.0),
    "diffrax": ("tau_m", 0.02),
}
FD_REL_STEP = {"exact": 1e-6, "stepped": 1e-6, "hh": 1e-6, "user": 1e-6, "diffrax": 1e-5}

INPUT_RANGE = {"exact": (0.0, 5.0), "stepped": (0.0, 5.0), "hh": (0.0, 50.0), "user": (1.5, 3.0), "diffrax": (1.5, 5.0)}
LIF_DURATION_S = 1.0
HH_DURATION_S = 0.3
USER_T1_MS = 200.0
DIFFRAX_T1_S = 0.2
FIRST_K = 5  # the sum of the first K spike times (user, diffrax)


def sizes(quick: bool) -> dict[str, int]:
    if quick:
        return {"exact": 100, "stepped": 100, "hh": 10, "user": 10, "diffrax": 100}
    return {"exact": 1_000, "stepped": 1_000, "hh": 100, "user": 100, "diffrax": 1_000}


def make_inputs(path: str, n: int, seed: int, x64: bool) -> np.ndarray:
    """The inputs of a path (float32-rounded unless x64, so both processes see the same numbers)."""
    rng = np.random.default_rng(seed + PATHS.index(path))
    x = rng.uniform(*INPUT_RANGE[path], n)
    return x if x64 else x.astype(np.float32).astype(np.float64)


def check_indices(path: str, x: np.ndarray) -> list[int]:
    """``N_CHECK`` elements spread over the inputs that fire steadily (away from the onset,
    where a rate jumps: LIF v_in >= 1.2, HH I >= 8 uA/cm^2)."""
    floor = {"exact": 1.2, "stepped": 1.2, "hh": 8.0}.get(path, -np.inf)
    usable = np.flatnonzero(x >= floor)
    order = usable[np.argsort(x[usable])]
    picks = np.linspace(0, len(order) - 1, min(N_CHECK, len(order))).round().astype(int)
    return sorted({int(order[i]) for i in picks})


# ----------------------------------------------------------------------------------------
# The user-defined neuron (tests/test_solvers.py), built only in the workers (imports JAX).


def define_adaptive_lif():
    import equinox as eqx
    import jax.numpy as jnp
    from jaxtyping import Array, Float

    import jaxneuro as jn

    class AdaptiveLIF(jn.AbstractNeuron):
        """tau_m dv/dt = I - v - a, tau_a da/dt = -a; at v = 1: v <- 0, a <- a + d, then tau_ref held."""

        tau_m: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=10.0)
        tau_a: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=100.0)
        d: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=0.2)
        tau_ref: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=2.0)

        time_unit: ClassVar[str] = "ms"
        seconds_per_time_unit: ClassVar[float] = 1e-3
        input_unit: ClassVar[str] = "1"
        default_dt: ClassVar[float] = 0.01

        def vector_field(self, t, y, args):
            v, a = y
            return ((jn.input_value(args, t) - v - a) / self.tau_m, -a / self.tau_a)

        def initial_state(self, drive=0.0):
            return (jnp.zeros_like(self.tau_m), jnp.zeros_like(self.tau_m))

        def spike_condition(self, y):
            return y[0] - 1.0

        def reset(self, y):
            return (jnp.zeros_like(y[0]), y[1] + self.d)

        def refractory_period(self):
            return self.tau_ref

    return AdaptiveLIF


# ----------------------------------------------------------------------------------------
# The functions of each path: f(x, p) -> per-element outputs, p the jvp's parameter.


def path_function(path: str, solver: Any = None, mode: str = "reverse"):
    """``f(x, p)``: the per-element outputs of ``path`` (rates, or the sum of the first 5 spike
    times) for inputs ``x`` and the jvp parameter ``p`` (scalar).  ``solver`` overrides the
    path's solver (the float64 reference); ``mode`` picks the diffrax mode."""
    import jax
    import jax.numpy as jnp
    import numpy as np_

    import jaxneuro as jn

    one_device = jn.batch_mesh(jax.devices()[:1])  # no sharding, whatever XLA_FLAGS says

    if path in ("exact", "stepped"):
        kw = {} if path == "exact" else dict(method="stepped", dt=1e-4)

        def f(x, p):
            return jn.tuning_curve(jn.LIF(tau_m=p), x, duration=LIF_DURATION_S, mesh=one_device, **kw)

    elif path == "hh":

        def f(x, p):
            return jn.tuning_curve(jn.HodgkinHuxley(g_Na=p), x, duration=HH_DURATION_S * 1e3, mesh=one_device)  # ms

    elif path == "user":
        AdaptiveLIF = define_adaptive_lif()
        solver = solver or jn.RK4()

        def f(x, p):
            def one(c):
                drive = lambda t: c + 0.5 * jnp.sin(2 * jnp.pi * t / 40.0)  # noqa: E731
                sim = jn.simulate(AdaptiveLIF(tau_m=p), drive, 0.0, USER_T1_MS, solver=solver, ts=np_.zeros(0))
                return sim.spikes.times[:FIRST_K].sum()

            return jax.vmap(one)(x)

    elif path == "diffrax":

        def f(x, p):
            def one(v):
                if solver is None and mode == "reverse":  # the default: method="diffrax"
                    sim = jn.simulate(jn.LIF(tau_m=p), v, 0.0, DIFFRAX_T1_S, method="diffrax", ts=jnp.zeros(0))
                else:
                    s = solver or jn.Diffrax(mode=mode)
                    sim = jn.simulate(jn.LIF(tau_m=p), v, 0.0, DIFFRAX_T1_S, solver=s, ts=jnp.zeros(0))
                return sim.spikes.times[:FIRST_K].sum()

            return jax.vmap(one)(x)

    else:
        raise ValueError(path)
    return f


def benchmarked(path: str, func: str, dtype):
    """The function of one table row, of the inputs ``x`` only."""
    import jax
    import jax.numpy as jnp

    name, value = JVP_PARAM[path]
    p0 = jnp.asarray(value, dtype)
    f = path_function(path)
    if func == "forward":
        return lambda x: f(x, p0)
    if func == "grad":
        if path == "hh":  # d(sum of rates)/d g_Na
            return lambda x: jax.grad(lambda p: f(x, p).sum())(p0)
        return jax.grad(lambda x: f(x, p0).sum())
    if func == "jvp":
        g = path_function(path, mode="forward") if path == "diffrax" else f
        one = jnp.asarray(1.0, dtype)
        return lambda x: jax.jvp(lambda p: g(x, p), (p0,), (one,))[1]
    raise ValueError(func)


# ----------------------------------------------------------------------------------------
# Workers (one process each)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_timed(args, path: str, func: str) -> dict:
    import jax
    import jax.numpy as jnp

    import jaxneuro as jn

    if args.x64:
        jax.config.update("jax_enable_x64", True)
    dtype = jnp.float64 if args.x64 else jnp.float32
    x_np = make_inputs(path, sizes(args.quick)[path], args.seed, args.x64)
    idx = check_indices(path, x_np)
    x = jnp.asarray(x_np, dtype)
    fn = benchmarked(path, func, dtype)
    for name in ("tuning_curve", "simulate"):  # jaxneuro loads these modules (and diffrax) on first
        getattr(jn, name)  # use: before the timed compile, so that it times no import
    base = _rss_mib()

    c, t = time.process_time(), time.perf_counter()
    compiled = jax.jit(fn).lower(x).compile()
    compile_s, compile_cpu_s = time.perf_counter() - t, time.process_time() - c
    mem = {}
    try:
        ma = compiled.memory_analysis()
        for key in (
            "temp_size_in_bytes",
            "argument_size_in_bytes",
            "output_size_in_bytes",
            "alias_size_in_bytes",
            "generated_code_size_in_bytes",
        ):
            mem[key] = getattr(ma, key, None)
    except Exception as e:  # not every backend reports it
        mem["error"] = f"{type(e).__name__}: {e}"

    c, t = time.process_time(), time.perf_counter()
    out = jax.block_until_ready(compiled(x))  # warm-up
    first, first_cpu = time.perf_counter() - t, time.process_time() - c
    inner = max(1, math.ceil(args.min_sample / max(first, 1e-6)))
    walls, cpus = [], []
    if first > args.budget:  # a call longer than the whole budget: its first run is the one sample
        walls, cpus = [first], [first_cpu]
    while len(walls) < args.repeats and (not walls or sum(walls) * inner < args.budget):
        c, t = time.process_time(), time.perf_counter()
        for _ in range(inner):
            out = compiled(x)
        jax.block_until_ready(out)
        walls.append((time.perf_counter() - t) / inner)
        cpus.append((time.process_time() - c) / inner)
    out = np.asarray(out, np.float64)
    finite = bool(np.all(np.isfinite(out)))
    result = {
        "compile_s": compile_s,
        "compile_cpu_s": compile_cpu_s,
        "run_s": statistics.median(walls),
        "run_min_s": min(walls),
        "run_max_s": max(walls),
        "cpu_s": statistics.median(cpus),
        "samples": len(walls),
        "calls_per_sample": inner,
        "memory": mem,
        "peak_rss_mib": _rss_mib(),
        "base_rss_mib": base,
        "finite": finite,
        "nonfinite_at": np.flatnonzero(~np.isfinite(out.ravel()))[:10].tolist(),
        "out_shape": list(out.shape),
        "at_check": out.ravel().tolist() if out.ndim == 0 else out[idx].tolist(),
        "out_sum": float(out.sum()),
        "versions": f"jax {jax.__version__} on {jax.devices()[0].platform}, jaxneuro from "
        f"{os.path.dirname(os.path.dirname(jn.__file__))}",
    }
    return result


def worker_reference(args, path: str) -> dict:
    """float64 values and central differences at the check elements (and, for hh, of the sum)."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    import jaxneuro as jn

    x_np = make_inputs(path, sizes(args.quick)[path], args.seed, args.x64)
    idx = check_indices(path, x_np)
    _, p0 = JVP_PARAM[path]
    solver = jn.Diffrax(rtol=1e-12, atol=1e-12) if path == "diffrax" else None
    f = jax.jit(path_function(path, solver=solver))
    hp = FD_REL_STEP[path] * abs(p0)
    t = time.perf_counter()
    if path == "hh":  # d/d g_Na of every rate: the whole sweep at g_Na and g_Na +- h
        x = jnp.asarray(x_np, jnp.float64)
        mid, plus, minus = (np.asarray(f(x, jnp.float64(p)), np.float64) for p in (p0, p0 + hp, p0 - hp))
        fd_p = (plus - minus) / (2 * hp)
        out = {
            "value": mid[idx].tolist(),
            "fd_grad": float(fd_p.sum()),  # d sum / d g_Na
            "fd_jvp": fd_p[idx].tolist(),
        }
    else:
        xs = x_np[idx]
        hx = FD_REL_STEP[path] * np.abs(xs)
        batch = jnp.asarray(np.concatenate([xs, xs + hx, xs - hx]), jnp.float64)
        vals = np.asarray(f(batch, jnp.float64(p0)), np.float64).reshape(3, -1)
        plus_p = np.asarray(f(jnp.asarray(xs), jnp.float64(p0 + hp)), np.float64)
        minus_p = np.asarray(f(jnp.asarray(xs), jnp.float64(p0 - hp)), np.float64)
        out = {
            "value": vals[0].tolist(),
            "fd_grad": ((vals[1] - vals[2]) / (2 * hx)).tolist(),  # elements are independent
            "fd_jvp": ((plus_p - minus_p) / (2 * hp)).tolist(),
        }
    out["seconds"] = time.perf_counter() - t
    out["idx"] = idx
    out["x"] = x_np[idx].tolist()
    return out


# ----------------------------------------------------------------------------------------
# Driver


def worker_command(args, spec: str) -> list[str]:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", spec, "--seed", str(args.seed)]
    cmd += ["--repeats", str(args.repeats), "--budget", repr(args.budget), "--min-sample", repr(args.min_sample)]
    cmd += ["--quick"] * args.quick + ["--x64"] * args.x64
    if args.cpu is not None:  # pinned from the start, so that XLA sizes its thread pool to it
        cmd = ["taskset", "-c", args.cpu, *cmd]
    return cmd


def run_worker(args, spec: str) -> dict:
    cmd = worker_command(args, spec)
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()
        message = next((ln for ln in reversed(tail) if ln.strip() and not ln.startswith(" ")), "?")
        return {"error": message[:300], "stderr": "\n".join(tail[-40:]), "cmd": cmd}
    return json.loads(out.stdout.strip().splitlines()[-1])


def git_state() -> str:
    """Where the workers import jaxneuro from, its commit, and whether its jaxneuro/ differs
    from that commit (the numbers describe the files imported)."""
    import importlib.util

    spec = importlib.util.find_spec("jaxneuro")  # locates the package without importing it (or JAX)
    if spec is None or not spec.origin:
        return "jaxneuro: not found"
    root = os.path.dirname(os.path.dirname(spec.origin))
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--", "jaxneuro"], capture_output=True, text=True
        )
    except OSError:
        return f"jaxneuro from {root} (git not available)"
    if head.returncode:
        return f"jaxneuro from {root} (not a git checkout)"
    changed = [ln[3:] for ln in dirty.stdout.splitlines()]
    state = f", uncommitted changes in {', '.join(changed)}" if changed else ", as committed"
    return f"jaxneuro from {root}, commit {head.stdout.strip()}{state}"


def rel_dev(a, b) -> float:
    a, b = np.atleast_1d(np.asarray(a, np.float64)), np.atleast_1d(np.asarray(b, np.float64))
    scale = np.where(b != 0, np.abs(b), 1.0)
    return float(np.max(np.abs(a - b) / scale)) if a.size else float("nan")


def fmt_s(x: float) -> str:
    return f"{x:.3g}"


def size(b) -> str:
    if b is None:
        return "?"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b} B"


def log(msg: str):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def print_table(header, rows):
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


LABEL = {
    "exact": "(1) LIF tuning_curve, exact events",
    "stepped": "(2) LIF tuning_curve, stepped 0.1 ms",
    "hh": "(3) HH tuning_curve, ExpMidpointHH 0.025 ms",
    "user": "(4) AdaptiveLIF simulate, RK4 0.01 ms",
    "diffrax": "(5) LIF simulate, diffrax",
}
WRT = {
    "exact": ("v_in", "tau_m"),
    "stepped": ("v_in", "tau_m"),
    "hh": ("g_Na", "g_Na"),
    "user": ("offsets", "tau_m"),
    "diffrax": ("v_in", "tau_m (mode=forward)"),
}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run), at most 2 samples")
    parser.add_argument("--only", default=",".join(PATHS), help=f"comma-separated subset of {','.join(PATHS)}")
    parser.add_argument("--repeats", type=int, default=5, help="timed samples per function (median, [min-max])")
    parser.add_argument("--budget", type=float, default=60.0, help="stop sampling a function after this many s")
    parser.add_argument("--min-sample", type=float, default=0.1, help="a sample repeats calls to fill this many s")
    parser.add_argument("--x64", action="store_true", help="float64 instead of JAX's default float32")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--cpu",
        default=None,
        help="pin every worker to these cores (taskset list, e.g. 1): one core hands no small kernels between threads",
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # path:func or path:ref
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = min(args.repeats, 2)

    if args.worker:
        path, func = args.worker.split(":")
        result = worker_reference(args, path) if func == "ref" else worker_timed(args, path, func)
        print(json.dumps(result))
        return

    paths = [p for p in args.only.split(",") if p]
    for p in paths:
        if p not in PATHS:
            parser.error(f"unknown path {p!r}; choose from {', '.join(PATHS)}")
    n = sizes(args.quick)
    print(f"# jaxneuro gradient benchmark ({'quick' if args.quick else 'full'} sizes)")
    print(
        f"python {platform.python_version()}, {'float64' if args.x64 else 'float32'}, {os.cpu_count()} CPUs, "
        f"{platform.processor() or platform.machine()}; no peer library (Brian2 has no gradients)"
    )
    print(git_state())
    print(f"load average at start: {os.getloadavg()[0]:.2f}; workers pinned to cores: {args.cpu or 'no'}")

    header = (
        "path",
        "function",
        "compile s (CPU)",
        "run s median [min-max] (samples)",
        "run CPU s",
        "ratio to forward",
        "goal",
        "XLA temp / arg / out",
        "peak RSS MiB",
        "check: max rel. dev. vs float64 central diff.",
    )
    rows, failures, versions = [], [], None
    for path in paths:
        label = f"{LABEL[path]}, {n[path]:,}"
        log(f"{label}: float64 reference (x64 process)")
        ref = run_worker(args, f"{path}:ref")
        if "error" in ref:
            failures.append((f"{path}:ref", ref))
            log(f"  reference FAILED: {ref['error']}")
        else:
            log(f"  {ref['seconds']:.1f} s; check elements {ref['idx']} at x = {np.round(ref['x'], 4).tolist()}")
        res = {}
        for func in FUNCS:
            log(f"{label}: {func}")
            r = run_worker(args, f"{path}:{func}")
            res[func] = r
            if "error" in r:
                failures.append((f"{path}:{func}", r))
                log(f"  FAILED: {r['error']}")
                continue
            versions = versions or r["versions"]
            log(
                f"  compile {r['compile_s']:.2f} s, run {r['run_s']:.4g} s [{r['run_min_s']:.4g}-{r['run_max_s']:.4g}] "
                f"({r['samples']} samples x {r['calls_per_sample']} calls), peak RSS {r['peak_rss_mib']:.0f} MiB, "
                f"finite {r['finite']}"
            )
            if not r["finite"]:
                failures.append(
                    (
                        f"{path}:{func}",
                        {
                            "error": f"non-finite output at {r['nonfinite_at']}",
                            "cmd": worker_command(args, f"{path}:{func}"),
                        },
                    )
                )
        fwd = res.get("forward", {})
        for func in FUNCS:
            r = res[func]
            name = {"forward": "forward", "grad": f"grad w.r.t. {WRT[path][0]}", "jvp": f"jvp w.r.t. {WRT[path][1]}"}
            if "error" in r:
                rows.append((label, name[func], "FAILED", r["error"][:80], "", "", "", "", "", ""))
                continue
            ratio, goal = "", ""
            if func != "forward" and "run_s" in fwd:
                q = r["run_s"] / fwd["run_s"]
                ratio = f"{q:.2f}x (CPU {r['cpu_s'] / fwd['cpu_s']:.2f}x)"
                if func == "grad":
                    goal = f"<= {GOAL[path]:g}x: {'met' if q <= GOAL[path] else 'MISSED'}"
            m = r["memory"]
            memory = (
                f"{size(m.get('temp_size_in_bytes'))} / {size(m.get('argument_size_in_bytes'))} / "
                f"{size(m.get('output_size_in_bytes'))}"
                if "error" not in m
                else "n/a"
            )
            check = ""
            if "error" not in ref:
                if not r["finite"]:
                    check = "NON-FINITE output"
                elif func == "forward":
                    check = f"value vs float64 run: {rel_dev(r['at_check'], ref['value']):.1g}"
                elif func == "grad":
                    check = f"{rel_dev(r['at_check'], ref['fd_grad']):.1g}"
                    check += " (d sum/d g_Na)" if path == "hh" else f" ({len(ref['idx'])} el.)"
                    if path == "hh" and "out_sum" in res.get("jvp", {}):
                        check += f"; vs sum of jvp {rel_dev(r['out_sum'], res['jvp']['out_sum']):.1g}"
                else:
                    check = f"{rel_dev(r['at_check'], ref['fd_jvp']):.1g} ({len(ref['idx'])} el.)"
            rows.append(
                (
                    label,
                    name[func],
                    f"{fmt_s(r['compile_s'])} ({fmt_s(r['compile_cpu_s'])})",
                    f"{r['run_s']:.3g} [{r['run_min_s']:.3g}-{r['run_max_s']:.3g}] ({r['samples']})",
                    fmt_s(r["cpu_s"]),
                    ratio,
                    goal,
                    memory,
                    f"{r['peak_rss_mib']:.0f}",
                    check,
                )
            )

    print()
    if versions:
        print(versions)
    print_table(header, rows)
    print(
        f"\nload average at end: {os.getloadavg()[0]:.2f} "
        f"(on {os.cpu_count()} CPUs: above that, other work shared them)"
    )
    if failures:
        print("\nFAILED (reproduce with the command shown; it prints the traceback):")
        for spec, r in failures:
            print(f"- {spec}: {r['error']}")
            print("  " + " ".join(r["cmd"]))


if __name__ == "__main__":
    main()
