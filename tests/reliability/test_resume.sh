#!/bin/sh
# test_resume.sh: exact resumes and clean output directories.
#  - every option but those marked resumable (listed in --help) must match
#    the checkpoint; a change is refused (exit 2) naming the option, and the
#    run directory is left as it was;
#  - --steps and --threads may change;
#  - a non-empty output directory needs --resume or --force; --force deletes
#    the old run's outputs first (no stale precond.npy) and refuses to touch
#    files that are not a run's;
#  - a diverged run writes log.csv up to the divergence.
set -u
. "${PH_SOURCE_ROOT:?}/tests/reliability/lib.sh"
base="--model linear --data digits --opt sam --steps 20 --batch 64 --lr 0.05 --rho 0.05 --seed 3"

"$P" train --help >"$T/help" || fail help
grep -q "May differ on --resume: --steps --epochs --resume --force --threads --stop-after --out;" "$T/help" ||
  fail "--help does not list the resumable options: $(grep -i resume "$T/help")"

# Killed at step 10.
run 1 "$P" train $base --out "$T/r" --stop-after 10
[ -f "$T/r/ckpt/last.ckpt" ] || fail "no last.ckpt"
cp "$T/r/ckpt/last.ckpt" "$T/last.before"
for change in "--batch 32" "--seed 4" "--rho 0.1" "--lr 0.1" "--schedule cosine" "--momentum 0.5" "--eval-n 100"; do
  name=${change%% *}
  # shellcheck disable=SC2086
  run 2 "$P" train $base $change --out "$T/r" --resume
  grep -q -- "cannot resume: $name is '" "$T/stderr" || fail "$change: option not named: $(cat "$T/stderr")"
  cmp -s "$T/r/ckpt/last.ckpt" "$T/last.before" || fail "$change: refused resume changed last.ckpt"
  [ ! -e "$T/r/run.json" ] || fail "$change: refused resume wrote run.json"
done
# Resumable options may change: more steps, more threads.
run 0 "$P" train $base --out "$T/r" --resume --threads 2
run 0 "$P" train --model linear --data digits --opt sam --steps 20 --batch 64 --lr 0.05 --rho 0.05 --seed 3 --out "$T/full"
cmp -s "$T/r/trajectory.npy" "$T/full/trajectory.npy" || fail "resumed run differs from an uninterrupted one"

# Non-empty directory: refused without --resume/--force.
run 0 "$P" train --model linear --data digits --opt llqr --steps 4 --out "$T/p"
[ -f "$T/p/precond.npy" ] || fail "llqr wrote no precond.npy"
run 2 "$P" train --model linear --data digits --opt sgd --steps 4 --out "$T/p"
grep -q "is not empty" "$T/stderr" || fail "no 'not empty' message"
run 2 "$P" train --model linear --data digits --opt sgd --steps 4 --out "$T/p" --force --resume
run 0 "$P" train --model linear --data digits --opt sgd --steps 4 --out "$T/p" --force
[ ! -e "$T/p/precond.npy" ] && [ ! -e "$T/p/precond.json" ] || fail "--force left the old precond.npy"
grep -q '"optimizer":[[:space:]]*"sgd"' "$T/p/run.json" || fail "run.json is not the new run's"
# --force never deletes files that are not a run's.
echo mine >"$T/p/notes.txt"
run 1 "$P" train --model linear --data digits --opt sgd --steps 4 --out "$T/p" --force
[ "$(cat "$T/p/notes.txt")" = mine ] || fail "--force touched a user file"

# Divergence: log.csv up to the failing step, ending with a NaN row.
run 1 "$P" train --model mlp:32:relu --data digits --opt sgd --lr 1e6 --momentum 0.99 \
  --steps 200 --eval-every 1 --out "$T/d"
grep -q "training diverged" "$T/stderr" || fail "no divergence message: $(cat "$T/stderr")"
step=$(sed -n 's/.*step \([0-9]*\):.*/\1/p' "$T/stderr")
[ -f "$T/d/log.csv" ] || fail "diverged run wrote no log.csv"
last=$(tail -1 "$T/d/log.csv")
[ "${last%%,*}" = "$step" ] || fail "log.csv ends at '${last%%,*}', divergence at step $step"
echo "$last" | cut -d, -f4 | grep -q nan || fail "last row's loss is not nan: $last"
rows=$(($(wc -l <"$T/d/log.csv") - 1))
[ "$rows" = $((step + 1)) ] || fail "log.csv has $rows rows for $step steps (+ step 0)"
echo "resume: ok"
