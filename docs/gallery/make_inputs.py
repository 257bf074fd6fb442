#!/usr/bin/python3
"""Hand-made inputs for the gallery (docs/figures.md), in the formats the
slice, spectrum, train and toy commands write. Synthetic numbers, fixed seed:
they show what each figure looks like, not results.
Usage: make_inputs.py DIR"""
import json
import os
import sys

import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "gallery-inputs"
rng = np.random.default_rng(0)


def path(*p):
    f = os.path.join(out, *p)
    os.makedirs(os.path.dirname(f), exist_ok=True)
    return f


# 2-D slice: a bowl with a narrow pothole, entry [j, i] at (x[i], y[j])
x = np.linspace(-1, 1, 41)
y = np.linspace(-1, 1, 41)
X, Y = np.meshgrid(x, y)
Z = (1.3 + 1.2 * X**2 + 0.6 * Y**2 + 0.4 * np.sin(3 * X) * np.cos(2 * Y)
     - 0.8 * np.exp(-((X - 0.45)**2 + (Y + 0.3)**2) / 0.02))
np.save(path("slice", "surface_loss.npy"), Z)
np.save(path("slice", "surface_acc.npy"), 1 - Z / Z.max())
np.save(path("slice", "x.npy"), x)
np.save(path("slice", "y.npy"), y)
json.dump({"directions": "filter-normalised", "grid": [41, 41]},
          open(path("slice", "slice.json"), "w"))
t = np.linspace(0, 1, 30)
with open(path("slice", "trajectory.csv"), "w") as f:
    f.write("step,x,y,loss_at_point,off_plane\n")
    for i in range(30):
        f.write(f"{i * 10},{-0.8 + 1.25 * t[i] + 0.05 * np.sin(12 * t[i])},"
                f"{0.7 - t[i]},1,{0.3 * (1 - t[i]) + 0.02}\n")

# 1-D slice with its quadratic model
a = np.linspace(-1, 1, 61)
L = 0.2 + 0.9 * a**2 + 0.3 * a**3 + 0.05 * np.sin(9 * a)
with open(path("slice1d", "slice1d.csv"), "w") as f:
    f.write("alpha,loss,quadratic\n")
    for i in range(61):
        f.write(f"{a[i]},{L[i]},{0.2 + 0.9 * a[i]**2}\n")

# spectra, local and preconditioned
for name, sc, op in [("spec_local", 1.0, "hessian"),
                     ("spec_precond", 0.25, "precond-hessian")]:
    ev = sorted((sc * np.array([40, 22, 15, 9, 6.5, 5, 3.8, 3.1, 2.2, 1.7])).tolist(),
                reverse=True)
    json.dump({"operator": op, "eigenvalues": ev,
               "residual_bounds": [0.03 * e for e in ev]},
              open(path(name, "spectrum.json"), "w"))
    tt = np.linspace(-2 * sc, 45 * sc, 300)
    d = (np.exp(-(tt / (0.5 * sc))**2) * 10 / sc
         + 0.02 * np.exp(-tt / (10 * sc)) * (tt > 0) / sc + 1e-6)
    with open(path(name, "density.csv"), "w") as f:
        f.write("t,density,band_lo,band_hi\n")
        for i in range(300):
            f.write(f"{tt[i]},{d[i]},{d[i] * 0.6},{d[i] * 1.5}\n")

# training runs (test metrics every 100 steps, empty elsewhere)
for k, opt in enumerate(["sgd", "sam", "llqr", "llqr-sam"]):
    json.dump({"optimizer": opt, "seed": 1}, open(path("run_" + opt, "run.json"), "w"))
    with open(path("run_" + opt, "log.csv"), "w") as f:
        f.write("step,epoch,lr,train_loss,train_acc,test_loss,test_acc,grad_norm,update_norm\n")
        for s in range(0, 1001, 20):
            tl = 2.3 * np.exp(-s / (200 + 60 * k)) + 0.05 + 0.01 * rng.random()
            ev = s % 100 == 0
            f.write(f"{s},{s // 100},0.1,{tl},{1 - tl / 2.5},"
                    f"{tl * 1.1 + 0.03 if ev else ''},{1 - tl / 2.3 if ev else 'nan'},1,0.1\n")

# toy: escape rates, trajectories [seed, step, dim], amplification
with open(path("toy", "escape.csv"), "w") as f:
    f.write("optimizer,escape_rate,ci_lo,ci_hi,median_escape_step,final_loss_mean,final_loss_std\n")
    for opt, r in [("sgd", 0.12), ("sam", 0.55), ("llqr", 0.38), ("llqr-sam", 0.81)]:
        f.write(f"{opt},{r},{max(r - 0.09, 0)},{min(r + 0.09, 1)},120,0.3,0.05\n")
        T = np.zeros((3, 60, 2))
        for s in range(3):
            p = np.array([0.45, -0.3]) + 0.03 * rng.standard_normal(2)
            for i in range(60):
                T[s, i] = p
                p = p + np.array([-0.02 * (1 + r), 0.012 * (s - 1)]) + 0.008 * rng.standard_normal(2)
        np.save(path("toy", "trajectories", opt + ".npy"), T)
with open(path("toy", "amplification.csv"), "w") as f:
    f.write("pi,predicted,measured,ci_lo,ci_hi\n")
    for p in [0.5, 1, 2, 4, 8, 16]:
        m = p * (1 + 0.1 * rng.standard_normal())
        f.write(f"{p},{p},{m},{m * 0.85},{m * 1.15}\n")
