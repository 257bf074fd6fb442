#!/usr/bin/python3
"""bench_suite.py: one run timing pothole and PyTorch float64 on the same
shapes (issue 15), written as JSON and a markdown table.

  /usr/bin/python3 tools/bench_suite.py [--pothole build/tools/pothole]
      [--reps 11] [--rounds 3] [--out bench-suite] [--quick]
      [--case NAME ...] [--torch-keep-memory]

Measures, in one run and on one BLAS thread unless stated:
  products  grad, Hv, Gv and eval, and the block of 8 Hv/Gv against 8
            single products (`pothole bench products`), beside PyTorch
            float64 on the exported model and batch
            (tests/bench/products_torch.py), for the small MLP
            (mlp:64-64:tanh on digits, batch 64), the large MLP
            (mlp:256-256:relu on Fashion-MNIST, batch 256), the CNN (cnn on
            Fashion-MNIST, batch 256), the tanh/relu pair at batch 1024
            (pothole only) and the transformer (transformer:d32h2l2 on
            text, 16 sequences of 64 tokens; PyTorch rebuilds its blocks
            with tests/tf/torch_ref.py);
  grid      `pothole slice` points per second on the small tanh model at 1
            and 2 threads against PyTorch (tests/bench/slice_torch.py);
  spectra   SLQ probes per second with --block 1 against --block 8, and
            Lanczos against power iteration (products, seconds).
Beside each MLP/CNN product it times the product's GEMMs alone (the same
shapes through the same BLAS, `ph_net_product_gemms`): product / GEMMs is
the share of everything else, and PyTorch's time over pothole's GEMMs is
the highest PyTorch/pothole ratio reachable with these GEMMs.
Products are timed in process CPU time on both sides (`bench products
--clock cpu`, time.process_time in PyTorch; both one thread): on a loaded
machine wall time charges the time a process waits for a core, more so the
longer an operation runs. Both sides time each kind of product in its own
loop after one untimed call, alternating nothing else in between (so no
product runs right after another that has pushed its data out of the
caches). Thread speed-ups, grid points per second and
spectra are wall time. Every timing is the median over --rounds rounds (pothole and PyTorch
alternate within a round; each round's figure is itself a median of
--reps repetitions, or a multiple of it for products under a millisecond,
see CASES). The machine's load (uptime) is recorded before and after.
PyTorch parts are skipped (null) when torch or numpy is missing.
--torch-keep-memory runs PyTorch's products with glibc's malloc keeping
freed memory (KEEP_MEMORY below says why it matters on this machine);
--case NAME runs only the named product cases.
Writes OUT/suite.json and OUT/suite.md.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"

# name, model, data, batch, torch comparison, repetitions per round as a
# multiple of --reps: products under a millisecond get more, so that every
# median rests on a comparable stretch of time (11 repetitions of a 0.2 ms
# product sample 2 ms of a machine whose load moves over seconds)
CASES = [
    ("small MLP", "mlp:64-64:tanh", "digits", 64, True, 9),
    ("small MLP relu", "mlp:64-64:relu", "digits", 64, True, 9),
    ("large MLP", "mlp:256-256:relu", "fashion-mnist", 256, True, 3),
    ("CNN", "cnn", "fashion-mnist", 256, True, 1),
    ("tanh b1024", "mlp:64-64:tanh", "digits", 1024, False, 3),
    ("relu b1024", "mlp:64-64:relu", "digits", 1024, False, 3),
    ("transformer", "transformer:d32h2l2", "text", 16, True, 1),
]


# Every timed process runs with OPENBLAS_NUM_THREADS=1, pothole as PyTorch.
# pothole sets OpenBLAS to one thread itself, but only after the library
# has started its own idle threads, which spin for a while before they
# sleep: in process CPU time that spin was charged to the first product
# timed (a tanh b1024 gradient 5.0-5.4 ms against 2.9-3.2 ms with the
# variable set, on the quiet machine), and at two threads it competes for
# the cores.
ENV1 = dict(os.environ, OPENBLAS_NUM_THREADS="1")

# --torch-keep-memory: glibc's malloc in PyTorch's products keeps what it
# frees. By default it hands large freed blocks back to the kernel, so
# the next tensor of that size faults its pages in afresh, and on this VM
# a page fault costs about 13 µs (a fresh 1 MiB float64 product: 2.4 ms
# and 165 faults, against 0.28 ms and 18 faults kept). pothole allocates
# its buffers once. Measured at 19:05 UTC (load 3-4): PyTorch's
# transformer Hv 133-191 ms by default against 57-61 ms kept, the CNN's
# Hv 273-327 against 125-147 ms; the small MLP's tensors are below the
# threshold and do not change. Off by default, so that runs compare with
# earlier ones; the run's JSON and table say when it was on.
KEEP_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20),
               "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"bench_suite: {' '.join(cmd)} failed "
                         f"({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def have_torch():
    r = subprocess.run([PY, "-c", "import torch, numpy"], capture_output=True)
    return r.returncode == 0


def load():
    return open("/proc/loadavg").read().split()[:3]


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def products(P, tmp, torch_ok, reps, rounds, cases, torch_env=ENV1):
    out = {}
    env1 = ENV1
    base = reps
    for name, model, data, batch, cmp, mult in cases:
        reps = base * mult
        rows = []
        tor = []
        ex = os.path.join(tmp, name.replace(" ", "_"))
        if cmp and torch_ok:
            ck = ex + ".ckpt"
            run([P, "init", "--model", model, "--data", data, "--out", ck])
            run([P, "export", "--ckpt", ck, "--n", str(batch), "--out", ex])
            run([PY, "-c", "import numpy as np,sys; n=np.load(sys.argv[1]).size;"
                 " np.save(sys.argv[2], np.random.default_rng(1)"
                 ".standard_normal(n))", ex + "/theta.npy", ex + "_v.npy"])
        for _ in range(rounds):
            j = json.loads(run([P, "bench", "products", "--model", model,
                                "--data", data, "--batch", str(batch),
                                "--reps", str(reps), "--block", "8",
                                "--clock", "cpu"], env=env1))
            rows.append(j)
            if cmp and torch_ok:
                t = run([PY, os.path.join(ROOT, "tests/bench/products_torch.py"),
                         ex, ex + "_v.npy", ex + "_ref", "--time", str(reps),
                         "--cpu"],
                        env=torch_env)
                tor.append(json.loads(t.strip().splitlines()[-1]))
        keys = ["grad_s", "hvp_s", "ggnvp_s", "eval_s", "hvp_block_s",
                "ggnvp_block_s", "hvp_block_over_singles",
                "ggnvp_block_over_singles", "grad_gemm_only_s",
                "grad_over_gemm_only", "hvp_gemm_only_s",
                "hvp_over_gemm_only", "ggnvp_gemm_only_s",
                "ggnvp_over_gemm_only"]
        r = {"model": model, "data": data, "batch": batch,
             "n_params": rows[0]["n_params"], "rounds": rounds, "reps": reps}
        for k in keys:
            r[k] = med([x.get(k) for x in rows])
        if tor:
            for k in ["torch_grad_s", "torch_hvp_s", "torch_ggnvp_s",
                      "torch_eval_s"]:
                r[k] = med([x.get(k) for x in tor])
            for k in ["grad", "hvp", "ggnvp", "eval"]:
                r[f"torch_over_pothole_{k}"] = r[f"torch_{k}_s"] / r[f"{k}_s"]
            # the ratio pothole would reach if its product cost its GEMMs
            # alone (same BLAS, same shapes): the ceiling for the targets
            for k in ["grad", "hvp", "ggnvp"]:
                if r.get(f"{k}_gemm_only_s"):
                    r[f"torch_over_gemm_only_{k}"] = (r[f"torch_{k}_s"] /
                                                      r[f"{k}_gemm_only_s"])
        out[name] = r
        print(f"bench_suite: {name} done", file=sys.stderr)
    return out


def threads(P, rounds, reps):
    """One product of the large MLP on 1 and 2 threads (ph_net_set_threads:
    the batch split into fixed chunks), rounds alternating."""
    res = {1: [], 2: []}
    for _ in range(rounds):
        for t in (1, 2):
            res[t].append(json.loads(run(
                [P, "bench", "products", "--model", "mlp:256-256:relu",
                 "--data", "fashion-mnist", "--batch", "256", "--reps",
                 str(reps), "--block", "1", "--threads", str(t)],
                env=ENV1)))
    out = {}
    for k in ("grad_s", "hvp_s", "ggnvp_s"):
        a, b = med([r[k] for r in res[1]]), med([r[k] for r in res[2]])
        out[k] = {"threads_1": a, "threads_2": b, "speedup": a / b}
    return out


def grid(P, tmp, torch_ok, rounds):
    ck = os.path.join(tmp, "grid.ckpt")
    run([P, "init", "--model", "mlp:64-64:tanh", "--data", "digits",
         "--out", ck])
    res = {}
    for th in (1, 2):
        if not torch_ok:
            break
        rs = []
        for _ in range(rounds):
            rs.append(json.loads(run(
                [PY, os.path.join(ROOT, "tests/bench/slice_torch.py"),
                 "--model", "mlp:64-64:tanh", "--data", "digits", "--n",
                 "1024", "--grid", "21x21", "--threads", str(th),
                 "--pothole", P, "--ckpt", ck]).strip().splitlines()[-1]))
        # the ratio of the medians, as for the products: a median of the
        # per-round ratios disagrees with the two medians printed beside it
        # (rounds 470/575 points/s but ratio 1.01 in the 03:38 baseline)
        r = {k: med([x[k] for x in rs])
             for k in ["torch_points_per_second", "pothole_points_per_second"]}
        r["speedup_vs_torch"] = (r["pothole_points_per_second"] /
                                 r["torch_points_per_second"])
        r["rounds"] = [{k: x[k] for k in ["torch_points_per_second",
                                          "pothole_points_per_second"]}
                       for x in rs]
        res[f"threads_{th}"] = r
    return res


def spectra(P, tmp, rounds):
    ck = os.path.join(tmp, "spec.ckpt")
    run([P, "init", "--model", "mlp:64-64:tanh", "--data", "digits",
         "--out", ck])
    res = {}
    for blk in (1, 8):
        secs = []
        for _ in range(rounds):
            o = os.path.join(tmp, f"slq{blk}")
            run([P, "spectrum", "--ckpt", ck, "--n", "1024", "--k", "1",
                 "--density", "--probes", "8", "--steps", "60", "--block",
                 str(blk), "--out", o], env=ENV1)
            j = json.load(open(o + "/spectrum.json"))
            secs.append(j["density"]["seconds"])
        res[f"slq_block_{blk}"] = {"seconds": med(secs),
                                   "probes_per_second": 8 / med(secs)}
    res["slq_block_speedup"] = (res["slq_block_8"]["probes_per_second"] /
                                res["slq_block_1"]["probes_per_second"])
    for meth in ("lanczos", "power"):
        secs, prods = [], []
        for _ in range(rounds):
            o = os.path.join(tmp, meth)
            cmd = [P, "spectrum", "--ckpt", ck, "--n", "1024", "--k", "5",
                   "--method", meth, "--out", o]
            if meth == "power":
                cmd[-2:-2] = ["--max-products", "3000"]
            run(cmd, env=ENV1)
            j = json.load(open(o + "/spectrum.json"))
            secs.append(j["seconds"])
            prods.append(j["products"])
        res[meth] = {"seconds": med(secs), "products": med(prods)}
    return res


def fmt(x, unit=""):
    if x is None:
        return "–"
    if unit == "ms":
        return f"{1e3 * x:.3g} ms"
    return f"{x:.3g}"


def reps_note(s):
    """The products' own repetitions where they differ from --reps (runs
    before the sixth session used --reps everywhere)."""
    more = [f"{r['reps']} for the {name}" for name, r in
            s.get("products", {}).items() if r.get("reps", s["reps"]) != s["reps"]]
    return f" ({', '.join(more)})" if more else ""


def markdown(s):
    L = [f"Run {s['date']} on {s['host']} ({s['cpus']} cores), load before "
         f"{' '.join(s['load_before'])}, after {' '.join(s['load_after'])}; "
         f"pothole {s['pothole_version']}, torch {s.get('torch') or 'absent'}; "
         f"medians of {s['rounds']} rounds × {s['reps']} repetitions"
         + reps_note(s) + "."
         + (" PyTorch's malloc kept freed memory (--torch-keep-memory)."
            if s.get("torch_keep_memory") else ""), ""]
    L += ["| case | grad | Hv | Gv | eval | 8 Hv block / 8 single | "
          "8 Gv block / 8 single | grad / GEMMs | PyTorch/pothole grad | Hv | Gv | eval |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in s["products"].items():
        L.append(
            f"| {name} ({r['model']}, b{r['batch']}) | {fmt(r['grad_s'], 'ms')} | "
            f"{fmt(r['hvp_s'], 'ms')} | {fmt(r['ggnvp_s'], 'ms')} | "
            f"{fmt(r['eval_s'], 'ms')} | {fmt(r['hvp_block_over_singles'])} | "
            f"{fmt(r['ggnvp_block_over_singles'])} | "
            f"{fmt(r.get('grad_over_gemm_only'))} | "
            f"{fmt(r.get('torch_over_pothole_grad'))} | "
            f"{fmt(r.get('torch_over_pothole_hvp'))} | "
            f"{fmt(r.get('torch_over_pothole_ggnvp'))} | "
            f"{fmt(r.get('torch_over_pothole_eval'))} |")
    gm = [(n, r) for n, r in s["products"].items() if r.get("hvp_gemm_only_s")]
    if gm:
        L += ["", "| case | grad / its GEMMs | Hv / its GEMMs | Gv / its GEMMs | "
              "PyTorch grad / pothole's grad GEMMs | Hv | Gv |",
              "|---|---|---|---|---|---|---|"]
        for name, r in gm:
            L.append(f"| {name} | {fmt(r.get('grad_over_gemm_only'))} | "
                     f"{fmt(r.get('hvp_over_gemm_only'))} | "
                     f"{fmt(r.get('ggnvp_over_gemm_only'))} | "
                     f"{fmt(r.get('torch_over_gemm_only_grad'))} | "
                     f"{fmt(r.get('torch_over_gemm_only_hvp'))} | "
                     f"{fmt(r.get('torch_over_gemm_only_ggnvp'))} |")
    th = s.get("threads")
    if th:
        L += ["", "| large MLP (256-256 relu, b256), one product | 1 thread | "
              "2 threads | speed-up |", "|---|---|---|---|"]
        for k, r in th.items():
            L.append(f"| {k[:-2]} | {fmt(r['threads_1'], 'ms')} | "
                     f"{fmt(r['threads_2'], 'ms')} | {fmt(r['speedup'])} |")
    g = s.get("grid") or {}
    if g:
        L += ["", "| grid (mlp:64-64:tanh, digits, n 1024, 21×21) | pothole points/s | "
              "PyTorch points/s | pothole / PyTorch |", "|---|---|---|---|"]
        for th, r in g.items():
            L.append(f"| {th.replace('_', ' ')} | {fmt(r['pothole_points_per_second'])} | "
                     f"{fmt(r['torch_points_per_second'])} | "
                     f"{fmt(r['speedup_vs_torch'])} |")
    sp = s.get("spectra")
    if sp:
        L += ["", "| spectra (mlp:64-64:tanh, n 1024) | seconds | products / probes/s |",
              "|---|---|---|",
              f"| SLQ 8 probes × 60 steps, --block 1 | {fmt(sp['slq_block_1']['seconds'])} | "
              f"{fmt(sp['slq_block_1']['probes_per_second'])} probes/s |",
              f"| SLQ 8 probes × 60 steps, --block 8 | {fmt(sp['slq_block_8']['seconds'])} | "
              f"{fmt(sp['slq_block_8']['probes_per_second'])} probes/s |",
              f"| Lanczos, top 5 | {fmt(sp['lanczos']['seconds'])} | "
              f"{fmt(sp['lanczos']['products'])} products |",
              f"| power iteration, top 5 | {fmt(sp['power']['seconds'])} | "
              f"{fmt(sp['power']['products'])} products |"]
    return "\n".join(L) + "\n"


def write_doc(path, s):
    text = open(path).read()
    b, e = "<!-- bench-suite begin -->", "<!-- bench-suite end -->"
    if b not in text or e not in text:
        print(f"bench_suite: no markers in {path}", file=sys.stderr)
        return 1
    head, rest = text.split(b, 1)
    tail = rest.split(e, 1)[1]
    with open(path, "w") as f:
        f.write(head + b + "\n" + markdown(s) + e + tail)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pothole", default=os.path.join(ROOT, "build/tools/pothole"))
    ap.add_argument("--reps", type=int, default=11)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="bench-suite")
    ap.add_argument("--doc", help="also replace the text between the "
                    "bench-suite markers of this markdown file (docs/performance.md)")
    ap.add_argument("--from", dest="from_json",
                    help="no run: rewrite the table (and --doc) from a suite.json")
    ap.add_argument("--quick", action="store_true",
                    help="the products of the small MLP only (a smoke run)")
    ap.add_argument("--torch-keep-memory", action="store_true",
                    help="run PyTorch's products with glibc's malloc keeping "
                    "freed memory (see KEEP_MEMORY)")
    ap.add_argument("--case", action="append", metavar="NAME",
                    help="only this product case (repeatable; a name from "
                    "CASES, e.g. transformer); no threads, grid or spectra")
    a = ap.parse_args()
    if a.reps < 1 or a.rounds < 1:
        print("bench_suite: --reps and --rounds must be ≥ 1", file=sys.stderr)
        return 2
    names = [c[0] for c in CASES]
    for c in a.case or []:
        if c not in names:
            print(f"bench_suite: no case '{c}' (cases: {', '.join(names)})",
                  file=sys.stderr)
            return 2
    if a.from_json:
        s = json.load(open(a.from_json))
        sys.stdout.write(markdown(s))
        return write_doc(a.doc, s) if a.doc else 0
    P = os.path.abspath(a.pothole)
    torch_ok = have_torch()
    s = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
         "host": os.uname().nodename, "cpus": os.cpu_count(),
         "load_before": load(), "reps": a.reps, "rounds": a.rounds,
         "pothole_version": run([P, "--version"]).strip(),
         "torch_keep_memory": a.torch_keep_memory}
    if torch_ok:
        s["torch"] = run([PY, "-c", "import torch; print(torch.__version__)"]).strip()
    with tempfile.TemporaryDirectory(prefix="ph_suite.") as tmp:
        if a.case:
            cases = [c for c in CASES if c[0] in a.case]
        else:
            cases = CASES[:1] if a.quick else CASES
        torch_env = dict(ENV1, **KEEP_MEMORY) if a.torch_keep_memory else ENV1
        s["products"] = products(P, tmp, torch_ok, a.reps, a.rounds, cases,
                                 torch_env)
        if not a.quick and not a.case:
            s["threads"] = threads(P, a.rounds, a.reps)
            s["grid"] = grid(P, tmp, torch_ok, a.rounds)
            s["spectra"] = spectra(P, tmp, a.rounds)
    s["load_after"] = load()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "suite.json"), "w") as f:
        json.dump(s, f, indent=1)
    with open(os.path.join(a.out, "suite.md"), "w") as f:
        f.write(markdown(s))
    sys.stdout.write(markdown(s))
    return write_doc(a.doc, s) if a.doc else 0


if __name__ == "__main__":
    sys.exit(main())
