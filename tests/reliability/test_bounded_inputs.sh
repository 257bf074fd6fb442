#!/bin/sh
# test_bounded_inputs.sh: every reader has a size cap (POTHOLE_MAX_INPUT for
# checkpoints/.npy/JSON, POTHOLE_MAX_DATA for CSV/IDX/text after inflation)
# and refuses a larger input before allocating for it: an endless stream
# (a FIFO fed by `yes`), a large (sparse) regular file, gzip bombs as a
# CSV and as IDX files, and synthetic sets larger than the data cap. A directory given as an input file says so.
set -u
. "${PH_SOURCE_ROOT:?}/tests/reliability/lib.sh"
feeder=
on_exit() { [ -z "$feeder" ] || kill "$feeder" 2>/dev/null; }
"$P" init --model linear --data digits --out "$T/m.ckpt" >/dev/null || fail init

# An endless stream as a checkpoint: stops at the cap (1 MiB here).
mkfifo "$T/endless"
yes >"$T/endless" 2>/dev/null &
feeder=$!
expect 1 "endless: longer than the input cap of 1048576 bytes" \
  env POTHOLE_MAX_INPUT=1M "$P" check --ckpt "$T/endless"
kill "$feeder" 2>/dev/null; wait "$feeder" 2>/dev/null; feeder=

# A regular file over the cap is refused by its size (sparse: no disk used).
truncate -s 3G "$T/huge.ckpt" || fail truncate
expect 1 "huge.ckpt: 3221225472 bytes, more than the input cap of 1073741824" \
  env POTHOLE_MAX_INPUT=1G "$P" check --ckpt "$T/huge.ckpt"
truncate -s 2M "$T/big.npy"
expect 1 "big.npy: 2097152 bytes, more than the input cap" \
  env POTHOLE_MAX_INPUT=1M "$P" eval --ckpt "$T/m.ckpt" --hvp "$T/big.npy:$T/o.npy"

# The default caps are in force without the variables (4 GiB for files).
truncate -s 5G "$T/huge.ckpt"
expect 1 "more than the input cap of 4294967296 bytes" "$P" check --ckpt "$T/huge.ckpt"
rm -f "$T/huge.ckpt" "$T/big.npy"

# Gzip bombs: 64 MiB of zeros in 64 KiB. Inflation stops at the data cap.
head -c 67108864 /dev/zero | gzip -9 >"$T/bomb.csv.gz"
expect 1 "bomb.csv.gz: inflates to more than the input cap of 4194304 bytes" \
  env POTHOLE_MAX_DATA=4M "$P" data info "csv:$T/bomb.csv.gz"
expect 1 "inflates to more than the input cap of 4194304 bytes" \
  env POTHOLE_MAX_DATA=4M "$P" init --model linear --data "text:$T/bomb.csv.gz" --out "$T/t.ckpt"
mkdir "$T/idx"
cp "$T/bomb.csv.gz" "$T/idx/train-images-idx3-ubyte.gz"
cp "$T/bomb.csv.gz" "$T/idx/train-labels-idx1-ubyte.gz"
expect 1 "train-images-idx3-ubyte.gz: inflates to more than the input cap" \
  env POTHOLE_MAX_DATA=4M "$P" data info "idx:$T/idx"
[ ! -e "$T/t.ckpt" ] || fail "output written"

# Synthetic sets: what a generator would allocate obeys the data cap, a
# usage error (the spec's sizes) in every command.
expect 2 "data spec blobs: generates 20048 bytes, more than the input cap of 1024" \
  env POTHOLE_MAX_DATA=1K "$P" data info blobs
expect 2 "data spec modadd: generates 338724 bytes, more than the input cap" \
  env POTHOLE_MAX_DATA=100K "$P" init --model linear --data modadd --out "$T/t.ckpt"
expect 2 "more than the input cap of 1073741824 bytes" "$P" data info "blobs:n=10000000,d=100000"
[ ! -e "$T/t.ckpt" ] || fail "output written"

# A bad cap value is a usage error.
expect 2 "POTHOLE_MAX_INPUT='0x10' is not a size" env POTHOLE_MAX_INPUT=0x10 "$P" check --ckpt "$T/m.ckpt"

# A directory given as an input file.
mkdir "$T/adir"
expect 1 "adir: is a directory, not a file" "$P" check --ckpt "$T/adir"
expect 1 "adir: is a directory, not a file" "$P" data info "csv:$T/adir"
expect 1 "adir: is a directory, not a file" "$P" eval --ckpt "$T/m.ckpt" --hvp "$T/adir:$T/o.npy"
echo "bounded inputs: ok"
