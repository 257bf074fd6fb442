#!/usr/bin/env bash
. "$(dirname "$0")/common.sh"
for o in sgd sam llqr llqr-sam; do train $o; done
NAME=training_curves fig curves "$OUT/train/sgd" "$OUT/train/sam" "$OUT/train/llqr" "$OUT/train/llqr-sam" --log
