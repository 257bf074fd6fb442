#!/usr/bin/env bash
# init / eval / check / export for the model families beyond the plain MLP
# and CNN (residual blocks, one-hot token MLPs), and their spec errors:
# each bad spec is a usage error (exit 2) with one line naming the problem,
# and leaves no checkpoint behind.
set -u
P=${PH_POTHOLE:?}
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fail=0
no() { echo "FAIL: $*"; fail=1; }

for md in mlp:16-r16-r16:tanh@digits cnn:c2k3-p2-d8-r8:softplus@digits \
          mlp:12:gelu@copy linear@modadd:7; do
  model=${md%@*} data=${md#*@}
  "$P" init --model "$model" --data "$data" --seed 3 --out "$t/m.ckpt" >/dev/null || { no "init $model"; continue; }
  "$P" eval --ckpt "$t/m.ckpt" --n 20 > "$t/e.json" || no "eval $model"
  grep -q '"accuracy":' "$t/e.json" || no "eval $model: $(cat "$t/e.json")"
  "$P" check --ckpt "$t/m.ckpt" --n 16 > "$t/c.json" || no "check $model: $(cat "$t/c.json")"
  "$P" export --ckpt "$t/m.ckpt" --n 5 --out "$t/ex" >/dev/null || no "export $model"
  case $model in
    *r16*|*r8*) grep -q '"residual_dense"' "$t/ex/model.json" || no "export $model: no residual_dense" ;;
  esac
  case $data in
    copy|modadd*) grep -q '"one_hot"' "$t/ex/model.json" || no "export $model: no one_hot"
                  grep -q '"ignore_index":[[:space:]]*-1' "$t/ex/model.json" || no "export $model: no ignore_index" ;;
  esac
  rm -rf "$t/ex" "$t/m.ckpt"
done

for spec in mlp:16-r8 cnn:r8 cnn:c2k3 mlp:0 mlp:8:swish cnn:c2k2 "mlp:8-x4"; do
  data=digits
  [ "$spec" = cnn:c2k3 ] && data=copy
  "$P" init --model "$spec" --data $data --out "$t/bad.ckpt" >/dev/null 2>"$t/err"
  rc=$?
  # a malformed spec, and a model that cannot read the data given, are
  # usage errors: exit 2 (1 would mean a runtime failure)
  [ $rc = 2 ] || no "bad spec $spec: exit $rc, wanted 2"
  [ "$(wc -l < "$t/err")" = 1 ] || no "bad spec $spec: not one line: $(cat "$t/err")"
  grep -q "^pothole init: " "$t/err" || no "bad spec $spec: message $(cat "$t/err")"
  [ -e "$t/bad.ckpt" ] && no "bad spec $spec left a checkpoint"
done
exit $fail
