#!/bin/sh
# test_import.sh: `pothole import DIR --out FILE.ckpt`.
#  - export -> import -> export is the identity, byte for byte, on θ, on every
#    tensor file and on model.json, for an MLP, a residual MLP, a CNN and a
#    transformer;
#  - bad directories (a layer type the engine lacks, a layer that differs
#    from what the spec builds, a tensor whose shape disagrees with
#    model.json, a missing tensor, a parameter table that disagrees with the
#    model, a theta.npy that disagrees with the tensors) exit 1 with one line
#    naming the file and the problem, and write no checkpoint.
set -u
P=${PH_POTHOLE:?PH_POTHOLE not set}
T=$(mktemp -d /tmp/ph_cli_import.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "${PH_SOURCE_ROOT:?}/tests/common/cli_lib.sh"

for case in "mlp:16-8:tanh digits" "mlp:16-r16:gelu digits" \
            "cnn:c4k3-p2-c6k3-a2-d12:relu digits" "transformer:d16h2l1 copy"; do
  set -- $case
  name=$(echo "$1" | tr -c 'a-z0-9\n' '_')
  expect 0 "$P" init --model "$1" --data "$2" --seed 3 --out "$T/$name.ckpt"
  expect 0 "$P" export --ckpt "$T/$name.ckpt" --out "$T/$name.a"
  expect 0 "$P" import "$T/$name.a" --out "$T/$name.imported.ckpt"
  expect 0 "$P" export --ckpt "$T/$name.imported.ckpt" --out "$T/$name.b"
  for f in "$T/$name.a"/*; do
    cmp -s "$f" "$T/$name.b/$(basename "$f")" || fail "$1: $(basename "$f") differs after import"
  done
  [ "$(ls "$T/$name.a" | wc -l)" = "$(ls "$T/$name.b" | wc -l)" ] || fail "$1: file sets differ"
done

# Bad directories, from a good one (mlp:16-8:tanh on digits).
good=$T/mlp_16_8_tanh.a
bad() { rm -rf "$T/bad"; cp -r "$good" "$T/bad"; }
refused() { # refused PATTERN: exit 1, one line matching, no checkpoint
  expect 1 "$P" import "$T/bad" --out "$T/out.ckpt"
  one_line
  grep -q -- "$1" "$T/stderr" || fail "message '$(cat "$T/stderr")' lacks '$1'"
  [ ! -e "$T/out.ckpt" ] || fail "a checkpoint was written"
  [ -z "$(ls "$T" | grep 'out.ckpt')" ] || fail "a temporary file was left"
}
bad; sed -i 's/"type":[[:space:]]*"tanh"/"type": "batchnorm"/' "$T/bad/model.json"
refused "bad/model.json: layers\[2\] has type 'batchnorm', which pothole's engine lacks"
bad; sed -i '0,/"type":[[:space:]]*"tanh"/s//"type": "relu"/' "$T/bad/model.json"
refused "bad/model.json: layers\[2\] is {\"type\":\"relu\"}, but spec 'mlp:16-8:tanh' on 'digits' builds {\"type\":\"tanh\"}"
bad; cp "$T/bad/fc1.weight.npy" "$T/bad/fc0.weight.npy"
refused "bad/fc0.weight.npy: shape \[8, 16\] disagrees with model.json \[16, 64\]"
bad; rm "$T/bad/fc2.bias.npy"
refused "bad/fc2.bias.npy"
bad; sed -i 's/"shape":[[:space:]]*\[16, *64\]/"shape": [16, 65]/' "$T/bad/model.json"
refused "params\[0\] is 'fc0.weight' \[16,65\]"
bad; cp "$T/bad/fc0.bias.npy" "$T/bad/theta.npy"
refused "bad/theta.npy: expected shape"
bad; sed -i 's/"spec":[[:space:]]*"mlp:16-8:tanh"/"spec": "mlp:16-8:tanhh"/' "$T/bad/model.json"
refused "bad/model.json: spec 'mlp:16-8:tanhh'"
bad; sed -i 's/"format":[[:space:]]*"pothole-model"/"format": "onnx"/' "$T/bad/model.json"
refused "bad/model.json: format 'onnx'"
bad; printf '{"format": "pothole-model", ' >"$T/bad/model.json"
refused "bad/model.json"
expect 2 "$P" import --out "$T/out.ckpt"
expect 2 "$P" import "$T/bad" "$T/bad"
echo ok
