#!/bin/sh
# test_study.sh: `pothole study --quick` end to end (suite 'slow'): usage
# errors; a study killed in its tuning phase resumes without redoing the
# finished runs; the learning rate chosen is the one the stated rule picks
# from tune.csv; study.csv's means and t-intervals agree with runs.csv
# recomputed here; runs.csv agrees with the files the runs wrote; figures
# are PNGs; every verdict of the differences from sgd (accuracy and loss)
# follows from its interval; a directory made by another configuration is
# refused; a
# stage's runs start longest expected first.
NAME=study
. "$(dirname "$0")/../common/ph_cli_test.sh"
one_line() { [ "$(wc -l <"$T/stderr")" -eq 1 ] || fail "not one line: $(cat "$T/stderr")"; }

# Bad input: exit 2, one line naming the problem, nothing created.
expect 2 "$P" study --quick --opts "" --out "$T/x"; one_line
expect 2 "$P" study --quick --opts sgd,nadam --out "$T/x"; one_line
grep -q "nadam" "$T/stderr" || fail "unknown optimiser not named"
expect 2 "$P" study --quick --tasks digits-cnn --out "$T/x"; one_line
expect 2 "$P" study --quick --seeds 0 --out "$T/x"; one_line
expect 2 "$P" study --quick --steps 0 --out "$T/x"; one_line
expect 2 "$P" study --model mlp:zz --data digits --steps 10 --out "$T/x"; one_line
expect 2 "$P" study --quick --full --out "$T/x"; one_line
[ ! -e "$T/x" ] || fail "a usage error created the output directory"

D="$T/s"
ARGS="study --quick --opts sgd,llqr-sam --out $D"
# Start, and kill the study once its first tuning run has finished.
"$P" $ARGS >"$T/run1.out" 2>"$T/run1.err" &
pid=$!
i=0
while [ -z "$(ls "$D"/tune/digits-mlp/*/lr*/run.json 2>/dev/null)" ]; do
  i=$((i + 1)); [ $i -lt 600 ] || fail "no tuning run finished in 60 s"
  kill -0 $pid 2>/dev/null || fail "study exited early: $(cat "$T/run1.err")"
  sleep 0.1
done
kill -TERM $pid; wait $pid 2>/dev/null
[ ! -e "$D/study.md" ] || fail "killed study wrote study.md"
ls "$D"/tune/digits-mlp/*/lr*/run.json >"$T/done_before"
for f in $(cat "$T/done_before"); do cksum "$f"; done >"$T/sums_before"
# Resume: the finished runs are kept as they were, the rest completes
# (one job at a time, so that the logs' times give the order they started).
expect 0 "$P" $ARGS --jobs 1
for f in $(cat "$T/done_before"); do cksum "$f"; done >"$T/sums_after"
cmp -s "$T/sums_before" "$T/sums_after" || fail "resume redid finished runs"
for f in study.md study.csv runs.csv tune.csv selection.csv study.cfg; do
  [ -s "$D/$f" ] || fail "missing $D/$f"
done
[ "$(ls "$D"/tune/digits-mlp/*/lr*/run.json | wc -l)" -eq 4 ] || fail "tuning runs: want 2 optimisers x 2 rates"
[ "$(grep -c ',ok,' "$D/runs.csv")" -eq 10 ] || fail "runs.csv: want 10 finished runs"

# Longest expected first within a stage: every llqr-sam final run (3x an
# sgd run in the runner's estimate) started, so its log was last written,
# before any sgd final run's (list order would run sgd's first).
last_llqr=$(find "$D/logs" -name 'run-digits-mlp-llqr-sam-s*.err' -printf '%T@\n' | sort -n | tail -1)
first_sgd=$(find "$D/logs" -name 'run-digits-mlp-sgd-s*.err' -printf '%T@\n' | sort -n | head -1)
[ -n "$last_llqr" ] && [ -n "$first_sgd" ] || fail "no final run logs in $D/logs"
awk -v a="$last_llqr" -v b="$first_sgd" 'BEGIN { exit !(a < b) }' ||
  fail "an sgd final run started before a llqr-sam one (llqr-sam last at $last_llqr, sgd first at $first_sgd)"

# The default watch: every steps/10 (120/10 = 12 here: 11 rows, steps 0 to
# 120) on the final runs, with the study's lean settings; not on tuning runs.
grep -qx "watch-every steps/10 --watch-n 128 --watch-k 1 --watch-probes 0 --watch-layers off" "$D/study.cfg" ||
  fail "study.cfg: $(grep '^watch' "$D/study.cfg")"
c="$D/runs/digits-mlp/llqr-sam/s2/curvature.csv"
[ "$(awk -F, 'NR > 1 { print $1 }' "$c" | tr '\n' ' ')" = "0 12 24 36 48 60 72 84 96 108 120 " ] ||
  fail "$c: watched at steps $(awk -F, 'NR > 1 { print $1 }' "$c" | tr '\n' ' ')"
ls "$D"/tune/digits-mlp/*/lr*/curvature.csv >/dev/null 2>&1 && fail "a tuning run was watched"

# The rule: lowest final validation loss, ties to the smaller rate.
awk -F, 'NR > 1 { k = $1 "," $2
  if (!(k in best) || $5 + 0 < bl[k] || ($5 + 0 == bl[k] && $4 + 0 < best[k])) {
    best[k] = $4; bl[k] = $5 + 0 } }
  END { for (k in best) print k "," best[k] }' "$D/tune.csv" | sort >"$T/want_sel"
awk -F, 'NR > 1 { print $1 "," $2 "," $3 }' "$D/selection.csv" | sort >"$T/got_sel"
cmp -s "$T/want_sel" "$T/got_sel" || fail "selection differs from the rule: $(cat "$T/want_sel") vs $(cat "$T/got_sel")"
# The final runs used the selected rate.
lr=$(awk -F, '$2 == "sgd" { print $3 }' "$D/selection.csv")
grep -q -- "--lr $lr " "$D/logs/run-digits-mlp-sgd-s1.out" 2>/dev/null ||
  grep -q "\"lr\":[[:space:]]*$lr" "$D/runs/digits-mlp/sgd/s1/run.json" ||
  fail "sgd's final runs do not use the selected rate $lr"

# runs.csv against the files the runs wrote (test_acc, lambda_max of seed 3).
acc=$(awk -F, '$2 == "llqr-sam" && $3 == 3 { print $6 }' "$D/runs.csv")
grep -A6 '"final"' "$D/runs/digits-mlp/llqr-sam/s3/run.json" | grep -q "\"test_acc\":[[:space:]]*$acc" ||
  fail "runs.csv test_acc $acc is not run.json's"
lm=$(awk -F, '$2 == "sgd" && $3 == 3 { print $9 }' "$D/runs.csv")
grep -q "\"lambda_max\":[[:space:]]*$lm" "$D/runs/digits-mlp/sgd/s3/lmax/spectrum.json" ||
  fail "runs.csv lambda_max $lm is not spectrum.json's"

# study.csv: mean and 95 % t-interval of test_acc over the 5 seeds,
# recomputed from runs.csv with t_{0.975,4} = 2.7764451051977987 (the
# Student-t quantile, a constant of the distribution); agreement to 1e-8
# relative (both sides print 10 significant digits).
for opt in sgd llqr-sam; do
  awk -F, -v o=$opt 'NR > 1 && $2 == o { x[++n] = $6; s += $6 }
    END { m = s / n; for (i = 1; i <= n; i++) v += (x[i] - m) ^ 2
          h = 2.7764451051977987 * sqrt(v / (n - 1)) / sqrt(n)
          printf "%.10g %.10g %.10g\n", m, m - h, m + h }' "$D/runs.csv" >"$T/want"
  awk -F, -v o=$opt 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i }
    NR > 1 && $4 == o { print $c["test_acc_mean"], $c["test_acc_lo"], $c["test_acc_hi"] }' \
    "$D/study.csv" >"$T/got"
  paste -d' ' "$T/want" "$T/got" | awk '{ for (i = 1; i <= 3; i++) {
      d = $i - $(i + 3); if (d < 0) d = -d; s = $i < 0 ? -$i : $i
      if (d > 1e-8 * s + 1e-12) { print "mismatch " i; exit 1 } } }' ||
    fail "$opt: study.csv interval $(cat "$T/got") != recomputed $(cat "$T/want")"
done
grep -q "lowest final validation loss" "$D/study.md" || fail "study.md does not state the rule"
grep -q "pothole train --model" "$D/study.md" || fail "study.md has no commands"
# Every verdict of the differences table must follow from its own interval,
# for accuracy and for loss alike (a separated loss difference was once
# reported as "no" because only accuracy was judged). Prints the loss
# verdicts.
verdicts() {
  awk -F'|' '/^## Differences from sgd/ { on = 1; next }
    on && /^## / { on = 0 }
    on && NF == 8 && $4 ~ /±/ {
      for (k = 4; k <= 6; k += 2) {
        split($k, p, "±"); d = p[1] + 0; h = p[2] + 0; v = $(k + 1); gsub(/ /, "", v)
        want = d - h > 0 ? "higher" : d + h < 0 ? "lower" : "no"
        if (v != want) { print $2 $3 ": column " k ": " v " but the interval says " want > "/dev/stderr"; bad = 1 }
        if (k == 6) print v
        rows++
      } }
    END { if (!rows) { print "no differences table" > "/dev/stderr"; exit 1 } exit bad }' "$1/study.md"
}
verdicts "$D" >/dev/null ||
  fail "study.md: a verdict in the differences table does not follow from its interval"
# The same report over a copy whose sgd runs have a test loss 1 higher (a
# separation of ~30 half-widths): the re-render must call llqr-sam's loss
# lower.
cp -R "$D" "$T/v"
for f in "$T"/v/runs/digits-mlp/sgd/s*/run.json; do
  awk '/"test_loss":/ { sub(/[-0-9.e+]+,?$/, sprintf("%.17g%s", $NF + 1, /,$/ ? "," : "")) } { print }' \
    "$f" >"$f.new" && mv "$f.new" "$f"
done
"$P" study --quick --opts sgd,llqr-sam --out "$T/v" >/dev/null 2>"$T/v.err" ||
  fail "re-rendering a complete study failed: $(cat "$T/v.err")"
[ "$(verdicts "$T/v")" = lower ] ||
  fail "a loss difference of -1 ± ~0.03 is not reported as lower: $(verdicts "$T/v")"

for f in results lr_sensitivity curvature; do
  [ "$(head -c 4 "$D/figures/$f.png" | od -An -c | tr -d ' ')" = "211PNG" ] ||
    fail "$f.png is not a PNG"
  [ -s "$D/figures/$f.pdf" ] || fail "$f.pdf missing"
done

# The watch: with --watch-every the final runs write curvature.csv and
# events.csv; the study must read curvature.csv's real columns (step,
# lmax_h: a wrong name leaves the curvature figure on the final-λmax
# fallback and study.md says so) and count events.csv's rows.
W="$T/w"
expect 0 "$P" study --quick --opts llqr-sam --seeds 2 --watch-every 40 --out "$W"
head -1 "$W/runs/digits-mlp/llqr-sam/s1/curvature.csv" | grep -q "^step,.*,lmax_h," ||
  fail "curvature.csv header: $(head -1 "$W/runs/digits-mlp/llqr-sam/s1/curvature.csv")"
grep -q "curvature.csv's \`lmax_h\`) of seed 1 for 1 of 1 " "$W/study.md" ||
  fail "study.md: the curvature figure did not read curvature.csv"
want=$(for s in 1 2; do f="$W/runs/digits-mlp/llqr-sam/s$s/events.csv"
  [ -s "$f" ] || fail "missing $f"; echo $(($(grep -c . "$f") - 1)); done |
  awk '{ s += $1 } END { printf "%.10g\n", s / 2 }')
got=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i }
  NR > 1 { printf "%.10g\n", $c["events_mean"] }' "$W/study.csv")
[ "$want" = "$got" ] || fail "study.csv events_mean $got, events.csv rows give $want"

# Another configuration in the same directory: refused, one line, named.
expect 2 "$P" study --quick --opts sgd,llqr-sam --seeds 3 --out "$D"; one_line
grep -q "seeds" "$T/stderr" || fail "the conflict is not named"
expect 2 "$P" study --quick --opts sgd,sam --out "$D"; one_line

# What makes results comparable beyond the grid: study.cfg records the
# binary (`pothole --version`'s build) and every default of train the runs
# resolve. A directory made by another build (its build line edited here)
# or under other defaults (llqr-sam's step cap edited) is refused with the
# line named; --accept-build resumes across builds only, and says so.
ver=$("$P" --version | sed 's/^pothole //; s/ (git / git /; s/)$//')
grep -qxF "build pothole $ver" "$D/study.cfg" ||
  fail "study.cfg has no build line 'build pothole $ver': $(grep '^build' "$D/study.cfg")"
cap=$(awk '$1 == "train" && $2 == "llqr-sam" && $3 == "--step-cap" { print $4 }' "$D/study.cfg")
[ -n "$cap" ] || fail "study.cfg does not record llqr-sam's --step-cap"
grep -q "^train sgd --momentum " "$D/study.cfg" || fail "study.cfg does not record sgd's --momentum"
cp "$D/study.cfg" "$T/cfg"
sed 's/^build .*/build pothole 0.0.0 git 0123456789ab/' "$T/cfg" >"$D/study.cfg"
expect 2 "$P" $ARGS; one_line
grep -q "0123456789ab" "$T/stderr" || fail "the other build is not named: $(cat "$T/stderr")"
[ ! -e "$D/builds.txt" ] || fail "a refused resume wrote builds.txt"
expect 0 "$P" $ARGS --accept-build
grep -q "accepted over study.cfg's build pothole 0.0.0 git 0123456789ab" "$D/builds.txt" ||
  fail "builds.txt does not record the accepted build"
grep -q "Resumed by another build" "$D/study.md" || fail "study.md hides the mixed builds"
awk -v c="$cap" '$1 == "train" && $2 == "llqr-sam" && $3 == "--step-cap" { $4 = c + 1 } { print }' \
  "$T/cfg" >"$D/study.cfg"
expect 2 "$P" $ARGS --accept-build; one_line
grep -q "step-cap" "$T/stderr" || fail "the changed default is not named: $(cat "$T/stderr")"
# The final models' spectra stop at the tolerance without the verification
# cycle (ST_CURV_ARGS); study.cfg records those settings, and a directory
# whose spectra were computed otherwise (here: the line before they were
# recorded) is refused even with --accept-build.
s="$D/runs/digits-mlp/sgd/s1/lmax/spectrum.json"
grep -q '"early":[[:space:]]*true' "$s" && grep -q '"verify":[[:space:]]*false' "$s" ||
  fail "$s: not --early --no-verify: $(grep -A12 '"config"' "$s")"
grep -qx "curvature-n [0-9]* --k 1 --tol 1e-06 --early --no-verify" "$T/cfg" ||
  fail "study.cfg: $(grep '^curvature-n' "$T/cfg")"
sed 's/^\(curvature-n [0-9]*\) .*/\1/' "$T/cfg" >"$D/study.cfg"
expect 2 "$P" $ARGS --accept-build; one_line
grep -q "early" "$T/stderr" || fail "the changed curvature settings are not named: $(cat "$T/stderr")"
# A directory made before the record (no build line): refused, and
# accepted with --accept-build.
grep -v '^build \|^train ' "$T/cfg" >"$D/study.cfg"
expect 2 "$P" $ARGS; one_line
expect 0 "$P" $ARGS --accept-build
cp "$T/cfg" "$D/study.cfg"
rm "$D/builds.txt"
expect 0 "$P" $ARGS
grep -q "Resumed by another build" "$D/study.md" && fail "study.md reports a mix that is not there"
echo "ok"
