#!/bin/sh
# test_formats_h5.sh: `pothole slice --format h5` writes loss-landscape's
# HDF5 layout (Li et al. 2018, github.com/tomgoldstein/loss-landscape;
# docs/formats.md), and `pothole plot` reads loss-landscape surface files.
# The layout is checked with h5py (Debian's python3-h5py under
# /usr/bin/python3) against what plot_surface.py / net_plotter.py /
# projection.py write and plot_2D.py / h52vtp.py read: dataset names,
# dtypes, shapes, axis order, units. Exit 77 without h5py or without HDF5 in
# this pothole.
set -u
P=${PH_POTHOLE:?PH_POTHOLE not set}
PY=/usr/bin/python3
T=$(mktemp -d /tmp/ph_cli_h5.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "${PH_SOURCE_ROOT:?}/tests/common/cli_lib.sh"


"$PY" -c 'import h5py, numpy' 2>/dev/null || { echo "no h5py/numpy: skip"; exit 77; }
expect 0 "$P" train --model mlp:12:tanh --data digits --opt sgd --steps 40 \
  --lr 0.2 --out "$T/run"
"$P" slice --run "$T/run" --dirs pca --grid 9x6 --n 200 --format h5 \
  --out "$T/probe" >/dev/null 2>"$T/stderr"
if grep -q "without HDF5" "$T/stderr"; then echo "built without HDF5: skip"; exit 77; fi
[ -f "$T/probe/surface.h5" ] || fail "probe: $(cat "$T/stderr")"

# A 2-D PCA slice with the trajectory (non-square grid, so an axis swap
# shows), a 1-D random slice on both splits, and the model's tensor layout.
expect 0 "$P" slice --run "$T/run" --dirs pca --grid 9x6 --n 200 --format h5 \
  --out "$T/s2"
expect 0 "$P" slice --ckpt "$T/run/ckpt/final.ckpt" --grid 11 --n 200 \
  --split both --format h5 --out "$T/s1"
expect 0 "$P" export --ckpt "$T/run/ckpt/final.ckpt" --out "$T/exp"

"$PY" - "$T" <<'PYEOF' || fail "layout check"
import csv, json, sys
import h5py, numpy as np
T = sys.argv[1]
def check(c, msg):
    if not c:
        sys.exit("layout: " + msg)

params = json.load(open(T + "/exp/model.json"))["params"]
sl = json.load(open(T + "/s2/slice.json"))
# --- surface file (plot_surface.py's setup_surface_file and crunch) ---
f = h5py.File(T + "/s2/surface.h5", "r")
check(set(f.keys()) == {"dir_file", "xcoordinates", "ycoordinates",
                        "train_loss", "train_acc"}, "surface keys %s" % list(f.keys()))
x, y = f["xcoordinates"][:], f["ycoordinates"][:]
check(x.dtype == np.float64 and x.shape == (9,), "xcoordinates")
check(y.dtype == np.float64 and y.shape == (6,), "ycoordinates")
check(np.array_equal(x, np.load(T + "/s2/x.npy")), "x values")
check(np.array_equal(y, np.load(T + "/s2/y.npy")), "y values")
Z = f["train_loss"][:]
# plot_2D.py contours Z against np.meshgrid(x, y): Z must have that shape,
# and Z[j, i] is the loss at (x[i], y[j]).
X, Y = np.meshgrid(x, y)
check(Z.shape == X.shape == (6, 9), "train_loss shape %s" % (Z.shape,))
check(np.array_equal(Z, np.load(T + "/s2/surface_loss.npy")), "train_loss values")
# accuracy in percent, as evaluation.eval_loss returns it
check(np.allclose(f["train_acc"][:], 100 * np.load(T + "/s2/surface_acc.npy"),
                  rtol=1e-15, atol=0), "train_acc is not in percent")
a = f["train_acc"][:]
check(a.min() >= 0 and a.max() <= 100 and a.max() > 1, "train_acc range")
dfile = f["dir_file"][()]
dfile = dfile.decode() if isinstance(dfile, bytes) else dfile
check(dfile.endswith("directions.h5"), "dir_file %r" % dfile)
# --- direction file (net_plotter.setup_direction, h5_util.write_list) ---
d = h5py.File(T + "/s2/directions.h5", "r")
check({"xdirection", "ydirection", "explained_variance_ratio_"} <= set(d.keys()),
      "direction keys %s" % list(d.keys()))
flat = np.load(T + "/s2/directions.npy")
for k, g in enumerate(["xdirection", "ydirection"]):
    grp = d[g]
    # h5_util.read_list reads grp[str(i)] for i in range(len(grp))
    check(len(grp) == len(params), "%s has %d tensors" % (g, len(grp)))
    parts = [grp[str(i)][:] for i in range(len(grp))]
    for p, t in zip(params, parts):
        check(list(t.shape) == p["shape"], "%s/%s shape %s vs %s" % (g, p["name"], t.shape, p["shape"]))
    check(np.array_equal(np.concatenate([t.ravel() for t in parts]), flat[k]),
          "%s values differ from directions.npy" % g)
ev = d["explained_variance_ratio_"][:]
check(ev.shape == (2,) and np.array_equal(ev, sl["directions"]["explained_variance"]),
      "explained_variance_ratio_")
# --- projection file (projection.project_trajectory) ---
p = h5py.File(T + "/s2/projection.h5", "r")
rows = list(csv.DictReader(open(T + "/s2/trajectory.csv")))
check(set(p.keys()) == {"proj_xcoord", "proj_ycoord"}, "projection keys")
check(np.allclose(p["proj_xcoord"][:], [float(r["x"]) for r in rows], rtol=1e-15, atol=1e-300)
      and len(p["proj_ycoord"]) == len(rows), "projection values")
# --- 1-D file on both splits (plot_1D.py) ---
g = h5py.File(T + "/s1/surface.h5", "r")
check(set(g.keys()) == {"dir_file", "xcoordinates", "train_loss", "train_acc",
                        "test_loss", "test_acc"}, "1-D keys %s" % list(g.keys()))
check(g["train_loss"].shape == (11,) and g["test_loss"].shape == (11,), "1-D shapes")
check(np.array_equal(g["test_loss"][:], np.load(T + "/s1/surface_test_loss.npy")), "test_loss")
check(len(h5py.File(T + "/s1/directions.h5", "r").keys()) == 1, "1-D has xdirection only")

# A surface file as loss-landscape itself writes one: float32 values,
# declared [len(x), len(y)] but filled in meshgrid order, for `pothole plot`.
x = np.linspace(-1, 1, 7); y = np.linspace(-2, 2, 5)
X, Y = np.meshgrid(x, y)
with h5py.File(T + "/ll.h5", "w") as h:
    h["dir_file"] = "model.t7_weights.h5"
    h["xcoordinates"] = x
    h["ycoordinates"] = y
    h["train_loss"] = (X**2 + 3 * Y**2 + 0.5).astype(np.float32).reshape(7, 5)
    h["train_acc"] = np.full((7, 5), 50.0)
with h5py.File(T + "/ll_bad_shape.h5", "w") as h:
    h["xcoordinates"] = x
    h["ycoordinates"] = y
    h["train_loss"] = np.zeros((6, 5))
with h5py.File(T + "/ll_no_x.h5", "w") as h:
    h["train_loss"] = np.zeros((7, 5))
np.save(T + "/ll_ref.npy", (X**2 + 3 * Y**2 + 0.5).astype(np.float32).astype(np.float64))
PYEOF

# Round trip: slice -> h5 -> plot draws the same figure as the slice itself
# (SVG, byte for byte: same numbers, same drawing).
expect 0 "$P" slice --ckpt "$T/run/ckpt/final.ckpt" --grid 9x7 --n 200 --format h5 --out "$T/rt"
expect 0 "$P" plot contour "$T/rt" --out "$T/a.svg"
expect 0 "$P" plot contour "$T/rt/surface.h5" --out "$T/b.svg"
cmp -s "$T/a.svg" "$T/b.svg" || fail "plot of surface.h5 differs from plot of the slice"
expect 0 "$P" plot slice1d "$T/s1" --out "$T/c.svg"
expect 0 "$P" plot slice1d "$T/s1/surface.h5" --out "$T/d.svg"
cmp -s "$T/c.svg" "$T/d.svg" || fail "1-D plot of surface.h5 differs"

# loss-landscape's own file: the plot reads it in meshgrid order. Compare
# with a slice directory holding the same numbers as .npy.
mkdir "$T/ref"
"$PY" -c "
import numpy as np, sys
T = sys.argv[1]
np.save(T + '/ref/surface_loss.npy', np.load(T + '/ll_ref.npy'))
np.save(T + '/ref/x.npy', np.linspace(-1, 1, 7)); np.save(T + '/ref/y.npy', np.linspace(-2, 2, 5))
open(T + '/ref/slice.json', 'w').write('{}')
" "$T" || fail "reference slice"
expect 0 "$P" plot contour "$T/ll.h5" --out "$T/e.svg"
expect 0 "$P" plot contour "$T/ref" --out "$T/f.svg"
cmp -s "$T/e.svg" "$T/f.svg" || fail "loss-landscape file read in the wrong order"

# Wrong layouts: exit 1, one line naming the file and the problem, no output.
expect 1 "$P" plot contour "$T/ll_bad_shape.h5" --out "$T/g.svg"
one_line; grep -q "ll_bad_shape.h5: train_loss has shape \[6, 5\]" "$T/stderr" || fail "$(cat "$T/stderr")"
[ ! -e "$T/g.svg" ] || fail "partial output"
expect 1 "$P" plot contour "$T/ll_no_x.h5" --out "$T/g.svg"
one_line; grep -q "ll_no_x.h5: no dataset 'xcoordinates'" "$T/stderr" || fail "$(cat "$T/stderr")"
printf 'not hdf5' >"$T/junk.h5"
expect 1 "$P" plot contour "$T/junk.h5" --out "$T/g.svg"
one_line; grep -q "junk.h5: not an HDF5 file" "$T/stderr" || fail "$(cat "$T/stderr")"
expect 1 "$P" plot slice1d "$T/ll.h5" --out "$T/g.svg"
one_line
[ ! -e "$T/g.svg" ] || fail "partial output"
echo ok
