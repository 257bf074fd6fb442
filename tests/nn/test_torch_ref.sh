#!/usr/bin/env bash
# Loss, gradient and Hv of pothole's engine against PyTorch float64 double
# backward on the same exported model and inputs (an MLP and a CNN on
# digits; an MLP and a linear model on one-hot tokens, per-position
# cross-entropy with ignored positions; an MLP with residual blocks). Agreement to 1e-10 relative: both
# are exact to rounding, and the
# products are sums of ~1e4 terms, so rounding differences stay near 1e-13.
set -u
P=${PH_POTHOLE:?}
SRC=${PH_SOURCE_ROOT:?}
/usr/bin/python3 -c "import torch, numpy" 2>/dev/null || { echo "skip: no torch"; exit 77; }
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fail=0
for md in mlp:32-16:tanh@digits cnn:c4k3-p2-c6k3-a2:softplus@digits \
          mlp:12:gelu@copy linear@modadd:7 mlp:24-r24-r24:gelu@digits; do
  model=${md%@*} data=${md#*@}
  "$P" init --model "$model" --data "$data" --seed 5 --out "$t/m.ckpt" >/dev/null || exit 1
  "$P" export --ckpt "$t/m.ckpt" --n 64 --out "$t/ex" >/dev/null || exit 1
  /usr/bin/python3 -c "import numpy as np; n=np.load('$t/ex/theta.npy').size; np.save('$t/v.npy', np.random.default_rng(1).standard_normal(n))"
  "$P" eval --ckpt "$t/m.ckpt" --n 64 --grad "$t/g.npy" --hvp "$t/v.npy:$t/hv.npy" > "$t/eval.json" || exit 1
  /usr/bin/python3 "$SRC/tests/bench/products_torch.py" "$t/ex" "$t/v.npy" "$t/ref" || exit 1
  /usr/bin/python3 - "$t" "$model" <<'PY' || fail=1
import json, sys, numpy as np
t, model = sys.argv[1], sys.argv[2]
L = json.load(open(t + "/eval.json"))["loss"]
Lr = np.load(t + "/ref_loss.npy")[0]
g, gr = np.load(t + "/g.npy"), np.load(t + "/ref_grad.npy")
h, hr = np.load(t + "/hv.npy"), np.load(t + "/ref_hvp.npy")
e = [abs(L - Lr) / abs(Lr), np.linalg.norm(g - gr) / np.linalg.norm(gr),
     np.linalg.norm(h - hr) / np.linalg.norm(hr)]
print(model, "relative errors loss %.2e grad %.2e hvp %.2e" % tuple(e))
sys.exit(0 if max(e) < 1e-10 else 1)
PY
done
exit $fail
