#!/usr/bin/env bash
# `pothole train` end to end: outputs, bit-identical resume (after a stop and
# after SIGKILL), divergence guard, usage errors.
set -u
P=${PH_POTHOLE:?}
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fail=0
no() { echo "FAIL: $*"; fail=1; }
args=(--model mlp:16:tanh --data digits --opt llqr-sam --steps 120 --batch 32
      --refresh 10 --inner-steps 5 --ckpt-every 20 --seed 3)
"$P" train "${args[@]}" --out "$t/a" >/dev/null || no "plain run"
for f in run.json log.csv trajectory.npy precond.npy precond.json ckpt/final.ckpt; do
  [ -f "$t/a/$f" ] || no "missing $f"
done
grep -q '"train_loss"' "$t/a/run.json" || no "run.json lacks final.train_loss"
# stop after step 50 (the last checkpoint is at 40), then resume
"$P" train "${args[@]}" --out "$t/b" --stop-after 50 >/dev/null 2>&1 && no "stop hook exit 0"
"$P" train "${args[@]}" --out "$t/b" --resume >/dev/null || no "resume"
cmp -s "$t/a/log.csv" "$t/b/log.csv" || no "resumed log.csv differs"
cmp -s "$t/a/trajectory.npy" "$t/b/trajectory.npy" || no "resumed trajectory differs"
cmp -s "$t/a/precond.npy" "$t/b/precond.npy" || no "resumed preconditioner differs"
# the trust region is on by default and in log.csv; with a tight cap it
# lowers entries, and a resume from a checkpoint taken between a refresh and
# the log row it reports to (ckpt at 21, refresh at step 21, rows at 18, 24)
# still writes the same log
hdr=$(head -1 "$t/a/log.csv")
case $hdr in *,trust_capped,u_max_before,u_max_after,step_ratio) ;; *) no "log.csv header: $hdr";; esac
grep -q '"trust_cap":[[:space:]]*10' "$t/a/run.json" || no "run.json lacks llqr.trust_cap 10"
# every row (the step-0 row too) has the header's number of fields
awk -F, 'NR == 1 { n = NF } NF != n { print FILENAME ":" NR ": " NF " fields, header " n; bad = 1 }
  END { exit bad }' "$t/a/log.csv" || no "log.csv rows and header disagree"
# the step cap (train's default 1) is in run.json, and step_ratio is
# logged for llqr (a number, not nan, after the first step)
grep -q '"step_cap":[[:space:]]*1' "$t/a/run.json" || no "run.json lacks llqr.step_cap 1"
awk -F, 'NR > 2 && $20 + 0 > 0 { ok = 1 } END { exit !ok }' "$t/a/log.csv" ||
  no "log.csv step_ratio is not logged"
cap=("${args[@]}" --trust-cap 2 --ckpt-every 21)
"$P" train "${cap[@]}" --out "$t/ta" >/dev/null || no "capped run"
awk -F, 'NR > 1 && $17 > 0 && $18 > $19 { ok = 1 } END { exit !ok }' "$t/ta/log.csv" ||
  no "--trust-cap 2 never capped (or max after >= max before)"
"$P" train "${cap[@]}" --out "$t/tb" --stop-after 30 >/dev/null 2>&1 && no "stop hook exit 0 (cap)"
"$P" train "${cap[@]}" --out "$t/tb" --resume >/dev/null || no "resume (cap)"
cmp -s "$t/ta/log.csv" "$t/tb/log.csv" || no "capped run: resumed log.csv differs"
cmp -s "$t/ta/precond.npy" "$t/tb/precond.npy" || no "capped run: resumed preconditioner differs"
"$P" train --model mlp:8:tanh --data digits --opt llqr --steps 5 --trust-cap 0.5 --out "$t/u" >/dev/null 2>&1
[ $? = 2 ] || no "--trust-cap 0.5 not a usage error"
# the curvature watch: curvature.csv and events.csv, exact after a resume
# (the watch at step 40 is taken before the checkpoint at 40; the stop at 50
# replays 41..50 from it, including the warm-start vectors)
wat=("${args[@]}" --watch-every 10 --watch-n 64 --event-pi 1)
"$P" train "${wat[@]}" --out "$t/wa" >/dev/null || no "watched run"
[ "$(wc -l < "$t/wa/curvature.csv")" = 14 ] || no "curvature.csv: $(wc -l < "$t/wa/curvature.csv") lines, want 13 watches + header"
head -1 "$t/wa/curvature.csv" | grep -q '^step,lr,momentum,loss,lmax_h,lmax_pc,pi_1,pi_2,pi_3,kappa_loc,trace,trace_se,lmax_fc0.weight,lmax_fc1.weight,products$' ||
  no "curvature.csv header: $(head -1 "$t/wa/curvature.csv")"
# --event-pi 1: π_1 of a fitted P is above 1 from the start, so one event
[ "$(wc -l < "$t/wa/events.csv")" -ge 2 ] || no "no event at --event-pi 1"
# the step-0 watch comes before the first refresh (P = I, π₁ = λmax(H)): it
# is recorded in curvature.csv but is never a pothole event
awk -F, 'NR == 2 { exit !($1 >= 1) }' "$t/wa/events.csv" || no "an event at step 0, before the first refresh"
"$P" train "${wat[@]}" --out "$t/wb" --stop-after 50 >/dev/null 2>&1 && no "stop hook exit 0 (watch)"
"$P" train "${args[@]}" --out "$t/wb" --resume >/dev/null 2>"$t/err" && no "resume without --watch-every accepted"
grep -q "watch-every" "$t/err" || no "resume without --watch-every: $(cat "$t/err")"
"$P" train "${wat[@]}" --out "$t/wb" --resume >/dev/null || no "resume (watch)"
for f in curvature.csv events.csv log.csv; do
  cmp -s "$t/wa/$f" "$t/wb/$f" || no "watched run: resumed $f differs"
done
"$P" plot curvature "$t/wa" --out "$t/curv.png" >/dev/null || no "plot curvature"
[ "$(head -c 4 "$t/curv.png" | od -An -c | tr -d ' ')" = "211PNG" ] || no "plot curvature: not a PNG"
"$P" plot curvature "$t/a" --out "$t/curv2.png" >/dev/null 2>"$t/err"
rc=$?; [ $rc = 1 ] || no "plot curvature without curvature.csv: exit $rc"
grep -q "curvature.csv" "$t/err" || no "plot curvature error does not name the file: $(cat "$t/err")"
[ -e "$t/curv2.png" ] && no "plot curvature wrote a file on failure"
"$P" train --model mlp:8:tanh --data digits --opt sgd --steps 4 --watch-every 2 --out "$t/ws" >/dev/null || no "sgd watch"
[ -f "$t/ws/curvature.csv" ] && [ ! -e "$t/ws/events.csv" ] || no "sgd watch: curvature.csv without events.csv"
# SIGKILL once a checkpoint exists, then resume
long=(--model mlp:32-32:tanh --data digits --opt sam --steps 3000 --batch 64 --ckpt-every 100 --seed 4)
"$P" train "${long[@]}" --out "$t/c" >/dev/null || no "long run"
"$P" train "${long[@]}" --out "$t/d" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do [ -f "$t/d/ckpt/last.ckpt" ] && break; sleep 0.05; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
[ -f "$t/d/ckpt/last.ckpt" ] || no "no checkpoint before the kill"
"$P" train "${long[@]}" --out "$t/d" --resume >/dev/null || no "resume after SIGKILL"
cmp -s "$t/c/log.csv" "$t/d/log.csv" || no "log after SIGKILL+resume differs"
cmp -s "$t/c/trajectory.npy" "$t/d/trajectory.npy" || no "trajectory after SIGKILL+resume differs"
# divergence: exit 1, one line naming the step
"$P" train --model linear --data teacher --opt sgd --steps 400 --lr 100 --out "$t/e" >/dev/null 2>"$t/err"
rc=$?; [ $rc = 1 ] || no "divergence exit $rc"
grep -q "step [0-9]" "$t/err" || no "divergence message lacks the step: $(cat "$t/err")"
[ "$(wc -l < "$t/err")" = 1 ] || no "divergence message not one line"
[ -f "$t/e/run.json" ] && no "run.json written for a diverged run"
# usage errors
for bad in "--rho -1" "--ema 1.0" "--batch 0"; do
  "$P" train --model mlp:8:tanh --data digits --opt sam --steps 5 $bad --out "$t/u" >/dev/null 2>&1
  rc=$?; [ $rc = 2 ] || no "'$bad' exit $rc"
done
"$P" train --model mlp:8:tanh --data digits --opt asam --m-sharpness 4 --steps 5 --out "$t/u" >/dev/null 2>&1
[ $? = 2 ] || no "--m-sharpness with asam not a usage error"
"$P" train --model mlp:8:tanh --data digits --opt nosuch --steps 5 --out "$t/u" >/dev/null 2>&1
[ $? = 2 ] || no "unknown optimiser not a usage error"
[ -e "$t/u" ] && no "usage error created the output directory"
"$P" train --help >/dev/null || no "--help"
exit $fail
