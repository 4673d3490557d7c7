"""Training spiking networks with exact (EventProp) and surrogate gradients, side by side.

Issue 15 item 4: the same model and data trained by ``jaxneuro train`` once with
``spiking.gradient = "exact"`` (``simulate_lif_events``' adjoint) and once with ``"surrogate"``
(``simulate_layers``, back-propagation through time), on two tasks:

* ``yin_yang``: ``configs/yin_yang.toml``, 4-120-3 LIF neurons, linear latency code;
* ``mnist``: ``configs/mnist_latency.toml``, 784-350-10 LIF neurons, intensity latency code
  (dark pixels send no spike).

Both classify by time to first spike with the cross-entropy over first-spike times.  Each run is
its own process (so that its peak resident memory is its own), pinned to the cores this script
runs on.  Printed: test accuracy (final and best epoch), time per epoch (median and range over
the epochs after the first, which holds the compilation), the first epoch's extra time
(compilation), and the peak resident memory of the process.  ``--train-size`` and ``--epochs``
take one value for every run or ``GRADIENT=VALUE`` entries (the exact gradient on MNIST costs
some 10x more per sample than the surrogate: run it on a subset); ``--out`` keeps the run folders.

    taskset -c 1 python benchmarks/spiking_training.py --task yin_yang --epochs 25
    taskset -c 1 python benchmarks/spiking_training.py --task mnist --epochs surrogate=10 exact=2 \\
        --train-size exact=512 --test-size exact=1000
    taskset -c 1 python benchmarks/spiking_training.py --epochs 2 --train-size 500   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {"yin_yang": "yin_yang.toml", "mnist": "mnist_latency.toml"}
# a task's config for one gradient, where it has its own (the other gradient is an override)
OWN_CONFIGS = {("mnist", "exact"): "mnist_latency_exact.toml"}
GRADIENTS = ("exact", "surrogate")

_CHILD = r"""
import json, resource, sys
from jaxneuro import train
resume = sys.argv[3] == "resume"
cfg = train.load_config(sys.argv[1], sys.argv[4:])
result = train.fit(cfg, sys.argv[2], resume=resume, stream=sys.stderr, plot=False)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"metrics": result.metrics, "peak_rss_mib": rss}))
"""


def run(task: str, gradient: str, epochs: int | None, sizes: tuple, extra: list[str], out: Path, resume: bool) -> dict:
    config = OWN_CONFIGS.get((task, gradient), CONFIGS[task])
    overrides = [f"spiking.gradient={gradient}", "eval_every=1", *extra]
    if epochs is not None:
        overrides.append(f"epochs={epochs}")
    for key, n in zip(("train_size", "test_size"), sizes, strict=True):
        if n:
            overrides.append(f"data.{key}={n}")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHILD,
            str(ROOT / "configs" / config),
            str(out),
            "resume" if resume else "new",
            *overrides,
        ],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"the {task} {gradient} run failed (exit status {proc.returncode}).")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(task: str, gradient: str, sizes: tuple, res: dict) -> dict:
    rows = res["metrics"]
    times = [r["epoch_time"] for r in rows if "epoch_time" in r]
    accs = [r["test_accuracy"] for r in rows if "test_accuracy" in r]
    later = times[1:] or times
    med = statistics.median(later)
    return {
        "task": task,
        "gradient": gradient,
        "train": sizes[0] or "all",
        "test": sizes[1] or "all",
        "final": accs[-1],
        "best": max(accs),
        "epochs": len(times),
        "epoch_s": med,
        "epoch_range": (min(later), max(later)),
        "compile_s": times[0] - med,
        "rss": res["peak_rss_mib"],
    }


def per_gradient(values: list[str], name: str) -> dict[str, int | None]:
    """``["40"]`` or ``["exact=1", "surrogate=6"]`` -> a value for each gradient (None: not given)."""
    got: dict[str, int | None] = dict.fromkeys(GRADIENTS)
    for v in values:
        key, _, value = v.rpartition("=")
        if key and key not in GRADIENTS:
            raise SystemExit(f"--{name}: {v!r} names no gradient (one of {GRADIENTS}).")
        for g in [key] if key else GRADIENTS:
            got[g] = int(value)
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", nargs="+", default=["yin_yang"], choices=sorted(CONFIGS))
    parser.add_argument("--epochs", nargs="+", default=[], help="N, or GRADIENT=N entries (default: the config's)")
    parser.add_argument("--train-size", nargs="+", default=[], help="first N training samples (default all)")
    parser.add_argument("--test-size", nargs="+", default=[], help="first N test samples (default all)")
    parser.add_argument("--gradients", nargs="+", default=list(GRADIENTS), choices=GRADIENTS)
    parser.add_argument("--set", dest="sets", action="append", default=[], help="more config overrides")
    parser.add_argument("--out", type=Path, default=None, help="keep the run folders under OUT/TASK_GRADIENT")
    parser.add_argument("--resume", action="store_true", help="continue the runs checkpointed under --out")
    args = parser.parse_args()
    if args.resume and args.out is None:
        raise SystemExit("--resume needs --out (the folder holding the runs' checkpoints).")
    epochs = per_gradient(args.epochs, "epochs")
    train_sizes, test_sizes = per_gradient(args.train_size, "train-size"), per_gradient(args.test_size, "test-size")
    sizes = {g: (train_sizes[g], test_sizes[g]) for g in GRADIENTS}
    cores = sorted(os.sched_getaffinity(0))
    print(
        f"tasks {args.task}, epochs {epochs}, (train, test) sizes {sizes}; cores {cores}; load {os.getloadavg()[0]:.1f}"
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.task:
            for g in args.gradients:
                out = (args.out or Path(tmp)) / f"{task}_{g}"
                res = run(task, g, epochs[g], sizes[g], args.sets, out, args.resume)
                results.append(summarise(task, g, sizes[g], res))
    print(
        "\n| task | gradient | train / test samples | epochs | test acc (final) | best epoch "
        "| s / epoch (median, range) | compile s | peak RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        lo, hi = r["epoch_range"]
        print(
            f"| {r['task']} | {r['gradient']} | {r['train']} / {r['test']} | {r['epochs']} "
            f"| {r['final']:.2%} | {r['best']:.2%} "
            f"| {r['epoch_s']:.1f} ({lo:.1f}-{hi:.1f}) | {r['compile_s']:.1f} | {r['rss']:.0f} |"
        )
    print(f"\nload at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
