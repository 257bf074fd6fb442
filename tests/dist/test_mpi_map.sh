#!/bin/sh
# test_mpi_map.sh: `mpirun -np N pothole toy --map` deals the cells to the
# ranks and gives the single-process map.csv byte for byte (N = 1, 2, 3);
# a map stopped on every rank resumes (--resume) with another rank count to
# the same bytes; toy without --map refuses to run as several processes;
# more ranks than cells is one line.
set -u
. "$(dirname "$0")/mpi_common.sh"
need_toys

M="--landscape pothole2d:a=0.2,b=50,sx=0.1,sy=10,cx=2.5 --opt sam,llqr-sam --seeds 6 --steps 150 --map eta_rel,rho_rel --x 0.5:1.5 --y 0:1 --grid 4x2"
"$P" toy $M --out "$T/plain" >/dev/null 2>"$T/err" || fail "plain: $(cat "$T/err")"
[ "$(wc -l <"$T/plain/map.csv")" = 17 ] || fail "map.csv: 8 cells x 2 optimisers + header"
for n in 1 2 3; do
  mpi $n toy $M --out "$T/np$n" >/dev/null 2>"$T/err" || fail "-np $n: $(cat "$T/err")"
  same "$T/plain" "$T/np$n" map.csv
  [ ! -e "$T/np$n/map.journal" ] || fail "-np $n left its journal"
done

# Every rank stops after one new cell (3 cells of 8 in the journal), then
# 2 ranks resume: the uninterrupted bytes.
mpi 3 toy $M --stop-after 1 --out "$T/r" >"$T/out" 2>"$T/err" || fail "stopped map: $(cat "$T/err")"
[ -f "$T/r/map.journal" ] && [ ! -e "$T/r/map.csv" ] || fail "a stopped map left map.csv or no journal"
[ "$(grep -c '^done ' "$T/r/map.journal")" = 3 ] || fail "journal: $(grep -c '^done ' "$T/r/map.journal") cells, wanted 3"
mpi 2 toy $M --resume --out "$T/r" >/dev/null 2>"$T/err" || fail "resume: $(cat "$T/err")"
same "$T/plain" "$T/r" map.csv

# toy without --map: one line, exit 2.
mpi 2 toy --landscape pothole2d --seeds 2 --steps 10 --out "$T/t" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 2 ] || fail "toy without --map under mpirun: exit $rc: $(cat "$T/err")"
one_line "$T/err"
[ ! -e "$T/t" ] || fail "refused toy left $T/t"

# More ranks than cells: one line, exit 2.
mpi 3 toy ${M%--grid 4x2} --grid 2x1 --out "$T/few" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 2 ] || fail "3 ranks for 2 cells: exit $rc: $(cat "$T/err")"
one_line "$T/err"
grep -q "3 processes for a map of 2 cells" "$T/err" || fail "message: $(cat "$T/err")"
echo "mpi map: plain = -np 1 = -np 2 = -np 3; stopped at 3 ranks, resumed at 2"
