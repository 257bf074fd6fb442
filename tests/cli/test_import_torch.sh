#!/bin/sh
# test_import_torch.sh: a model built and initialised in PyTorch, written by
# tools/pothole_from_torch.py and read by `pothole import`, gives the same
# loss and gradient as PyTorch itself (the original module, not a rebuild)
# on pothole's own preprocessed inputs (`pothole export --n`), to 1e-12
# relative. Both sides compute in float64 with the same operations in
# different orders (im2col/GEMM vs PyTorch's kernels), so they differ by a
# few rounding errors per reduction, ~1e-15 relative; 1e-12 leaves three
# orders of margin and still catches any wrong layout or activation (those
# change the loss at 1e-2 and above). Also: the script refuses what the
# engine lacks, with a clear message and no output. Exit 77 without torch.
set -u
P=${PH_POTHOLE:?PH_POTHOLE not set}
PY=/usr/bin/python3
T=$(mktemp -d /tmp/ph_cli_torch.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "${PH_SOURCE_ROOT:?}/tests/common/cli_lib.sh"
S=$PH_SOURCE_ROOT/tools/pothole_from_torch.py
"$PY" -c 'import torch, numpy' 2>/dev/null || { echo "no torch/numpy: skip"; exit 77; }

# Build and initialise in PyTorch; write mlp in-process (write_pothole_model)
# and check the in-process refusals; cnn and bn go through the script's CLI.
"$PY" - "$T" "$PH_SOURCE_ROOT/tools" <<'PYEOF' || fail "building the PyTorch models"
import sys, os, torch
from torch import nn
T = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from pothole_from_torch import write_pothole_model, Unsupported
torch.manual_seed(7)
cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2),
                    nn.Conv2d(4, 6, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2),
                    nn.Flatten(), nn.Linear(24, 12), nn.Tanh(), nn.Linear(12, 10)).double()
mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 20), nn.GELU(), nn.Linear(20, 16),
                    nn.GELU(), nn.Linear(16, 10)).double()
torch.save(cnn, T + "/cnn.pt")
torch.save(mlp, T + "/mlp.pt")
write_pothole_model(mlp, [1, 8, 8], "digits", T + "/mlp")
torch.save(nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.BatchNorm1d(16),
                         nn.ReLU(), nn.Linear(16, 10)), T + "/bn.pt")
refuse = {
    "stride 1": nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(),
                              nn.Flatten(), nn.Linear(64, 10)),
    "one activation throughout": nn.Sequential(
        nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 8), nn.Tanh(),
        nn.Linear(8, 10)),
    "activation after every hidden layer": nn.Sequential(
        nn.Flatten(), nn.Linear(64, 16), nn.Linear(16, 10)),
    "exact erf form": nn.Sequential(nn.Flatten(), nn.Linear(64, 16),
                                    nn.GELU(approximate="tanh"), nn.Linear(16, 10)),
    "last module must be the Linear": nn.Sequential(nn.Flatten(), nn.Linear(64, 10),
                                                    nn.ReLU()),
}
for want, model in refuse.items():
    try:
        write_pothole_model(model, [1, 8, 8], "digits", T + "/refused")
        sys.exit("accepted a model with: " + want)
    except Unsupported as e:
        if want not in str(e):
            sys.exit("message %r lacks %r" % (str(e), want))
    if os.path.exists(T + "/refused"):
        sys.exit("a refused model left output")
PYEOF

expect 0 "$PY" "$S" "$T/cnn.pt" "$T/cnn" --input-shape 1,8,8 --data digits
for m in cnn mlp; do
  expect 0 "$P" import "$T/$m" --out "$T/$m.ckpt"
  expect 0 "$P" export --ckpt "$T/$m.ckpt" --n 300 --out "$T/$m.exp"
  expect 0 "$P" eval --ckpt "$T/$m.ckpt" --n 300 --grad "$T/$m.grad.npy"
  cp "$T/stdout" "$T/$m.eval.json"
done
"$PY" - "$T" <<'PYEOF' || fail "pothole and PyTorch disagree"
import json, sys
import numpy as np, torch
import torch.nn.functional as F
T = sys.argv[1]
for m in ("cnn", "mlp"):
    model = torch.load(f"{T}/{m}.pt")
    x = torch.tensor(np.load(f"{T}/{m}.exp/inputs.npy"))
    y = torch.tensor(np.load(f"{T}/{m}.exp/labels.npy"))
    loss = F.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    g_t = np.concatenate([g.detach().numpy().ravel() for g in grads])
    L_p = json.load(open(f"{T}/{m}.eval.json"))["loss"]
    g_p = np.load(f"{T}/{m}.grad.npy")
    rl = abs(L_p - loss.item()) / abs(loss.item())
    rg = np.linalg.norm(g_p - g_t) / np.linalg.norm(g_t) if g_p.shape == g_t.shape else np.inf
    print(f"{m}: loss {L_p!r} vs PyTorch {loss.item()!r} (rel {rl:.1e}); gradient rel {rg:.1e}")
    if not (rl <= 1e-12 and rg <= 1e-12):
        sys.exit(1)
PYEOF

# The script's CLI refuses what the engine lacks: exit 1, the module named,
# nothing written.
expect 1 "$PY" "$S" "$T/bn.pt" "$T/bn" --input-shape 1,8,8 --data digits
one_line
grep -q "BatchNorm1d) is not a layer pothole's engine has" "$T/stderr" || fail "bn: $(cat "$T/stderr")"
[ ! -e "$T/bn" ] || fail "bn: output written"
echo ok
