#!/bin/sh
# test_cli_potholes.sh: `pothole toy` and `pothole sharpness` end to end on
# toy landscapes: --help, usage errors (exit 2, no output), runtime errors
# (exit 1, one line, no partial output), reproducibility from the seed, and
# closed forms on a quadratic (JSON checks need /usr/bin/python3; without it
# they are skipped, the rest still runs).
set -u
P=${PH_POTHOLE:?PH_POTHOLE not set}
T=$(mktemp -d /tmp/ph_cli_potholes.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() { # expect CODE cmd...
  want=$1; shift
  "$@" >"$T/stdout" 2>"$T/stderr"; got=$?
  [ "$got" = "$want" ] || fail "exit $got (wanted $want): $* : $(cat "$T/stderr")"
  if [ "$want" != 0 ]; then
    [ "$(wc -l <"$T/stderr")" = 1 ] || fail "not one line on stderr: $*"
    grep -q "^pothole " "$T/stderr" || fail "message lacks 'pothole CMD:': $*"
  fi
}

# ---- toy ------------------------------------------------------------------
expect 0 "$P" toy --help
grep -q -- "--seeds S .*default 200" "$T/stdout" || fail "toy --help lacks --seeds default"
grep -q -- "--precond-from HOW .*default fit" "$T/stdout" || fail "toy --help lacks --precond-from default"
expect 2 "$P" toy --landscape pothole2d
expect 2 "$P" toy --landscape nope --out "$T/x"
expect 2 "$P" toy --landscape pothole2d:zz=1 --out "$T/x"
expect 2 "$P" toy --start 1,2,3 --out "$T/x"
expect 2 "$P" toy --sweep depth --out "$T/x"
expect 2 "$P" toy --opt sgd,sgd --out "$T/x"
expect 2 "$P" toy --seeds 0 --out "$T/x"
expect 2 "$P" toy --precond-from magic --out "$T/x"
expect 2 "$P" toy --bogus --out "$T/x"
# the LLQR knobs and the map: bad values are usage errors
expect 2 "$P" toy --ema 1 --out "$T/x"
expect 2 "$P" toy --curvature-floor -1 --out "$T/x"
expect 2 "$P" toy --refresh -1 --out "$T/x"
expect 2 "$P" toy --metric hessian --out "$T/x"
expect 2 "$P" toy --opt sgd,adam --out "$T/x"
expect 2 "$P" toy --map eta,gamma --x 0.01:0.02 --y 0:0.1 --out "$T/x"
expect 2 "$P" toy --map eta --x 0.01:0.02 --y 0:0.1 --out "$T/x"
expect 2 "$P" toy --map eta,rho --x 0.01:0.02 --out "$T/x"
expect 2 "$P" toy --map eta,rho --x 0.01:0.02 --y 0:0.1 --grid 100x100 --out "$T/x"
expect 2 "$P" toy --map beta,K --x 0.5:1 --y 0:10 --out "$T/x"
expect 2 "$P" toy --landscape quadratic --map depth,eta --x 0.1:1 --y 0.01:0.02 --out "$T/x"
expect 2 "$P" toy --grid 3x3 --out "$T/x"
[ ! -e "$T/x" ] || fail "a usage error left output behind"
# runtime failure: a pit too shallow to hold a minimum (exit 1, no output)
expect 1 "$P" toy --landscape pothole2d:d=0.01 --out "$T/y"
[ ! -e "$T/y/escape.csv" ] || fail "a failed toy left escape.csv"

L="pothole2d:a=0.2,b=0.2,cx=2.5,noise=0.02,samples=64"
expect 0 "$P" toy --landscape "$L" --seeds 16 --steps 300 --seed 3 --out "$T/a"
expect 0 "$P" toy --landscape "$L" --seeds 16 --steps 300 --seed 3 --out "$T/b"
expect 0 "$P" toy --landscape "$L" --seeds 16 --steps 300 --seed 4 --out "$T/c"
cmp -s "$T/a/escape.csv" "$T/b/escape.csv" || fail "same seed, different escape.csv"
cmp -s "$T/a/escape.csv" "$T/c/escape.csv" && fail "different seeds, identical escape.csv"
head -1 "$T/a/escape.csv" | grep -q "^optimiser,base,lr,rho,seeds,escape_rate,ci_lo,ci_hi,escaped,trapped" \
  || fail "escape.csv header"
[ "$(wc -l <"$T/a/escape.csv")" = 5 ] || fail "escape.csv should have 4 rows"
for o in sgd sam llqr llqr-sam; do
  [ -f "$T/a/trajectories/$o.npy" ] || fail "missing trajectories/$o.npy"
done
grep -q '"from":	"fit"' "$T/a/toy.json" || fail "toy.json lacks how P was obtained"

# stability: no pit, start in the wide basin, nobody leaves
expect 0 "$P" toy --landscape pothole2d:a=0.2,b=0.2,d=0 --start basin --seeds 20 --steps 1000 --out "$T/s"
awk -F, 'NR > 1 && $6 != 0 { exit 1 }' "$T/s/escape.csv" || fail "an optimiser left the wide basin"

# every knob of `pothole train` reaches the toy and lands in toy.json
expect 0 "$P" toy --landscape "$L" --seeds 4 --steps 60 --refresh 20 --refresh-first k \
  --metric newton --curvature-floor 0.5 --damping 0.01 --ema 0.9 --inner-steps 5 \
  --inner-lr 0.05 --refresh-batch 16 --opt llqr,llqr-sam,sam-matched --out "$T/k"
for o in llqr llqr-sam; do
  [ -f "$T/k/precond/$o.npy" ] || fail "missing precond/$o.npy"
done
head -1 "$T/k/runs.csv" | grep -q "^optimiser,run,outcome,step,final_dist,final_loss,n_refresh,pmin_0,pmin_1" \
  || fail "runs.csv header"
awk -F, '$1 == "llqr" && $7 != 2 { exit 1 }' "$T/k/runs.csv" || fail "llqr: 2 refreshes in 60 steps (K 20, first after K)"

# a map killed midway leaves no map.csv; --resume completes it, equal to a
# map run in one go
M="--landscape pothole2d:a=0.2,b=50,sx=0.1,sy=10,cx=2.5 --opt sam,llqr-sam --seeds 10 --steps 200 --map eta_rel,rho_rel --x 0.5:1.5 --y 0:1 --grid 3x2"
expect 0 "$P" toy $M --out "$T/m1"
expect 0 "$P" toy $M --stop-after 2 --out "$T/m2"
[ ! -e "$T/m2/map.csv" ] && [ -f "$T/m2/map.journal" ] || fail "a stopped map left map.csv or no journal"
expect 2 "$P" toy $M --seeds 11 --resume --out "$T/m2"
expect 0 "$P" toy $M --resume --threads 2 --out "$T/m2"
cmp -s "$T/m1/map.csv" "$T/m2/map.csv" || fail "resumed map differs"
[ ! -e "$T/m2/map.journal" ] || fail "journal left after a complete map"
[ "$(wc -l <"$T/m1/map.csv")" = 13 ] || fail "map.csv: 6 cells x 2 optimisers"
# the regime figure: a PNG of the map; a directory without a map fails
expect 0 "$P" plot regime "$T/m1" --out "$T/m1.png"
[ "$(head -c 4 "$T/m1.png" | od -An -c | tr -d ' ')" = "211PNG" ] || fail "regime: not a PNG"
expect 1 "$P" plot regime "$T/a" --out "$T/none.png"
[ ! -e "$T/none.png" ] || fail "a failed regime plot left a file"

# like-with-like amplification: one row per point, bands printed
expect 0 "$P" toy --landscape pothole2d:a=0.2,b=50,sx=0.1,sy=10,cx=2.5 --sweep like --seeds 10 --out "$T/l"
[ "$(wc -l <"$T/l/amplification_like.csv")" = 31 ] || fail "amplification_like.csv: 3 radii x 10 points"
grep -q "LLQR+SAM / LLQR" "$T/stdout" && grep -q "SAM / GD" "$T/stdout" || fail "--sweep like: no band tables"
expect 2 "$P" toy --landscape quadratic --sweep like --out "$T/l2"
[ ! -e "$T/l2" ] || fail "a refused sweep left output"

# sweep
expect 0 "$P" toy --landscape potholeNd:n=6 --sweep width --values 0.1,0.2 --seeds 8 --out "$T/w"
head -1 "$T/w/amplification.csv" | grep -q "^param,value,pi,predicted,measured,ci_lo,ci_hi" || fail "amplification.csv header"
[ "$(wc -l <"$T/w/amplification.csv")" = 3 ] || fail "amplification.csv rows"

# ---- sharpness --------------------------------------------------------------
expect 0 "$P" sharpness --help
grep -q -- "--rho RHO .*default 0.05" "$T/stdout" || fail "sharpness --help lacks --rho default"
expect 2 "$P" sharpness --landscape quadratic
expect 2 "$P" sharpness --landscape quadratic --ckpt a.ckpt --out "$T/x"
expect 2 "$P" sharpness --landscape quadratic --at 1,2,3 --out "$T/x"
expect 2 "$P" sharpness --landscape quadratic --rho -1 --out "$T/x"
[ ! -e "$T/x" ] || fail "a usage error left output behind"
expect 1 "$P" sharpness --landscape quadratic --precond "$T/none.npy" --out "$T/z"
[ ! -e "$T/z/sharpness.json" ] || fail "a failed sharpness left sharpness.json"
expect 1 "$P" sharpness --landscape rastrigin --precond basin --out "$T/z"
# at the pit's minimum g = 0: the amplification is undefined, said so, no NaN
expect 0 "$P" sharpness --landscape pothole2d:a=0.2,b=0.2,cx=2.5 --at pit --precond basin --out "$T/u"
grep -qi "nan" "$T/stdout" && fail "sharpness printed a NaN"
grep -q "amplification undefined (" "$T/stdout" || fail "sharpness: undefined amplification not reported"
grep -q '"undefined"' "$T/u/sharpness.json" || fail "sharpness.json lacks the reason"

expect 0 "$P" sharpness --landscape quadratic:n=4,lmin=0.5,lmax=4 --at 1,1,1,1 --precond basin --k 2 --out "$T/q"
[ -f "$T/q/sharpness.json" ] && [ -f "$T/q/directions.npy" ] || fail "sharpness outputs"
expect 0 "$P" sharpness --landscape potholeNd:n=5,count=2 --precond basin --at pit --k 3 --seed 1 --out "$T/p1"
expect 0 "$P" sharpness --landscape potholeNd:n=5,count=2 --precond basin --at pit --k 3 --seed 1 --out "$T/p2"
cmp -s "$T/p1/sharpness.json" "$T/p2/sharpness.json" || true # timing differs; numbers checked below

PY=/usr/bin/python3
if ! $PY -c "import json" 2>/dev/null; then
  echo "python3 absent: JSON checks skipped"; exit 0
fi
$PY - "$T" <<'PYEOF' || fail "closed-form checks"
import sys, json
T = sys.argv[1]
q = json.load(open(T + "/q/sharpness.json"))
lam = [0.5 * 8 ** (i / 3) for i in range(4)]        # geometric 0.5..4
assert abs(q["lambda_max"] - 4) < 1e-12, q["lambda_max"]
assert abs(q["top_eigenvalues"][1] - lam[2]) < 1e-12
# fitted P = diag(1/λ): P^{1/2} H P^{1/2} = I, so every π = 1 and μ = 1
assert abs(q["precond_lambda_max"] - 1) < 1e-12
for d in q["directions"]:
    assert abs(d["pi"] - 1) < 1e-12 and abs(d["mu"] - 1) < 1e-12
# average sharpness on a quadratic: σ² tr(H)/2 within 4 standard errors
a = q["average_sharpness"]
exact = a["sigma"] ** 2 * sum(lam) / 2
assert abs(a["mean"] - exact) <= 4 * a["stderr"] + 1e-15, (a, exact)
# SAM sharpness ≥ first-order lower bound ρ‖g‖ and ≤ ρ‖g‖ + ρ²λmax/2
g = (sum((l * 1.0) ** 2 for l in lam)) ** 0.5
rho = q["config"]["rho"]
e = q["sam_sharpness"]["euclidean"]
assert rho * g - 1e-12 <= e <= rho * g + rho * rho * 4 / 2 + 1e-12, e
for k in ("lambda_max", "top_eigenvalues", "precond_lambda_max", "directions",
          "sam_sharpness", "average_sharpness"):
    assert k in q, k
p1 = json.load(open(T + "/p1/sharpness.json"))
p2 = json.load(open(T + "/p2/sharpness.json"))
for k in ("lambda_max", "top_eigenvalues", "directions", "sam_sharpness",
          "average_sharpness"):
    assert p1[k] == p2[k], k                      # reproducible from the seed
assert p1["directions"][0]["pi"] > 10               # a pothole at the pit
t = json.load(open(T + "/a/toy.json"))
assert t["config"]["seeds"] == 16 and t["config"]["seed"] == 3
assert t["config"]["preconditioner"]["from"] == "fit"
assert "seconds" in t["timing"]
PYEOF
echo ok
