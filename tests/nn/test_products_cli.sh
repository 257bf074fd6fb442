#!/usr/bin/env bash
# `pothole eval` products and steps, `export --split test` and `bench
# products`, end to end through the CLI, against independent references.
#
# Reference: softmax regression (`linear`) has closed forms. With
# z = X Wᵀ + b, p = softmax(z), Y one-hot, N examples:
#   L = mean_i −log p_{i,y_i},  ∇_W L = (P − Y)ᵀ X / N,  ∇_b L = mean_i (P − Y),
#   the logits are linear in θ, so H = G = Σ_i J_iᵀ (diag p_i − p_i p_iᵀ) J_i / N
#   and Hv = Gv: dz = X V_Wᵀ + v_b, dp = p⊙dz − p (pᵀdz), Hv_W = dpᵀ X / N,
#   Hv_b = mean_i dp.
# numpy evaluates these from `pothole export` (inputs, labels, θ, parameter
# offsets of the TEST split), so this also checks that export and eval see
# the same examples and parameter order.
#
# Tolerances. Loss, gradient and products are sums of N·C·d ≈ 3·10⁴ rounded
# terms computed in a different order on each side: relative differences of
# ~√(N·C·d)·ε ≈ 4e-14 are expected; we allow 1e-10 (the same bound as the
# PyTorch cross-check), far below any real error (a wrong sign, scale or
# index gives O(1)). Steps: δ solves (M + λI) δ = −g; a backward-stable solve
# leaves a residual ‖(M + λI) δ + g‖ ≤ c·n·ε·(‖M + λI‖·‖δ‖ + ‖g‖); we use
# c = 10 with n = 650. The Riccati and dense solvers agree to ~κ·n·ε, κ the
# condition number of M + λI: for GN, M + λI ≥ λI gives κ ≤ 1 + ‖G‖/λ ≈ 1e2
# here (λ = 0.5), so ≈ 1e-11; we allow 1e-8, which also covers the Newton
# metric (an indefinite H can sit nearer a singular M + λI).
set -u
P=${PH_POTHOLE:?}
PY=/usr/bin/python3
$PY -c "import numpy" 2>/dev/null || { echo "skip: /usr/bin/python3 has no numpy"; exit 77; }
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fail=0
no() { echo "FAIL: $*"; fail=1; }

# ---- softmax regression on the test split: loss, gradient, Hv, Gv, steps
"$P" init --model linear --data digits --seed 3 --out "$t/l.ckpt" >/dev/null || no "init linear"
"$P" export --ckpt "$t/l.ckpt" --split test --n 40 --out "$t/ex" >/dev/null || no "export --split test"
$PY -c "
import numpy as np
n = np.load('$t/ex/theta.npy').size
r = np.random.default_rng(7)
np.save('$t/v.npy', r.standard_normal(n))"
E=(--ckpt "$t/l.ckpt" --split test --n 40)
"$P" eval "${E[@]}" --grad "$t/g.npy" --hvp "$t/v.npy:$t/hv.npy" \
     --ggnvp "$t/v.npy:$t/gv.npy" > "$t/e.json" || no "eval products"
"$P" eval "${E[@]}" --step "$t/d_gn.npy" --metric gn --damping 0.1 --solver dense >/dev/null \
  || no "eval --step gn dense"
"$P" eval "${E[@]}" --step "$t/d_nt.npy" --metric newton --damping 0.1 --solver dense >/dev/null \
  || no "eval --step newton dense"
$PY - "$t" <<'PY' || no "linear model differs from the closed forms"
import json, sys, numpy as np
t = sys.argv[1]
eps = np.finfo(float).eps
m = json.load(open(t + "/ex/model.json"))
e = json.load(open(t + "/e.json"))
th = np.load(t + "/ex/theta.npy")
X = np.load(t + "/ex/inputs.npy"); X = X.reshape(X.shape[0], -1)
y = np.load(t + "/ex/labels.npy")
N, d = X.shape; C = m["n_classes"]; n = th.size
ps = {p["name"]: p for p in m["params"]}
dense = [l for l in m["layers"] if l["type"] == "dense"]
assert len(dense) == 1 and dense[0]["in"] == d and dense[0]["out"] == C, m["layers"]
wo, bo = ps[dense[0]["weight"]]["offset"], ps[dense[0]["bias"]]["offset"]
def split(v): return v[wo:wo + C * d].reshape(C, d), v[bo:bo + C]
def join(gw, gb):
    out = np.zeros(n); out[wo:wo + C * d] = gw.ravel(); out[bo:bo + C] = gb; return out
W, b = split(th)
z = X @ W.T + b
z -= z.max(axis=1, keepdims=True)
p = np.exp(z); p /= p.sum(axis=1, keepdims=True)
Y = np.eye(C)[y]
L = -np.mean(np.log(p[np.arange(N), y]))
g = join((p - Y).T @ X / N, (p - Y).mean(axis=0))
def hv(v):
    vw, vb = split(v)
    dz = X @ vw.T + vb
    dp = p * dz - p * (p * dz).sum(axis=1, keepdims=True)
    return join(dp.T @ X / N, dp.mean(axis=0))
v = np.load(t + "/v.npy")
rel = lambda a, r: np.linalg.norm(a - r) / np.linalg.norm(r)
errs = {"loss": abs(e["loss"] - L) / abs(L), "grad": rel(np.load(t + "/g.npy"), g),
        "hvp": rel(np.load(t + "/hv.npy"), hv(v)), "ggnvp": rel(np.load(t + "/gv.npy"), hv(v))}
ok = e["n_examples"] == N == 40 and e["n_params"] == n and e["split"] == "test"
ok &= abs(e["accuracy"] - np.mean(p.argmax(axis=1) == y)) < 1e-15
ok &= all(v < 1e-10 for v in errs.values())
# dense M = H = G from n products with the unit vectors; the steps
M = np.stack([hv(col) for col in np.eye(n)], axis=1)
A = M + 0.1 * np.eye(n)
for f in ("d_gn", "d_nt"):
    dl = np.load(t + "/" + f + ".npy")
    res = np.linalg.norm(A @ dl + g)
    bound = 10 * n * eps * (np.linalg.norm(A, 2) * np.linalg.norm(dl) + np.linalg.norm(g))
    errs[f + "_residual/bound"] = res / bound
    ok &= res <= bound
print("linear:", {k: "%.2e" % v for k, v in errs.items()})
sys.exit(0 if ok else 1)
PY

# ---- MLP: Gv is positive semi-definite (H_z of softmax CE is), differs
# from Hv away from a minimum; the Riccati step equals the dense one
"$P" init --model mlp:8:tanh --data digits --seed 4 --out "$t/m.ckpt" >/dev/null || no "init mlp"
$PY -c "
import numpy as np
r = np.random.default_rng(8)
for k in range(3): np.save('$t/u%d.npy' % k, r.standard_normal(610))"
for k in 0 1 2; do
  "$P" eval --ckpt "$t/m.ckpt" --n 100 --ggnvp "$t/u$k.npy:$t/gu$k.npy" \
       --hvp "$t/u$k.npy:$t/hu$k.npy" >/dev/null || no "mlp products"
done
for mt in gn newton; do
  for sv in dense riccati; do
    "$P" eval --ckpt "$t/m.ckpt" --n 50 --step "$t/s_${mt}_$sv.npy" --metric $mt \
         --damping 0.5 --solver $sv >/dev/null || no "mlp --step $mt $sv"
  done
done
$PY - "$t" <<'PY' || no "mlp products or steps"
import sys, numpy as np
t = sys.argv[1]
eps = np.finfo(float).eps
ok = True
for k in range(3):
    u, gu, hu = (np.load("%s/%s%d.npy" % (t, s, k)) for s in ("u", "gu", "hu"))
    q = u @ gu
    # q ≥ 0 up to the rounding of a 610-term dot product
    ok &= q >= -10 * u.size * eps * np.abs(u) @ np.abs(gu)
    ok &= np.linalg.norm(gu - hu) > 1e-6 * np.linalg.norm(hu)
    print("mlp: uᵀGu = %.3e, |Gu − Hu|/|Hu| = %.2e" % (q, np.linalg.norm(gu - hu) / np.linalg.norm(hu)))
for mt in ("gn", "newton"):
    a, b = (np.load("%s/s_%s_%s.npy" % (t, mt, s)) for s in ("dense", "riccati"))
    r = np.linalg.norm(a - b) / np.linalg.norm(a)
    print("mlp: %s step riccati vs dense %.2e" % (mt, r))
    ok &= r < 1e-8
sys.exit(0 if ok else 1)
PY

# ---- bench products: complete, consistent JSON (numbers not asserted)
"$P" bench products --model mlp:16:tanh --data digits --batch 16 --reps 3 --seed 2 > "$t/b.json" \
  || no "bench products"
$PY - "$t/b.json" <<'PY' || no "bench JSON: $(cat "$t/b.json")"
import json, sys
b = json.load(open(sys.argv[1]))
ok = b["model"] == "mlp:16:tanh" and b["batch"] == 16 and b["reps"] == 3 and b["seed"] == 2
ok &= b["n_params"] == 64 * 16 + 16 + 16 * 10 + 10
ok &= all(b[k] > 0 for k in ("grad_s", "hvp_s", "ggnvp_s", "grad_gemm_only_s"))
ok &= abs(b["hvp_over_grad"] - b["hvp_s"] / b["grad_s"]) <= 1e-12 * b["hvp_over_grad"]
ok &= abs(b["ggnvp_over_grad"] - b["ggnvp_s"] / b["grad_s"]) <= 1e-12 * b["ggnvp_over_grad"]
ok &= b["tool"] == "pothole" and "version" in b
sys.exit(0 if ok else 1)
PY

# ---- failures: one line, right exit code, nothing written
"$P" init --model cnn:c2k3-p2:tanh --data digits --out "$t/c.ckpt" >/dev/null || no "init cnn"
"$P" eval --ckpt "$t/c.ckpt" --n 10 --step "$t/x.npy" --solver riccati >/dev/null 2>"$t/err"
[ $? = 1 ] || no "riccati on a CNN: exit"
[ "$(wc -l < "$t/err")" = 1 ] || no "riccati on a CNN: not one line: $(cat "$t/err")"
[ -e "$t/x.npy" ] && no "riccati on a CNN left $t/x.npy"
"$P" eval --ckpt "$t/l.ckpt" --data spirals --n 5 --grad "$t/x.npy" >/dev/null 2>"$t/err"
[ $? = 1 ] || no "data of another shape: exit"
[ -e "$t/x.npy" ] && no "data of another shape left output"
"$P" eval --ckpt "$t/l.ckpt" --n 10 --step "$t/x.npy" --damping -1 >/dev/null 2>&1
[ $? = 2 ] || no "negative damping: exit"
"$P" eval --ckpt "$t/l.ckpt" --hvp "$t/v.npy" >/dev/null 2>&1; [ $? = 2 ] || no "--hvp without OUT"
"$P" bench products --model mlp:8:tanh --data digits --batch 0 >/dev/null 2>&1
[ $? = 2 ] || no "bench --batch 0"
"$P" bench nosuch >/dev/null 2>&1; [ $? = 2 ] || no "bench unknown subcommand"
"$P" bench --help >/dev/null || no "bench --help"
exit $fail
