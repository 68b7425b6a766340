#!/usr/bin/env bash
# Builds the libFuzzer targets into build-fuzz/ with clang++ -fsanitize=fuzzer,address,undefined.
#   fuzz/build.sh            every target
#   fuzz/build.sh NAME...    only these
# Each module adds its targets to the table below: name, then its sources (globs allowed).
set -euo pipefail
cd "$(dirname "$0")/.."

CXX=${CXX:-clang++}
OUT=build-fuzz
JOBS=${SALUT_JOBS:-2}
FLAGS=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -Isrc)
LIBS=(-lfmt -lutf8proc -lpcre2-8 -lz)

declare -A TARGETS=(
  [safetensors_header_fuzzer]="fuzz/weights/safetensors_header_fuzzer.cpp src/weights/dtype.cpp src/weights/safetensors.cpp"
  [weights_linear_fuzzer]="fuzz/weights/weights_linear_fuzzer.cpp src/weights/*.cpp"
  [chat_template_fuzzer]="fuzz/chat/chat_template_fuzzer.cpp src/chat/chat_template.cpp src/chat/jinja/*.cpp"
  [tokenizer_json_fuzzer]="fuzz/tokenizer/tokenizer_json_fuzzer.cpp src/tokenizer/*.cpp"
  [tokenizer_encode_fuzzer]="fuzz/tokenizer/encode_fuzzer.cpp src/tokenizer/*.cpp"
  [tokenizer_decode_fuzzer]="fuzz/tokenizer/decode_fuzzer.cpp src/tokenizer/*.cpp"
)

names=("$@")
[ ${#names[@]} -eq 0 ] && names=("${!TARGETS[@]}")
mkdir -p "$OUT/obj"
for name in "${names[@]}"; do
  [ -n "${TARGETS[$name]:-}" ] || { echo "unknown fuzz target: $name" >&2; exit 2; }
  objs=()
  for src in ${TARGETS[$name]}; do
    obj="$OUT/obj/${src//\//_}.o"
    objs+=("$obj")
    if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find src fuzz \( -name '*.h' -o -name '*.inc' \) -newer "$obj" -print -quit)" ]; then
      echo "compile $src"
      "$CXX" "${FLAGS[@]}" -c "$src" -o "$obj" &
      while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    fi
  done
  wait
  echo "link $OUT/$name"
  "$CXX" "${FLAGS[@]}" "${objs[@]}" "${LIBS[@]}" -o "$OUT/$name"
done
