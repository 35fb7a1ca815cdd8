#!/usr/bin/env python3
"""scaling_plot.py — the summary CSV and the three-panel SVG of tools/scaling.sh (#17), in plain
Python (no matplotlib).

Usage: scaling_plot.py RAW.csv SUMMARY.csv OUT.svg

RAW.csv: '#' comment lines (the machine), then "round,kind,batch,size,impl,median,min,max,unit,
chunks".  Per (kind, batch, size, impl) the summary holds the median over the rounds of the
per-round medians and the lowest and highest per-round median; the SVG draws the median as a
marker on a line and that range as a whisker.  Panels: samples/s against batch at W=256,
samples/s against width at B=128 (both log x, the second log y), GFLOP/s against n for n x n x n
products.  Both files are written to a temporary file and renamed.
"""
import csv
import math
import os
import sys
from collections import defaultdict

IMPLS = [  # name, legend, colour, marker
    ("clgrad", "clgrad (OpenCL device)", "#1f6fb4", "circle"),
    ("jax", "JAX/XLA (CPU)", "#d3362a", "square"),
    ("openblas", "OpenBLAS sgemm (host)", "#2b9a3e", "triangle"),
]
BATCH_W, WIDTH_B = 256, 128


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def read_raw(path):
    comments, rows = [], []
    with open(path, newline="") as f:
        lines = []
        for line in f:
            (comments if line.startswith("#") else lines).append(line)
    for r in csv.DictReader(lines):
        rows.append(r)
    return [c[1:].strip() for c in comments], rows


def summarize(rows):
    """{(kind, batch, size, impl): (median, lo, hi, rounds, unit)}"""
    acc = defaultdict(list)
    unit = {}
    for r in rows:
        key = (r["kind"], int(r["batch"]) if r["batch"] else 0, int(r["size"]), r["impl"])
        acc[key].append(float(r["median"]))
        unit[key] = r["unit"]
    return {k: (median(v), min(v), max(v), len(v), unit[k]) for k, v in acc.items()}


def write_atomic(path, text):
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def fmt(v):
    if v >= 1e6:
        return f"{v / 1e6:g}M"
    if v >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def nice_step(span, n=5):
    raw = span / n
    p = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * p >= raw:
            return m * p
    return 10 * p


def log_ticks(lo, hi):
    ticks = []
    for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10 ** e
            if lo <= v <= hi:
                ticks.append(v)
    return ticks


def marker(kind, x, y, colour):
    if kind == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.6" fill="{colour}"/>'
    if kind == "square":
        return f'<rect x="{x - 3.3:.1f}" y="{y - 3.3:.1f}" width="6.6" height="6.6" fill="{colour}"/>'
    return (f'<path d="M{x:.1f},{y - 4.4:.1f} L{x + 4.2:.1f},{y + 3.2:.1f} L{x - 4.2:.1f},{y + 3.2:.1f} Z" '
            f'fill="{colour}"/>')


def panel(ox, oy, w, h, title, xlabel, ylabel, xs, series, ylog):
    """series: [(impl, [(x, med, lo, hi)])]; x is always log2-spaced at the given xs."""
    out = []
    ml, mr, mt, mb = 62, 12, 28, 44
    px, py, pw, ph = ox + ml, oy + mt, w - ml - mr, h - mt - mb
    vals = [v for _, pts in series for p in pts for v in p[1:] if v > 0]
    if not vals:
        vals = [1.0, 10.0]
    if ylog:
        lo = min(vals) / 1.3
        hi = max(vals) * 1.3
        ticks = log_ticks(lo, hi)
        if len(ticks) > 8:
            ticks = [t for t in ticks if round(t / 10 ** math.floor(math.log10(t))) in (1, 5)] or ticks
        ymap = lambda v: py + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph
    else:
        lo, hi = 0.0, max(vals) * 1.1
        step = nice_step(hi)
        hi = math.ceil(hi / step) * step
        ticks = [i * step for i in range(int(round(hi / step)) + 1)]
        ymap = lambda v: py + ph - (v - lo) / (hi - lo) * ph
    x0, x1 = math.log2(xs[0]), math.log2(xs[-1])
    pad = 0.35
    xmap = lambda x: px + (math.log2(x) - x0 + pad) / (x1 - x0 + 2 * pad) * pw
    out.append(f'<text x="{px + pw / 2:.1f}" y="{oy + 16}" text-anchor="middle" font-size="13" '
               f'font-weight="bold">{esc(title)}</text>')
    out.append(f'<rect x="{px}" y="{py}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    for t in ticks:
        y = ymap(t)
        out.append(f'<line x1="{px}" y1="{y:.1f}" x2="{px + pw}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        out.append(f'<line x1="{px - 4}" y1="{y:.1f}" x2="{px}" y2="{y:.1f}" stroke="#444"/>')
        out.append(f'<text x="{px - 7}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{fmt(t)}</text>')
    for x in xs:
        X = xmap(x)
        out.append(f'<line x1="{X:.1f}" y1="{py}" x2="{X:.1f}" y2="{py + ph}" stroke="#f0f0f0"/>')
        out.append(f'<line x1="{X:.1f}" y1="{py + ph}" x2="{X:.1f}" y2="{py + ph + 4}" stroke="#444"/>')
        out.append(f'<text x="{X:.1f}" y="{py + ph + 17}" text-anchor="middle" font-size="11">{x}</text>')
    out.append(f'<text x="{px + pw / 2:.1f}" y="{py + ph + 35}" text-anchor="middle" font-size="12">'
               f'{esc(xlabel)}</text>')
    out.append(f'<text x="{ox + 14}" y="{py + ph / 2:.1f}" text-anchor="middle" font-size="12" '
               f'transform="rotate(-90 {ox + 14} {py + ph / 2:.1f})">{esc(ylabel)}</text>')
    for impl, pts in series:
        _, _, colour, mk = next(i for i in IMPLS if i[0] == impl)
        pts = [p for p in pts if p[1] > 0]
        if not pts:
            continue
        d = " ".join(f"{'M' if i == 0 else 'L'}{xmap(x):.1f},{ymap(m):.1f}" for i, (x, m, _, _) in enumerate(pts))
        out.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, m, l, u in pts:
            X = xmap(x)
            if u > l:
                out.append(f'<line x1="{X:.1f}" y1="{ymap(max(l, 1e-9) if ylog else l):.1f}" x2="{X:.1f}" '
                           f'y2="{ymap(u):.1f}" stroke="{colour}" stroke-width="1.2"/>')
            out.append(marker(mk, X, ymap(m), colour))
    return out


def main():
    if len(sys.argv) != 4:
        sys.stderr.write("usage: scaling_plot.py RAW.csv SUMMARY.csv OUT.svg\n")
        return 2
    raw, summary_path, svg_path = sys.argv[1:]
    comments, rows = read_raw(raw)
    s = summarize(rows)
    if not s:
        sys.stderr.write(f"scaling_plot: no measurements in {raw}\n")
        return 1

    lines = [f"# {c}" for c in comments]
    lines.append("kind,batch,size,impl,median,lo,hi,rounds,unit")
    for (kind, b, size, impl), (m, lo, hi, n, unit) in sorted(s.items()):
        lines.append(f"{kind},{b if kind == 'mlp' else ''},{size},{impl},{m:.1f},{lo:.1f},{hi:.1f},{n},{unit}")
    write_atomic(summary_path, "\n".join(lines) + "\n")

    impls = [i[0] for i in IMPLS if any(k[3] == i[0] for k in s)]

    def series(kind, sel, xof):
        res = []
        for impl in impls:
            pts = sorted((xof(k), *v[:3]) for k, v in s.items() if k[0] == kind and k[3] == impl and sel(k))
            if pts:
                res.append((impl, pts))
        return res

    bseries = series("mlp", lambda k: k[2] == BATCH_W, lambda k: k[1])
    wseries = series("mlp", lambda k: k[1] == WIDTH_B, lambda k: k[2])
    gseries = series("gemm", lambda k: True, lambda k: k[2])
    xs = lambda ser: sorted({p[0] for _, pts in ser for p in pts}) or [1, 2]

    W, H, PW, PH, top = 1200, 470, 400, 340, 44
    body = []
    body += panel(0, top, PW, PH, f"MLP 784-{BATCH_W}-{BATCH_W}-10, Adam step", "batch size (log)",
                  "samples/s", xs(bseries), bseries, False)
    body += panel(PW, top, PW, PH, f"MLP 784-W-W-10, batch {WIDTH_B}, Adam step", "hidden width W (log)",
                  "samples/s (log)", xs(wseries), wseries, True)
    body += panel(2 * PW, top, PW, PH, "square GEMM n x n x n, float32", "n (log)", "GFLOP/s",
                  xs(gseries), gseries, False)
    rounds = max(v[3] for v in s.values())
    head = [c for c in comments if c.startswith(("cpu:", "device:"))]
    title = (f"clgrad scaling (#17): median of {rounds} alternating rounds, whiskers: range of the rounds"
             if rounds > 1 else "clgrad scaling (#17): one round (no medians over rounds)")
    body.insert(0, f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">{esc(title)}</text>')
    body.insert(1, f'<text x="{W / 2}" y="37" text-anchor="middle" font-size="11" fill="#444">'
                   f'{esc(" · ".join(head))}</text>')
    # legend
    lx, ly = 70, top + PH + 8
    for impl in impls:
        _, label, colour, mk = next(i for i in IMPLS if i[0] == impl)
        body.append(f'<line x1="{lx}" y1="{ly + 8}" x2="{lx + 26}" y2="{ly + 8}" stroke="{colour}" stroke-width="2"/>')
        body.append(marker(mk, lx + 13, ly + 8, colour))
        body.append(f'<text x="{lx + 32}" y="{ly + 12}" font-size="12">{esc(label)}</text>')
        lx += 60 + 7 * len(label)
    def field(prefix):
        return next((c[len(prefix):].strip() for c in comments if c.startswith(prefix)), "")

    when = field("clgrad scaling curves (#17), tools/scaling.sh,")
    load = field("load average at start:")
    load_end = field("load average at end:").split(",")[0]
    jaxv = field("jax:").split(" (")[0]
    note = [when, f"load average {load} at start, {load_end} at end" if load_end else f"load average {load} at start",
            f"OpenBLAS {field('openblas:').split(';')[0]}"]
    if jaxv and not jaxv.startswith("not"):
        note.append(f"JAX {jaxv}")
    note.append(field("rounds:").split(",")[1].strip() if "," in field("rounds:") else "")
    if field("note:"):
        note.append(field("note:"))
    note = " · ".join(n for n in note if n)
    body.append(f'<text x="{W / 2}" y="{H - 22}" text-anchor="middle" font-size="10.5" fill="#555">'
                f'{esc(note[:200])}</text>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           f'font-family="DejaVu Sans, Helvetica, Arial, sans-serif">\n'
           f'<rect width="{W}" height="{H}" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n")
    write_atomic(svg_path, svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
