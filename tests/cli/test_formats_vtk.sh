#!/bin/sh
# test_formats_vtk.sh: `pothole slice --format vtk` writes surface.vts, a VTK
# XML StructuredGrid that ParaView opens as a 3-D mesh: points (x, y, loss)
# in VTK's structured order (x fastest), point scalars loss / accuracy /
# finite. With the vtk Python module the file is read by VTK's own reader;
# without it, xmllint checks well-formedness and a strict structural check
# (stdlib ElementTree) checks every element, attribute and array size VTK's
# StructuredGrid reader relies on, and the numbers against the .npy files.
# Exit 77 without /usr/bin/python3 + numpy.
set -u
P=${PH_POTHOLE:?PH_POTHOLE not set}
PY=/usr/bin/python3
T=$(mktemp -d /tmp/ph_cli_vtk.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "${PH_SOURCE_ROOT:?}/tests/common/cli_lib.sh"

"$PY" -c 'import numpy' 2>/dev/null || { echo "no numpy: skip"; exit 77; }

expect 0 "$P" init --model mlp:12:tanh --data digits --out "$T/m.ckpt"
expect 0 "$P" slice --ckpt "$T/m.ckpt" --grid 8x5 --n 100 --format vtk --out "$T/s2"
expect 0 "$P" slice --ckpt "$T/m.ckpt" --grid 9 --n 100 --format vtk --out "$T/s1"
expect 2 "$P" slice --ckpt "$T/m.ckpt" --grid 9 --format vtp --out "$T/x"
[ ! -e "$T/x" ] || fail "usage error left output"

if command -v xmllint >/dev/null; then
  xmllint --noout "$T/s2/surface.vts" "$T/s1/surface.vts" || fail "not well-formed XML"
fi

"$PY" - "$T" <<'PYEOF' || fail "VTK check"
import sys
import xml.etree.ElementTree as ET
import numpy as np
T = sys.argv[1]
def check(c, msg):
    if not c:
        sys.exit("vtk: " + msg)

def arrays_by_hand(path, nx, ny):
    """Strict structure of a VTK XML StructuredGrid (ASCII)."""
    root = ET.parse(path).getroot()
    check(root.tag == "VTKFile" and root.get("type") == "StructuredGrid",
          "root is not a StructuredGrid VTKFile")
    check(root.get("byte_order") in ("LittleEndian", "BigEndian"), "byte_order")
    check(root.get("version") is not None, "version")
    kids = list(root)
    check(len(kids) == 1 and kids[0].tag == "StructuredGrid", "one StructuredGrid")
    grid = kids[0]
    ext = "0 %d 0 %d 0 0" % (nx - 1, ny - 1)
    check(grid.get("WholeExtent") == ext, "WholeExtent %s" % grid.get("WholeExtent"))
    pieces = list(grid)
    check(len(pieces) == 1 and pieces[0].tag == "Piece" and pieces[0].get("Extent") == ext,
          "one Piece with the whole extent")
    piece = pieces[0]
    check([c.tag for c in piece] == ["PointData", "Points"], "Piece children")
    pd, pts = piece
    check(pd.get("Scalars") == "loss", "PointData Scalars")
    out = {}
    for da in list(pd) + list(pts):
        check(da.tag == "DataArray", "unexpected element %s" % da.tag)
        check(da.get("format") == "ascii", "format")
        check(da.get("type") in ("Float64", "UInt8"), "type %s" % da.get("type"))
        ncomp = int(da.get("NumberOfComponents", "1"))
        vals = np.array([float(t) for t in da.text.split()])
        check(vals.size == ncomp * nx * ny, "%s has %d values, expected %d"
              % (da.get("Name"), vals.size, ncomp * nx * ny))
        check(np.all(np.isfinite(vals)), "non-finite text in %s" % da.get("Name"))
        out[da.get("Name")] = vals.reshape(nx * ny, ncomp) if ncomp > 1 else vals
    check(len(list(pts)) == 1 and list(pts)[0].get("NumberOfComponents") == "3", "Points")
    check({"loss", "finite", "Points"} <= set(out), "arrays %s" % list(out))
    return out

def arrays_by_vtk(path):
    from vtkmodules.vtkIOXML import vtkXMLStructuredGridReader
    from vtkmodules.util.numpy_support import vtk_to_numpy
    r = vtkXMLStructuredGridReader(); r.SetFileName(path); r.Update()
    g = r.GetOutput()
    pd = g.GetPointData()
    out = {pd.GetArrayName(i): vtk_to_numpy(pd.GetArray(i)) for i in range(pd.GetNumberOfArrays())}
    out["Points"] = vtk_to_numpy(g.GetPoints().GetData())
    out["dims"] = g.GetDimensions()
    return out

try:
    import vtkmodules.vtkIOXML  # noqa: F401
    have_vtk = True
except ImportError:
    have_vtk = False

for case, nx, ny in (("s2", 8, 5), ("s1", 9, 1)):
    d = T + "/" + case
    loss = np.load(d + "/surface_loss.npy").reshape(-1)
    acc = np.load(d + "/surface_acc.npy").reshape(-1)
    x = np.load(d + "/x.npy")
    y = np.load(d + "/y.npy") if ny > 1 else np.zeros(1)
    a = arrays_by_hand(d + "/surface.vts", nx, ny)
    if have_vtk:
        v = arrays_by_vtk(d + "/surface.vts")
        check(tuple(v["dims"]) == (nx, ny, 1), "VTK dimensions %s" % (v["dims"],))
        check(np.array_equal(v["loss"], a["loss"]), "VTK and text disagree")
        a = v
    # values exact (17 significant digits round-trip float64)
    check(np.array_equal(a["loss"], loss), "loss values")
    check(np.array_equal(a["accuracy"], acc), "accuracy values")
    check(np.all(a["finite"] == 1), "finite flags")
    X, Y = np.meshgrid(x, y)  # point j*nx + i at (x[i], y[j]): x fastest
    check(np.array_equal(a["Points"][:, 0], X.ravel()), "point x")
    check(np.array_equal(a["Points"][:, 1], Y.ravel()), "point y")
    check(np.array_equal(a["Points"][:, 2], loss), "point height = loss")
print("checked with", "VTK" if have_vtk else "the structural check")
PYEOF
echo ok
