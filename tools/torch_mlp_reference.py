#!/usr/bin/env python3
"""torch_mlp_reference.py — the PyTorch reference for `clgrad train mlp`: 784-256-256-10 with nn.Linear
defaults, Adam 1e-3 (cosine decay per step to 0, as `--schedule cosine`; --constant for a fixed lr),
batch 128 (last batch partial), 10 epochs on Fashion-MNIST; prints "seed test_accuracy" per seed.
Usage: /usr/bin/python3 tools/torch_mlp_reference.py [--constant] SEED [SEED ...]  (needs python3-torch, numpy)"""
import gzip, struct, sys, torch, numpy as np
def load(p):
    d = gzip.open(p).read()
    magic, n = struct.unpack('>II', d[:8])
    if magic == 2051:
        r, c = struct.unpack('>II', d[8:16]); return np.frombuffer(d[16:], np.uint8).reshape(n, r*c).astype(np.float32)/255
    return np.frombuffer(d[8:], np.uint8).astype(np.int64)
D='/usr/share/datasets/fashion-mnist/'
xtr, ytr = torch.tensor(load(D+'train-images-idx3-ubyte.gz')), torch.tensor(load(D+'train-labels-idx1-ubyte.gz'))
xte, yte = torch.tensor(load(D+'t10k-images-idx3-ubyte.gz')), torch.tensor(load(D+'t10k-labels-idx1-ubyte.gz'))
torch.set_num_threads(1)
constant = '--constant' in sys.argv[1:]
for seed in [int(s) for s in sys.argv[1:] if s != '--constant']:
    torch.manual_seed(seed)
    nn = torch.nn
    m = nn.Sequential(nn.Linear(784,256), nn.ReLU(), nn.Linear(256,256), nn.ReLU(), nn.Linear(256,10))
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    sched = None if constant else torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10 * ((60000 + 127) // 128))
    for ep in range(10):
        perm = torch.randperm(60000)
        for i in range(0, 60000, 128):
            idx = perm[i:i+128]
            opt.zero_grad(); loss = nn.functional.cross_entropy(m(xtr[idx]), ytr[idx]); loss.backward(); opt.step()
            if sched: sched.step()
    with torch.no_grad(): acc = (m(xte).argmax(1) == yte).float().mean().item()
    print(seed, acc, flush=True)
