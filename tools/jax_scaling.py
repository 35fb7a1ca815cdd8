#!/usr/bin/env python3
"""jax_scaling.py — the JAX/XLA (CPU) side of tools/scaling.sh (#17): the same points and CSV
lines as build/bench_scaling.

  --mlp B,W   784-W-W-10 MLP, ReLU, softmax cross-entropy (mean over the batch), Adam lr 1e-3
              (betas 0.9/0.999, eps 1e-8, written out here: no optax), PyTorch-style init
              U(-1/sqrt(fan_in), 1/sqrt(fan_in)) drawn by numpy; one jit-compiled function does forward,
              backward and the update, parameters and Adam state donated (updated in place).
              The batch is a device array made once (clgrad uploads its batch every step, a
              copy of B*784*4 bytes).  samples/s.
  --mae B     the MAE step of `clgrad bench` (784-512-128-512-784, 4x4 patches masked at 0.75,
              masked MSE, Adam) at batch B, for the step ratios of #17.  samples/s.
  --gemm N    jnp.matmul of two N x N float32 arrays under jit (full float32 on CPU).  GFLOP/s.

Compilation and two warm-up calls are not timed; then chunks of k calls (k so a chunk takes
about 0.1 s), each ended by block_until_ready, for about --time seconds (3..64 chunks): the
median, min and max over the chunks.  Output: "kind,batch,size,impl,median,min,max,unit,chunks"
(--header first prints the column names); --info prints "# jax: ..." and exits; --serve answers
points read from stdin in one process (see serve()).
"""
import argparse
import os
import sys
import time

CHUNK_S = 0.1
MAX_CHUNKS = 64


def plan_chunks(one_s, target_s):
    one_s = max(one_s, 1e-7)
    k = 1 if one_s >= CHUNK_S else int(CHUNK_S / one_s + 0.5)
    n = int(target_s / (one_s * k) + 0.5)
    return k, min(max(n, 3), MAX_CHUNKS)


def emit(kind, batch, size, rates, unit):
    rates = sorted(rates)
    n = len(rates)
    med = rates[n // 2] if n % 2 else 0.5 * (rates[n // 2 - 1] + rates[n // 2])
    print(f"{kind},{batch},{size},jax,{med:.1f},{rates[0]:.1f},{rates[-1]:.1f},{unit},{n}", flush=True)


def timed(fn, target_s):
    """fn(k) runs k calls and blocks; per-chunk seconds and k."""
    fn(1)
    fn(1)
    t0 = time.perf_counter()
    fn(1)
    k, n = plan_chunks(time.perf_counter() - t0, target_s)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn(k)
        out.append(time.perf_counter() - t0)
    return out, k


_fns = {}


def adam_step(jax, jnp, loss_fn):
    """jit(step): loss_fn(ps, *data)'s gradient and an Adam update, parameters and state donated."""
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8

    def step(ps, ms, vs, t, *data):
        loss, gs = jax.value_and_grad(loss_fn)(ps, *data)
        t = t + 1.0
        c1, c2 = 1.0 - b1 ** t, 1.0 - b2 ** t
        ms = [b1 * mi + (1 - b1) * g for mi, g in zip(ms, gs)]
        vs = [b2 * vi + (1 - b2) * g * g for vi, g in zip(vs, gs)]
        ps = [p - lr * (mi / c1) / (jnp.sqrt(vi / c2) + eps) for p, mi, vi in zip(ps, ms, vs)]
        return ps, ms, vs, t, loss

    return jax.jit(step, donate_argnums=(0, 1, 2, 3))


def jitted(jax, jnp):
    """The jit-compiled MLP and MAE steps and the matmul, made once per process (compiled once per
    shape)."""
    if _fns:
        return _fns

    def mlp_loss(ps, x, y):
        h = x
        for i in range(0, len(ps), 2):
            h = h @ ps[i] + ps[i + 1]
            if i + 2 < len(ps):
                h = jax.nn.relu(h)
        logp = jax.nn.log_softmax(h)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def mae_loss(ps, x, key):
        # clgrad's MAE (src/models/mae.c): 4x4 patches of the 28x28 image hidden at ratio 0.75, a
        # fresh mask per step; ReLU after the first encoder and decoder layers; MSE over hidden pixels
        b = x.shape[0]
        keep = jax.random.uniform(key, (b, 7, 7)) >= 0.75
        mask = 1.0 - jnp.repeat(jnp.repeat(keep, 4, axis=1), 4, axis=2).reshape(b, 784).astype(jnp.float32)
        h = x * (1.0 - mask)
        for i in range(0, len(ps), 2):
            h = h @ ps[i] + ps[i + 1]
            if i in (0, 4):
                h = jax.nn.relu(h)
        d = (h - x) * mask
        return jnp.sum(d * d) / jnp.maximum(jnp.sum(mask), 1.0)

    _fns["mlp"] = adam_step(jax, jnp, mlp_loss)
    _fns["mae"] = adam_step(jax, jnp, mae_loss)
    _fns["mm"] = jax.jit(lambda a, b: jnp.matmul(a, b, precision=jax.lax.Precision.HIGHEST))
    return _fns


def init_params(jnp, np, rng, widths):
    """PyTorch-style U(-1/sqrt(fan_in), 1/sqrt(fan_in)) weights and biases."""
    params = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        bound = 1.0 / fan_in ** 0.5
        params.append(jnp.asarray(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32)))
        params.append(jnp.asarray(rng.uniform(-bound, bound, (fan_out,)).astype(np.float32)))
    return params


def run_steps(jax, jnp, step, params, data, kind, batch, size, target_s):
    """Time `step` (an adam_step) on data(i), the i-th call's extra arguments; emit samples/s."""
    state = [params, [jnp.zeros_like(p) for p in params], [jnp.zeros_like(p) for p in params],
             jnp.zeros((), jnp.float32)]
    calls = [0]

    def run(k):
        for _ in range(k):
            state[0], state[1], state[2], state[3], loss = step(*state, *data(calls[0]))
            calls[0] += 1
        loss.block_until_ready()

    secs, k = timed(run, target_s)
    emit(kind, batch, size, [batch * k / s for s in secs], "samples/s")


def bench_mlp(jax, jnp, np, batch, width, target_s):
    rng = np.random.default_rng(1)
    params = init_params(jnp, np, rng, [784, width, width, 10])
    x = jnp.asarray(rng.uniform(-0.5, 0.5, (batch, 784)).astype(np.float32))
    y = jnp.asarray(np.array([(i * 7919) % 10 for i in range(batch)], np.int32))
    run_steps(jax, jnp, jitted(jax, jnp)["mlp"], params, lambda i: (x, y), "mlp", batch, width, target_s)


def bench_mae(jax, jnp, np, batch, target_s):
    rng = np.random.default_rng(1)
    params = init_params(jnp, np, rng, [784, 512, 128, 512, 784])
    x = jnp.asarray(rng.uniform(0.0, 1.0, (batch, 784)).astype(np.float32))
    keys = jax.random.split(jax.random.PRNGKey(4), 64)
    run_steps(jax, jnp, jitted(jax, jnp)["mae"], params, lambda i: (x, keys[i % 64]), "mae", batch, 512, target_s)


def bench_gemm(jax, jnp, np, n, target_s):
    mm = jitted(jax, jnp)["mm"]
    rng = np.random.default_rng(2)
    a = jnp.asarray(rng.uniform(-0.5, 0.5, (n, n)).astype(np.float32))
    b = jnp.asarray(rng.uniform(-0.5, 0.5, (n, n)).astype(np.float32))

    def run(k):
        for _ in range(k):
            c = mm(a, b)
        c.block_until_ready()

    secs, k = timed(run, target_s)
    emit("gemm", "", n, [2.0 * n ** 3 * k / s * 1e-9 for s in secs], "GFLOP/s")


def serve(jax, jnp, np, target_s):
    """Lines "jax KIND ARG" ("jax mlp 128,256", "jax gemm 1024") from stdin, each answered by its
    CSV line and a line "." (tools/scaling.sh alternates with bench_scaling --serve this way)."""
    for line in sys.stdin:
        f = line.split()
        if not f:
            continue
        try:
            if len(f) != 3 or f[0] != "jax" or f[1] not in ("mlp", "gemm"):
                raise ValueError(f"wants 'jax mlp B,W' or 'jax gemm N', got '{line.strip()}'")
            if f[1] == "mlp":
                bench_mlp(jax, jnp, np, *pair(f[2]), target_s)
            else:
                bench_gemm(jax, jnp, np, size(f[2]), target_s)
        except (ValueError, argparse.ArgumentTypeError) as e:
            print(f"jax_scaling: {e}", file=sys.stderr, flush=True)
        print(".", flush=True)


def pair(s):
    parts = s.split(",")
    if len(parts) != 2 or not all(p.isdigit() and 1 <= int(p) <= 8192 for p in parts):
        raise argparse.ArgumentTypeError(f"wants B,W (1..8192), got '{s}'")
    return int(parts[0]), int(parts[1])


def size(s):
    if not s.isdigit() or not 1 <= int(s) <= 8192:
        raise argparse.ArgumentTypeError(f"wants N (1..8192), got '{s}'")
    return int(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlp", type=pair, action="append", default=[], metavar="B,W")
    ap.add_argument("--gemm", type=size, action="append", default=[], metavar="N")
    ap.add_argument("--mae", type=size, action="append", default=[], metavar="B")
    ap.add_argument("--time", type=float, default=1.0, metavar="S")
    ap.add_argument("--header", action="store_true")
    ap.add_argument("--info", action="store_true")
    ap.add_argument("--serve", action="store_true", help="answer 'jax KIND ARG' lines from stdin")
    args = ap.parse_args()
    if not 0 < args.time <= 60:
        ap.error("--time must be in (0, 60]")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import jax.numpy as jnp
    import numpy as np

    if args.info:
        import jaxlib

        print(f"# jax: {jax.__version__} (jaxlib {jaxlib.__version__}), devices {jax.devices()}, "
              f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')}")
        return 0
    if args.header:
        print("kind,batch,size,impl,median,min,max,unit,chunks")
    if args.serve:
        serve(jax, jnp, np, args.time)
    for b, w in args.mlp:
        bench_mlp(jax, jnp, np, b, w, args.time)
    for n in args.gemm:
        bench_gemm(jax, jnp, np, n, args.time)
    for b in args.mae:
        bench_mae(jax, jnp, np, b, args.time)
    return 0


if __name__ == "__main__":
    sys.exit(main())
