#!/usr/bin/env bash
# Builds the tokenizer's libFuzzer targets into build-fuzz/, exactly as fuzz/build.sh builds the
# others (clang++ -fsanitize=fuzzer,address,undefined); the lead may fold these rows into the
# table of fuzz/build.sh.
#   fuzz/tokenizer/build.sh            all three
#   fuzz/tokenizer/build.sh NAME...    only these
set -euo pipefail
cd "$(dirname "$0")/../.."

CXX=${CXX:-clang++}
OUT=build-fuzz
JOBS=${SALUT_JOBS:-2}
FLAGS=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -Isrc)
LIBS=(-lfmt -lutf8proc -lpcre2-8 -lz)

declare -A TARGETS=(
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
    if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find src/tokenizer fuzz/tokenizer -name '*.h' -newer "$obj" -print -quit)" ] ||
       [ src/tokenizer/unicode_tables.inc -nt "$obj" ]; then
      echo "compile $src"
      "$CXX" "${FLAGS[@]}" -c "$src" -o "$obj" &
      while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    fi
  done
  wait
  echo "link $OUT/$name"
  "$CXX" "${FLAGS[@]}" "${objs[@]}" "${LIBS[@]}" -o "$OUT/$name"
done
