#!/usr/bin/env bash
# Runs one tokenizer fuzz target from build-fuzz/ (as fuzz/run.sh does for the others): one
# fuzzer at a time on this machine; new inputs go to build-fuzz/corpus/NAME, crashes to
# build-fuzz/crashes/; the committed seeds under fuzz/corpus/tokenizer/ are only read.
#   fuzz/tokenizer/run.sh NAME [SECONDS]      (default 600)
set -euo pipefail
cd "$(dirname "$0")/../.."

declare -A SEEDS=(
  [tokenizer_json_fuzzer]=fuzz/corpus/tokenizer/json
  [tokenizer_encode_fuzzer]=fuzz/corpus/tokenizer/text
  [tokenizer_decode_fuzzer]=fuzz/corpus/tokenizer/ids
)
declare -A DICTS=(
  [tokenizer_json_fuzzer]=fuzz/tokenizer/tokenizer_json.dict
)

name=${1:?usage: fuzz/tokenizer/run.sh NAME [SECONDS]}
seconds=${2:-600}
[ -n "${SEEDS[$name]:-}" ] || { echo "unknown tokenizer fuzz target: $name" >&2; exit 2; }
[ -x "build-fuzz/$name" ] || { echo "build it first: fuzz/tokenizer/build.sh $name" >&2; exit 2; }
if pgrep -f 'build-fuzz/[a-z_]*fuzzer' >/dev/null; then
  echo "another fuzzer is running (pgrep -fa fuzzer); one at a time on this machine" >&2
  exit 3
fi
mkdir -p "build-fuzz/corpus/$name" build-fuzz/crashes
exec "build-fuzz/$name" "build-fuzz/corpus/$name" "${SEEDS[$name]}" \
  ${DICTS[$name]:+"-dict=${DICTS[$name]}"} \
  -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=build-fuzz/crashes/ -rss_limit_mb=2048 \
  -max_len=65536 -timeout=60
