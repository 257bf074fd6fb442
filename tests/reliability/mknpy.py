#!/usr/bin/env python3
"""mknpy.py OUT SHAPE VALUES: write a little-endian float64 .npy file with the
standard library only (no numpy). SHAPE like 650 or 3x650; VALUES is
'fill=X' (every entry X) optionally followed by ',I=V' overrides at flat
indices, V one of a float, nan, inf, -inf."""
import struct
import sys

out, shape_s, spec = sys.argv[1], sys.argv[2], sys.argv[3]
shape = tuple(int(s) for s in shape_s.split("x"))
n = 1
for s in shape:
    n *= s
parts = spec.split(",")
fill = float(parts[0].split("=")[1])
vals = [fill] * n
for p in parts[1:]:
    i, v = p.split("=")
    vals[int(i)] = float(v)
shape_txt = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
header = "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }" % shape_txt
pad = 64 - (10 + len(header) + 1) % 64
header = header + " " * pad + "\n"
with open(out, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    f.write(struct.pack("<%dd" % n, *vals))
