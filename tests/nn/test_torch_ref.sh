#!/usr/bin/env bash
# Loss, gradient, Hv and Gv of pothole's engine against PyTorch float64 on
# the same exported model and inputs (tests/bench/products_torch.py: Hv by
# double backward, Gv as Jᵀ H_z J v with J v by the double-vjp trick): an
# MLP and a CNN on digits; an MLP and a linear model on one-hot tokens,
# per-position cross-entropy with ignored positions; an MLP with residual
# blocks; and transformers (tests/tf/torch_ref.py's block) on copy, where
# half the positions have no target, and on text at the benchmark's shape.
# Agreement to 1e-10 relative: both sides are exact to rounding, and every
# entry comes from a chain of a few sums of at most ~1e4 terms (the longest
# are the transformer's weight gradients, over N·T = 4,096 positions, fed
# by sums over d_ff = 128 or V = 81), so even the worst-case bound, the sum
# of the lengths times ε, is ~1e-12; the errors measured are 2e-16 to 2e-15. A wrong transformer
# rebuild moves the products by 1e-3 or more (measured on the copy case: no
# causal mask 3e-2, ignored positions counted in Gv's mean 0.34, LN eps
# 1e-6 instead of 1e-5 1.5e-3).
set -u
P=${PH_POTHOLE:?}
SRC=${PH_SOURCE_ROOT:?}
/usr/bin/python3 -c "import torch, numpy" 2>/dev/null || { echo "skip: no torch"; exit 77; }
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fail=0
for md in mlp:32-16:tanh@digits cnn:c4k3-p2-c6k3-a2:softplus@digits \
          mlp:12:gelu@copy linear@modadd:7 mlp:24-r24-r24:gelu@digits \
          transformer:d16h2l2@copy transformer:d32h2l2@text; do
  model=${md%@*} data=${md#*@}
  "$P" init --model "$model" --data "$data" --seed 5 --out "$t/m.ckpt" >/dev/null || exit 1
  "$P" export --ckpt "$t/m.ckpt" --n 64 --out "$t/ex" >/dev/null || exit 1
  /usr/bin/python3 -c "import numpy as np; n=np.load('$t/ex/theta.npy').size; np.save('$t/v.npy', np.random.default_rng(1).standard_normal(n))"
  "$P" eval --ckpt "$t/m.ckpt" --n 64 --grad "$t/g.npy" --hvp "$t/v.npy:$t/hv.npy" \
      --ggnvp "$t/v.npy:$t/gv.npy" > "$t/eval.json" || exit 1
  /usr/bin/python3 "$SRC/tests/bench/products_torch.py" "$t/ex" "$t/v.npy" "$t/ref" || exit 1
  /usr/bin/python3 - "$t" "$model" <<'PY' || fail=1
import json, sys, numpy as np
t, model = sys.argv[1], sys.argv[2]
L = json.load(open(t + "/eval.json"))["loss"]
Lr = np.load(t + "/ref_loss.npy")[0]
e = [abs(L - Lr) / abs(Lr)]
for ours, ref in [("g", "grad"), ("hv", "hvp"), ("gv", "ggnvp")]:
    a, b = np.load(f"{t}/{ours}.npy"), np.load(f"{t}/ref_{ref}.npy")
    e.append(np.linalg.norm(a - b) / np.linalg.norm(b))
print(model, "relative errors loss %.2e grad %.2e hvp %.2e ggnvp %.2e" % tuple(e))
sys.exit(0 if max(e) < 1e-10 else 1)
PY
done
exit $fail
