#!/usr/bin/env bash
# Runs one libFuzzer target from build-fuzz/ for a while, one fuzzer at a time on this machine.
#   fuzz/run.sh NAME [SECONDS]      (default 600)
# New inputs go to build-fuzz/corpus/NAME; the committed seeds in the target's corpus folder are
# only read. Crashes are written to build-fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A SEEDS=(
  [safetensors_header_fuzzer]=fuzz/corpus/weights/safetensors_header
  [weights_linear_fuzzer]=fuzz/corpus/weights/linear
  [chat_template_fuzzer]=fuzz/corpus/chat
  [tokenizer_json_fuzzer]=fuzz/corpus/tokenizer/json
  [tokenizer_encode_fuzzer]=fuzz/corpus/tokenizer/text
  [tokenizer_decode_fuzzer]=fuzz/corpus/tokenizer/ids
)
declare -A DICTS=(
  [chat_template_fuzzer]=fuzz/chat/jinja.dict
  [tokenizer_json_fuzzer]=fuzz/tokenizer/tokenizer_json.dict
)
# Inputs can be whole tokenizer.json files; a slow one is a hang only past a minute.
declare -A EXTRA=(
  [tokenizer_json_fuzzer]="-max_len=65536 -timeout=60"
  [tokenizer_encode_fuzzer]="-max_len=65536 -timeout=60"
  [tokenizer_decode_fuzzer]="-max_len=65536 -timeout=60"
)

name=${1:?usage: fuzz/run.sh NAME [SECONDS]}
seconds=${2:-600}
[ -x "build-fuzz/$name" ] || { echo "build it first: fuzz/build.sh $name" >&2; exit 2; }
if pgrep -f 'build-fuzz/[a-z_]*fuzzer' >/dev/null; then
  echo "another fuzzer is running (pgrep -fa fuzzer); one at a time on this machine" >&2
  exit 3
fi
mkdir -p "build-fuzz/corpus/$name" build-fuzz/crashes
exec "build-fuzz/$name" "build-fuzz/corpus/$name" ${SEEDS[$name]:+"${SEEDS[$name]}"} \
  ${DICTS[$name]:+"-dict=${DICTS[$name]}"} \
  -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=build-fuzz/crashes/ -rss_limit_mb=2048 \
  ${EXTRA[$name]:-}
