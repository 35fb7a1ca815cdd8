#!/usr/bin/env python3
"""torch_probe.py — linear probes in PyTorch on the frozen codes of clgrad encoders (or on raw pixels), as an
independent check of `clgrad adapt --mode probe` and to try probe variants that clgrad does not offer:
standardized features (each feature centred and scaled by its mean and std over the labelled images).

Protocol (tools/adapt_table.sh's): a new linear layer (nn.Linear defaults) trained with Adam lr 1e-3 on the
codes of the encoder's enc.fc* layers (ReLU after each) — 1000 labels (the first 1000 training images),
30 epochs at batch 32, and all 60000 labels, 30 epochs at batch 128; test accuracy on the 10000 test images.
Prints one line per FILE: "name raw_1k raw_60k std_1k std_60k".

Usage: /usr/bin/python3 tools/torch_probe.py [--seed N] [--lr X] FILE.safetensors|pixels ...
(needs python3-torch and numpy; reads safetensors with the json module, not the safetensors package)"""
import gzip, json, struct, sys
import numpy as np
import torch

D = '/usr/share/datasets/fashion-mnist/'


def load_idx(p):
    d = gzip.open(p).read()
    magic, n = struct.unpack('>II', d[:8])
    if magic == 2051:
        r, c = struct.unpack('>II', d[8:16])
        return np.frombuffer(d[16:], np.uint8).reshape(n, r * c).astype(np.float32) / 255
    return np.frombuffer(d[8:], np.uint8).astype(np.int64)


def load_encoder(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    layers = []
    k = 1
    while 'enc.fc%d.weight' % k in header:
        t = []
        for name in ('enc.fc%d.weight' % k, 'enc.fc%d.bias' % k):
            h = header[name]
            assert h['dtype'] == 'F32', name
            a, b = h['data_offsets']
            t.append(torch.tensor(np.frombuffer(data[a:b], np.float32).reshape(h['shape']).copy()))
        layers.append(t)         # weight [in, out] (clgrad's layout), bias [out]
        k += 1
    if not layers:
        sys.exit('torch_probe: %s has no enc.fc1.weight' % path)
    return layers


def codes(layers, x):
    with torch.no_grad():
        for w, b in layers:
            x = torch.relu(x @ w + b)
    return x


def probe(ftr, ytr, fte, yte, epochs, batch, lr, seed):
    torch.manual_seed(seed)
    m = torch.nn.Linear(ftr.shape[1], 10)
    opt = torch.optim.Adam(m.parameters(), lr)
    n = ftr.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(ftr[idx]), ytr[idx]).backward()
            opt.step()
    with torch.no_grad():
        return (m(fte).argmax(1) == yte).float().mean().item()


def main():
    args = sys.argv[1:]
    seed, lr = 1, 1e-3
    while args and args[0].startswith('--'):
        opt = args.pop(0)
        if opt == '--seed':
            seed = int(args.pop(0))
        elif opt == '--lr':
            lr = float(args.pop(0))
        else:
            sys.exit(__doc__)
    if not args:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    xtr = torch.tensor(load_idx(D + 'train-images-idx3-ubyte.gz'))
    ytr = torch.tensor(load_idx(D + 'train-labels-idx1-ubyte.gz'))
    xte = torch.tensor(load_idx(D + 't10k-images-idx3-ubyte.gz'))
    yte = torch.tensor(load_idx(D + 't10k-labels-idx1-ubyte.gz'))
    for path in args:
        if path == 'pixels':
            ftr, fte = xtr, xte
        else:
            layers = load_encoder(path)
            ftr, fte = codes(layers, xtr), codes(layers, xte)
        out = []
        for standardize in (False, True):
            for n, epochs, batch in ((1000, 30, 32), (60000, 30, 128)):
                a, b = ftr[:n], fte
                if standardize:
                    mu, sd = a.mean(0), a.std(0) + 1e-6
                    a, b = (a - mu) / sd, (b - mu) / sd
                out.append(probe(a, ytr[:n], b, yte, epochs, batch, lr, seed))
        print(path, ' '.join('%.4f' % v for v in out), flush=True)


if __name__ == '__main__':
    main()
