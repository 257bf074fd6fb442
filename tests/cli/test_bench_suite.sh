#!/bin/bash
# test_bench_suite.sh: tools/bench_suite.py --quick runs end to end and
# writes suite.json with the small MLP's pothole timings (positive, finite)
# and the block ratio, plus suite.md with its table; --case transformer
# runs that case alone, with its PyTorch columns filled (and, with
# --torch-keep-memory, says so in suite.json and the table's header).
# PyTorch columns are checked only when torch is importable. Timing values are not judged here
# (benchmarks report figures; no timed tests).
set -u
P=${PH_POTHOLE:?}
S=${PH_SOURCE_ROOT:?}
[ -x /usr/bin/python3 ] || exit 77
t=$(mktemp -d) || exit 1
trap 'rm -rf "$t"' EXIT
/usr/bin/python3 "$S/tools/bench_suite.py" --pothole "$P" --quick --reps 1 \
  --rounds 1 --out "$t/s" >/dev/null 2>"$t/err" || { cat "$t/err"; exit 1; }
/usr/bin/python3 - "$t/s/suite.json" <<'PY' || exit 1
import json, math, subprocess, sys
s = json.load(open(sys.argv[1]))
r = s["products"]["small MLP"]
for k in ("grad_s", "hvp_s", "ggnvp_s", "eval_s", "hvp_block_s",
          "hvp_block_over_singles", "hvp_gemm_only_s", "ggnvp_over_gemm_only"):
    assert r[k] > 0 and math.isfinite(r[k]), (k, r[k])
assert r["batch"] == 64 and r["model"] == "mlp:64-64:tanh"
assert len(s["load_before"]) == 3
torch = subprocess.run(["/usr/bin/python3", "-c", "import torch"]).returncode == 0
if torch:
    assert r["torch_over_pothole_grad"] > 0, r
else:
    assert "torch_grad_s" not in r
PY
grep -q "small MLP (mlp:64-64:tanh, b64)" "$t/s/suite.md" || { echo "no table row"; exit 1; }
/usr/bin/python3 "$S/tools/bench_suite.py" --pothole "$P" --case transformer \
  --torch-keep-memory --reps 1 --rounds 1 --out "$t/tf" >/dev/null 2>"$t/err" || { cat "$t/err"; exit 1; }
/usr/bin/python3 - "$t/tf/suite.json" <<'PY' || exit 1
import json, math, subprocess, sys
s = json.load(open(sys.argv[1]))
assert list(s["products"]) == ["transformer"] and "grid" not in s, s.keys()
assert s["torch_keep_memory"] is True
r = s["products"]["transformer"]
torch = subprocess.run(["/usr/bin/python3", "-c", "import torch"]).returncode == 0
for k in ["grad", "hvp", "ggnvp", "eval"] if torch else []:
    x = r[f"torch_over_pothole_{k}"]
    assert x > 0 and math.isfinite(x), (k, x)
PY
grep -q "kept freed memory (--torch-keep-memory)" "$t/tf/suite.md" ||
  { echo "the table does not say --torch-keep-memory"; exit 1; }
if /usr/bin/python3 -c "import torch" 2>/dev/null; then
  # the last four columns are PyTorch/pothole for grad, Hv, Gv and eval
  grep "^| transformer " "$t/tf/suite.md" | awk -F'|' '{print $10 $11 $12 $13}' |
    grep -q "–" && { echo "transformer row lacks PyTorch columns"; exit 1; }
fi
/usr/bin/python3 "$S/tools/bench_suite.py" --pothole "$P" --case mlp --out "$t/y" 2>/dev/null
[ $? = 2 ] || { echo "an unknown --case is not a usage error"; exit 1; }
/usr/bin/python3 "$S/tools/bench_suite.py" --pothole "$P" --reps 0 --out "$t/x" 2>/dev/null
[ $? = 2 ] || { echo "--reps 0 is not a usage error"; exit 1; }
exit 0
