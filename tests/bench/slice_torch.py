#!/usr/bin/python3
"""slice_torch.py: the PyTorch reference for `pothole slice` timing.

Evaluates the same kind of grid as `pothole slice` -- at each point
theta + x*d1 + y*d2, the mean cross-entropy and accuracy of an MLP on a fixed
evaluation set -- in float64 with no autograd, and reports points per second.
With --pothole BIN --ckpt FILE it also runs `pothole slice` on the same grid
and thread count in the same run and prints both.

  /usr/bin/python3 tests/bench/slice_torch.py --model mlp:256-256:relu \
      --data fashion-mnist --n 1024 --grid 11x11 --threads 1 \
      [--pothole build/tools/pothole --ckpt model.ckpt]

Torch parallelises inside each GEMM (torch.set_num_threads(T)); pothole
parallelises over grid points with single-threaded BLAS. Timings only: the
weights are random (timing does not depend on their values), the inputs are
the real fashion-mnist images (first N of train) or, for digits, standard
normal features of the same shape (64), since only the shape matters here.
Exit 77 when torch or numpy is missing.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

# Torch on Debian calls the system BLAS (OpenBLAS), whose thread count
# torch.set_num_threads does not control: fix it before anything loads BLAS.
def _early_threads(argv):
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


_T = _early_threads(sys.argv)
os.environ["OPENBLAS_NUM_THREADS"] = _T
os.environ["OMP_NUM_THREADS"] = os.environ.get("PH_TORCH_OMP", _T)
os.environ["MKL_NUM_THREADS"] = _T

try:
    import numpy as np
    import torch
except ImportError as e:  # skip cleanly
    print(f"slice_torch.py: {e}; skipping", file=sys.stderr)
    sys.exit(77)


def parse_model(spec):
    # mlp:256-256:relu
    parts = spec.split(":")
    if parts[0] != "mlp" or len(parts) != 3:
        raise SystemExit(f"slice_torch.py: only mlp:H1-H2..:ACT models, got {spec}")
    return [int(h) for h in parts[1].split("-")], parts[2]


def load_data(name, n, seed):
    if name.startswith("fashion-mnist"):
        d = name.split(":", 1)[1] if ":" in name else "/usr/share/datasets/fashion-mnist"
        with gzip.open(os.path.join(d, "train-images-idx3-ubyte.gz")) as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)[:n]
        with gzip.open(os.path.join(d, "train-labels-idx1-ubyte.gz")) as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
        x = x.astype(np.float64) / 255.0
        x = (x - x.mean(0)) / (x.std(0) + 1e-8)
        return x, y.astype(np.int64), 10
    if name == "digits":
        g = np.random.default_rng(seed)
        return g.standard_normal((n, 64)), g.integers(0, 10, n), 10
    raise SystemExit(f"slice_torch.py: unknown data {name}")


def torch_grid(sizes, act, x, y, nx, ny, threads, seed, reps):
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(seed)
    shapes = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        shapes += [(b, a), (b,)]
    n = sum(int(np.prod(s)) for s in shapes)
    theta = torch.randn(n, generator=g, dtype=torch.float64) * 0.05
    d1 = torch.randn(n, generator=g, dtype=torch.float64) * 0.05
    d2 = torch.randn(n, generator=g, dtype=torch.float64) * 0.05
    X = torch.from_numpy(x)
    Y = torch.from_numpy(y)
    f = {"relu": torch.relu, "tanh": torch.tanh}[act]
    xs = torch.linspace(-1, 1, nx, dtype=torch.float64)
    ys = torch.linspace(-1, 1, ny, dtype=torch.float64)
    p = torch.empty(n, dtype=torch.float64)
    best = float("inf")
    loss_sum = 0.0
    with torch.no_grad():
        for _ in range(reps):
            t0 = time.perf_counter()
            for yv in ys:
                for xv in xs:
                    torch.add(theta, d1, alpha=float(xv), out=p)
                    p.add_(d2, alpha=float(yv))
                    h = X
                    off = 0
                    L = len(shapes) // 2
                    for l in range(L):
                        ws, bs = shapes[2 * l], shapes[2 * l + 1]
                        W = p[off:off + ws[0] * ws[1]].view(ws)
                        off += ws[0] * ws[1]
                        b = p[off:off + bs[0]]
                        off += bs[0]
                        h = torch.addmm(b, h, W.t())
                        if l < L - 1:
                            h = f(h)
                    loss = torch.nn.functional.cross_entropy(h, Y)
                    acc = (h.argmax(1) == Y).double().mean()
                    loss_sum += float(loss) + 0 * float(acc)
            best = min(best, time.perf_counter() - t0)
    return n, nx * ny / best, best / (nx * ny)


def pothole_grid(binary, ckpt, data, n, grid, threads):
    out = tempfile.mkdtemp(prefix="ph_slice_bench.")
    cmd = [binary, "slice", "--ckpt", ckpt, "--n", str(n), "--grid", grid,
           "--threads", str(threads), "--dirs", "random", "--out", out]
    if data:
        cmd[3:3] = ["--data", data]
    t0 = time.perf_counter()
    # pothole runs its own threads with one BLAS thread each; with the
    # variable unset OpenBLAS would also start idle threads of its own at
    # load, which spin for a while and compete for the cores
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"slice_torch.py: {' '.join(cmd)} failed: {r.stderr.strip()}")
    with open(os.path.join(out, "slice.json")) as f:
        j = json.load(f)
    subprocess.run(["rm", "-rf", out])
    pps = j["timing"]["points_per_second"]
    return pps, 1.0 / pps, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="mlp:256-256:relu")
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--grid", default="11x11")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reps", type=int, default=2, help="best of REPS (default 2)")
    ap.add_argument("--pothole", help="pothole binary: also time `pothole slice`")
    ap.add_argument("--ckpt", help="checkpoint for --pothole (same model)")
    a = ap.parse_args()
    hidden, act = parse_model(a.model)
    x, y, k = load_data(a.data, a.n, a.seed)
    nx, ny = (int(v) for v in a.grid.split("x"))
    sizes = [x.shape[1]] + hidden + [k]
    n, pps, tpp = torch_grid(sizes, act, x, y, nx, ny, a.threads, a.seed, a.reps)
    res = {"model": a.model, "data": a.data, "n_eval": int(x.shape[0]),
           "n_params": n, "grid": a.grid, "threads": a.threads,
           "torch_version": torch.__version__,
           "torch_points_per_second": pps, "torch_seconds_per_point": tpp}
    if a.pothole:
        if not a.ckpt:
            raise SystemExit("slice_torch.py: --pothole needs --ckpt")
        # best of REPS, as for torch: one run alone swings 3x on a loaded
        # machine, and a best-of against a single run is not a comparison
        ppps, ptpp, wall = max(
            (pothole_grid(a.pothole, a.ckpt, None, a.n, a.grid, a.threads)
             for _ in range(a.reps)), key=lambda r: r[0])
        res.update({"pothole_points_per_second": ppps,
                    "pothole_seconds_per_point": ptpp,
                    "pothole_wall_seconds": wall,
                    "speedup_vs_torch": ppps / pps})
    print(json.dumps(res))


if __name__ == "__main__":
    main()
