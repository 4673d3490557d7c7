"""Training a spiking network on Yin-Yang with exact (EventProp) and surrogate gradients, side by side.

Issue 15 item 4: the same model (``configs/yin_yang.toml``: 4-120-3 LIF neurons, latency-coded
inputs, first-spike outputs, cross-entropy over first-spike times) and data, trained by
``jaxneuro train`` once with ``spiking.gradient = "exact"`` (``simulate_lif_events``' adjoint) and
once with ``"surrogate"`` (``simulate_layers``, back-propagation through 400 steps of 0.1 ms).
Each run is its own process (so that its peak resident memory is its own), pinned to the core
this script runs on.  Printed: test accuracy (final and best epoch), time per epoch (median and
range over the epochs after the first, which holds the compilation), the first epoch's extra
time (compilation), and the peak resident memory of the process.

    taskset -c 1 python benchmarks/spiking_training.py --epochs 40
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

_CHILD = r"""
import json, resource, sys
from jaxneuro import train
cfg = train.load_config(sys.argv[1], sys.argv[3:])
result = train.fit(cfg, sys.argv[2], stream=sys.stderr, plot=False)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"metrics": result.metrics, "peak_rss_mib": rss}))
"""


def run(gradient: str, epochs: int, train_size: int | None, extra: list[str]) -> dict:
    overrides = [f"spiking.gradient={gradient}", f"epochs={epochs}", "eval_every=1", *extra]
    if train_size:
        overrides.append(f"data.train_size={train_size}")
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(ROOT / "configs" / "yin_yang.toml"), out, *overrides],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        raise SystemExit(f"the {gradient} run failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(gradient: str, res: dict) -> dict:
    rows = res["metrics"]
    times = [r["epoch_time"] for r in rows if "epoch_time" in r]
    accs = [r["test_accuracy"] for r in rows if "test_accuracy" in r]
    later = times[1:] or times
    med = statistics.median(later)
    return {
        "gradient": gradient,
        "final": accs[-1],
        "best": max(accs),
        "epochs": len(times),
        "epoch_s": med,
        "epoch_range": (min(later), max(later)),
        "compile_s": times[0] - med,
        "rss": res["peak_rss_mib"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--train-size", type=int, default=None, help="first N training samples (default all 5,000)")
    parser.add_argument("--gradients", nargs="+", default=["exact", "surrogate"], choices=["exact", "surrogate"])
    parser.add_argument("--set", dest="sets", action="append", default=[], help="more config overrides")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    print(f"Yin-Yang, configs/yin_yang.toml, {args.epochs} epochs; cores {cores}; load {os.getloadavg()[0]:.1f}")
    results = [summarise(g, run(g, args.epochs, args.train_size, args.sets)) for g in args.gradients]
    print("\n| gradient | test acc (final) | best epoch | s / epoch (median, range) | compile s | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for r in results:
        lo, hi = r["epoch_range"]
        print(
            f"| {r['gradient']} | {r['final']:.2%} | {r['best']:.2%} | {r['epoch_s']:.1f} ({lo:.1f}-{hi:.1f}) "
            f"| {r['compile_s']:.1f} | {r['rss']:.0f} |"
        )
    print(f"\nload at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
