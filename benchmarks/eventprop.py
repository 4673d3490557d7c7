"""Benchmark: exact event gradients (``simulate_lif_events``) on a Yin-Yang-sized network.

The network: 5 inputs (Yin-Yang coding: spikes at ``2 ms + 20 ms x [x, y, 1-x, 1-y]`` and a
bias spike at 0), 120 hidden and 3 output LIF neurons (tau_m 10 ms, tau_s 5 ms, threshold 1,
reset 0), dense feed-forward weights (fixed seed), 50 ms, a batch of 32 samples (``jax.vmap``)
and a first-spike cross-entropy readout (``-log_softmax(-t_first / 5 ms)[label]``, a missing
spike counted at 50 ms).  Float32, as users run it.

Measured, each under ``jax.jit``, compile time apart from run time (run: median and range of
``--repeats`` calls after the first):

* jaxneuro ``simulate_lif_events``: forward (loss) and ``value_and_grad`` w.r.t. the weights;
  tau_ref = 2 ms;
* jaxneuro ``simulate_network(differentiable=True)`` (back-propagation through every step,
  dt = 0.1 ms) on the same network, tau_ref = 2 ms;
* eventax (diffrax + EventProp, ``FFEvNN`` + ``LIF``) on the same network, if it imports:
  its LIF has no refractory period, so both sides run with tau_ref = 0 there (jaxneuro through
  ``tau_ref=0.0``); eventax's own integration settings (Euler steps of ``--eventax-step`` ms,
  its default root finder) and its ``ttfs`` readout, which stops once every output fired.

Memory: XLA's compiled scratch (``memory_analysis().temp_size_in_bytes``) of each program, and
for ``simulate_lif_events`` the same program for a 4x longer run with the same event buffer
(``max_spikes`` = 600 network spikes per sample, 32 per neuron in the returned trains): it does
not grow with duration; it grows with ``max_spikes``.

Run pinned to one core, with an interpreter that has eventax (``pip install eventax``)::

    taskset -c 0 /work/bench-venv/bin/python benchmarks/eventprop.py

Measured 2026-12-05 (jax 0.10.2, eventax 0.1.0, CPU pinned to one core of a 2-core machine that
other jobs kept at a load of 6-7, so times vary up to 2x between runs; median [min-max] of 9):

    (run in ms, median [min-max]; gradient/forward; scratch of the gradient)
    simulate_lif_events, tau_ref 2 ms, 95 spikes/sample   fwd 126 [61-246]   grad 272 [194-452]    2.2x  4.6 MiB
      scratch of the gradient: 4.56 MiB at 50 ms and at 200 ms; 5.13 MiB with max_spikes x2
    simulate_lif_events, tau_ref 0, 118 spikes/sample     fwd  65 [52-100]   grad 222 [216-228]    3.4x  4.6 MiB
      with stop_when_fired="out", 43 spikes/sample        fwd  54 [48-57]    grad  86 [72-98]      1.6x  4.6 MiB
    simulate_network(differentiable=True), dt 0.1 ms      fwd 144 [128-172]  grad 2720            18.9x  610 MiB
    eventax FFEvNN + LIF, Euler 0.05 ms, ttfs             fwd  57 [49-92]    grad 1399 [1189-1661] 24.5x  116 MiB

An earlier run (same code but the train capacity, load as above) gave for tau_ref 0: forward 81 ms,
gradient 121 ms (1.5x); with stop_when_fired 24 / 47 ms (1.9x); eventax 36 / 1072 ms (30x).

After the adjoint stored its weight-row gradients (below), 2026-12-05, ``--repeats 3 --skip-bptt``
pinned to core 0 at a load of 9-12 (so every time is some 3x the ones above):

    simulate_lif_events, tau_ref 2 ms                     fwd 396 [367-420]  grad  544 [520-571]   1.37x  20 MiB
      scratch of the gradient: 20.2 MiB at 50 ms and at 200 ms; 38.4 MiB with max_spikes x2
    simulate_lif_events, tau_ref 0                        fwd 440 [434-476]  grad  616 [567-645]   1.40x  20 MiB
      with stop_when_fired="out"                          fwd 148 [144-152]  grad  216 [212-228]   1.46x  20 MiB
    eventax FFEvNN + LIF, Euler 0.05 ms, ttfs             fwd 404 [368-424]  grad 9536 [9070-9802] 23.6x 116 MiB

so the exact gradient is 1.4-1.5x its forward run and 15-44x faster than eventax's EventProp
gradient on the same network (9.5 s), at 1/6 of its scratch memory.

``--mnist`` (main venv, MNIST prepared): the per-image cost of ``configs/mnist_latency.toml``'s
784-350-10 classifier with ``spiking.gradient = "exact"``, ``jax.vmap`` over ``--batch`` real
training images as ``jaxneuro train`` runs it (first-spike loss with the late-spike term, the run
stopping once every output fired); the forward (loss) and ``value_and_grad`` w.r.t. the weights::

    PYTHONPATH=$PWD taskset -c 0 python benchmarks/eventprop.py --mnist --batch 32 --repeats 3

Measured 2026-12-05 (batch 32: 142 input and 143 network spikes per image, at most 290):

    before the adjoint stored its weight-row gradients (load 4.5)   fwd 20.3 ms/image   grad 51.2 ms/image  2.52x
    after (load 10, so slower in absolute terms)                    fwd 36.0 ms/image   grad 67.4 ms/image  1.87x
    both in one process, alternating (load 10; 4 rounds)            old 1.71-2.17x, new 1.39-1.90x of their forward;
                                                                    the two gradients bitwise equal

The adjoint had added each event's weight-row gradient into the whole ``(sources, N)`` gradient
in its loop, a scatter that under ``vmap`` cost as much again as the rest of the adjoint; it now
stores the row at the step index (shared by the batch, so one slice per step) and adds the rows
up by source once after the loop.  The forward run dominates: at each of the ~140 input spikes
every one of the 350 hidden neurons' next crossing is searched again.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

import jaxneuro as jn

N_IN, N_HID, N_OUT = 5, 120, 3
TAU_M, TAU_S = 0.01, 0.005
T = 0.05
PER_NEURON = 32  # spike-train capacity per neuron (the default grows with duration / tau_ref, or is max_spikes)


def make_problem(batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1, (batch, 2))
    feats = np.concatenate([xy, 1 - xy], axis=1)
    times = np.concatenate([0.002 + 0.02 * feats, np.zeros((batch, 1))], axis=1)[:, :, None]  # (B, 5, 1)
    labels = rng.integers(0, 3, batch)
    w_in = rng.normal(0.006, 0.004, (N_HID, N_IN))
    w_out = rng.normal(0.0012, 0.0012, (N_OUT, N_HID))
    return times.astype(np.float32), labels, w_in.astype(np.float32), w_out.astype(np.float32)


def ce(first, label):
    first = jnp.where(jnp.isfinite(first), first, T)
    return -jax.nn.log_softmax(-first / 0.005)[label]


def net_of(w_out, tau_ref):
    lif = jn.LIF(tau_m=TAU_M, tau_ref=tau_ref)
    hid = jn.LIFPopulation(N_HID, lif, tau_s=TAU_S, name="hid")
    out = jn.LIFPopulation(N_OUT, lif, tau_s=TAU_S, name="out")
    return jn.LIFNetwork([hid, out], {("out", "hid"): w_out})


def full_w_in(w_in):
    return jnp.zeros((N_HID + N_OUT, N_IN), w_in.dtype).at[:N_HID].set(w_in)


def timed(fn, args, repeats, jit=jax.jit):
    """(compile s, [run s ...], compiled) for ``jit(fn)`` on ``args``."""
    t0 = time.perf_counter()
    compiled = jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(*args))
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        runs.append(time.perf_counter() - t0)
    return compile_s, runs, compiled


def mib(compiled):
    compiled = getattr(compiled, "compiled", compiled)  # eqx.filter_jit's lowered-and-compiled wrapper
    m = compiled.memory_analysis()
    return m.temp_size_in_bytes / 2**20


def row(name, compile_s, runs, compiled, ref=None):
    med = float(np.median(runs))
    ratio = f"{med / ref:6.2f}x" if ref else "      "
    print(
        f"{name:<48} compile {compile_s:6.2f} s   run {1e3 * med:9.2f} ms "
        f"[{1e3 * min(runs):.2f}-{1e3 * max(runs):.2f}]  {ratio}  scratch {mib(compiled):8.2f} MiB"
    )
    return med


def events_loss(tau_ref, max_spikes, duration=T, stop=None):
    def loss(w_in, w_out, times, labels):
        net = net_of(w_out, 0.002)
        wf = full_w_in(w_in)

        def one(t, label):
            train = jn.SpikeTrain(t, jnp.ones(N_IN, jnp.int32))
            res = jn.simulate_lif_events(
                net,
                duration,
                inputs=(train, wf),
                tau_ref=tau_ref,
                max_spikes=max_spikes,
                max_spikes_per_neuron=PER_NEURON,
                stop_when_fired=stop,
            )
            return ce(res.spikes.times[N_HID:, 0], label), res.n_spikes

        losses, n = jax.vmap(one)(times, labels)
        return jnp.mean(losses), n

    return loss


def mnist_per_image(batch: int, repeats: int) -> None:
    """``--mnist``: the per-image cost of ``configs/mnist_latency.toml``'s 784-350-10 classifier with
    exact gradients, ``jax.vmap`` over a minibatch of real MNIST training images (as ``jaxneuro
    train`` runs it): the loss, and ``value_and_grad`` of the mean loss w.r.t. the weights."""
    import equinox as eqx

    from jaxneuro import train

    cfg = train.load_config(
        __file__.replace("benchmarks/eventprop.py", "configs/mnist_latency.toml"),
        ["spiking.gradient=exact", f"data.train_size={batch}", "data.test_size=1"],
    )
    data = train.load_data(cfg)
    model = train.init_state(cfg, data).model
    loss_fn, _ = train.task_functions(cfg, data.num_classes)
    x, t = data.x_train[:batch], data.t_train[:batch]

    def loss(model, x, t):
        return jnp.mean(jax.vmap(loss_fn)(jax.vmap(model)(x), t))

    n_pix = int(jnp.sum(x > cfg.spiking.input_threshold)) / batch
    spikes = jax.jit(jax.vmap(lambda xi: model._events(model.encode(xi), stop=True).n_spikes))(x)
    print(
        f"MNIST 784-350-10, exact gradient, batch {batch} (vmap), float32: {n_pix:.0f} input spikes and "
        f"{float(jnp.mean(spikes)):.0f} network spikes per image (max {int(jnp.max(spikes))})"
    )
    a = (model, x, t)
    c, r, comp = timed(loss, a, repeats, jit=eqx.filter_jit)
    f_med = row("  forward (loss)", c, r, comp)
    c, r, comp = timed(eqx.filter_value_and_grad(loss), a, repeats, jit=eqx.filter_jit)
    g_med = row("  value_and_grad (weights)", c, r, comp, ref=f_med)
    print(f"  per image: forward {1e3 * f_med / batch:.2f} ms, value_and_grad {1e3 * g_med / batch:.2f} ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--max-spikes", type=int, default=600)
    ap.add_argument("--eventax-step", type=float, default=0.05, help="eventax Euler step (ms)")
    ap.add_argument("--skip-bptt", action="store_true")
    ap.add_argument("--mnist", action="store_true", help="only the 784-350-10 MNIST per-image cost (main venv)")
    args = ap.parse_args()
    if args.mnist:
        mnist_per_image(args.batch, args.repeats)
        return
    times, labels, w_in, w_out = make_problem(args.batch)
    times, labels, w_in, w_out = map(jnp.asarray, (times, labels, w_in, w_out))
    R = args.repeats
    dev = jax.devices()[0].device_kind
    print(f"jax {jax.__version__}, {dev}, float32, batch {args.batch}, 5-120-3, {T * 1e3:g} ms")

    # ---------------------------------------------------------------- simulate_lif_events
    for tau_ref, stop in ((0.002, None), (0.0, None), (0.0, "out")):
        loss = events_loss(tau_ref, args.max_spikes, stop=stop)
        fwd = lambda *a, loss=loss: loss(*a)[0]  # noqa: E731
        vg = jax.value_and_grad(lambda *a, loss=loss: loss(*a)[0], argnums=(0, 1))
        a = (w_in, w_out, times, labels)
        _, n = jax.jit(loss)(*a)
        print(
            f"\nsimulate_lif_events, tau_ref = {tau_ref * 1e3:g} ms"
            f"{', stop_when_fired=out (stops when every output fired, as eventax ttfs)' if stop else ''}: spikes "
            f"mean {float(jnp.mean(n)):.1f}, max {int(jnp.max(n))} (max_spikes {args.max_spikes})"
        )
        c, r, comp = timed(fwd, a, R)
        f_med = row("  forward (loss)", c, r, comp)
        c, r, comp = timed(vg, a, R)
        row("  value_and_grad (w_in, w_out)", c, r, comp, ref=f_med)
        if tau_ref == 0.002 and stop is None:
            long_loss = events_loss(tau_ref, args.max_spikes, 4 * T)
            big_loss = events_loss(tau_ref, 2 * args.max_spikes)
            comp4 = jax.jit(jax.value_and_grad(lambda *a, f=long_loss: f(*a)[0], argnums=(0, 1))).lower(*a).compile()
            comp2 = jax.jit(jax.value_and_grad(lambda *a, f=big_loss: f(*a)[0], argnums=(0, 1))).lower(*a).compile()
            print(
                f"  scratch of value_and_grad: {mib(comp):.2f} MiB at 50 ms, {mib(comp4):.2f} MiB at 200 ms "
                f"(same max_spikes), {mib(comp2):.2f} MiB with max_spikes x2"
            )

    # ---------------------------------------------------------------- BPTT through every step
    if not args.skip_bptt:
        print("\nsimulate_network(differentiable=True), dt = 0.1 ms, tau_ref = 2 ms")

        def bptt_loss(w_in, w_out, times, labels):
            net = net_of(w_out, 0.002)
            wf = full_w_in(w_in)

            def one(t, label):
                train = jn.SpikeTrain(t, jnp.ones(N_IN, jnp.int32))
                res = jn.simulate_network(
                    net, T, dt=1e-4, inputs=(train, wf), differentiable=True, max_input_spikes_per_step=5, max_spikes=26
                )
                return ce(res.spikes.times[N_HID:, 0], label)

            return jnp.mean(jax.vmap(one)(times, labels))

        a = (w_in, w_out, times, labels)
        try:
            c, r, comp = timed(bptt_loss, a, R)
            f_med = row("  forward (loss)", c, r, comp)
            c, r, comp = timed(jax.value_and_grad(bptt_loss, argnums=(0, 1)), a, max(2, R // 3))
            row("  value_and_grad (w_in, w_out)", c, r, comp, ref=f_med)
        except Exception as e:  # report, do not hide
            print(f"  failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}")

    # ---------------------------------------------------------------- eventax
    print("\neventax (diffrax + EventProp), tau_ref = 0 on both sides")
    try:
        import equinox as eqx
        import eventax
        from eventax.evnn import FFEvNN
        from eventax.neuron_models import LIF as EvLIF
    except Exception as e:
        print(f"  not run: eventax does not import ({type(e).__name__}: {e}); pip install eventax")
        return
    print(f"  eventax {getattr(eventax, '__version__', '0.1.0')}, Euler step {args.eventax_step} ms, times in ms")
    n = N_HID + N_OUT
    W = jnp.zeros((n + N_IN, n), jnp.float32)
    W = W.at[:N_HID, N_HID:].set(w_out.T / TAU_S)  # eventax adds w to i; jaxneuro adds w / tau_s to s
    W = W.at[n:, :N_HID].set(w_in.T / TAU_S)
    model = FFEvNN(
        layers=[N_HID, N_OUT],
        in_size=N_IN,
        neuron_model=EvLIF,
        max_solver_time=T * 1e3,
        key=jax.random.key(0),
        solver_stepsize=args.eventax_step,
        max_event_steps=args.max_spikes,
        thresh=1.0,
        tsyn=TAU_S * 1e3,
        tmem=TAU_M * 1e3,
        init_weights=W,
        init_bias=0.0,
        dtype=jnp.float32,
    )

    def ev_loss(model, times, labels):
        first = jax.vmap(model.ttfs)(times * 1e3) / 1e3
        return jnp.mean(jax.vmap(ce)(first, labels))

    try:
        ours_first = jax.jit(
            jax.vmap(
                lambda t: jn.simulate_lif_events(
                    net_of(w_out, 0.002),
                    T,
                    inputs=(jn.SpikeTrain(t, jnp.ones(N_IN, jnp.int32)), full_w_in(w_in)),
                    tau_ref=0.0,
                    max_spikes=args.max_spikes,
                    max_spikes_per_neuron=PER_NEURON,
                ).spikes.times[N_HID:, 0]
            )
        )(times)
        ev_first = eqx.filter_jit(lambda m, t: jax.vmap(m.ttfs)(t))(model, times * 1e3) / 1e3
        both = np.isfinite(np.asarray(ours_first)) & np.isfinite(np.asarray(ev_first))
        diff = np.abs(np.asarray(ours_first) - np.asarray(ev_first))[both]
        print(
            f"  first output spikes agree: {both.sum()} of {both.size} finite in both, max |diff| "
            f"{1e3 * diff.max() if diff.size else float('nan'):.4f} ms (eventax integrates with Euler steps)"
        )
        a = (model, times, labels)
        c, r, comp = timed(ev_loss, a, R, jit=eqx.filter_jit)
        f_med = row("  eventax forward (loss)", c, r, comp)
        c, r, comp = timed(eqx.filter_value_and_grad(ev_loss), a, R, jit=eqx.filter_jit)
        row("  eventax value_and_grad (model)", c, r, comp, ref=f_med)
    except Exception as e:  # report, do not hide
        print(f"  failed: {type(e).__name__}: {str(e).splitlines()[0][:300]}")


if __name__ == "__main__":
    main()
