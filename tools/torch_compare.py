#!/usr/bin/env python3
"""torch_compare.py — training-step throughput of PyTorch beside clgrad on this machine.

Times the same steps as `clgrad bench`: the MLP (784-256-256-10, batch 128, Adam, cross-entropy)
and the masked auto-encoder (784-512-128-512-784, batch 256, Adam, MSE on 75% masked 4x4 patches),
on random data, in PyTorch with 1 thread and with its default thread count, and with
`clgrad bench --quick --json`, and prints the samples/s side by side with the ratio.  The
machines here swing between speed phases every few seconds, so the measurement runs in
--rounds rounds (default 3), each timing clgrad and PyTorch (1 thread) in turn; the table shows
the medians over the rounds, the per-round ratios and their median (PyTorch with all threads,
2-3x slower here, is timed once).

Usage: /usr/bin/python3 tools/torch_compare.py [BUILD_DIR] [--device SPEC] [--rounds R]
For a fair comparison unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in the calling shell
(`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...`). Exits 0 with a message when PyTorch is absent.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def bench_torch(torch, threads, steps=60, reps=5):
    torch.set_num_threads(threads)
    nn = torch.nn
    out = {}
    # MLP
    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = torch.optim.Adam(mlp.parameters(), lr=1e-3)
    x = torch.rand(128, 784)
    y = torch.randint(0, 10, (128,))
    lossf = nn.CrossEntropyLoss()

    def mlp_step():
        opt.zero_grad()
        loss = lossf(mlp(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    out['MLP'] = time_steps(mlp_step, 128, steps, reps)
    # MAE: 4x4 patch mask, 75% of 49 patches (37) per image
    enc = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 128))
    dec = nn.Sequential(nn.Linear(128, 512), nn.ReLU(), nn.Linear(512, 784))
    params = list(enc.parameters()) + list(dec.parameters())
    opt2 = torch.optim.Adam(params, lr=1e-3)
    xb = torch.rand(256, 784)

    def mae_step():
        keys = torch.rand(256, 49)
        idx = keys.argsort(dim=1)[:, :37]
        pm = torch.zeros(256, 49).scatter_(1, idx, 1.0).view(256, 7, 1, 7, 1)
        mask = pm.expand(256, 7, 4, 7, 4).reshape(256, 784)
        opt2.zero_grad()
        rec = dec(enc(xb * (1 - mask)))
        loss = ((rec - xb) ** 2 * mask).sum() / mask.sum()
        loss.backward()
        opt2.step()
        return loss.item()

    out['MAE'] = time_steps(mae_step, 256, steps // 2, reps)
    return out


def time_steps(fn, batch, steps, reps):
    for _ in range(5):
        fn()
    rates = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        rates.append(batch * steps / (time.perf_counter() - t0))
    return statistics.median(rates)


def bench_clgrad(build, device):
    exe = os.path.join(build, 'clgrad')
    with tempfile.TemporaryDirectory() as d:
        js = os.path.join(d, 'b.json')
        # --reps 15: MLP/MAE steps timed over ~0.1-0.3 s, closer to PyTorch's 5 x 60 steps
        cmd = [exe, 'bench', '--quick', '--reps', '15', '--json', js, '--device', device]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(js) as f:
            data = json.load(f)
    rates = {}
    for m in data.get('metrics', []):
        if m.get('key') in ('train/mlp', 'train/mae') and m.get('status') == 'ok':
            rates[m['key'][6:].upper()] = m.get('median')
    return rates


def main():
    args = sys.argv[1:]
    device = '0:0'
    if '--device' in args:
        i = args.index('--device')
        device = args[i + 1]
        del args[i:i + 2]
    rounds = 3
    if '--rounds' in args:
        i = args.index('--rounds')
        rounds = max(1, int(args[i + 1]))
        del args[i:i + 2]
    build = args[0] if args else 'build'
    try:
        import torch
    except ImportError:
        print('torch_compare: PyTorch is not installed (apt-get install python3-torch); nothing to compare')
        return 0
    ours, t1 = {}, {}
    for _ in range(rounds):
        for k, v in bench_clgrad(build, device).items():
            ours.setdefault(k, []).append(v)
        for k, v in bench_torch(torch, 1).items():
            t1.setdefault(k, []).append(v)
    nthr = os.cpu_count() or 1
    tn = bench_torch(torch, nthr)
    print('%-5s %14s %16s %16s %10s  %s' % ('step', 'clgrad s/s', 'torch 1 thr s/s', 'torch %d thr s/s' % nthr,
                                          'ratio', 'per round'))
    for k in ('MLP', 'MAE'):
        o, a = ours.get(k, []), t1[k]
        if len(o) != len(a):
            print('%-5s %14s' % (k, 'n/a'))
            continue
        per = [x / max(y, tn[k]) for x, y in zip(o, a)]
        print('%-5s %14.0f %16.0f %16.0f %9.2fx  %s' % (k, statistics.median(o), statistics.median(a), tn[k],
                                                     statistics.median(per),
                                                     ' '.join('%.2fx' % r for r in per)))
    print('ratio = clgrad / the faster PyTorch setting in the same round (samples per second); medians over %d rounds' % rounds)
    return 0


if __name__ == '__main__':
    sys.exit(main())
