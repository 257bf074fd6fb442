#!/usr/bin/env bash
# setup.sh: install what pothole needs on Debian 12 and build it.
#
#   tools/setup.sh [--no-build] [--references] [--build-dir DIR] [--asan]
#                  [--fuzz]
#
# Installs the Debian packages that are missing (never touches ones already
# there), configures with meson and builds with ninja. Idempotent: a second
# run installs nothing and rebuilds only what changed. Works as root or
# through sudo (it calls apt-get with sudo when not root).
#   --references   also install the optional reference stack used by some
#                  tests and benchmarks: python3-numpy, python3-scipy,
#                  python3-torch, python3-h5py (run under /usr/bin/python3)
#   --asan         configure DIR with AddressSanitizer + UBSan (debug build)
#   --fuzz         also install clang and its libFuzzer/sanitizer runtimes,
#                  and configure DIR as the fuzzing build: clang, ASan+UBSan,
#                  -Dfuzz=true (tests/fuzz), without the other tests
#   --werror       treat compiler warnings as errors (CI does; ignored with
#                  --fuzz: clang warns where gcc does not)
#   --no-build     install packages only
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$here/build"
do_build=1
references=0
asan=0
fuzz=0
werror=false
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) do_build=0 ;;
    --references) references=1 ;;
    --asan) asan=1 ;;
    --werror) werror=true ;;
    --build-dir) shift; build_dir=$(realpath -m "$1") ;;
    --fuzz) fuzz=1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

packages=(
  build-essential meson ninja-build pkg-config
  libopenblas-dev liblapacke-dev libgsl-dev libcairo2-dev zlib1g-dev
  libcjson-dev libcmocka-dev fonts-dejavu-core
  libsleef-dev            # vectorised exp/log/tanh/erf (src/nn/vmath.c)
  libxsmm-dev             # small dense-layer GEMMs (src/nn/dense.c)
  dataset-fashion-mnist   # Fashion-MNIST IDX files in /usr/share/datasets
  poppler-utils           # pdftotext: the figure tests read PDF text
  libxml2-utils           # xmllint: the figure tests parse SVG
  clang-format            # the lint suite checks the tree's formatting
  libopenmpi-dev openmpi-bin  # MPI: mpirun -np N pothole slice|spectrum ...
  libhdf5-dev             # loss-landscape's .h5 surfaces (slice --format h5)
)
if [ "$fuzz" = 1 ]; then
  packages+=(clang libclang-rt-14-dev)  # libFuzzer, ASan and UBSan runtimes
fi
if [ "$references" = 1 ]; then
  packages+=(python3-numpy python3-scipy python3-torch python3-h5py)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "setup.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "setup.sh: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

[ "$do_build" = 1 ] || exit 0

cd "$here"
opts=(-Dwerror=$werror)
if [ "$asan" = 1 ]; then
  opts+=(-Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false)
fi
if [ "$fuzz" = 1 ]; then
  opts=(-Dwerror=false -Dfuzz=true -Dtests=disabled -Dbuildtype=debugoptimized
        -Db_sanitize=address,undefined -Db_lundef=false)
  export CC=clang
fi
if [ -d "$build_dir" ] && [ -f "$build_dir/build.ninja" ]; then
  meson setup --reconfigure "$build_dir" "${opts[@]}" >/dev/null
else
  meson setup "$build_dir" "${opts[@]}" >/dev/null
fi
# Builds by a non-root user after a sudo'd setup still work: hand the tree
# back to whoever invoked sudo.
# Quiet on success; on failure, show what the compiler said.
ninja -C "$build_dir" >"$build_dir/setup-build.log" 2>&1 || {
  grep -E -A12 'FAILED|error' "$build_dir/setup-build.log" | head -60 >&2
  echo "setup.sh: build failed ($build_dir/setup-build.log)" >&2
  exit 1
}
if [ -n "${SUDO_USER:-}" ] && [ "$(id -u)" = 0 ]; then
  chown -R "$SUDO_USER": "$build_dir"
fi
echo "setup.sh: built $build_dir/tools/pothole" >&2
